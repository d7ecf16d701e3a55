"""Drug reference data: one by one, in bulk (JSON or CSV, all or nothing), from the CLI; search by name."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.tables import outbox_event
from pricing.cli import load_drugs
from pricing.models import Drug
from tests.pricing.conftest import PUBLIC, as_client, pos

ATORVASTATIN = {
    "generic_name": "阿托伐他汀钙片",
    "dosage_form": "片剂",
    "spec": "20mg*7片",
    "manufacturer": "北京嘉林药业股份有限公司",
    "listing_price": "25.80",
    "procurement_price": "4.68",
}


async def test_a_drug_is_created_then_replaced(api: httpx.AsyncClient) -> None:
    created = await api.put("/drugs/XC10AAA0001010101", json=ATORVASTATIN)
    assert created.status_code == 201
    assert created.json() | {"updated_at": None} == {
        "med_list_codg": "XC10AAA0001010101",
        **ATORVASTATIN,
        "updated_at": None,
    }
    replaced = await api.put("/drugs/XC10AAA0001010101", json=ATORVASTATIN | {"procurement_price": 4.5})
    assert replaced.status_code == 200
    assert replaced.json()["procurement_price"] == "4.50"


async def test_bad_drug_input_is_a_problem_and_writes_nothing(
    api: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    for body in (
        ATORVASTATIN | {"listing_price": "1.2345678"},
        ATORVASTATIN | {"listing_price": "-1"},
        ATORVASTATIN | {"generic_name": ""},
        ATORVASTATIN | {"colour": "red"},
    ):
        response = await api.put("/drugs/XC10AAA0001010101", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "VALIDATION_ERROR"
    async with pricing_app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Drug)) == 0


async def test_only_ops_write_drugs(pricing_app: FastAPI, api: httpx.AsyncClient) -> None:
    async with as_client(pricing_app, pos("P001")) as client:
        response = await client.put("/drugs/X1", json=ATORVASTATIN)
    assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")


async def test_a_bulk_load_in_json_or_csv_is_all_or_nothing(
    api: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    bad = await api.post(
        "/drugs/bulk",
        json={
            "drugs": [
                {"med_list_codg": "A1", "generic_name": "甲"},
                {"med_list_codg": "A2", "listing_price": "x"},
            ]
        },
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "BULK_INVALID"
    assert [(e["row"], e["field"]) for e in bad.json()["errors"]] == [
        (2, "generic_name"),
        (2, "listing_price"),
    ]

    csv_text = (
        "med_list_codg,generic_name,dosage_form,spec,manufacturer,listing_price,procurement_price\n"
        "A1,阿莫西林胶囊,胶囊剂,0.25g*24粒,,12.00,\n"
        "A2,布洛芬缓释胶囊,胶囊剂,0.3g*20粒,中美史克,18.50,9.20\n"
    )
    good = await api.post("/drugs/bulk", content=csv_text.encode(), headers={"content-type": "text/csv"})
    assert good.json() == {"created": 2, "updated": 0, "unchanged": 0}
    again = await api.post(
        "/drugs/bulk",
        json={
            "drugs": [
                {
                    "med_list_codg": "A1",
                    "generic_name": "阿莫西林胶囊",
                    "dosage_form": "胶囊剂",
                    "spec": "0.25g*24粒",
                    "listing_price": "12",
                },
                {"med_list_codg": "A3", "generic_name": "新"},
            ]
        },
    )
    assert again.json() == {"created": 1, "updated": 0, "unchanged": 1}
    duplicate = await api.post(
        "/drugs/bulk", json={"drugs": [{"med_list_codg": "B", "generic_name": "x"}] * 2}
    )
    assert duplicate.json()["errors"][0]["code"] == "DUPLICATE_IN_REQUEST"
    async with pricing_app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Drug)) == 3
        assert await session.scalar(sa.select(sa.func.count()).select_from(outbox_event)) == 0


async def test_the_public_searches_drugs_by_name(api: httpx.AsyncClient, pricing_app: FastAPI) -> None:
    await api.post(
        "/drugs/bulk",
        json={
            "drugs": [
                {"med_list_codg": f"A{i}", "generic_name": name}
                for i, name in enumerate(["阿莫西林胶囊", "阿莫西林克拉维酸钾片", "布洛芬缓释胶囊"])
            ]
        },
    )
    async with as_client(pricing_app, PUBLIC) as public:
        found = await public.get("/drugs", params={"q": "阿莫西林", "limit": 1})
        assert [d["med_list_codg"] for d in found.json()["items"]] == ["A0"]
        rest = await public.get("/drugs", params={"q": "阿莫西林", "cursor": found.json()["next_cursor"]})
        assert [d["med_list_codg"] for d in rest.json()["items"]] == ["A1"]
        assert rest.json()["next_cursor"] is None
        refused = await public.get("/alerts")
        assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_FORBIDDEN")


async def test_the_cli_loads_a_csv_with_a_progress_bar_and_refuses_a_bad_file(
    pricing_app: FastAPI, api: httpx.AsyncClient, tmp_path: Path, clock: FrozenClock
) -> None:
    good = tmp_path / "drugs.csv"
    good.write_text(
        "med_list_codg,generic_name,listing_price\n"
        + "".join(f"D{i:04d},药品{i},{i}.50\n" for i in range(25)),
        encoding="utf-8",
    )
    report = await load_drugs(pricing_app.state.db, good, clock=clock, batch_size=10, show_progress=True)
    assert (report.created, report.updated, report.unchanged) == (25, 0, 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("med_list_codg,generic_name,listing_price\nE1,好,1.00\nE2,坏,abc\n", encoding="utf-8")
    try:
        await load_drugs(pricing_app.state.db, bad, clock=clock, show_progress=False)
    except Exception as exc:
        assert getattr(exc, "code", None) == "BULK_INVALID"
    else:
        raise AssertionError("a bad file was loaded")
    assert (await api.get("/drugs/E1")).json()["code"] == "DRUG_NOT_FOUND"
    assert (await api.get("/drugs/D0024")).json()["listing_price"] == "24.50"
