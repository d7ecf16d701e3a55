"""Reconciliation with an institution through the API: 对总账 (totals) and 对明细 (settlement by settlement)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.principal import Principal, Role
from settlement.models import Journal
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import (
    bind_family,
    count,
    credit_account,
    seed_catalog,
    seed_institution,
    seed_person,
)

HOSPITAL, OTHER_HOSPITAL = "H42010000001", "H42010000002"


async def settle(
    api: httpx.AsyncClient,
    clock: FrozenClock,
    when: datetime,
    medins_setl_id: str,
    psn_no: str,
    amount: str,
    *,
    insutype: str = "310",
    acct_used_flag: int = 0,
    fixmedins_code: str = HOSPITAL,
    med_type: str = "11",
) -> dict[str, Any]:
    """One claim (outpatient unless told) of one 甲类 line, settled at `when`; its setlinfo."""
    clock.set(when)
    response = await api.post(
        "/settlements",
        json={
            "fixmedins_code": fixmedins_code,
            "medins_setl_id": medins_setl_id,
            "psn_no": psn_no,
            "insutype": insutype,
            "med_type": med_type,
            "begntime": (when - timedelta(hours=1)).isoformat(),
            "acct_used_flag": acct_used_flag,
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "A01",
                    "cnt": "1",
                    "pric": amount,
                    "det_item_fee_sumamt": amount,
                    "fee_ocur_time": (when - timedelta(minutes=30)).isoformat(),
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    info: dict[str, Any] = response.json()["setlinfo"]
    return info


@pytest.fixture
async def books(settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock) -> dict[str, str]:
    """The hospital's settlements of 2 to 5 March 2026; their setl_ids by name.

    Level-2 hospital, outpatient: employees 700 deductible a year then 0.60; residents no deductible, 0.40.
    - 2 Mar  S1  P1 (310) 1000.00: deductible 700, fund 180.00, own account 500.00 (all of it), cash 320.00
    - 2 Mar  S2  R1 (390)  200.00: fund 80.00, cash 120.00
    - 2 Mar  SM1 M1 (310)  150.00: all deductible; the family holder F1's account pays 100.00 (acct_mulaid_pay)
    - 2 Mar  S6  R1 (390)   30.00 at the other hospital
    - 3 Mar  S3  P1 (310)  100.00: fund 60.00, the account is empty, cash 40.00
    - 3 Mar  S4  R1 (390)   50.00: fund 20.00 — reversed on 4 Mar
    - 5 Mar  S5  P1 (310)   10.00: fund 6.00
    """
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_institution(db, OTHER_HOSPITAL, hosp_lv=2)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1", coverage_id=1)
    await seed_person(db, "F1", coverage_id=2)
    await seed_person(db, "M1", coverage_id=3)
    await seed_person(db, "R1", insutype="390", coverage_id=4)
    await credit_account(db, "P1", 50000)
    await credit_account(db, "F1", 10000)
    await bind_family(db, "F1", "M1")

    march_2, march_3 = at_shanghai(2026, 3, 2), at_shanghai(2026, 3, 3)
    ids = {}
    s1 = await settle(api, clock, march_2, "H-S1", "P1", "1000.00", acct_used_flag=1)
    assert (s1["fund_pay_sumamt"], s1["acct_pay"], s1["psn_cash_pay"]) == ("180.00", "500.00", "320.00")
    ids["S1"] = s1["setl_id"]
    s2 = await settle(api, clock, march_2, "H-S2", "R1", "200.00", insutype="390")
    assert (s2["fund_pay_sumamt"], s2["psn_cash_pay"]) == ("80.00", "120.00")
    ids["S2"] = s2["setl_id"]
    m1 = await settle(api, clock, march_2, "H-SM1", "M1", "150.00", acct_used_flag=1)
    assert (m1["fund_pay_sumamt"], m1["acct_pay"], m1["acct_mulaid_pay"], m1["psn_cash_pay"]) == (
        "0.00",
        "0.00",
        "100.00",
        "50.00",
    )
    ids["SM1"] = m1["setl_id"]
    s6 = await settle(
        api, clock, march_2, "H2-S6", "R1", "30.00", insutype="390", fixmedins_code=OTHER_HOSPITAL
    )
    ids["S6"] = s6["setl_id"]
    s3 = await settle(api, clock, march_3, "H-S3", "P1", "100.00", acct_used_flag=1)
    assert (s3["fund_pay_sumamt"], s3["acct_pay"], s3["psn_cash_pay"]) == ("60.00", "0.00", "40.00")
    ids["S3"] = s3["setl_id"]
    s4 = await settle(api, clock, march_3, "H-S4", "R1", "50.00", insutype="390")
    assert s4["fund_pay_sumamt"] == "20.00"
    ids["S4"] = s4["setl_id"]
    clock.set(at_shanghai(2026, 3, 4))
    reversal = await api.post(f"/settlements/{ids['S4']}/reversal", json={"reason": "患者退费"})
    assert reversal.status_code == 201, reversal.text
    s5 = await settle(api, clock, at_shanghai(2026, 3, 5), "H-S5", "P1", "10.00", acct_used_flag=1)
    assert s5["fund_pay_sumamt"] == "6.00"
    ids["S5"] = s5["setl_id"]
    return ids


def totals(**overrides: Any) -> dict[str, Any]:
    """The hospital's own totals of 2–4 March, which agree with ours: S1 + S2 + SM1 + S3."""
    return {
        "fixmedins_code": HOSPITAL,
        "begndate": "2026-03-02",
        "enddate": "2026-03-04",
        "medfee_sumamt": "1450.00",
        "fund_pay_sumamt": "320.00",
        "acct_pay": "500.00",
        "fixmedins_setl_cnt": 4,
        **overrides,
    }


