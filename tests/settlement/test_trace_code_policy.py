"""依码结算: the catalogue says which drugs need a traceability code; a switch per institution type, off by
default, makes pre-settlement and settlement refuse a drug line that needs one and carries none."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.events.contracts import Subject
from common.events.tables import outbox_event
from common.principal import Principal, Role
from settlement.models import FeeDetail, Journal, Settlement, TraceCodePolicy, Visit
from tests.settlement.conftest import as_client
from tests.settlement.seed import count, credit_account, seed_institution, seed_person

HOSPITAL, PHARMACY = "H42010000001", "P42010000001"
CODE = "81000000000000000001"


def line(sn: str, item: str, *codes: str) -> dict[str, Any]:
    return {
        "feedetl_sn": sn, "med_list_codg": item, "cnt": "1", "pric": "45", "det_item_fee_sumamt": "45.00",
        "fee_ocur_time": "2026-03-02T09:50:00+08:00", "drug_trac_codg": list(codes),
    }  # fmt: skip


def claim(medins_setl_id: str, where: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "fixmedins_code": where, "medins_setl_id": medins_setl_id, "psn_no": "P1", "insutype": "310",
        "med_type": "41" if where == PHARMACY else "11", "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 0, "feedetail": lines,
    }  # fmt: skip


# Line 1 needs a code and has one; line 2 needs none; line 3 needs one and has none.
LINES = [line("1", "D01", CODE), line("2", "A01"), line("3", "D01"), line("4", "D01")]


@pytest.fixture
async def world(settlement_app: FastAPI, api: httpx.AsyncClient) -> FastAPI:
    """A hospital and a pharmacy, D01 needing a traceability code (through the API), A01 not, and P1."""
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_institution(db, PHARMACY, fixmedins_type="pharmacy")
    for item, required in (("D01", True), ("A01", False)):
        body = {"name": f"药品{item}", "chrgitm_lv": "01", "trac_codg_required": required}
        assert (await api.put(f"/catalog/{item}", json=body)).status_code == 201
    await seed_person(db, "P1")
    await credit_account(db, "P1", 50000)
    return settlement_app


async def written(app: FastAPI) -> tuple[int, int, int, int]:
    db = app.state.db
    return (
        await count(db, Settlement),
        await count(db, Journal),
        await count(db, Visit),
        await count(db, FeeDetail),
    )


async def switch(
    api: httpx.AsyncClient, kind: str, required: bool, note: str | None = None
) -> httpx.Response:
    return await api.put(f"/policies/trace-codes/{kind}", json={"required": required, "note": note})


async def test_the_catalogue_says_which_items_need_a_code_and_announces_it(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    item = (await api.get("/catalog/D01")).json()
    assert (item["trac_codg_required"], (await api.get("/catalog/A01")).json()["trac_codg_required"]) == (
        True,
        False,
    )
    async with world.state.db.transaction(readonly=True) as session:
        rows = await session.execute(
            sa.select(outbox_event.c.subject, outbox_event.c.payload).where(
                outbox_event.c.type == Subject.CATALOG_CHANGED
            )
        )
        flags = {subject: json.loads(payload)["data"]["trac_codg_required"] for subject, payload in rows}
    assert flags == {"D01": True, "A01": False}
    bad = await api.put(
        "/catalog/D02", json={"name": "药品", "chrgitm_lv": "01", "trac_codg_required": "maybe"}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_off_by_default_a_drug_line_without_its_code_is_settled(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    policy = (await api.get("/policies/trace-codes")).json()
    assert [(t["fixmedins_type"], t["required"], t["version"]) for t in policy["types"]] == [
        ("hospital", False, 0),
        ("pharmacy", False, 0),
    ]
    assert policy["history"] == []
    settled = await api.post("/settlements", json=claim("M-1", PHARMACY, LINES))
    assert settled.status_code == 201, settled.text


async def test_on_for_pharmacies_a_pharmacy_line_without_its_code_is_refused_naming_the_line(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    on = await switch(api, "pharmacy", True, "药店依码结算")
    assert on.status_code == 200, on.text
    assert {k: on.json()[k] for k in ("fixmedins_type", "required", "version", "note", "created_by")} == {
        "fixmedins_type": "pharmacy",
        "required": True,
        "version": 1,
        "note": "药店依码结算",
        "created_by": "ops-test",
    }
    before = await written(world)
    refused = await api.post("/settlements", json=claim("M-1", PHARMACY, LINES))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert (problem["code"], problem["feedetl_sn"], problem["med_list_codg"], problem["lines"]) == (
        "TRACE_CODE_REQUIRED",
        "3",
        "D01",
        ["3", "4"],
    )
    assert problem["detail"] == (
        "依码结算: line 3 (D01) carries no traceability code (drug_trac_codg), which the policy requires of a "
        "pharmacy's drug lines (1 more line likewise)."
    )
    assert await written(world) == before
    # A hospital is of the other type: still off for it.
    assert (await api.post("/settlements", json=claim("M-2", HOSPITAL, LINES))).status_code == 201
    # Every line that needs a code carrying one: accepted.
    coded = [line("1", "D01", CODE), line("2", "A01"), line("3", "D01", "81000000000000000003")]
    assert (await api.post("/settlements", json=claim("M-3", PHARMACY, coded))).status_code == 201


async def test_on_for_hospitals_pre_settlement_and_settlement_of_a_visit_are_refused_until_it_is_off(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    assert (await switch(api, "hospital", True)).json()["version"] == 1
    visit = await api.post(
        "/visits",
        json={"fixmedins_code": HOSPITAL, "psn_no": "P1", "insutype": "310", "med_type": "11",
              "begntime": "2026-03-02T09:30:00+08:00"},
    )  # fmt: skip
    mdtrt_id = visit.json()["mdtrt_id"]
    uploaded = await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": [line("1", "D01")]})
    assert uploaded.status_code == 201, uploaded.text  # uploading is not settling
    pre = await api.post(f"/visits/{mdtrt_id}/pre-settlement", json={"acct_used_flag": 0})
    body = {"medins_setl_id": "MZ-1", "acct_used_flag": 0}
    settle = await api.post(f"/visits/{mdtrt_id}/settlement", json=body)
    for refused in (pre, settle):
        assert (refused.status_code, refused.json()["code"], refused.json()["feedetl_sn"]) == (
            422,
            "TRACE_CODE_REQUIRED",
            "1",
        )
    assert await count(world.state.db, Settlement) == 0
    assert (await api.get(f"/visits/{mdtrt_id}")).json()["status"] == "open"
    assert (await switch(api, "hospital", False, "暂缓")).json()["version"] == 2
    assert (
        await api.post(f"/visits/{mdtrt_id}/pre-settlement", json={"acct_used_flag": 0})
    ).status_code == 200
    assert (await api.post(f"/visits/{mdtrt_id}/settlement", json=body)).status_code == 201


async def test_the_switch_is_versioned_kept_with_who_and_why_and_set_by_staff_only(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    assert (await switch(api, "pharmacy", False)).json()["version"] == 0  # already off: nothing kept
    assert (await switch(api, "pharmacy", True, "试点")).json()["version"] == 1
    assert (await switch(api, "pharmacy", True, "again")).json()[
        "note"
    ] == "试点"  # the same state: unchanged
    assert (await switch(api, "pharmacy", False, "撤回")).json()["version"] == 2
    policy = (await api.get("/policies/trace-codes")).json()
    assert [(h["fixmedins_type"], h["required"], h["version"], h["note"]) for h in policy["history"]] == [
        ("pharmacy", True, 1, "试点"),
        ("pharmacy", False, 2, "撤回"),
    ]
    assert await count(world.state.db, TraceCodePolicy) == 2
    his = Principal(client_id="his-1", role=Role.HIS, scope=HOSPITAL)
    async with as_client(world, his) as client:
        shown = await client.get("/policies/trace-codes")
        denied = await client.put("/policies/trace-codes/hospital", json={"required": True})
    assert shown.status_code == 200
    assert (denied.status_code, denied.json()["code"]) == (403, "ROLE_FORBIDDEN")
    bad_type = await api.put("/policies/trace-codes/clinic", json={"required": True})
    bad_body = await api.put("/policies/trace-codes/hospital", json={"required": "yes please"})
    missing = await api.put("/policies/trace-codes/hospital", json={"note": "no state"})
    assert [(r.status_code, r.json()["code"]) for r in (bad_type, bad_body, missing)] == [
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
    ]
    assert await count(world.state.db, TraceCodePolicy) == 2
