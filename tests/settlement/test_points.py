"""Payment by points (DRG/DIP) end to end on the settlement service: real settlements under the default policy,
settlement lists, 特例单议, the month's quality reserve, budget execution and the year clearing, on SQLite and
PostgreSQL with a real NATS.

The city (resident pool 390, DIP, budget 30,000.00, every other parameter at its default):
- groups G1 (100 points, avg_cost 10,000.00) ← K80 + procedure 51.2300; G2 (50 points, avg_cost 5,000.00) ← K80
  conservative.
- H1 (level 3, coefficient 1.00): residents' inpatient deductible 1,000.00, ratio 0.60.
  a: medfee 10,000.00, list K80.100 + 51.2300 → G1, r 1.0 → 100 points; hifp (10,000 − 1,000) × 0.6 = 5,400.00.
  b: medfee 1,500.00, no list (visit K80.000) → G2 conservative, r 0.3 → 低倍率 50 × 0.3 = 15 points;
     hifp (1,500 − 1,000) × 0.6 = 300.00.
  e: medfee 8,000.00, main diagnosis Z99.000 matches no row → ungrouped, 8,000 ÷ 100 = 80 points; 特例单议 → 60;
     hifp (8,000 − 1,000) × 0.6 = 4,200.00.
  f: medfee 5,000.00, reversed the same day: not a case.
- H2 (level 2, coefficient 0.90): deductible 500.00, ratio 0.75; quality score 0.9.
  c: medfee 12,000.00, list K80.1 + 51.2300 → G1, r 1.2 → 100 × 0.9 = 90 points; hifp 11,500 × 0.75 = 8,625.00.
  d: medfee 22,000.00, K80.2 no procedure → G2, r 4.4 → 高倍率 50 × (4.4 − 2 + 1) × 0.9 = 153 points;
     hifp 21,500 × 0.75 = 16,125.00.
- H3 (level 2) is not paid by points: its case counts nowhere.
T_H1 = 175, N_H1 = 4,600 + 1,200 + 3,800 = 9,600.00, F_H1 = 9,900.00; T_H2 = 243, N_H2 = 3,375 + 5,875 = 9,250.00,
F_H2 = 24,750.00. T = 418, N = 18,850.00: PV = 48,850 ÷ 418 = 116.8660287… → 116.866029.
December's reserve: H1 0.05 × 9,900 = 495.00, H2 0.05 × 24,750 = 1,237.50.
E_H1 = 175 × 116.866029 − 9,600 = 10,851.555075 → 10,851.56; F ≤ E and F + 0.15 E = 11,527.73 > E → A = 10,851.56;
s 1 → final 10,851.56; P = 9,900 − 495 = 9,405.00 → C_H1 = +1,446.56.
E_H2 = 243 × 116.866029 − 9,250 = 19,148.445047 → 19,148.45; overspend 5,601.55 > band 1,914.845 →
A = 19,148.45 + 0.5 × 1,914.845 = 20,105.8725 → 20,105.87; s 0.9 → × 0.995 = 20,005.34065 → 20,005.34;
P = 24,750 − 1,237.50 = 23,512.50 → C_H2 = −3,507.16.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.tables import outbox_event
from common.principal import Principal, Role
from settlement.models import Deduction, Disbursement, Institution
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import seed_catalog, seed_institution, seed_person

YEAR = 2025
DAY = date(YEAR, 12, 10)


def admission(key: str, code: str, psn_no: str, medfee: str, dise_codg: str) -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "medins_setl_id": key,
        "psn_no": psn_no,
        "insutype": "390",
        "med_type": "21",
        "begntime": f"{DAY.isoformat()}T08:00:00+08:00",
        "dise_codg": dise_codg,
        "acct_used_flag": 0,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": medfee,
                "det_item_fee_sumamt": medfee,
                "fee_ocur_time": f"{DAY.isoformat()}T09:00:00+08:00",
            }
        ],
    }


def settlement_list(main: str, procedure: str | None = None) -> dict[str, Any]:
    return {
        "diagnoses": [{"dise_codg": main, "dise_name": "主要诊断", "main": True}],
        "procedures": [{"oprn_codg": procedure, "oprn_name": "手术", "main": True}] if procedure else [],
    }


async def put(api: httpx.AsyncClient, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = await api.put(path, json=body)
    assert response.status_code == status, response.text
    return dict(response.json())


@pytest.fixture
async def city(settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock) -> dict[str, str]:
    db = settlement_app.state.db
    await seed_catalog(db, "A01", "01")
    for code, level in (("H1", 3), ("H2", 2), ("H3", 2)):
        await seed_institution(db, code, hosp_lv=level)
    for number in range(1, 8):
        await seed_person(db, f"P{number}", insutype="390", coverage_id=number)
    clock.set(at_shanghai(YEAR, 12, 10, 9))
    for code, level in (("H1", 3), ("H2", 2)):
        await put(
            api,
            f"/institutions/{code}",
            {
                "fixmedins_name": f"机构{code}",
                "fixmedins_type": "hospital",
                "hosp_lv": level,
                "admdvs": "420100",
                "status": "active",
                "points_payment": True,
            },
            200,
        )
    await put(api, f"/payment-years/{YEAR}/390", {"method": "dip", "budget": "30000.00"})
    await put(
        api, f"/points/{YEAR}/groups/G1", {"group_name": "胆囊手术", "points": "100", "avg_cost": "10000"}
    )
    await put(
        api, f"/points/{YEAR}/groups/G2", {"group_name": "胆囊保守", "points": "50", "avg_cost": "5000"}
    )
    await put(api, f"/points/{YEAR}/dip-rows/K80/51.2300", {"group_code": "G1"})
    await put(api, f"/points/{YEAR}/dip-rows/K80/none", {"group_code": "G2"})
    ids: dict[str, str] = {}
    for key, code, psn_no, medfee, dise in (
        ("a", "H1", "P1", "10000.00", "K80.100"),
        ("b", "H1", "P2", "1500.00", "K80.000"),
        ("e", "H1", "P5", "8000.00", "K80.100"),
        ("f", "H1", "P6", "5000.00", "K80.100"),
        ("c", "H2", "P3", "12000.00", "K80.100"),
        ("d", "H2", "P4", "22000.00", "K80.200"),
        ("g", "H3", "P7", "9000.00", "K80.100"),
    ):
        response = await api.post("/settlements", json=admission(key, code, psn_no, medfee, dise))
        assert response.status_code == 201, response.text
        ids[key] = response.json()["setlinfo"]["setl_id"]
    reversal = await api.post(f"/settlements/{ids['f']}/reversal", json={"reason": "退费"})
    assert reversal.status_code == 201, reversal.text
    await put(api, f"/settlements/{ids['a']}/settlement-list", settlement_list("K80.100", "51.2300"))
    await put(api, f"/settlements/{ids['c']}/settlement-list", settlement_list("K80.1", "51.2300"))
    await put(api, f"/settlements/{ids['e']}/settlement-list", settlement_list("Z99.000"))
    return ids


async def close_december(api: httpx.AsyncClient, clock: FrozenClock) -> None:
    clock.set(at_shanghai(YEAR + 1, 1, 1, 1))
    for day in range(10, 32):
        closed = await api.post("/day-closes", json={"date": date(YEAR, 12, day).isoformat()})
        assert closed.status_code == 201, closed.text


async def test_grouping_answers_how_each_case_is_paid(city: dict[str, str], api: httpx.AsyncClient) -> None:
    a = (await api.get(f"/settlements/{city['a']}/grouping")).json()
    assert (a["group_code"], a["deviation"], a["ratio"], a["points"], a["coefficient"]) == (
        "G1",
        "normal",
        "1.0000",
        "100.0000",
        "1.00",
    )
    assert a["coding"] == {
        "main_diagnosis": "K80.100",
        "secondary_diagnoses": [],
        "procedures": ["51.2300"],
        "from_list": True,
    }
    b = (await api.get(f"/settlements/{city['b']}/grouping")).json()
    assert (b["group_code"], b["deviation"], b["ratio"], b["points"], b["coding"]["from_list"]) == (
        "G2",
        "low",
        "0.3000",
        "15.0000",
        False,
    )
    d = (await api.get(f"/settlements/{city['d']}/grouping")).json()
    assert (d["group_code"], d["deviation"], d["ratio"], d["points"], d["hifp_pay"]) == (
        "G2",
        "high",
        "4.4000",
        "153.0000",
        "16125.00",
    )
    e = (await api.get(f"/settlements/{city['e']}/grouping")).json()
    assert (e["group_code"], e["deviation"], e["points"]) == (None, "ungrouped", "80.0000")
    assert "Z99.000" in e["why"]
    # Not cases: a reversed settlement, a hospital not paid by points.
    for key, reason in (("f", "it was reversed"), ("g", "institution H3 is not paid by points")):
        refused = await api.get(f"/settlements/{city[key]}/grouping")
        assert refused.status_code == 422
        assert (refused.json()["code"], refused.json()["reason"]) == ("NOT_A_POINTS_CASE", reason)


async def test_special_points_are_set_by_ops_with_a_reason_and_kept_with_who_and_when(
    city: dict[str, str], api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    path = f"/settlements/{city['e']}/special-points"
    his = as_client(settlement_app, Principal("his-h1", Role.HIS, "H1"))
    async with his:
        assert (await his.put(path, json={"points": "60", "reason": "罕见病"})).status_code == 403
    set_ = await api.put(path, json={"points": "60", "reason": "罕见病，专家评审"})
    assert set_.status_code == 200, set_.text
    body = set_.json()
    assert (body["points"], body["deviation"], body["special"]["points"], body["special"]["reason"]) == (
        "60.0000",
        "ungrouped",
        "60.0000",
        "罕见病，专家评审",
    )
    assert body["special"]["set_by"] == "ops-test"
    listed = (await api.get(f"/annual-clearings/{YEAR}/390/cases", params={"kind": "special"})).json()
    assert [item["setl_id"] for item in listed["items"]] == [city["e"]]
    assert (await api.delete(path)).status_code == 204
    assert (await api.get(f"/settlements/{city['e']}/grouping")).json()["points"] == "80.0000"
    assert (await api.delete(path)).status_code == 404


async def test_a_settlement_list_is_checked_scoped_and_replaced_with_a_revision(
    city: dict[str, str], api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    path = f"/settlements/{city['b']}/settlement-list"
    no_main = {"diagnoses": [{"dise_codg": "K80.0", "main": False}]}
    two_main_procedures = {
        "diagnoses": [{"dise_codg": "K80.0", "main": True}],
        "procedures": [{"oprn_codg": "51.2300", "main": True}, {"oprn_codg": "51.2200", "main": True}],
    }
    for body, code in (
        (no_main, "MAIN_DIAGNOSIS_REQUIRED"),
        (two_main_procedures, "MAIN_PROCEDURE_REQUIRED"),
    ):
        refused = await api.put(path, json=body)
        assert (refused.status_code, refused.json()["code"]) == (422, code)
    assert (await api.get(path)).status_code == 404
    reversed_ = await api.put(f"/settlements/{city['f']}/settlement-list", json=settlement_list("K80.1"))
    assert (reversed_.status_code, reversed_.json()["code"]) == (409, "SETTLEMENT_REVERSED")
    unknown = await api.put("/settlements/NOPE/settlement-list", json=settlement_list("K80.1"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "SETTLEMENT_NOT_FOUND")
    async with as_client(settlement_app, Principal("his-h2", Role.HIS, "H2")) as other:
        forbidden = await other.put(path, json=settlement_list("K80.1"))
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    async with as_client(settlement_app, Principal("his-h1", Role.HIS, "H1")) as own:
        first = await own.put(path, json=settlement_list("k80.0", "51.2300"))
        assert first.status_code == 201, first.text
        again = await own.put(path, json=settlement_list("K80.0"))
        assert again.status_code == 200
        assert (again.json()["revision"], again.json()["uploaded_by"]) == (2, "his-h1")
    # Grouped on the replaced list: no procedure → conservative again.
    assert (await api.get(f"/settlements/{city['b']}/grouping")).json()["group_code"] == "G2"


async def test_reference_data_refuses_bad_rows_and_writes_nothing(
    api: httpx.AsyncClient, city: dict[str, str]
) -> None:
    bad = await api.put(f"/payment-years/{YEAR}/390", json={"method": "dip", "budget": "0"})
    assert bad.status_code == 422
    inverted = await api.put(
        f"/payment-years/{YEAR}/310",
        json={"method": "drg", "budget": "1.00", "low_ratio": "2", "high_ratio": "1"},
    )
    assert (inverted.status_code, inverted.json()["code"]) == (422, "INVALID_PARAMETERS")
    assert (await api.get(f"/payment-years/{YEAR}/310")).status_code == 404
    bulk = await api.post(
        f"/points/{YEAR}/groups/bulk",
        content="group_code,group_name,points,avg_cost\nG3,新组,10,100.00\nG4,坏组,-1,100.00\n",
        headers={"content-type": "text/csv"},
    )
    assert (bulk.status_code, bulk.json()["code"], bulk.json()["errors"][0]["row"]) == (
        422,
        "BULK_INVALID",
        2,
    )
    assert (await api.get(f"/points/{YEAR}/groups/G3")).status_code == 404
    ok = await api.post(
        f"/points/{YEAR}/drg-adrgs/bulk",
        content="adrg,dise_prefixes,oprn_codes,priority\nHC2,K80|K81,51.2300|51.2200,10\nHZ1,K80,,20\n",
        headers={"content-type": "text/csv"},
    )
    assert ok.json() == {"created": 2, "updated": 0, "unchanged": 0}
    listed = (await api.get(f"/points/{YEAR}/drg-adrgs")).json()["items"]
    assert [(row["adrg"], row["dise_prefixes"], row["oprn_codes"]) for row in listed] == [
        ("HC2", ["K80", "K81"], ["51.2200", "51.2300"]),
        ("HZ1", ["K80"], []),
    ]
    pharmacy = await api.put(
        "/institutions/Y9",
        json={
            "fixmedins_name": "药店",
            "fixmedins_type": "pharmacy",
            "admdvs": "420100",
            "status": "active",
            "points_payment": True,
        },
    )
    assert (pharmacy.status_code, pharmacy.json()["code"]) == (422, "POINTS_PAYMENT_HOSPITAL_ONLY")


async def _events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    return [json.loads(payload)["data"] for kind, payload in rows if kind == Subject.YEAR_CLEARED]


async def test_the_year_clears_against_the_budget_to_the_fen(
    city: dict[str, str], api: httpx.AsyncClient, clock: FrozenClock, settlement_app: FastAPI
) -> None:
    await put(api, f"/settlements/{city['e']}/special-points", {"points": "60", "reason": "专家评审"}, 200)
    await put(api, f"/quality-scores/{YEAR}/390/H2", {"score": "0.9"})
    # Budget execution on 10 December: 344 days of 365 gone.
    execution = (await api.get("/budget-execution", params={"year": YEAR, "insutype": "390"})).json()
    assert (execution["cases"], execution["points"], execution["f"], execution["n"]) == (
        5,
        "418.0000",
        "34650.00",
        "18850.00",
    )
    # (30,000 × 344/365 + 18,850) ÷ 418 = (28,273.972602… + 18,850) ÷ 418 = 112.7367766… → 112.736777;
    # spent 34,650 ÷ 30,000 = 1.155 against 344/365 = 0.9425.
    assert (execution["provisional_point_value"], execution["year_share"], execution["spent_share"]) == (
        "112.736777",
        "0.9425",
        "1.1550",
    )
    assert execution["warning"] is True
    # E_H1 = 175 × 112.736777 − 9,600 = 10,128.935975 → 10,128.94; (9,900 − 10,128.94) ÷ 10,128.94 = −0.0226 → green.
    # E_H2 = 243 × 112.736777 − 9,250 = 18,145.036811 → 18,145.04; 6,604.96 ÷ 18,145.04 = 0.3640 → red.
    assert [
        (line["fixmedins_code"], line["e"], line["overrun"], line["colour"])
        for line in execution["institutions"]
    ] == [
        ("H1", "10128.94", "-0.0226", "green"),
        ("H2", "18145.04", "0.3640", "red"),
    ]

    early = await api.post("/annual-clearings", json={"year": YEAR, "insutype": "390"})
    assert (early.status_code, early.json()["code"]) == (409, "YEAR_NOT_CLOSED")
    await close_december(api, clock)
    unreconciled = await api.post("/annual-clearings", json={"year": YEAR, "insutype": "390"})
    assert (unreconciled.status_code, unreconciled.json()["code"]) == (409, "MONTHS_NOT_CONFIRMED")
    assert unreconciled.json()["open_months"] == [f"{YEAR}-12"]

    month = await api.post("/monthly-reconciliations", json={"month": f"{YEAR}-12"})
    assert month.status_code == 201, month.text
    by_code = {row["fixmedins_code"]: row for row in month.json()["statements"]}
    assert (by_code["H1"]["quality_reserve"], by_code["H2"]["quality_reserve"]) == ("495.00", "1237.50")
    assert by_code["H3"]["quality_reserve"] == "0.00" and by_code["H3"]["points"] is None
    assert by_code["H2"]["net_adjustment"] == "-1237.50"
    assert by_code["H1"]["points"] == [
        {
            "insutype": "390",
            "year": YEAR,
            "method": "dip",
            "cases": 3,
            "points": "175.0000",
            "hifp_pay": "9900.00",
            "quality_reserve": "495.00",
            "provisional_point_value": "116.866029",
        }
    ]
    assert (await api.post(f"/monthly-reconciliations/{YEAR}-12/confirm")).status_code == 200
    # Confirmed, the month's reserves are held in inst_reserve, and the check proves them.
    held = (await api.get("/ledger/check")).json()
    assert (held["balanced"], held["totals"]["inst_reserve"], held["reserve_differences"]) == (
        True,
        "-1732.50",
        [],
    )

    computed = await api.post("/annual-clearings", json={"year": YEAR, "insutype": "390"})
    assert computed.status_code == 201, computed.text
    body = computed.json()
    assert (
        body["status"],
        body["cases"],
        body["total_points"],
        body["n"],
        body["f"],
        body["point_value"],
    ) == (
        "draft",
        5,
        "418.0000",
        "18850.00",
        "34650.00",
        "116.866029",
    )
    lines = {line["fixmedins_code"]: line for line in body["lines"]}
    assert set(lines) == {"H1", "H2"}
    figures = (
        "cases",
        "points",
        "cmi",
        "n",
        "f",
        "e",
        "a",
        "withheld",
        "score",
        "final",
        "paid",
        "clearing",
        "colour",
    )
    assert tuple(lines["H1"][name] for name in figures) == (
        3, "175.0000", "58.3333", "9600.00", "9900.00", "10851.56", "10851.56", "495.00", "1.0000",
        "10851.56", "9405.00", "1446.56", "green",
    )  # fmt: skip
    assert tuple(lines["H2"][name] for name in figures) == (
        2, "243.0000", "121.5000", "9250.00", "24750.00", "19148.45", "20105.87", "1237.50", "0.9000",
        "20005.34", "23512.50", "-3507.16", "red",
    )  # fmt: skip
    assert (lines["H1"]["low_cases"], lines["H1"]["ungrouped_cases"], lines["H1"]["special_cases"]) == (
        1,
        1,
        1,
    )
    assert lines["H2"]["high_cases"] == 1
    # Recomputing a draft answers 200 with the same figures.
    again = await api.post("/annual-clearings", json={"year": YEAR, "insutype": "390"})
    assert again.status_code == 200 and again.json()["lines"] == body["lines"]

    # A list changed after the draft makes it stale (d: K80.2 + 51.2300 → G1, r 2.2 → 108 points, so T and PV
    # move and both lines with them); put back as it was grouped, the draft is current again.
    await put(api, f"/settlements/{city['d']}/settlement-list", settlement_list("K80.200", "51.2300"))
    stale = await api.post(f"/annual-clearings/{YEAR}/390/confirm")
    assert (stale.status_code, stale.json()["code"], stale.json()["fixmedins_codes"]) == (
        409,
        "CLEARING_STALE",
        ["H1", "H2"],
    )
    await put(api, f"/settlements/{city['d']}/settlement-list", settlement_list("K80.200"), 200)
    confirmed = await api.post(f"/annual-clearings/{YEAR}/390/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    final_lines = {line["fixmedins_code"]: line for line in confirmed.json()["lines"]}
    async with settlement_app.state.db.transaction(readonly=True) as session:
        orders = (
            await session.scalars(sa.select(Disbursement).where(Disbursement.source != "day-close"))
        ).all()
        recoveries = (await session.scalars(sa.select(Deduction).where(Deduction.source == "clearing"))).all()
    assert [(o.fixmedins_code, o.amount_fen, o.source, o.status) for o in orders] == [
        ("H1", 144_656, f"clearing:{YEAR}:390", "pending")
    ]
    assert final_lines["H1"]["disbursement_id"] == orders[0].disbursement_id
    assert [(d.finding_id, d.fixmedins_code, d.amount_fen, d.month_applied) for d in recoveries] == [
        (f"clearing:{YEAR}:390:H2", "H2", 350_716, None)
    ]
    assert [event["lines"][1]["clearing"] for event in await _events(settlement_app)] == ["-3507.16"]
    # The ledger still proves every balance; the reserves came back out of inst_reserve.
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True, check
    assert check["totals"]["inst_reserve"] == "0.00"
    # Frozen now: lists, 特例单议, scores and the year's tables refuse changes.
    for method, path, payload in (
        ("PUT", f"/settlements/{city['a']}/settlement-list", settlement_list("K80.1")),
        ("PUT", f"/settlements/{city['e']}/special-points", {"points": "1", "reason": "改"}),
        ("PUT", f"/quality-scores/{YEAR}/390/H1", {"score": "0.5"}),
        ("PUT", f"/points/{YEAR}/groups/G1", {"group_name": "改", "points": "1", "avg_cost": "1"}),
        ("POST", f"/settlements/{city['a']}/reversal", {"reason": "退费"}),
    ):
        refused = await api.request(method, path, json=payload)
        assert (refused.status_code, refused.json()["code"]) == (409, "YEAR_CONFIRMED"), path
    assert (await api.get(f"/settlements/{city['a']}")).json()["status"] == "settled"
    assert (await api.get(f"/points/{YEAR}/groups/G1")).json()["points"] == "100.0000"
    recompute = await api.post("/annual-clearings", json={"year": YEAR, "insutype": "390"})
    assert (recompute.status_code, recompute.json()["code"]) == (409, "CLEARING_NOT_DRAFT")
    # The recovery lands in the next month's reconciliation as a deduction.
    clock.set(at_shanghai(YEAR + 1, 2, 1, 1))
    day = date(YEAR + 1, 1, 1)
    while day <= date(YEAR + 1, 1, 31):
        assert (await api.post("/day-closes", json={"date": day.isoformat()})).status_code == 201
        day += timedelta(days=1)
    assert (await api.post(f"/monthly-reconciliations/{YEAR}-12/lock")).status_code == 200
    january = (await api.post("/monthly-reconciliations", json={"month": f"{YEAR + 1}-01"})).json()
    h2 = next(row for row in january["statements"] if row["fixmedins_code"] == "H2")
    assert (h2["deductions"], h2["deduction_ids"], h2["net_adjustment"]) == (
        "3507.16",
        [f"clearing:{YEAR}:390:H2"],
        "-3507.16",
    )
    assert (await api.post(f"/monthly-reconciliations/{YEAR + 1}-01/confirm")).status_code == 200
    assert (await api.get("/ledger/check")).json()["balanced"] is True
    locked = await api.post(f"/annual-clearings/{YEAR}/390/lock")
    assert (locked.status_code, locked.json()["status"]) == (200, "locked")
    # An institution's key reads only its own line.
    async with as_client(settlement_app, Principal("his-h1", Role.HIS, "H1")) as own:
        mine = (await own.get(f"/annual-clearings/{YEAR}/390")).json()
        assert [line["fixmedins_code"] for line in mine["lines"]] == ["H1"]
        other = await own.get(f"/annual-clearings/{YEAR}/390/institutions/H2")
        assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
        cases = (await own.get(f"/annual-clearings/{YEAR}/390/cases")).json()["items"]
        assert {case["fixmedins_code"] for case in cases} == {"H1"}
    async with settlement_app.state.db.transaction(readonly=True) as session:
        flagged = await session.scalar(
            sa.select(Institution.points_payment).where(Institution.fixmedins_code == "H1")
        )
    assert flagged is True


async def test_drg_groups_by_adrg_and_complication_and_falls_back_to_a_less_severe_group(
    settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """310 by DRG: surgical HC2 (K80 + 51.2300) over medical HZ1 (K80); J96 an MCC, E11 a CC; HC2 has groups 1
    and 5 only, so a CC case falls back to HC25. H1 level 3, employees' deductible 1,000.00, ratio 0.85."""
    db = settlement_app.state.db
    await seed_catalog(db, "A01", "01")
    await seed_institution(db, "H1", hosp_lv=3)
    for number in range(1, 4):
        await seed_person(db, f"P{number}", coverage_id=number)
    clock.set(at_shanghai(YEAR, 12, 10, 9))
    await put(
        api,
        "/institutions/H1",
        {
            "fixmedins_name": "机构H1",
            "fixmedins_type": "hospital",
            "hosp_lv": 3,
            "admdvs": "420100",
            "status": "active",
            "points_payment": True,
            "points_coefficient": "1.1",
        },
        200,
    )
    await put(api, f"/payment-years/{YEAR}/310", {"method": "drg", "budget": "100000.00"})
    for code, points_, cost in (("HC21", "150", "20000"), ("HC25", "100", "10000"), ("HZ15", "40", "4000")):
        await put(
            api, f"/points/{YEAR}/groups/{code}", {"group_name": code, "points": points_, "avg_cost": cost}
        )
    await put(
        api,
        f"/points/{YEAR}/drg-adrgs/HC2",
        {"dise_prefixes": ["K80"], "oprn_codes": ["51.2300"], "priority": 1},
    )
    await put(api, f"/points/{YEAR}/drg-adrgs/HZ1", {"dise_prefixes": ["K80"], "priority": 5})
    await put(api, f"/points/{YEAR}/drg-complications/J96", {"level": "mcc"})
    await put(api, f"/points/{YEAR}/drg-complications/E11", {"level": "cc"})
    ids = {}
    for key, psn_no in (("mcc", "P1"), ("cc", "P2"), ("medical", "P3")):
        body = admission(key, "H1", psn_no, "10000.00", "K80.100") | {"insutype": "310"}
        response = await api.post("/settlements", json=body)
        assert response.status_code == 201, response.text
        ids[key] = response.json()["setlinfo"]["setl_id"]

    def coded(secondary: str, procedure: str | None) -> dict[str, Any]:
        listed = settlement_list("K80.100", procedure)
        listed["diagnoses"].append({"dise_codg": secondary, "main": False})
        return listed

    await put(api, f"/settlements/{ids['mcc']}/settlement-list", coded("J96.000", "51.2300"))
    await put(api, f"/settlements/{ids['cc']}/settlement-list", coded("E11.900", "51.2300"))
    await put(api, f"/settlements/{ids['medical']}/settlement-list", coded("J96.000", None))
    grouped = {
        key: (await api.get(f"/settlements/{setl_id}/grouping")).json() for key, setl_id in ids.items()
    }
    # mcc: HC21, r = 10,000 ÷ 20,000 = 0.5 → normal, 150 × 1.1 = 165 points.
    # cc: HC23 missing → HC25, r 1.0 → 100 × 1.1 = 110. medical (an MCC, but HZ11 missing → HZ13 missing →
    # HZ15), r 10,000 ÷ 4,000 = 2.5 → 高倍率 40 × 1.5 × 1.1 = 66.
    assert {
        key: (case["group_code"], case["deviation"], case["points"]) for key, case in grouped.items()
    } == {
        "mcc": ("HC21", "normal", "165.0000"),
        "cc": ("HC25", "normal", "110.0000"),
        "medical": ("HZ15", "high", "66.0000"),
    }
    assert "HC23 not in the year's groups" in grouped["cc"]["why"]
    assert grouped["mcc"]["coefficient"] == "1.10"