# --- 对总账 -----------------------------------------------------------------------------------------------


async def test_totals_that_agree_are_balanced_and_count_only_standing_settlements_of_the_institution(
    books: dict[str, str], api: httpx.AsyncClient, settlement_app: FastAPI
) -> None:
    journals_before = await count(settlement_app.state.db, Journal)
    response = await api.post("/reconciliations/totals", json=totals())
    assert response.status_code == 200, response.text
    # S4 (reversed), S5 (5 March) and S6 (the other hospital) are not ours to count.
    assert response.json() == {
        "fixmedins_code": HOSPITAL,
        "insutype": None,
        "clr_type": None,
        "begndate": "2026-03-02",
        "enddate": "2026-03-04",
        "stmt_rslt": "balanced",
        "ours": {
            "medfee_sumamt": "1450.00",
            "fund_pay_sumamt": "320.00",
            "acct_pay": "500.00",
            "fixmedins_setl_cnt": 4,
            "acct_mulaid_pay": "100.00",
        },
        "theirs": {
            "medfee_sumamt": "1450.00",
            "fund_pay_sumamt": "320.00",
            "acct_pay": "500.00",
            "fixmedins_setl_cnt": 4,
        },
        "differences": {},
    }
    assert await count(settlement_app.state.db, Journal) == journals_before  # read-only


@pytest.mark.parametrize(
    ("theirs", "differences"),
    [
        ({"medfee_sumamt": "1450.01"}, {"medfee_sumamt": "-0.01"}),
        ({"fund_pay_sumamt": "300"}, {"fund_pay_sumamt": "20.00"}),
        # They counted the family holder's account pay as account pay: acct_pay is the person's own only.
        ({"acct_pay": 600}, {"acct_pay": "-100.00"}),
        # They still count the reversed S4.
        ({"fixmedins_setl_cnt": 5}, {"fixmedins_setl_cnt": -1}),
        (
            {
                "medfee_sumamt": "1500.00",
                "fund_pay_sumamt": "340.00",
                "acct_pay": "0",
                "fixmedins_setl_cnt": 0,
            },
            {
                "medfee_sumamt": "-50.00",
                "fund_pay_sumamt": "-20.00",
                "acct_pay": "500.00",
                "fixmedins_setl_cnt": 4,
            },
        ),
    ],
)
async def test_totals_that_differ_are_unbalanced_with_ours_minus_theirs_for_each_differing_field(
    books: dict[str, str], api: httpx.AsyncClient, theirs: dict[str, Any], differences: dict[str, Any]
) -> None:
    response = await api.post("/reconciliations/totals", json=totals(**theirs))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stmt_rslt"] == "unbalanced"
    assert body["differences"] == differences
    assert body["ours"]["medfee_sumamt"] == "1450.00"


