"""The settle path through the API: one call and the visit flow, amounts, refusals, idempotency, reversal."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.settlement import SettlementSettled
from common.events.tables import outbox_event
from common.national import MED_TYPE
from common.principal import Principal, Role
from settlement.domain.policy import DEFAULT_PARAMETERS
from settlement.models import FeeDetail, Journal, Settlement, Visit, YearAccumulator
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import (
    bind_family,
    count,
    credit_account,
    seed_catalog,
    seed_institution,
    seed_person,
)

HOSPITAL, PHARMACY = "H42010000001", "P42010000001"


def line(sn: str, code: str, cnt: str, pric: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "cnt": cnt,
        "pric": pric,
        "det_item_fee_sumamt": amount,
        "fee_ocur_time": "2026-03-02T09:50:00+08:00",
        **extra,
    }


def claim(medins_setl_id: str, lines: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return {
        "fixmedins_code": HOSPITAL,
        "medins_setl_id": medins_setl_id,
        "psn_no": "P1",
        "insutype": "310",
        "med_type": "11",
        "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 1,
        "feedetail": lines,
        **overrides,
    }


@pytest.fixture
async def world(settlement_app: FastAPI, api: httpx.AsyncClient) -> FastAPI:
    """Two institutions, a small catalogue, an employee P1 with 500.00 in the account."""
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_institution(db, PHARMACY, fixmedins_type="pharmacy")
    await seed_institution(db, "H-SUSPENDED", status="suspended")
    await seed_catalog(db, "A01", "01")
    await seed_catalog(db, "B02", "02")
    await seed_catalog(db, "C03", "03")
    await seed_catalog(db, "CAP02", "02", selfpay_prop="0.2", pric_uplmt_amt="40")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 50000)
    return settlement_app


FIRST_CLAIM = [
    line("1", "A01", "2", "50", "100.00"),  # 甲类: all in scope
    line("2", "B02", "1", "300", "300.00"),  # 乙类 at the policy's 0.10: 30.00 first
    line("3", "C03", "1", "80", "80.00"),  # 丙类: wholly self-paid
    line("4", "NOT-LISTED", "1", "20.5", "20.50"),  # not in the catalogue: wholly self-paid
    line("5", "CAP02", "3", "45", "135.00"),  # cap 40: 15.00 over; 0.20 of 120.00 = 24.00 first
]


async def test_outpatient_claim_consumes_the_yearly_deductible_then_the_pool_pays(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    first = await api.post("/settlements", json=claim("M-1", FIRST_CLAIM))
    assert first.status_code == 201, first.text
    info = first.json()["setlinfo"]
    # in scope 100 + 270 + 96 = 466.00 < the 700 outpatient deductible: the fund pays nothing yet.
    assert {k: info[k] for k in AMOUNTS} == {
        "medfee_sumamt": "635.50",
        "fulamt_ownpay_amt": "100.50",
        "overlmt_selfpay": "15.00",
        "preselfpay_amt": "54.00",
        "inscp_scp_amt": "466.00",
        "act_pay_dedc": "466.00",
        "hifp_pay": "0.00",
        "hifmi_pay": "0.00",
        "hifob_pay": "0.00",
        "maf_pay": "0.00",
        "fund_pay_sumamt": "0.00",
        "psn_part_amt": "635.50",
        "acct_pay": "500.00",
        "acct_mulaid_pay": "0.00",
        "psn_cash_pay": "135.50",
        "balc": "0.00",
    }
    assert [(r["feedetl_sn"], r["inscp_scp_amt"], r["notes"]) for r in first.json()["result"]] == [
        ("1", "100.00", []),
        ("2", "270.00", []),
        ("3", "0.00", ["CLASS_C_SELF_PAY"]),
        ("4", "0.00", ["NOT_IN_CATALOG"]),
        ("5", "96.00", ["OVER_PRICE_CAP"]),
    ]
    assert first.json()["setldetail"] == []

    second = await api.post("/settlements", json=claim("M-2", [line("1", "A01", "10", "50", "500.00")]))
    assert second.status_code == 201, second.text
    info = second.json()["setlinfo"]
    # 234.00 of the deductible left; (500 − 234) × 0.60 (level 2) = 159.60; the account is empty.
    assert (
        info["act_pay_dedc"],
        info["hifp_pay"],
        info["fund_pay_sumamt"],
        info["acct_pay"],
        info["psn_cash_pay"],
    ) == (
        "234.00",
        "159.60",
        "159.60",
        "0.00",
        "340.40",
    )
    assert second.json()["setldetail"] == [
        {"fund_pay_type": "310100", "fund_pay_type_name": "职工基本医疗保险统筹基金", "fund_payamt": "159.60"}
    ]
    async with world.state.db.transaction(readonly=True) as session:
        year = await session.get(YearAccumulator, ("P1", "310", 2026))
    assert year is not None
    assert (
        year.outpatient_dedc_fen,
        year.outpatient_pool_fen,
        year.pool_fen,
        year.pool_self_fen,
        year.settlement_count,
    ) == (
        70000,
        15960,
        15960,
        10640,
        2,
    )
    assert (await api.get("/ledger/check")).json()["balanced"] is True


AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "balc",
)


async def test_settled_event_carries_setlinfo_and_each_line_with_its_split_and_trace_codes(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    traced = line(
        "1", "A01", "2", "50", "100.00", drug_trac_codg=["81000000000000000001", "81000000000000000002"]
    )
    response = await api.post("/settlements", json=claim("M-EV", [traced]))
    assert response.status_code == 201, response.text
    async with world.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    settled = [json.loads(payload) for kind, payload in rows if kind == "settlement.settled"]
    assert len(settled) == 1
    data = settled[0]["data"]
    assert data["setl_id"] == response.json()["setlinfo"]["setl_id"]
    assert (data["psn_no"], data["fixmedins_code"], data["fixmedins_type"], data["hosp_lv"]) == (
        "P1",
        HOSPITAL,
        "hospital",
        2,
    )
    assert (data["medfee_sumamt"], data["fund_pay_sumamt"], data["review"], data["incentive_raise_used"]) == (
        "100.00",
        "0.00",
        "disabled",
        False,
    )
    assert data["feedetail"][0]["drug_trac_codg"] == ["81000000000000000001", "81000000000000000002"]
    assert (
        data["feedetail"][0]["inscp_scp_amt"],
        data["feedetail"][0]["cnt"],
        data["feedetail"][0]["pric"],
    ) == (
        "100.00",
        "2",
        "50",
    )
    assert data["business_date"] == "2026-03-02"


async def test_the_settled_event_is_exactly_its_contract_document(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    # The settle path writes the event's JSON directly: it must be what the contract itself would dump.
    claims = [
        claim("M-C1", [line("1", "A01", "2", "50", "100.00", drug_trac_codg=["81000000000000000009"])]),
        claim(
            "M-C2",
            [line("1", "B02", "1.5", "12.345600", "18.52"), line("2", "CAP02", "1", "60", "60.00")],
            begntime="2026-03-02T01:30:00Z",
            endtime="2026-03-02T02:10:00.250000Z",
            dise_codg="J18.000",
        ),
        claim(
            "M-C3",
            [line("1", "C03", "3", "10", "30.00"), line("2", "X99", "1", "5", "5.00")],
            acct_used_flag=0,
        ),
    ]
    for body in claims:
        response = await api.post("/settlements", json=body)
        assert response.status_code == 201, response.text
    async with world.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
            )
        ).all()
    documents = [json.loads(payload)["data"] for kind, payload in rows if kind == "settlement.settled"]
    assert [document["medins_setl_id"] for document in documents] == ["M-C1", "M-C2", "M-C3"]
    for document in documents:
        assert document == SettlementSettled.model_validate(document).model_dump(mode="json")
        assert list(document) == list(SettlementSettled.model_fields)
    assert documents[1]["begntime"] == "2026-03-02T01:30:00Z"
    assert documents[1]["endtime"] == "2026-03-02T02:10:00.250000Z"
    assert [line["notes"] for line in documents[2]["feedetail"]][1] != []  # X99 is not in the catalogue


async def test_a_retry_gets_the_original_answer_and_a_different_body_under_the_same_id_is_409(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    body = claim("M-IDEM", [line("1", "A01", "1", "50", "50.00")])
    first = await api.post("/settlements", json=body)
    again = await api.post("/settlements", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replay"] == "true"
    changed = await api.post("/settlements", json={**body, "acct_used_flag": 0})
    assert changed.status_code == 409
    assert changed.json()["code"] == "SETTLEMENT_CONFLICT"
    assert await count(world.state.db, Settlement) == 1
    assert (await api.get("/accounts/P1")).json()["balc"] == "450.00"


async def test_pharmacy_purchase_is_paid_from_the_account_and_never_by_the_fund(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    body = claim("POS-1", [line("1", "A01", "1", "30", "30.00")], fixmedins_code=PHARMACY, med_type="41")
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    info = response.json()["setlinfo"]
    assert (
        info["fund_pay_sumamt"],
        info["act_pay_dedc"],
        info["acct_pay"],
        info["psn_cash_pay"],
        info["balc"],
    ) == (
        "0.00",
        "0.00",
        "30.00",
        "0.00",
        "470.00",
    )
    assert [w["code"] for w in response.json()["warnings"]] == ["PHARMACY_ACCOUNT_ONLY"]


async def test_inpatient_resident_on_minimum_living_gets_pool_then_assistance(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    db = world.state.db
    await seed_institution(db, "H3", hosp_lv=3)
    await seed_person(db, "R1", insutype="390", assistance="minimum_living", coverage_id=77)
    body = claim(
        "ADM-1",
        [line("1", "A01", "1", "30000", "30000.00")],
        fixmedins_code="H3",
        psn_no="R1",
        insutype="390",
        med_type="21",
        acct_used_flag=0,
        endtime="2026-03-02T09:45:00+08:00",
    )
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    info = response.json()["setlinfo"]
    # deductible 1,000 (lv 3); (30,000 − 1,000) × 0.60 = 17,400; self-burden 11,600 below the 15,000 threshold;
    # assistance 11,600 × 0.80 = 9,280; the person pays 3,320.
    assert (
        info["act_pay_dedc"],
        info["hifp_pay"],
        info["hifmi_pay"],
        info["maf_pay"],
        info["fund_pay_sumamt"],
    ) == (
        "1000.00",
        "17400.00",
        "0.00",
        "9280.00",
        "26680.00",
    )
    assert (info["psn_part_amt"], info["psn_cash_pay"]) == ("3320.00", "3320.00")
    assert [d["fund_pay_type"] for d in response.json()["setldetail"]] == ["390100", "610100"]


async def test_care_in_the_waiting_period_settles_as_self_pay_with_the_reason(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    await seed_person(
        world.state.db,
        "W1",
        insutype="390",
        begndate=date(2026, 2, 1),
        benefit_start_date=date(2026, 5, 1),
        coverage_id=78,
    )
    response = await api.post(
        "/settlements",
        json=claim("W-1", [line("1", "A01", "1", "100", "100.00")], psn_no="W1", insutype="390"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (
        body["setlinfo"]["fund_pay_sumamt"],
        body["setlinfo"]["act_pay_dedc"],
        body["setlinfo"]["psn_cash_pay"],
    ) == (
        "0.00",
        "0.00",
        "100.00",
    )
    assert body["warnings"][0]["code"] == "WAITING_PERIOD"
    assert body["warnings"][0]["details"] == {"benefit_start_date": "2026-05-01"}
    async with world.state.db.transaction(readonly=True) as session:
        year = await session.get(YearAccumulator, ("W1", "390", 2026))
    assert year is not None and (year.pool_self_fen, year.settlement_count) == (0, 1)


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        pytest.param({"psn_no": "NOBODY"}, 404, "PERSON_NOT_FOUND", id="unknown person"),
        pytest.param({"psn_no": "DEAD"}, 422, "PERSON_DECEASED", id="care begun after death"),
        pytest.param({"insutype": "390"}, 422, "NO_COVERAGE", id="no coverage of that insutype"),
        pytest.param({"psn_no": "ENDED"}, 422, "NO_COVERAGE", id="coverage ended before the care"),
        pytest.param({"psn_no": "PAUSED"}, 422, "COVERAGE_SUSPENDED", id="coverage suspended"),
        pytest.param({"fixmedins_code": "NOWHERE"}, 404, "INSTITUTION_NOT_FOUND", id="unknown institution"),
        pytest.param(
            {"fixmedins_code": "H-SUSPENDED"}, 403, "INSTITUTION_SUSPENDED", id="suspended institution"
        ),
        pytest.param({"med_type": "41"}, 422, "MED_TYPE_NOT_ALLOWED", id="pharmacy med_type at a hospital"),
        pytest.param(
            {"fixmedins_code": PHARMACY}, 422, "MED_TYPE_NOT_ALLOWED", id="outpatient at a pharmacy"
        ),
        pytest.param(
            {"feedetail": [line("1", "A01", "2", "50", "100.02")]},
            422,
            "AMOUNT_MISMATCH",
            id="amount is not cnt × pric",
        ),
        pytest.param(
            {"feedetail": [line("1", "A01", "1", "50", "50.00"), line("1", "A01", "1", "50", "50.00")]},
            422,
            "DUPLICATE_FEEDETL_SN",
            id="line number twice",
        ),
        pytest.param(
            {"feedetail": [line("1", "A01", "1", "50", "50.001")]},
            422,
            "VALIDATION_ERROR",
            id="three decimals",
        ),
        pytest.param(
            {"feedetail": [line("1", "A01", "-1", "50", "50.00")]}, 422, "VALIDATION_ERROR", id="negative cnt"
        ),
        pytest.param({"feedetail": []}, 422, "VALIDATION_ERROR", id="no lines"),
        pytest.param({"insutype": "392"}, 422, "VALIDATION_ERROR", id="attached insutype"),
        pytest.param(
            {"endtime": "2026-03-01T09:00:00+08:00"}, 422, "DATES_OUT_OF_ORDER", id="endtime before begntime"
        ),
        pytest.param(
            {"begntime": "2026-03-09T09:00:00+08:00"}, 422, "FUTURE_TIME", id="begntime in the future"
        ),
        pytest.param(
            {"feedetail": [line("1", "A01", "1", "50", "50.00", fee_ocur_time="2026-02-27T10:00:00+08:00")]},
            422,
            "DATES_OUT_OF_ORDER",
            id="line before the visit",
        ),
        pytest.param({"begntime": "2026-03-02T09:30:00"}, 422, "VALIDATION_ERROR", id="time without offset"),
        pytest.param({"acct_used_flag": 2}, 422, "VALIDATION_ERROR", id="acct_used_flag not 0/1"),
        pytest.param({"medins_setl_id": "a b<script>"}, 422, "VALIDATION_ERROR", id="script in an id"),
    ],
)
async def test_a_claim_that_cannot_be_settled_is_refused_with_a_code_and_writes_nothing(
    world: FastAPI, api: httpx.AsyncClient, overrides: dict[str, Any], status: int, code: str
) -> None:
    db = world.state.db
    await seed_person(db, "DEAD", death_date=date(2026, 3, 1), coverage_id=90)
    await seed_person(db, "ENDED", enddate=date(2026, 2, 28), coverage_id=91)
    await seed_person(db, "PAUSED", suspensions=[["2026-03-01", None]], coverage_id=92)
    before = (
        await count(db, Settlement),
        await count(db, Journal),
        await count(db, Visit),
        await count(db, FeeDetail),
    )
    response = await api.post(
        "/settlements", json=claim("BAD-1", [line("1", "A01", "1", "50", "50.00")]) | overrides
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    after = (
        await count(db, Settlement),
        await count(db, Journal),
        await count(db, Visit),
        await count(db, FeeDetail),
    )
    assert after == before
    assert (await api.get("/accounts/P1")).json()["balc"] == "500.00"


async def test_an_institution_settles_only_as_itself(world: FastAPI, api: httpx.AsyncClient) -> None:
    other = as_client(world, Principal("his-other", Role.HIS, scope="H-OTHER"))
    own = as_client(world, Principal("his-own", Role.HIS, scope=HOSPITAL))
    async with other, own:
        refused = await other.post("/settlements", json=claim("X-1", [line("1", "A01", "1", "50", "50.00")]))
        assert (refused.status_code, refused.json()["code"]) == (403, "SCOPE_FORBIDDEN")
        made = await own.post("/settlements", json=claim("X-1", [line("1", "A01", "1", "50", "50.00")]))
        assert made.status_code == 201
        setl_id = made.json()["setlinfo"]["setl_id"]
        assert (await other.get(f"/settlements/{setl_id}")).json()["code"] == "SCOPE_FORBIDDEN"
        assert (await other.post(f"/settlements/{setl_id}/reversal", json={"reason": "x"})).status_code == 403
        assert (await own.get(f"/settlements/{setl_id}")).json()["status"] == "settled"
        listed = await own.get("/settlements")
        assert [item["setl_id"] for item in listed.json()["items"]] == [setl_id]
        assert (await other.get("/settlements", params={"fixmedins_code": HOSPITAL})).status_code == 403
        assert (await own.get("/ledger/check")).json()["code"] == "ROLE_FORBIDDEN"


async def test_family_mutual_aid_pays_from_the_holders_account_after_the_members(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    db = world.state.db
    await seed_person(db, "KID", insutype="390", brdy=date(2015, 1, 1), coverage_id=93)
    await credit_account(db, "KID", 1000)
    await bind_family(db, holder="P1", member="KID")
    body = claim(
        "FAM-1",
        [line("1", "A01", "1", "30", "30.00")],
        fixmedins_code=PHARMACY,
        med_type="41",
        psn_no="KID",
        insutype="390",
    )
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    info = response.json()["setlinfo"]
    assert (
        info["acct_pay"],
        info["acct_mulaid_pay"],
        info["psn_cash_pay"],
        info["balc"],
        info["mulaid_psn_no"],
    ) == (
        "10.00",
        "20.00",
        "0.00",
        "0.00",
        "P1",
    )
    assert (await api.get("/accounts/P1")).json()["balc"] == "480.00"
    assert (await api.get("/ledger/check")).json()["balanced"] is True


async def test_reversal_restores_the_year_and_the_accounts_and_a_second_one_is_409(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    first = await api.post("/settlements", json=claim("REV-1", [line("1", "A01", "10", "100", "1000.00")]))
    assert first.status_code == 201
    setl_id = first.json()["setlinfo"]["setl_id"]
    # 700 deductible, (1,000 − 700) × 0.60 = 180.00; account 500 of the 820.00 left.
    assert (first.json()["setlinfo"]["hifp_pay"], first.json()["setlinfo"]["acct_pay"]) == (
        "180.00",
        "500.00",
    )
    reversed_ = await api.post(f"/settlements/{setl_id}/reversal", json={"reason": "收费员操作错误"})
    assert reversed_.status_code == 201, reversed_.text
    assert (reversed_.json()["orig_setl_id"], reversed_.json()["acct_pay"], reversed_.json()["balc"]) == (
        setl_id,
        "500.00",
        "500.00",
    )
    again = await api.post(f"/settlements/{setl_id}/reversal", json={"reason": "again"})
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_REVERSED")
    async with world.state.db.transaction(readonly=True) as session:
        year = await session.get(YearAccumulator, ("P1", "310", 2026))
        events = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    assert year is not None
    assert (year.outpatient_dedc_fen, year.pool_fen, year.pool_self_fen, year.settlement_count) == (
        0,
        0,
        0,
        0,
    )
    record = (await api.get(f"/settlements/{setl_id}")).json()
    assert (record["status"], record["reversal_setl_id"]) == ("reversed", reversed_.json()["setl_id"])
    reversed_events = [json.loads(p)["data"] for t, p in events if t == "settlement.reversed"]
    assert [(e["orig_setl_id"], e["fund_pay_sumamt"]) for e in reversed_events] == [(setl_id, "180.00")]
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True, check
    assert check["totals"]["fund:310100"] == "-2000.00"  # the seeded contribution; the claim netted to zero
    # The deductible is whole again: the same claim settles to the same amounts.
    redo = await api.post("/settlements", json=claim("REV-2", [line("1", "A01", "10", "100", "1000.00")]))
    assert (redo.json()["setlinfo"]["hifp_pay"], redo.json()["setlinfo"]["acct_pay"]) == ("180.00", "500.00")
    assert (await api.post("/settlements/NOPE/reversal", json={"reason": "x"})).json()[
        "code"
    ] == "SETTLEMENT_NOT_FOUND"


async def test_visit_flow_upload_withdraw_presettle_settle(world: FastAPI, api: httpx.AsyncClient) -> None:
    visit = await api.post(
        "/visits",
        json={
            "fixmedins_code": HOSPITAL,
            "psn_no": "P1",
            "insutype": "310",
            "med_type": "21",
            "begntime": "2026-03-01T09:30:00+08:00",
            "dise_codg": "J18.900",
        },
    )
    assert visit.status_code == 201, visit.text
    mdtrt_id = visit.json()["mdtrt_id"]
    day1 = [line("1", "A01", "1", "2000", "2000.00"), line("2", "B02", "1", "1000", "1000.00")]
    uploaded = await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": day1})
    assert uploaded.status_code == 201, uploaded.text
    assert [
        (r["feedetl_sn"], r["preselfpay_amt"], r["inscp_scp_amt"]) for r in uploaded.json()["result"]
    ] == [
        ("1", "0.00", "2000.00"),
        ("2", "100.00", "900.00"),
    ]
    retry = await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": day1[:1]})
    assert retry.status_code == 201
    clash = await api.post(
        f"/visits/{mdtrt_id}/fee-details", json={"feedetail": [line("1", "A01", "1", "1", "1.00")]}
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "FEEDETL_SN_CONFLICT")
    assert (await api.delete(f"/visits/{mdtrt_id}/fee-details/2")).status_code == 204
    assert (await api.delete(f"/visits/{mdtrt_id}/fee-details/2")).json()["code"] == "FEE_DETAIL_NOT_FOUND"
    pre = await api.post(f"/visits/{mdtrt_id}/pre-settlement", json={"acct_used_flag": 1})
    assert pre.status_code == 200, pre.text
    # inpatient lv 2: deductible 600, (2,000 − 600) × 0.88 = 1,232.00
    assert (
        pre.json()["setlinfo"]["setl_id"],
        pre.json()["setlinfo"]["act_pay_dedc"],
        pre.json()["setlinfo"]["hifp_pay"],
    ) == (
        None,
        "600.00",
        "1232.00",
    )
    assert await count(world.state.db, Settlement) == 0
    settled = await api.post(
        f"/visits/{mdtrt_id}/settlement",
        json={"medins_setl_id": "ZY-1", "acct_used_flag": 1, "endtime": "2026-03-02T09:00:00+08:00"},
    )
    assert settled.status_code == 201, settled.text
    assert {
        k: settled.json()["setlinfo"][k] for k in ("act_pay_dedc", "hifp_pay", "acct_pay", "psn_cash_pay")
    } == {
        "act_pay_dedc": "600.00",
        "hifp_pay": "1232.00",
        "acct_pay": "500.00",
        "psn_cash_pay": "268.00",
    }
    retried = await api.post(
        f"/visits/{mdtrt_id}/settlement",
        json={"medins_setl_id": "ZY-1", "acct_used_flag": 1, "endtime": "2026-03-02T09:00:00+08:00"},
    )
    assert (retried.status_code, retried.json()) == (200, settled.json())
    late = await api.post(
        f"/visits/{mdtrt_id}/fee-details", json={"feedetail": [line("9", "A01", "1", "1", "1.00")]}
    )
    assert (late.status_code, late.json()["code"]) == (409, "VISIT_SETTLED")
    shown = (await api.get(f"/visits/{mdtrt_id}")).json()
    assert (shown["status"], [f["feedetl_sn"] for f in shown["feedetail"]]) == ("settled", ["1"])
    assert (await api.get("/visits/NOPE")).json()["code"] == "VISIT_NOT_FOUND"


async def test_an_empty_visit_cannot_be_settled(world: FastAPI, api: httpx.AsyncClient) -> None:
    visit = await api.post(
        "/visits",
        json={
            "fixmedins_code": HOSPITAL,
            "psn_no": "P1",
            "insutype": "310",
            "med_type": "11",
            "begntime": "2026-03-02T09:30:00+08:00",
        },
    )
    mdtrt_id = visit.json()["mdtrt_id"]
    response = await api.post(
        f"/visits/{mdtrt_id}/settlement", json={"medins_setl_id": "E-1", "acct_used_flag": 0}
    )
    assert (response.status_code, response.json()["code"]) == (422, "NO_FEE_DETAILS")
    refused = await api.post(
        "/visits",
        json={
            "fixmedins_code": HOSPITAL,
            "psn_no": "NOBODY",
            "insutype": "310",
            "med_type": "11",
            "begntime": "2026-03-02T09:30:00+08:00",
        },
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "PERSON_NOT_FOUND")


async def test_settlement_uses_the_policy_version_in_force_on_its_business_date(
    world: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    parameters = copy.deepcopy(DEFAULT_PARAMETERS)
    parameters["310"]["outpatient"]["ratio"]["2"] = "0.80"
    parameters["310"]["outpatient"]["deductible_per_year"] = "0"
    added = await api.post("/policies", json={"effective_from": "2026-03-10", "parameters": parameters})
    assert added.status_code == 201, added.text
    version = added.json()["version"]
    body = [line("1", "A01", "1", "100", "100.00")]
    before = await api.post("/settlements", json=claim("POL-1", body, acct_used_flag=0))
    # Still the default on 2026-03-02: all 100.00 goes to the 700 deductible.
    assert (before.json()["setlinfo"]["policy_version"], before.json()["setlinfo"]["hifp_pay"]) == (0, "0.00")
    clock.set(at_shanghai(2026, 3, 10, 8))
    after = await api.post(
        "/settlements",
        json=claim("POL-2", body, acct_used_flag=0, begntime="2026-03-10T07:30:00+08:00")
        | {"feedetail": [line("1", "A01", "1", "100", "100.00", fee_ocur_time="2026-03-10T07:40:00+08:00")]},
    )
    assert after.status_code == 201, after.text
    # From 2026-03-10: no deductible, 0.80 at level 2.
    assert (after.json()["setlinfo"]["policy_version"], after.json()["setlinfo"]["hifp_pay"]) == (
        version,
        "80.00",
    )


async def test_a_persons_yearly_totals_show_what_the_deductible_and_pool_have_used(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    await api.post("/settlements", json=claim("ACC-1", [line("1", "A01", "10", "100", "1000.00")]))
    totals = await api.get("/accounts/P1/accumulators")
    # 700 deductible, (1,000 − 700) × 0.60 = 180.00 from the pool, 120.00 in-scope self-burden.
    assert totals.json() == {
        "psn_no": "P1",
        "year": 2026,
        "totals": [
            {
                "insutype": "310",
                "year": 2026,
                "outpatient_dedc": "700.00",
                "outpatient_pool": "180.00",
                "hifp_pay": "180.00",
                "pool_self": "120.00",
                "supplementary_pay": "0.00",
                "maf_pay": "0.00",
                "settlement_count": 1,
            }
        ],
    }
    assert (await api.get("/accounts/P1/accumulators", params={"year": 2025})).json()["totals"] == []
    assert (await api.get("/accounts/NOBODY/accumulators")).json()["code"] == "PERSON_NOT_FOUND"


# --- every national med_type, as the policy in force pays it ---------------------------------------------

OUTPATIENT_PAID = ("700.00", "180.00", [])  # the yearly 700 deductible, then (1,000 − 700) × 0.60
INPATIENT_PAID = ("600.00", "352.00", [])  # 600 for the admission, then (1,000 − 600) × 0.88
PHARMACY_PAID = ("0.00", "0.00", ["PHARMACY_ACCOUNT_ONLY"])
EVERY_MED_TYPE = {
    "11": (HOSPITAL, OUTPATIENT_PAID),
    "12": (HOSPITAL, OUTPATIENT_PAID),
    "13": (HOSPITAL, OUTPATIENT_PAID),
    "14": (HOSPITAL, OUTPATIENT_PAID),
    "21": (HOSPITAL, INPATIENT_PAID),
    "22": (HOSPITAL, INPATIENT_PAID),
    "23": (HOSPITAL, INPATIENT_PAID),
    "24": (HOSPITAL, INPATIENT_PAID),
    "28": (HOSPITAL, INPATIENT_PAID),
    "41": (PHARMACY, PHARMACY_PAID),
    "51": (HOSPITAL, OUTPATIENT_PAID),
    "52": (HOSPITAL, INPATIENT_PAID),
    "53": (HOSPITAL, OUTPATIENT_PAID),
}


def test_the_cases_below_cover_the_whole_dictionary() -> None:
    assert set(EVERY_MED_TYPE) == set(MED_TYPE)


@pytest.mark.parametrize("med_type", sorted(EVERY_MED_TYPE))
async def test_each_national_med_type_settles_as_the_benefit_the_default_policy_gives_it(
    world: FastAPI, api: httpx.AsyncClient, med_type: str
) -> None:
    where, (dedc, hifp, notes) = EVERY_MED_TYPE[med_type]
    body = claim(
        f"MT-{med_type}",
        [line("1", "A01", "1", "1000", "1000.00")],
        fixmedins_code=where,
        med_type=med_type,
        acct_used_flag=0,
    )
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    info = response.json()["setlinfo"]
    assert (info["med_type"], info["act_pay_dedc"], info["hifp_pay"], info["fund_pay_sumamt"]) == (
        med_type,
        dedc,
        hifp,
        hifp,
    )
    assert [w["code"] for w in response.json()["warnings"]] == notes
    # And the other kind of institution refuses it, registering nothing.
    elsewhere = PHARMACY if where == HOSPITAL else HOSPITAL
    refused = await api.post("/visits", json=visit_body(med_type, fixmedins_code=elsewhere))
    assert (refused.status_code, refused.json()["code"]) == (422, "MED_TYPE_NOT_ALLOWED")
    assert await count(world.state.db, Visit) == 1


def visit_body(med_type: str, **overrides: Any) -> dict[str, Any]:
    return {
        "fixmedins_code": HOSPITAL,
        "psn_no": "P1",
        "insutype": "310",
        "med_type": med_type,
        "begntime": "2026-03-02T09:30:00+08:00",
        **overrides,
    }


async def test_emergency_care_shares_the_yearly_outpatient_deductible_and_maternity_stays_pay_it_each_time(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    def settled(medins_setl_id: str, med_type: str, amount: str) -> dict[str, Any]:
        return claim(
            medins_setl_id,
            [line("1", "A01", "1", amount, f"{amount}.00")],
            med_type=med_type,
            acct_used_flag=0,
        )

    emergency = (await api.post("/settlements", json=settled("JZ-1", "13", "500"))).json()["setlinfo"]
    outpatient = (await api.post("/settlements", json=settled("MZ-1", "11", "500"))).json()["setlinfo"]
    # 500 of the 700 used by the emergency visit; the outpatient visit uses the last 200, then 300 × 0.60.
    assert [(s["act_pay_dedc"], s["hifp_pay"]) for s in (emergency, outpatient)] == [
        ("500.00", "0.00"),
        ("200.00", "180.00"),
    ]
    first = (await api.post("/settlements", json=settled("SY-1", "52", "1000"))).json()["setlinfo"]
    second = (await api.post("/settlements", json=settled("SY-2", "52", "1000"))).json()["setlinfo"]
    assert [(s["act_pay_dedc"], s["hifp_pay"]) for s in (first, second)] == [
        ("600.00", "352.00"),
        ("600.00", "352.00"),
    ]


@pytest.mark.parametrize("med_type", ["99", "31", "X1"])
async def test_an_unknown_med_type_is_refused_naming_it_and_the_known_ones_and_writes_nothing(
    world: FastAPI, api: httpx.AsyncClient, med_type: str
) -> None:
    db = world.state.db
    before = (await count(db, Visit), await count(db, FeeDetail), await count(db, Settlement))
    detail = (
        f"med_type {med_type} is not a national 医疗类别 code; known: 11 普通门诊, 12 门诊挂号, 13 急诊, "
        "14 门诊慢特病, 21 普通住院, 22 外伤住院, 23 转外诊治住院, 24 急诊转住院, 28 日间手术, "
        "41 定点药店购药, 51 生育门诊, 52 生育住院, 53 计划生育手术费."
    )
    for response in (
        await api.post("/visits", json=visit_body(med_type)),
        await api.post(
            "/settlements",
            json=claim("UNK-1", [line("1", "A01", "1", "50", "50.00")], med_type=med_type),
        ),
    ):
        assert (response.status_code, response.json()["code"], response.json()["detail"]) == (
            422,
            "MED_TYPE_UNKNOWN",
            detail,
        )
    assert (await count(db, Visit), await count(db, FeeDetail), await count(db, Settlement)) == before


async def test_a_med_type_the_policy_in_force_does_not_cover_is_refused_everywhere_and_writes_nothing(
    world: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    db = world.state.db
    benefits = {**DEFAULT_PARAMETERS["benefits"], "28": "outpatient"}
    del benefits["13"]
    added = await api.post(
        "/policies",
        json={"effective_from": "2026-03-10", "parameters": {**DEFAULT_PARAMETERS, "benefits": benefits}},
    )
    assert added.status_code == 201, added.text
    version = added.json()["version"]
    # Registered under the default, with its line, before the new version takes effect.
    registered = await api.post("/visits", json=visit_body("13"))
    assert registered.status_code == 201, registered.text
    mdtrt_id = registered.json()["mdtrt_id"]
    lines = [line("1", "A01", "1", "100", "100.00")]
    assert (await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": lines})).status_code == 201

    clock.set(at_shanghai(2026, 3, 10, 8))
    on_the_10th = {"begntime": "2026-03-10T07:30:00+08:00"}
    lines_10th = [line("1", "A01", "1", "1000", "1000.00", fee_ocur_time="2026-03-10T07:40:00+08:00")]
    before = (await count(db, Visit), await count(db, FeeDetail), await count(db, Settlement))
    for response in (
        await api.post("/visits", json=visit_body("13", **on_the_10th)),
        await api.post("/settlements", json=claim("JZ-9", lines_10th, med_type="13", **on_the_10th)),
        await api.post(f"/visits/{mdtrt_id}/pre-settlement"),
        await api.post(
            f"/visits/{mdtrt_id}/settlement", json={"medins_setl_id": "JZ-8", "acct_used_flag": 0}
        ),
    ):
        assert (response.status_code, response.json()["code"], response.json()["detail"]) == (
            422,
            "MED_TYPE_NOT_COVERED",
            f"med_type 13 (急诊) is not covered by the policy in force (version {version}).",
        )
    assert (await count(db, Visit), await count(db, FeeDetail), await count(db, Settlement)) == before
    # 日间手术 is outpatient care under this version: the yearly 700 deductible, then 0.60.
    day_surgery = await api.post(
        "/settlements", json=claim("RJ-1", lines_10th, med_type="28", acct_used_flag=0, **on_the_10th)
    )
    assert day_surgery.status_code == 201, day_surgery.text
    info = day_surgery.json()["setlinfo"]
    assert (info["policy_version"], info["act_pay_dedc"], info["hifp_pay"]) == (version, "700.00", "180.00")
