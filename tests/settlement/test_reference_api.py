"""Reference data: institutions, the catalogue and the policy versions — API, bulk loads, events."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope
from common.events.tables import outbox_event
from common.national import DEFAULT_BENEFIT
from common.principal import Principal, Role
from settlement.domain.policy import DEFAULT_PARAMETERS
from settlement.domain.split import CatalogEntry
from settlement.models import CatalogItem, Institution, PolicyVersion
from settlement.schemas.reference import PolicyParameters
from settlement.service.reference import PolicyBook, catalog_entries, find_institution
from tests.settlement.conftest import as_client, at_shanghai

HOSPITAL = {
    "fixmedins_name": "武汉市第一医院",
    "fixmedins_type": "hospital",
    "hosp_lv": 3,
    "admdvs": "420100",
    "status": "active",
}
PHARMACY = {
    "fixmedins_name": "天门市仁和大药房",
    "fixmedins_type": "pharmacy",
    "admdvs": "429006",
    "status": "active",
}
STATIN = {
    "name": "阿托伐他汀钙片 20mg*7片",
    "chrgitm_lv": "02",
    "selfpay_prop": "0.10",
    "pric_uplmt_amt": "25.80",
    "max_cnt_per_visit": "4",
}
HIS = Principal(client_id="his-wuhan-1", role=Role.HIS, scope="H42010200001")
POS = Principal(client_id="pos-tianmen-1", role=Role.POS, scope="P42900600001")
PUBLIC = Principal(client_id="price-site", role=Role.PUBLIC)
DEFAULT_AS_ANSWERED = PolicyParameters.model_validate(DEFAULT_PARAMETERS).model_dump(
    mode="json", by_alias=True
)


@pytest.fixture(autouse=True)
def policy_book(settlement_app: FastAPI, clock: FrozenClock) -> PolicyBook:
    """The app's PolicyBook (set here until app.py creates it)."""
    book: PolicyBook | None = getattr(settlement_app.state, "policy_book", None)
    if book is None:
        book = PolicyBook(ttl_s=settlement_app.state.settings.policy_cache_s, clock=clock)
        settlement_app.state.policy_book = book
    return book