@pytest.mark.parametrize(
    ("insutype", "ours"),
    [
        (
            "310",
            {
                "medfee_sumamt": "1250.00",
                "fund_pay_sumamt": "240.00",
                "acct_pay": "500.00",
                "fixmedins_setl_cnt": 3,
                "acct_mulaid_pay": "100.00",
            },
        ),
        (
            "390",
            {
                "medfee_sumamt": "200.00",
                "fund_pay_sumamt": "80.00",
                "acct_pay": "0.00",
                "fixmedins_setl_cnt": 1,
                "acct_mulaid_pay": "0.00",
            },
        ),
    ],
)
async def test_totals_of_one_insutype_count_only_its_settlements(
    books: dict[str, str], api: httpx.AsyncClient, insutype: str, ours: dict[str, Any]
) -> None:
    theirs = {key: value for key, value in ours.items() if key != "acct_mulaid_pay"}
    response = await api.post("/reconciliations/totals", json=totals(insutype=insutype, **theirs))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["insutype"], body["stmt_rslt"], body["ours"], body["differences"]) == (
        insutype,
        "balanced",
        ours,
        {},
    )


async def test_totals_of_one_clearing_class_count_the_med_types_of_its_default_benefit(
    books: dict[str, str], api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    march_4 = at_shanghai(2026, 3, 4)
    # 急诊 clears as outpatient care (P1's deductible is used up: 40.00 × 0.60); 生育住院 as a stay
    # (600 for the admission at level 2, then 1,400 × 0.88).
    emergency = await settle(api, clock, march_4, "H-E1", "P1", "40.00", med_type="13")
    maternity = await settle(api, clock, march_4, "H-I1", "P1", "2000.00", med_type="52")
    assert (emergency["fund_pay_sumamt"], maternity["fund_pay_sumamt"]) == ("24.00", "1232.00")
    expected = {
        "11": {
            "medfee_sumamt": "1490.00",
            "fund_pay_sumamt": "344.00",
            "acct_pay": "500.00",
            "fixmedins_setl_cnt": 5,
            "acct_mulaid_pay": "100.00",
        },
        "21": {
            "medfee_sumamt": "2000.00",
            "fund_pay_sumamt": "1232.00",
            "acct_pay": "0.00",
            "fixmedins_setl_cnt": 1,
            "acct_mulaid_pay": "0.00",
        },
        "41": {
            "medfee_sumamt": "0.00",
            "fund_pay_sumamt": "0.00",
            "acct_pay": "0.00",
            "fixmedins_setl_cnt": 0,
            "acct_mulaid_pay": "0.00",
        },
    }
    for clr_type, ours in expected.items():
        theirs = {key: value for key, value in ours.items() if key != "acct_mulaid_pay"}
        response = await api.post("/reconciliations/totals", json=totals(clr_type=clr_type, **theirs))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["clr_type"], body["stmt_rslt"], body["ours"]) == (clr_type, "balanced", ours)
    both = await api.post(
        "/reconciliations/totals", json=totals(clr_type="21", insutype="390", **{**theirs, "acct_pay": "0"})
    )
    assert (both.json()["ours"]["fixmedins_setl_cnt"], both.json()["differences"]) == (0, {})


@pytest.mark.parametrize("clr_type", ["99", "31", "1"])
async def test_an_unknown_clearing_class_is_refused_naming_the_known_ones(
    books: dict[str, str], api: httpx.AsyncClient, clr_type: str
) -> None:
    response = await api.post("/reconciliations/totals", json=totals(clr_type=clr_type))
    assert (response.status_code, response.json()["code"], response.json()["detail"]) == (
        422,
        "CLR_TYPE_UNKNOWN",
        f"clr_type {clr_type} is not a national 清算类别 code; known: 11 门诊, 21 住院, 41 药店购药.",
    )


async def test_a_reversal_cancels_its_settlement_whatever_the_dates_and_counts_nowhere_itself(
    books: dict[str, str], api: httpx.AsyncClient
) -> None:
    # 3 March: S3 and S4; S4 was reversed on 4 March, outside the period, and still does not count.
    march_3 = await api.post(
        "/reconciliations/totals",
        json=totals(
            begndate="2026-03-03",
            enddate="2026-03-03",
            medfee_sumamt="150.00",
            fund_pay_sumamt="80.00",
            acct_pay="0.00",
            fixmedins_setl_cnt=2,
        ),
    )
    assert march_3.status_code == 200, march_3.text
    assert march_3.json()["ours"] == {
        "medfee_sumamt": "100.00",
        "fund_pay_sumamt": "60.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 1,
        "acct_mulaid_pay": "0.00",
    }
    assert march_3.json()["differences"] == {
        "medfee_sumamt": "-50.00",
        "fund_pay_sumamt": "-20.00",
        "fixmedins_setl_cnt": -1,
    }
    # 4 March, the day of the reversal: nothing at all.
    march_4 = await api.post(
        "/reconciliations/totals",
        json=totals(
            begndate="2026-03-04",
            enddate="2026-03-04",
            medfee_sumamt="0",
            fund_pay_sumamt="0",
            acct_pay="0",
            fixmedins_setl_cnt=0,
        ),
    )
    assert march_4.status_code == 200, march_4.text
    assert march_4.json()["stmt_rslt"] == "balanced"


async def test_an_institution_reconciles_only_its_own_books(
    books: dict[str, str], settlement_app: FastAPI
) -> None:
    detail_body = {"fixmedins_code": HOSPITAL, "begndate": "2026-03-02", "enddate": "2026-03-02", "items": []}
    async with as_client(settlement_app, Principal("his-other", Role.HIS, scope=OTHER_HOSPITAL)) as other:
        for path, body in (("/reconciliations/totals", totals()), ("/reconciliations/details", detail_body)):
            refused = await other.post(path, json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "SCOPE_FORBIDDEN"
    async with as_client(settlement_app, Principal("his-own", Role.HIS, scope=HOSPITAL)) as own:
        allowed = await own.post("/reconciliations/totals", json=totals())
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["stmt_rslt"] == "balanced"
    async with as_client(settlement_app, Principal("someone", Role.PUBLIC)) as public:
        refused = await public.post("/reconciliations/totals", json=totals())
        assert refused.status_code == 403
        assert refused.json()["code"] == "ROLE_FORBIDDEN"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"begndate": "2026-03-05", "enddate": "2026-03-04"}, 422, "DATES_OUT_OF_ORDER"),
        ({"begndate": "2026-01-01", "enddate": "2027-01-02"}, 422, "RANGE_TOO_LONG"),  # 367 days
        ({"medfee_sumamt": "1450.001"}, 422, "VALIDATION_ERROR"),
        ({"acct_pay": "-1.00"}, 422, "VALIDATION_ERROR"),
        ({"fixmedins_setl_cnt": -1}, 422, "VALIDATION_ERROR"),
        ({"fixmedins_setl_cnt": True}, 422, "VALIDATION_ERROR"),
        ({"insutype": "392"}, 422, "VALIDATION_ERROR"),
        ({"begndate": "2026-03-02T00:00:00+08:00"}, 422, "VALIDATION_ERROR"),
        ({"begndate": 0}, 422, "VALIDATION_ERROR"),
        ({"fixmedins_setl_cnt": None}, 422, "VALIDATION_ERROR"),
        ({"stmt_rslt": "balanced"}, 422, "VALIDATION_ERROR"),
        ({"fixmedins_code": "H42019999999"}, 404, "INSTITUTION_NOT_FOUND"),
    ],
)
async def test_bad_totals_requests_are_refused_with_a_code(
    books: dict[str, str], api: httpx.AsyncClient, change: dict[str, Any], status: int, code: str
) -> None:
    response = await api.post("/reconciliations/totals", json=totals(**change))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_a_period_of_366_days_is_allowed(books: dict[str, str], api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/reconciliations/totals", json=totals(begndate="2026-01-01", enddate="2027-01-01")
    )
    assert response.status_code == 200, response.text
    # The whole year: S5 of 5 March too.
    assert response.json()["ours"]["fixmedins_setl_cnt"] == 5