async def events(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, subject, data) of every event in the outbox, oldest first."""
    async with app.state.db.transaction(readonly=True) as session:
        payloads = await session.scalars(sa.select(outbox_event.c.payload).order_by(outbox_event.c.seq))
        envelopes = [EventEnvelope.from_bytes(payload) for payload in payloads]
    assert all(e.source == "settlement" and e.version == 1 for e in envelopes)
    return [(e.type, e.subject, e.data) for e in envelopes]


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def csv_body(*lines: str) -> dict[str, Any]:
    return {"content": ("\n".join(lines) + "\n").encode(), "headers": {"content-type": "text/csv"}}


# --- institutions ---------------------------------------------------------------------------------------


async def test_a_hospital_is_created_fetched_and_announced_with_its_whole_record(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    created = await api.put("/institutions/H42010200001", json=HOSPITAL)
    assert created.status_code == 201, created.text
    not_by_points = {"points_payment": False, "points_coefficient": None}
    assert created.json() == {
        "fixmedins_code": "H42010200001",
        **HOSPITAL,
        **not_by_points,
        "updated_at": "2026-03-02T02:00:00Z",
    }
    assert (await api.get("/institutions/H42010200001")).json() == created.json()
    assert await events(settlement_app) == [
        (
            Subject.INSTITUTION_CHANGED,
            "H42010200001",
            {"fixmedins_code": "H42010200001", **HOSPITAL, **not_by_points},
        )
    ]


async def test_a_hospital_paid_by_points_carries_its_own_coefficient(api: httpx.AsyncClient) -> None:
    body = {**HOSPITAL, "points_payment": True, "points_coefficient": "1.050"}
    created = await api.put("/institutions/H42010200001", json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["points_payment"], created.json()["points_coefficient"]) == (True, "1.05")
    for bad in ("0", "-1", "10.5", "1.00001", "abc"):
        refused = await api.put("/institutions/H42010200001", json={**body, "points_coefficient": bad})
        assert refused.status_code == 422, bad
    assert (await api.get("/institutions/H42010200001")).json()["points_coefficient"] == "1.05"


async def test_a_pharmacy_has_no_level(api: httpx.AsyncClient, settlement_app: FastAPI) -> None:
    created = await api.put("/institutions/P42900600001", json={**PHARMACY, "hosp_lv": None})
    assert created.status_code == 201
    assert created.json()["hosp_lv"] is None
    assert (await events(settlement_app))[0][2]["hosp_lv"] is None


async def test_putting_the_same_institution_again_answers_200_and_emits_nothing(
    api: httpx.AsyncClient, settlement_app: FastAPI, clock: FrozenClock
) -> None:
    first = await api.put("/institutions/H42010200001", json=HOSPITAL)
    clock.advance(hours=1)
    again = await api.put(
        "/institutions/H42010200001", json={**HOSPITAL, "fixmedins_name": " 武汉市第一医院 "}
    )
    assert again.status_code == 200
    assert again.json() == first.json()  # not even updated_at moved
    assert len(await events(settlement_app)) == 1


async def test_suspending_and_reactivating_round_trips_with_an_event_each(
    api: httpx.AsyncClient, settlement_app: FastAPI, clock: FrozenClock
) -> None:
    await api.put("/institutions/H42010200001", json=HOSPITAL)
    clock.advance(minutes=5)
    suspended = await api.put("/institutions/H42010200001", json={**HOSPITAL, "status": "suspended"})
    assert suspended.status_code == 200
    assert (suspended.json()["status"], suspended.json()["updated_at"]) == (
        "suspended",
        "2026-03-02T02:05:00Z",
    )
    assert (await api.get("/institutions/H42010200001")).json()["status"] == "suspended"
    clock.advance(minutes=5)
    active = await api.put("/institutions/H42010200001", json=HOSPITAL)
    assert (active.status_code, active.json()["status"]) == (200, "active")
    assert [data["status"] for _, _, data in await events(settlement_app)] == [
        "active",
        "suspended",
        "active",
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"hosp_lv": None}, "INVALID_HOSP_LV"),
        ({"fixmedins_type": "pharmacy"}, "INVALID_HOSP_LV"),
        ({"hosp_lv": 4}, "VALIDATION_ERROR"),
        ({"hosp_lv": 0}, "VALIDATION_ERROR"),
        ({"hosp_lv": True}, "VALIDATION_ERROR"),
        ({"hosp_lv": "三级"}, "VALIDATION_ERROR"),
        ({"admdvs": "42010"}, "VALIDATION_ERROR"),
        ({"admdvs": "42010A"}, "VALIDATION_ERROR"),
        ({"fixmedins_type": "clinic"}, "VALIDATION_ERROR"),
        ({"status": "closed"}, "VALIDATION_ERROR"),
        ({"status": None}, "VALIDATION_ERROR"),
        ({"fixmedins_name": "   "}, "VALIDATION_ERROR"),
        ({"fixmedins_name": "医" * 201}, "VALIDATION_ERROR"),
        ({"fixmedins_code": "H42010200001"}, "VALIDATION_ERROR"),
        ({"nickname": "一医院"}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_institutions_are_refused_and_write_nothing(
    api: httpx.AsyncClient, settlement_app: FastAPI, change: dict[str, Any], code: str
) -> None:
    response = await api.put("/institutions/H42010200001", json={**HOSPITAL, **change})
    assert problem(response, 422)["code"] == code
    assert await count(settlement_app, Institution) == 0
    assert await events(settlement_app) == []


async def test_a_missing_field_or_a_bad_code_in_the_path_is_refused(api: httpx.AsyncClient) -> None:
    missing = {key: value for key, value in HOSPITAL.items() if key != "status"}
    assert (
        problem(await api.put("/institutions/H42010200001", json=missing), 422)["code"] == "VALIDATION_ERROR"
    )
    bad_path = await api.put("/institutions/H-420102", json=HOSPITAL)
    assert problem(bad_path, 422)["code"] == "VALIDATION_ERROR"
    too_long = await api.put("/institutions/" + "H" * 31, json=HOSPITAL)
    assert problem(too_long, 422)["code"] == "VALIDATION_ERROR"


async def test_an_unknown_institution_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/institutions/H42010299999")
    body = problem(response, 404)
    assert (body["code"], body["fixmedins_code"]) == ("INSTITUTION_NOT_FOUND", "H42010299999")


async def test_an_his_sees_only_its_own_institution_and_writes_none(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/institutions/H42010200001", json=HOSPITAL)
    await api.put("/institutions/H42010200002", json=HOSPITAL)
    async with as_client(settlement_app, HIS) as his:
        assert (await his.get("/institutions/H42010200001")).json()["fixmedins_code"] == "H42010200001"
        assert problem(await his.get("/institutions/H42010200002"), 403)["code"] == "SCOPE_FORBIDDEN"
        # Whether another code exists is none of its business: 403, not 404.
        assert problem(await his.get("/institutions/H42010299999"), 403)["code"] == "SCOPE_FORBIDDEN"
        refused = await his.put("/institutions/H42010200001", json={**HOSPITAL, "status": "suspended"})
        assert problem(refused, 403)["code"] == "ROLE_FORBIDDEN"
        assert problem(await his.get("/institutions"), 403)["code"] == "ROLE_FORBIDDEN"
        bulk = await his.post("/institutions/bulk", json={"institutions": []})
        assert problem(bulk, 403)["code"] == "ROLE_FORBIDDEN"
    async with as_client(settlement_app, POS) as pos:
        assert problem(await pos.get("/institutions/H42010200001"), 403)["code"] == "SCOPE_FORBIDDEN"
    async with as_client(settlement_app, PUBLIC) as public:
        assert problem(await public.get("/institutions/H42010200001"), 403)["code"] == "ROLE_FORBIDDEN"
    assert (await api.get("/institutions/H42010200001")).json()["status"] == "active"
    assert len(await events(settlement_app)) == 2


async def test_institutions_are_listed_by_code_filtered_and_paged(api: httpx.AsyncClient) -> None:
    for code, body in [
        ("H003", HOSPITAL),
        ("P001", PHARMACY),
        ("H001", {**HOSPITAL, "status": "suspended"}),
        ("H002", {**HOSPITAL, "admdvs": "500000", "hosp_lv": 1}),
        ("P002", {**PHARMACY, "admdvs": "420100"}),
    ]:
        assert (await api.put(f"/institutions/{code}", json=body)).status_code == 201

    async def codes(**params: Any) -> tuple[list[str], str | None]:
        response = await api.get("/institutions", params=params)
        assert response.status_code == 200, response.text
        return [item["fixmedins_code"] for item in response.json()["items"]], response.json()["next_cursor"]

    first, cursor = await codes(limit=2)
    assert (first, cursor is not None) == (["H001", "H002"], True)
    second, cursor = await codes(limit=2, cursor=cursor)
    assert (second, cursor is not None) == (["H003", "P001"], True)
    assert await codes(limit=2, cursor=cursor) == (["P002"], None)
    assert await codes(limit=5) == (["H001", "H002", "H003", "P001", "P002"], None)
    assert await codes(admdvs="420100") == (["H001", "H003", "P002"], None)
    assert await codes(fixmedins_type="pharmacy") == (["P001", "P002"], None)
    assert await codes(status="suspended") == (["H001"], None)
    assert await codes(admdvs="420100", fixmedins_type="hospital", status="active") == (["H003"], None)
    assert problem(await api.get("/institutions", params={"cursor": "%%%"}), 400)["code"] == "INVALID_CURSOR"
    assert (
        problem(await api.get("/institutions", params={"status": "gone"}), 422)["code"] == "VALIDATION_ERROR"
    )
    assert problem(await api.get("/institutions", params={"limit": 201}), 422)["code"] == "VALIDATION_ERROR"


async def test_find_institution_answers_none_for_an_unknown_code(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/institutions/H42010200001", json=HOSPITAL)
    async with settlement_app.state.db.transaction(readonly=True) as session:
        found = await find_institution(session, "H42010200001")
        assert found is not None and (found.hosp_lv, found.status) == (3, "active")
        assert await find_institution(session, "H42010299999") is None


async def test_concurrent_identical_changes_are_applied_and_announced_once(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/institutions/H42010200001", json=HOSPITAL)
    suspend = {**HOSPITAL, "status": "suspended"}
    answers = await asyncio.gather(*(api.put("/institutions/H42010200001", json=suspend) for _ in range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6
    assert [data["status"] for _, _, data in await events(settlement_app)] == ["active", "suspended"]


async def test_concurrent_loads_of_the_same_new_codes_create_each_once(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    rows = [{"fixmedins_code": f"P{n:04d}", **PHARMACY} for n in range(300)]
    answers = await asyncio.gather(
        *(api.post("/institutions/bulk", json={"institutions": rows}) for _ in range(3))
    )
    first = [answer for answer in answers if answer.status_code == 200 and answer.json()["created"] == 300]
    assert len(first) == 1
    for answer in answers:
        if answer is first[0]:
            continue
        # A load that waited on another's new rows is refused whole (and may simply be sent again),
        # or, run after it, finds every row unchanged.
        if answer.status_code == 200:
            assert answer.json() == {"created": 0, "updated": 0, "unchanged": 300}
        else:
            assert (answer.status_code, answer.json()["code"]) == (409, "CONCURRENT_CHANGE")
    assert await count(settlement_app, Institution) == 300
    assert len(await events(settlement_app)) == 300


# --- institutions in bulk -------------------------------------------------------------------------------


async def test_a_json_load_creates_updates_and_skips_unchanged_rows_with_events_for_changes_only(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    first = await api.post(
        "/institutions/bulk",
        json={
            "institutions": [
                {"fixmedins_code": "H001", **HOSPITAL},
                {"fixmedins_code": "P001", **PHARMACY},
            ]
        },
    )
    assert (first.status_code, first.json()) == (200, {"created": 2, "updated": 0, "unchanged": 0})
    second = await api.post(
        "/institutions/bulk",
        json={
            "institutions": [
                {"fixmedins_code": "P001", **PHARMACY},
                {"fixmedins_code": "H001", **HOSPITAL, "status": "suspended"},
                {"fixmedins_code": "H002", **HOSPITAL, "hosp_lv": 2},
            ]
        },
    )
    assert (second.status_code, second.json()) == (200, {"created": 1, "updated": 1, "unchanged": 1})
    assert [
        (subject, data["status"], data["hosp_lv"]) for _, subject, data in await events(settlement_app)
    ] == [
        ("H001", "active", 3),
        ("P001", "active", None),
        ("H002", "active", 2),
        ("H001", "suspended", 3),
    ]
    assert (await api.get("/institutions/H001")).json()["status"] == "suspended"


async def test_a_csv_load_reads_a_header_row_and_treats_empty_cells_as_absent(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    body = (
        "\ufefffixmedins_code,fixmedins_name,fixmedins_type,hosp_lv,admdvs,status\r\n"
        "H42010200001,武汉市第一医院,hospital,3,420100,active\r\n"
        "\r\n"
        'P42900600001,"天门市仁和大药房, 竟陵店",pharmacy,,429006,suspended\r\n'
    ).encode()
    response = await api.post("/institutions/bulk", content=body, headers={"content-type": "text/csv"})
    assert (response.status_code, response.json()) == (200, {"created": 2, "updated": 0, "unchanged": 0})
    pharmacy = (await api.get("/institutions/P42900600001")).json()
    assert (pharmacy["fixmedins_name"], pharmacy["hosp_lv"], pharmacy["status"]) == (
        "天门市仁和大药房, 竟陵店",
        None,
        "suspended",
    )
    assert (await api.get("/institutions/H42010200001")).json()["hosp_lv"] == 3
    assert [subject for _, subject, _ in await events(settlement_app)] == ["H42010200001", "P42900600001"]


async def test_a_csv_in_another_charset_is_read_when_the_charset_is_given(api: httpx.AsyncClient) -> None:
    text = (
        "fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status\nP001,仁和大药房,pharmacy,429006,active\n"
    )
    unlabelled = await api.post(
        "/institutions/bulk", content=text.encode("gbk"), headers={"content-type": "text/csv"}
    )
    assert problem(unlabelled, 422)["code"] == "MALFORMED_CSV"
    labelled = await api.post(
        "/institutions/bulk", content=text.encode("gbk"), headers={"content-type": "text/csv; charset=GBK"}
    )
    assert labelled.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert (await api.get("/institutions/P001")).json()["fixmedins_name"] == "仁和大药房"
    for charset in ("klingon", "base64", "rot13"):
        odd = await api.post(
            "/institutions/bulk", content=b"x", headers={"content-type": f"text/csv; charset={charset}"}
        )
        assert problem(odd, 422)["code"] == "MALFORMED_CSV"


async def test_one_bad_row_refuses_the_whole_load_listing_every_error(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/institutions/H001", json=HOSPITAL)
    response = await api.post(
        "/institutions/bulk",
        **csv_body(
            "fixmedins_code,fixmedins_name,fixmedins_type,hosp_lv,admdvs,status",
            "H001,武汉市第一医院,hospital,3,420100,suspended",
            "H002,武汉市第二医院,hospital,,420100,active",
            "H003,武汉市第三医院,hospital,3,4201,closed",
            "P001,仁和大药房,pharmacy,,429006,active",
            "P002,仁和大药房,pharmacy,,429006,active,extra",
        ),
    )
    body = problem(response, 422)
    assert body["code"] == "BULK_INVALID"
    assert body["detail"] == "3 of 5 records are invalid; nothing was written."
    assert body["error_count"] == 4
    assert body["errors"] == [
        {
            "row": 2,
            "field": "hosp_lv",
            "code": "INVALID_HOSP_LV",
            "message": "A hospital needs its level hosp_lv (1, 2 or 3).",
        },
        {
            "row": 3,
            "field": "admdvs",
            "code": "VALIDATION_ERROR",
            "message": "String should match pattern '^\\d{6}$'",
        },
        {
            "row": 3,
            "field": "status",
            "code": "VALIDATION_ERROR",
            "message": "Input should be 'active' or 'suspended'",
        },
        {"row": 5, "field": None, "code": "MALFORMED_ROW", "message": "7 cells but the header has 6"},
    ]
    assert await count(settlement_app, Institution) == 1
    assert (await api.get("/institutions/H001")).json()["status"] == "active"
    assert len(await events(settlement_app)) == 1


async def test_a_code_twice_in_one_load_refuses_it(api: httpx.AsyncClient, settlement_app: FastAPI) -> None:
    response = await api.post(
        "/institutions/bulk",
        json={
            "institutions": [
                {"fixmedins_code": "H001", **HOSPITAL},
                {"fixmedins_code": "P001", **PHARMACY},
                {"fixmedins_code": "H001", **HOSPITAL, "status": "suspended"},
            ]
        },
    )
    body = problem(response, 422)
    assert (body["code"], body["errors"]) == (
        "BULK_INVALID",
        [
            {
                "row": 3,
                "field": "fixmedins_code",
                "code": "DUPLICATE_IN_REQUEST",
                "message": "fixmedins_code H001 is also on row 1",
            }
        ],
    )
    assert await count(settlement_app, Institution) == 0
    assert await events(settlement_app) == []


async def test_a_load_lists_at_most_a_hundred_errors_but_counts_them_all(api: httpx.AsyncClient) -> None:
    rows = [{"fixmedins_code": f"H{n:03d}", **HOSPITAL, "hosp_lv": 9} for n in range(150)]
    body = problem(await api.post("/institutions/bulk", json={"institutions": rows}), 422)
    assert (body["error_count"], len(body["errors"]), body["errors"][-1]["row"]) == (150, 100, 100)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"content": b"x", "headers": {"content-type": "text/plain"}}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"content": b"x"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"content": b"{", "headers": {"content-type": "application/json"}}, 422, "MALFORMED_JSON"),
        ({"json": {"items": []}}, 422, "VALIDATION_ERROR"),
        ({"json": {"institutions": {}}}, 422, "VALIDATION_ERROR"),
        ({"json": [{"fixmedins_code": "H001"}]}, 422, "VALIDATION_ERROR"),
        ({"json": {"institutions": []}}, 422, "BULK_EMPTY"),
        ({"json": {"institutions": ["H001"]}}, 422, "BULK_INVALID"),
        (csv_body("fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status"), 422, "BULK_EMPTY"),
        (csv_body(""), 422, "CSV_HEADER_INVALID"),
        (
            csv_body("fixmedins_name,fixmedins_type,admdvs,status", "x,pharmacy,429006,active"),
            422,
            "CSV_HEADER_INVALID",
        ),
        (
            csv_body(
                "fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status,phone",
                "P1,x,pharmacy,429006,active,1",
            ),
            422,
            "CSV_HEADER_INVALID",
        ),
        (
            csv_body("fixmedins_code,fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status"),
            422,
            "CSV_HEADER_INVALID",
        ),
        ({"content": b"\xff\xfe\x00", "headers": {"content-type": "text/csv"}}, 422, "MALFORMED_CSV"),
        (
            csv_body(
                "fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status",
                "P1," + "x" * 140_000 + ",pharmacy,429006,active",
            ),
            422,
            "MALFORMED_CSV",
        ),
    ],
)
async def test_unreadable_loads_are_refused_and_write_nothing(
    api: httpx.AsyncClient, settlement_app: FastAPI, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = await api.post("/institutions/bulk", **request_kwargs)
    assert problem(response, status)["code"] == code
    assert await count(settlement_app, Institution) == 0
    assert await events(settlement_app) == []


async def test_a_missing_column_is_named_in_the_header_error(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/institutions/bulk", **csv_body("fixmedins_code,fixmedins_name,admdvs", "P1,x,429006")
    )
    body = problem(response, 422)
    assert (
        body["detail"]
        == "The CSV header must name the fields, each once: missing ['fixmedins_type', 'status']"
    )
    assert "hosp_lv" in body["columns"]


async def test_a_load_of_more_than_fifty_thousand_records_is_too_large(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    lines = ["fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status"]
    lines += [f"P{n:06d},药房,pharmacy,429006,active" for n in range(50_001)]
    response = await api.post("/institutions/bulk", **csv_body(*lines))
    assert problem(response, 413)["code"] == "BULK_TOO_LARGE"
    rows = [{"fixmedins_code": "P1", **PHARMACY}] * 50_001
    assert (
        problem(await api.post("/institutions/bulk", json={"institutions": rows}), 413)["code"]
        == "BULK_TOO_LARGE"
    )
    assert await count(settlement_app, Institution) == 0


# --- the catalogue --------------------------------------------------------------------------------------


async def test_a_catalogue_item_is_stored_with_exact_decimals_and_announced(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    created = await api.put("/catalog/XC10AAA0001010101", json=STATIN)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "med_list_codg": "XC10AAA0001010101",
        "name": "阿托伐他汀钙片 20mg*7片",
        "chrgitm_lv": "02",
        "selfpay_prop": "0.10",
        "pric_uplmt_amt": "25.80",
        "gend_lmt": None,
        "age_min": None,
        "age_max": None,
        "max_cnt_per_visit": "4",
        "trac_codg_required": False,
        "updated_at": "2026-03-02T02:00:00Z",
    }
    assert (await api.get("/catalog/XC10AAA0001010101")).json() == created.json()
    assert await events(settlement_app) == [
        (
            Subject.CATALOG_CHANGED,
            "XC10AAA0001010101",
            {
                "med_list_codg": "XC10AAA0001010101",
                "name": "阿托伐他汀钙片 20mg*7片",
                "chrgitm_lv": "02",
                "selfpay_prop": "0.10",
                "pric_uplmt_amt": "25.80",
                "gend_lmt": None,
                "age_min": None,
                "age_max": None,
                "max_cnt_per_visit": "4",
                "trac_codg_required": False,
            },
        )
    ]


async def test_the_same_values_spelt_differently_are_unchanged_and_a_new_cap_is_a_change(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/catalog/XC10AAA0001010101", json=STATIN)
    same = await api.put(
        "/catalog/XC10AAA0001010101",
        json={**STATIN, "selfpay_prop": 0.1, "pric_uplmt_amt": "25.800000", "max_cnt_per_visit": "4.0000"},
    )
    assert same.status_code == 200
    assert len(await events(settlement_app)) == 1
    cheaper = await api.put("/catalog/XC10AAA0001010101", json={**STATIN, "pric_uplmt_amt": "23.123456"})
    assert (cheaper.status_code, cheaper.json()["pric_uplmt_amt"]) == (200, "23.123456")
    default_share = await api.put(
        "/catalog/XC10AAA0001010101", json={**STATIN, "pric_uplmt_amt": "23.123456", "selfpay_prop": None}
    )
    assert default_share.json()["selfpay_prop"] is None
    assert [
        (data["pric_uplmt_amt"], data["selfpay_prop"]) for _, _, data in await events(settlement_app)
    ] == [
        ("25.80", "0.10"),
        ("23.123456", "0.10"),
        ("23.123456", None),
    ]


@pytest.mark.parametrize(
    ("body", "stored_share"),
    [
        ({"name": "阿莫西林胶囊", "chrgitm_lv": "01"}, None),
        ({"name": "阿莫西林胶囊", "chrgitm_lv": "01", "selfpay_prop": "0"}, None),
        ({"name": "美容项目", "chrgitm_lv": "03", "selfpay_prop": 1}, None),
        ({"name": "美容项目", "chrgitm_lv": "03"}, None),
        ({"name": "人工晶体", "chrgitm_lv": "02", "selfpay_prop": "0.3"}, "0.30"),
        ({"name": "人工晶体", "chrgitm_lv": "02", "selfpay_prop": "0.1234"}, "0.1234"),
        ({"name": "人工晶体", "chrgitm_lv": "02", "selfpay_prop": "0"}, "0.00"),
    ],
)
async def test_only_a_class_b_item_keeps_a_self_pay_share(
    api: httpx.AsyncClient, body: dict[str, Any], stored_share: str | None
) -> None:
    response = await api.put("/catalog/ITEM1", json=body)
    assert (response.status_code, response.json()["selfpay_prop"]) == (201, stored_share)


async def test_gender_and_age_limits_are_kept(api: httpx.AsyncClient, settlement_app: FastAPI) -> None:
    body = {
        "name": "前列腺特异性抗原测定",
        "chrgitm_lv": "01",
        "gend_lmt": "1",
        "age_min": 18,
        "age_max": 150,
    }
    response = await api.put("/catalog/250310013", json=body)
    assert (response.json()["gend_lmt"], response.json()["age_min"], response.json()["age_max"]) == (
        "1",
        18,
        150,
    )
    same_age = await api.put("/catalog/250310013", json={**body, "age_min": 18, "age_max": 150})
    assert same_age.status_code == 200
    assert len(await events(settlement_app)) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"chrgitm_lv": "01", "selfpay_prop": "0.2"}, "INVALID_SELFPAY_PROP"),
        ({"chrgitm_lv": "03", "selfpay_prop": "0.5"}, "INVALID_SELFPAY_PROP"),
        ({"age_min": 60, "age_max": 18}, "INVALID_AGE_RANGE"),
        ({"selfpay_prop": "1.5"}, "VALIDATION_ERROR"),
        ({"selfpay_prop": "-0.1"}, "VALIDATION_ERROR"),
        ({"selfpay_prop": "0.12345"}, "VALIDATION_ERROR"),
        ({"selfpay_prop": "ten percent"}, "VALIDATION_ERROR"),
        ({"pric_uplmt_amt": "0"}, "VALIDATION_ERROR"),
        ({"pric_uplmt_amt": "-1.00"}, "VALIDATION_ERROR"),
        ({"pric_uplmt_amt": "1.1234567"}, "VALIDATION_ERROR"),
        ({"pric_uplmt_amt": "1e3"}, "VALIDATION_ERROR"),
        ({"max_cnt_per_visit": "0"}, "VALIDATION_ERROR"),
        ({"max_cnt_per_visit": "1.00001"}, "VALIDATION_ERROR"),
        ({"age_min": -1}, "VALIDATION_ERROR"),
        ({"age_max": 151}, "VALIDATION_ERROR"),
        ({"age_max": False}, "VALIDATION_ERROR"),
        ({"gend_lmt": "3"}, "VALIDATION_ERROR"),
        ({"chrgitm_lv": "1"}, "VALIDATION_ERROR"),
        ({"chrgitm_lv": "04"}, "VALIDATION_ERROR"),
        ({"name": ""}, "VALIDATION_ERROR"),
        ({"chrgitm_lv": None}, "VALIDATION_ERROR"),
        ({"price": "1.00"}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_catalogue_items_are_refused_and_write_nothing(
    api: httpx.AsyncClient, settlement_app: FastAPI, change: dict[str, Any], code: str
) -> None:
    response = await api.put("/catalog/XC10AAA0001010101", json={**STATIN, **change})
    assert problem(response, 422)["code"] == code
    assert await count(settlement_app, CatalogItem) == 0
    assert await events(settlement_app) == []


async def test_institutions_read_the_catalogue_the_public_does_not_and_only_ops_write_it(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/catalog/XC10AAA0001010101", json=STATIN)
    for principal in (HIS, POS):
        async with as_client(settlement_app, principal) as client:
            assert (await client.get("/catalog/XC10AAA0001010101")).json()["chrgitm_lv"] == "02"
            assert (await client.get("/catalog", params={"q": "XC10"})).json()["items"][0]["name"] == STATIN[
                "name"
            ]
            refused = await client.put("/catalog/XC10AAA0001010101", json={**STATIN, "chrgitm_lv": "01"})
            assert problem(refused, 403)["code"] == "ROLE_FORBIDDEN"
            bulk = await client.post("/catalog/bulk", json={"items": []})
            assert problem(bulk, 403)["code"] == "ROLE_FORBIDDEN"
    async with as_client(settlement_app, PUBLIC) as public:
        assert problem(await public.get("/catalog/XC10AAA0001010101"), 403)["code"] == "ROLE_FORBIDDEN"
    assert len(await events(settlement_app)) == 1


async def test_an_unknown_catalogue_item_is_404(api: httpx.AsyncClient) -> None:
    body = problem(await api.get("/catalog/XZ99"), 404)
    assert (body["code"], body["med_list_codg"]) == ("CATALOG_ITEM_NOT_FOUND", "XZ99")


async def test_the_catalogue_is_searched_by_code_prefix_or_name_and_paged(api: httpx.AsyncClient) -> None:
    items = {
        "XC10AAA001": {"name": "阿托伐他汀钙片", "chrgitm_lv": "02"},
        "XC10AAA002": {"name": "瑞舒伐他汀钙片", "chrgitm_lv": "02"},
        "XJ01CAA001": {"name": "阿莫西林胶囊", "chrgitm_lv": "01"},
        "T100_01": {"name": "100%纯氧 吸氧", "chrgitm_lv": "03"},
    }
    for code, body in items.items():
        assert (await api.put(f"/catalog/{code}", json=body)).status_code == 201

    async def codes(**params: Any) -> tuple[list[str], str | None]:
        response = await api.get("/catalog", params=params)
        assert response.status_code == 200, response.text
        return [item["med_list_codg"] for item in response.json()["items"]], response.json()["next_cursor"]

    assert await codes() == (["T100_01", "XC10AAA001", "XC10AAA002", "XJ01CAA001"], None)
    assert await codes(q="xc10") == (["XC10AAA001", "XC10AAA002"], None)
    assert await codes(q="他汀") == (["XC10AAA001", "XC10AAA002"], None)
    assert await codes(q="阿") == (["XC10AAA001", "XJ01CAA001"], None)
    assert await codes(q="%") == (["T100_01"], None)  # a wildcard is a plain character here
    assert await codes(q="T100_") == (["T100_01"], None)
    assert await codes(q="T1000") == ([], None)
    assert await codes(chrgitm_lv="02", q="瑞") == (["XC10AAA002"], None)
    page, cursor = await codes(limit=3)
    assert page == ["T100_01", "XC10AAA001", "XC10AAA002"]
    assert await codes(limit=3, cursor=cursor) == (["XJ01CAA001"], None)
    assert problem(await api.get("/catalog", params={"chrgitm_lv": "1"}), 422)["code"] == "VALIDATION_ERROR"


async def test_a_catalogue_csv_loads_all_or_nothing(api: httpx.AsyncClient, settlement_app: FastAPI) -> None:
    header = (
        "med_list_codg,name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,gend_lmt,age_min,age_max,max_cnt_per_visit"
    )
    good = [
        header,
        "XC10AAA001,阿托伐他汀钙片,02,0.1,25.8,,,,4",
        "XJ01CAA001,阿莫西林胶囊,01,,,,,,",
        "250310013,前列腺特异性抗原测定,01,,,1,18,,",
    ]
    bad = await api.post(
        "/catalog/bulk", **csv_body(*good, "XB01,抗凝药,01,0.2,,,,,", "XB02,抗凝药,02,,0,,,,")
    )
    body = problem(bad, 422)
    assert (body["code"], [(e["row"], e["field"], e["code"]) for e in body["errors"]]) == (
        "BULK_INVALID",
        [(4, "selfpay_prop", "INVALID_SELFPAY_PROP"), (5, "pric_uplmt_amt", "VALIDATION_ERROR")],
    )
    assert await count(settlement_app, CatalogItem) == 0
    assert await events(settlement_app) == []

    loaded = await api.post("/catalog/bulk", **csv_body(*good))
    assert loaded.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert (await api.get("/catalog/250310013")).json()["age_min"] == 18
    assert [
        (subject, data["selfpay_prop"], data["pric_uplmt_amt"])
        for _, subject, data in await events(settlement_app)
    ] == [
        ("250310013", None, None),
        ("XC10AAA001", "0.10", "25.80"),
        ("XJ01CAA001", None, None),
    ]
    again = await api.post(
        "/catalog/bulk",
        json={
            "items": [
                {
                    "med_list_codg": "XC10AAA001",
                    "name": "阿托伐他汀钙片",
                    "chrgitm_lv": "02",
                    "selfpay_prop": "0.10",
                    "pric_uplmt_amt": "25.80",
                    "max_cnt_per_visit": 4,
                },
                {"med_list_codg": "XJ01CAA001", "name": "阿莫西林胶囊", "chrgitm_lv": "03"},
            ]
        },
    )
    assert again.json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert len(await events(settlement_app)) == 4


async def test_catalog_entries_reads_the_split_inputs_as_decimals(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    await api.put("/catalog/XC10AAA001", json=STATIN)
    await api.put(
        "/catalog/250310013", json={"name": "PSA", "chrgitm_lv": "01", "gend_lmt": "1", "age_min": 18}
    )
    async with settlement_app.state.db.transaction(readonly=True) as session:
        found = await catalog_entries(session, ["XC10AAA001", "250310013", "NOT-THERE", "XC10AAA001"])
        assert await catalog_entries(session, []) == {}
    assert found == {
        "XC10AAA001": CatalogEntry(
            med_list_codg="XC10AAA001",
            chrgitm_lv="02",
            selfpay_prop=Decimal("0.10"),
            pric_uplmt_amt=Decimal("25.80"),
            max_cnt_per_visit=Decimal("4"),
        ),
        "250310013": CatalogEntry(med_list_codg="250310013", chrgitm_lv="01", gend_lmt="1", age_min=18),
    }


# --- the policy -----------------------------------------------------------------------------------------


def policy_body(effective_from: str = "2026-04-01", **change: Any) -> dict[str, Any]:
    return {
        "effective_from": effective_from,
        "parameters": DEFAULT_PARAMETERS,
        "note": "2026年调整",
        **change,
    }


async def test_before_any_version_the_default_table_is_version_zero_and_in_force(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/policies")
    assert response.status_code == 200
    assert response.json() == [
        {
            "version": 0,
            "effective_from": "2000-01-01",
            "effective_until": None,
            "in_force": True,
            "parameters": DEFAULT_AS_ANSWERED,
            "note": "默认政策 the default table shipped with the service (DESIGN.md §6.2)",
            "created_by": "system",
            "created_at": None,
        }
    ]
    assert DEFAULT_AS_ANSWERED["310"]["inpatient"]["deductible"] == {
        "1": "300.00",
        "2": "600.00",
        "3": "1000.00",
    }
    assert DEFAULT_AS_ANSWERED["390"]["max_ratio"] == "0.95"


async def test_a_new_version_takes_over_on_its_effective_date(
    api: httpx.AsyncClient, settlement_app: FastAPI, clock: FrozenClock
) -> None:
    created = await api.post("/policies", json=policy_body())
    assert created.status_code == 201, created.text
    assert created.json() == {
        "version": 1,
        "effective_from": "2026-04-01",
        "effective_until": None,
        "in_force": False,
        "parameters": DEFAULT_AS_ANSWERED,
        "note": "2026年调整",
        "created_by": "ops-test",
        "created_at": "2026-03-02T02:00:00Z",
    }
    listed = (await api.get("/policies")).json()
    assert [(p["version"], p["effective_until"], p["in_force"]) for p in listed] == [
        (0, "2026-03-31", True),
        (1, None, False),
    ]
    on_eve = await api.get("/policies/in-force", params={"date": "2026-03-31"})
    on_day = await api.get("/policies/in-force", params={"date": "2026-04-01"})
    assert (on_eve.json()["version"], on_day.json()["version"]) == (0, 1)

    clock.set(at_shanghai(2026, 3, 31, 23, 59))
    assert [p["in_force"] for p in (await api.get("/policies")).json()] == [True, False]
    assert (await api.get("/policies/in-force")).json()["version"] == 0
    clock.set(at_shanghai(2026, 4, 1, 0, 0))
    assert [p["in_force"] for p in (await api.get("/policies")).json()] == [False, True]
    assert (await api.get("/policies/in-force")).json()["version"] == 1
    async with as_client(settlement_app, HIS) as his:
        assert (await his.get("/policies/in-force")).json()["version"] == 1


async def test_versions_are_listed_in_effective_order_whatever_order_they_were_added_in(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/policies", json=policy_body("2027-01-01"))).status_code == 201
    assert (await api.post("/policies", json=policy_body("2026-07-01"))).status_code == 201
    listed = (await api.get("/policies")).json()
    assert [(p["version"], p["effective_from"], p["effective_until"]) for p in listed] == [
        (0, "2000-01-01", "2026-06-30"),
        (2, "2026-07-01", "2026-12-31"),
        (1, "2027-01-01", None),
    ]


@pytest.mark.parametrize("effective_from", ["2026-03-02", "2026-03-01", "2025-01-01"])
async def test_a_version_cannot_take_effect_today_or_earlier(
    api: httpx.AsyncClient, settlement_app: FastAPI, effective_from: str
) -> None:
    body = problem(await api.post("/policies", json=policy_body(effective_from)), 422)
    assert (body["code"], body["field"]) == ("POLICY_BACKDATED", "effective_from")
    assert await count(settlement_app, PolicyVersion) == 0


async def test_the_business_date_decides_what_is_backdated(
    api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 3, 31, 23, 59))  # 15:59 UTC: still March 31 in Shanghai
    assert (await api.post("/policies", json=policy_body("2026-04-01"))).status_code == 201
    clock.set(at_shanghai(2026, 4, 1, 0, 1))  # March 31 in UTC, April 1 in Shanghai
    assert (
        problem(await api.post("/policies", json=policy_body("2026-04-01")), 422)["code"]
        == "POLICY_BACKDATED"
    )


async def test_a_second_version_on_the_same_date_is_a_conflict(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    assert (await api.post("/policies", json=policy_body())).status_code == 201
    body = problem(await api.post("/policies", json=policy_body(note="again")), 409)
    assert (body["code"], body["version"]) == ("POLICY_EXISTS", 1)
    assert await count(settlement_app, PolicyVersion) == 1


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """DEFAULT_PARAMETERS with one value replaced (or removed, for value None)."""
    parameters = copy.deepcopy(DEFAULT_PARAMETERS)
    node = parameters
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return parameters


@pytest.mark.parametrize(
    ("parameters", "code", "detail"),
    [
        (
            _with(("310", "inpatient", "ratio", "1"), "1.2"),
            "INVALID_POLICY",
            "310.inpatient.ratio.1: a ratio is at most 1",
        ),
        (_with(("390", "max_ratio"), "1.01"), "INVALID_POLICY", "390.max_ratio: a ratio is at most 1"),
        (
            _with(("310", "outpatient", "deductible_per_year"), "-700"),
            "INVALID_POLICY",
            "310.outpatient: must be a non-negative number",
        ),
        (
            _with(("390", "assistance", "ratio", "monitored"), "-0.1"),
            "INVALID_POLICY",
            "390.assistance.ratio.monitored: must be a non-negative number",
        ),
        (
            _with(("class_b_selfpay_prop",), "2"),
            "INVALID_POLICY",
            "class_b_selfpay_prop: a ratio is at most 1",
        ),
        (_with(("310", "inpatient", "ratio", "1"), "0.12345"), "VALIDATION_ERROR", None),
        (_with(("310", "inpatient", "deductible", "3"), None), "VALIDATION_ERROR", None),
        (_with(("310", "inpatient", "deductible", "4"), "100"), "VALIDATION_ERROR", None),
        (_with(("390", "supplementary"), None), "VALIDATION_ERROR", None),
        (_with(("310", "pool_ceiling_per_year"), "400000.001"), "VALIDATION_ERROR", None),
        (_with(("392",), {}), "VALIDATION_ERROR", None),
        (_with(("310", "retiree_bonus"), True), "VALIDATION_ERROR", None),
        (
            _with(("benefits", "99"), "outpatient"),
            "INVALID_POLICY",
            "benefits: unknown med_type ['99'] (known: 11, 12, 13, 14, 21, 22, 23, 24, 28, 41, 51, 52, 53)",
        ),
        (
            _with(("benefits",), {}),
            "INVALID_POLICY",
            "benefits: expected an object mapping at least one med_type to its benefit",
        ),
        (_with(("benefits", "13"), "emergency"), "VALIDATION_ERROR", None),
        (_with(("benefits", "1 3"), "outpatient"), "VALIDATION_ERROR", None),
    ],
)
async def test_bad_parameters_are_refused_naming_the_field(
    api: httpx.AsyncClient, settlement_app: FastAPI, parameters: dict[str, Any], code: str, detail: str | None
) -> None:
    body = problem(await api.post("/policies", json=policy_body(parameters=parameters)), 422)
    assert body["code"] == code
    if detail is not None:
        assert body["detail"] == detail
    assert await count(settlement_app, PolicyVersion) == 0


async def test_optional_ratios_default_and_numbers_are_accepted(api: httpx.AsyncClient) -> None:
    parameters = _with(("310", "retiree_bonus"), None)
    parameters["390"]["pool_ceiling_per_year"] = 250000
    parameters["390"]["supplementary"]["ratio"] = 0.65
    created = await api.post("/policies", json=policy_body(parameters=parameters))
    assert created.status_code == 201, created.text
    answered = created.json()["parameters"]
    assert (answered["310"]["retiree_bonus"], answered["390"]["pool_ceiling_per_year"]) == ("0", "250000.00")
    assert answered["390"]["supplementary"]["ratio"] == "0.65"


async def test_a_version_maps_med_types_to_benefits_and_one_stored_without_them_gets_the_default(
    api: httpx.AsyncClient, settlement_app: FastAPI, clock: FrozenClock
) -> None:
    assert DEFAULT_AS_ANSWERED["benefits"] == {
        "11": "outpatient",
        "12": "outpatient",
        "13": "outpatient",
        "14": "outpatient",
        "21": "inpatient",
        "22": "inpatient",
        "23": "inpatient",
        "24": "inpatient",
        "28": "inpatient",
        "41": "pharmacy",
        "51": "outpatient",
        "52": "inpatient",
        "53": "outpatient",
    }
    # Emergency care paid as an admission, and no 计划生育手术费 at all.
    benefits = {**DEFAULT_PARAMETERS["benefits"], "13": "inpatient"}
    del benefits["53"]
    created = await api.post("/policies", json=policy_body(parameters=_with(("benefits",), benefits)))
    assert created.status_code == 201, created.text
    assert created.json()["parameters"]["benefits"] == benefits
    # A version stored before benefits existed, as the database holds it.
    old = copy.deepcopy(DEFAULT_PARAMETERS)
    del old["benefits"]
    async with settlement_app.state.db.transaction() as session:
        session.add(
            PolicyVersion(
                effective_from=date(2026, 5, 1),
                parameters=old,
                note="before benefits",
                created_by="ops",
                created_at=clock.now(),
            )
        )
    listed = (await api.get("/policies")).json()
    assert [(p["version"], p["parameters"]["benefits"]) for p in listed] == [
        (0, DEFAULT_AS_ANSWERED["benefits"]),
        (1, benefits),
        (2, DEFAULT_AS_ANSWERED["benefits"]),
    ]
    book = settlement_app.state.policy_book
    book.invalidate()
    async with settlement_app.state.db.transaction(readonly=True) as session:
        april = await book.in_force(session, date(2026, 4, 1))
        may = await book.in_force(session, date(2026, 5, 1))
    assert (april.policy.benefit_of("13"), "53" in april.policy.benefits) == ("inpatient", False)
    assert may.policy.benefits == DEFAULT_BENEFIT


async def test_only_ops_add_versions_and_the_public_reads_none(
    api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    async with as_client(settlement_app, HIS) as his:
        assert problem(await his.post("/policies", json=policy_body()), 403)["code"] == "ROLE_FORBIDDEN"
        assert [p["version"] for p in (await his.get("/policies")).json()] == [0]
    async with as_client(settlement_app, PUBLIC) as public:
        assert problem(await public.get("/policies"), 403)["code"] == "ROLE_FORBIDDEN"
    assert await count(settlement_app, PolicyVersion) == 0


async def test_no_policy_was_in_force_before_the_default_table(api: httpx.AsyncClient) -> None:
    response = await api.get("/policies/in-force", params={"date": "1999-12-31"})
    assert problem(response, 404)["code"] == "NO_POLICY_IN_FORCE"
    assert problem(await api.get("/policies/in-force", params={"date": "2026-02-30"}), 422)["code"] == (
        "VALIDATION_ERROR"
    )


async def test_the_policy_book_caches_for_its_ttl_and_a_post_clears_it_at_once(
    api: httpx.AsyncClient, settlement_app: FastAPI, clock: FrozenClock, policy_book: PolicyBook
) -> None:
    db = settlement_app.state.db
    april = date(2026, 4, 1)
    async with db.transaction(readonly=True) as session:
        assert [v.version for v in await policy_book.versions(session)] == [0]
        assert (await policy_book.in_force(session, april)).version == 0
    # A version another replica added: this one sees it once its cache is older than the ttl.
    async with db.transaction() as session:
        session.add(
            PolicyVersion(
                effective_from=april,
                parameters=_with(("class_b_selfpay_prop",), "0.20"),
                note=None,
                created_by="ops-elsewhere",
                created_at=clock.now(),
            )
        )
    async with db.transaction(readonly=True) as session:
        assert (await policy_book.in_force(session, april)).version == 0
    clock.advance(seconds=settlement_app.state.settings.policy_cache_s)
    async with db.transaction(readonly=True) as session:
        in_april = await policy_book.in_force(session, april)
        assert (in_april.version, in_april.effective_from) == (1, april)
        assert in_april.policy.class_b_selfpay_prop == Decimal("0.20")
        assert (await policy_book.in_force(session, date(2026, 3, 31))).version == 0
    # A version added here is seen here at once.
    assert (await api.post("/policies", json=policy_body("2026-05-01"))).status_code == 201
    async with db.transaction(readonly=True) as session:
        assert [v.version for v in await policy_book.versions(session)] == [0, 1, 2]
        assert (await policy_book.in_force(session, date(2026, 5, 1))).version == 2