# --- 对明细 -----------------------------------------------------------------------------------------------


def item(amounts: tuple[str, str, str], **ids: str) -> dict[str, Any]:
    medfee, fund, acct = amounts
    return {**ids, "medfee_sumamt": medfee, "fund_pay_sumamt": fund, "acct_pay": acct}


def details(items: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return {
        "fixmedins_code": HOSPITAL,
        "begndate": "2026-03-02",
        "enddate": "2026-03-04",
        "items": items,
        **overrides,
    }


def with_ids(
    entry: dict[str, Any], setl_id: str | None = None, medins_setl_id: str | None = None
) -> dict[str, Any]:
    return {"setl_id": setl_id, "medins_setl_id": medins_setl_id, **entry}


async def test_details_sort_items_into_matched_differing_only_ours_and_only_theirs(
    books: dict[str, str], api: httpx.AsyncClient
) -> None:
    s1 = item(("1000.00", "180.00", "500.00"), setl_id=books["S1"])
    s2 = item(("200.10", "80.00", "0.00"), medins_setl_id="H-S2")  # their medfee is 0.10 more
    sm1 = item(("150.00", "0.00", "100.00"), setl_id=books["SM1"])  # they put the holder's pay in acct_pay
    s4 = item(("50.00", "20.00", "0.00"), setl_id=books["S4"])  # reversed: not ours any more
    s5 = item(("10.00", "6.00", "0.00"), medins_setl_id="H-S5")  # 5 March: outside the period
    ghost = item(("88.00", "0.00", "0.00"), medins_setl_id="H-GHOST")  # never settled with us
    response = await api.post("/reconciliations/details", json=details([s1, s2, sm1, s4, s5, ghost]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["stmt_rslt"], body["matched"]) == ("unbalanced", 1)
    assert body["differing"] == [
        {
            "setl_id": books["S2"],
            "medins_setl_id": "H-S2",
            "fields": ["medfee_sumamt"],
            "ours": {
                "setl_id": books["S2"],
                "medins_setl_id": "H-S2",
                "business_date": "2026-03-02",
                "medfee_sumamt": "200.00",
                "fund_pay_sumamt": "80.00",
                "acct_pay": "0.00",
            },
            "theirs": with_ids(s2, medins_setl_id="H-S2"),
        },
        {
            "setl_id": books["SM1"],
            "medins_setl_id": "H-SM1",
            "fields": ["acct_pay"],
            "ours": {
                "setl_id": books["SM1"],
                "medins_setl_id": "H-SM1",
                "business_date": "2026-03-02",
                "medfee_sumamt": "150.00",
                "fund_pay_sumamt": "0.00",
                "acct_pay": "0.00",
            },
            "theirs": with_ids(sm1, setl_id=books["SM1"]),
        },
    ]
    assert body["only_ours"] == [
        {
            "setl_id": books["S3"],
            "medins_setl_id": "H-S3",
            "business_date": "2026-03-03",
            "medfee_sumamt": "100.00",
            "fund_pay_sumamt": "60.00",
            "acct_pay": "0.00",
        }
    ]
    assert body["only_theirs"] == [
        with_ids(s4, setl_id=books["S4"]),
        with_ids(s5, medins_setl_id="H-S5"),
        with_ids(ghost, medins_setl_id="H-GHOST"),
    ]


async def test_details_that_agree_are_balanced_whichever_id_names_each_settlement(
    books: dict[str, str], api: httpx.AsyncClient
) -> None:
    items = [
        item(("1000.00", "180.00", "500.00"), setl_id=books["S1"]),
        item(("200.00", "80.00", "0.00"), medins_setl_id="H-S2"),
        item(("100.00", "60.00", "0.00"), setl_id=books["S3"], medins_setl_id="H-S3"),
        item(("150.00", "0.00", "0.00"), medins_setl_id="H-SM1"),
    ]
    response = await api.post("/reconciliations/details", json=details(items))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["stmt_rslt"],
        body["matched"],
        body["differing"],
        body["only_ours"],
        body["only_theirs"],
    ) == (
        "balanced",
        4,
        [],
        [],
        [],
    )


async def test_an_item_whose_ids_disagree_with_ours_pairs_by_setl_id_and_reports_the_other_id(
    books: dict[str, str], api: httpx.AsyncClient
) -> None:
    items = [
        # setl_id of S1 but medins_setl_id of S2: paired with S1.
        item(("1000.00", "180.00", "500.00"), setl_id=books["S1"], medins_setl_id="H-S2"),
        # a setl_id we never gave, with the right medins_setl_id: paired with S3 by the latter.
        item(("100.00", "60.00", "0.00"), setl_id="S00000000000000000000", medins_setl_id="H-S3"),
        item(("150.00", "0.00", "0.00"), setl_id=books["SM1"]),
    ]
    response = await api.post("/reconciliations/details", json=details(items))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(d["setl_id"], d["fields"]) for d in body["differing"]] == [
        (books["S1"], ["medins_setl_id"]),
        (books["S3"], ["setl_id"]),
    ]
    assert (body["matched"], [o["setl_id"] for o in body["only_ours"]], body["only_theirs"]) == (
        1,
        [books["S2"]],
        [],
    )


@pytest.mark.parametrize(
    ("items", "code", "items_named"),
    [
        ([item(("1.00", "0.00", "0.00"))], "ITEM_ID_REQUIRED", [0]),
        (
            [item(("1.00", "0.00", "0.00"), setl_id="S1X"), item(("2.00", "0.00", "0.00"), setl_id="S1X")],
            "DUPLICATE_ITEM",
            [0, 1],
        ),
        (
            [
                item(("1.00", "0.00", "0.00"), medins_setl_id="H-X"),
                item(("1.00", "0.00", "0.00"), setl_id="S2X"),
                item(("2.00", "0.00", "0.00"), medins_setl_id="H-X"),
            ],
            "DUPLICATE_ITEM",
            [0, 2],
        ),
    ],
)
async def test_items_without_an_id_or_named_twice_are_refused(
    books: dict[str, str],
    api: httpx.AsyncClient,
    items: list[dict[str, Any]],
    code: str,
    items_named: list[int],
) -> None:
    response = await api.post("/reconciliations/details", json=details(items))
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["items"]) == (code, items_named)


async def test_two_items_naming_one_settlement_by_different_ids_are_refused(
    books: dict[str, str], api: httpx.AsyncClient
) -> None:
    items = [
        item(("1000.00", "180.00", "500.00"), setl_id=books["S1"]),
        item(("1000.00", "180.00", "500.00"), medins_setl_id="H-S1"),
    ]
    response = await api.post("/reconciliations/details", json=details(items))
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["items"]) == ("DUPLICATE_ITEM", [0, 1])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"enddate": "2026-03-01"}, "DATES_OUT_OF_ORDER"),
        ({"begndate": "2025-03-01"}, "RANGE_TOO_LONG"),
        ({"items": [item(("1.001", "0.00", "0.00"), setl_id="S1X")]}, "VALIDATION_ERROR"),
        ({"items": [{**item(("1.00", "0.00", "0.00"), setl_id="S1X"), "psn_no": "P1"}]}, "VALIDATION_ERROR"),
        (
            {"items": [item(("1.00", "0.00", "0.00"), setl_id=f"S{n}") for n in range(10_001)]},
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_bad_details_requests_are_refused_with_a_code(
    books: dict[str, str], api: httpx.AsyncClient, change: dict[str, Any], code: str
) -> None:
    response = await api.post("/reconciliations/details", json={**details([]), **change})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
