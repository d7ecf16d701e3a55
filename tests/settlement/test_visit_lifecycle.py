"""A visit's life through the API: amendment, discharge and its undoing, cancellation, withdrawal of lines by
charge batch, the settlement of a stay, and the look-ups of a person's visits and of settlements."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.principal import Principal, Role
from settlement.models import FeeDetail, Journal, Settlement, Visit
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import count, credit_account, seed_catalog, seed_institution, seed_person

HOSPITAL, OTHER_HOSPITAL, PHARMACY = "H42010000001", "H42010000002", "P42010000001"
ADMITTED = "2026-03-01T09:30:00+08:00"


def line(sn: str, amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    """One 甲类 line of `amount` yuan (cnt 1)."""
    return {
        "feedetl_sn": sn,
        "med_list_codg": "A01",
        "cnt": "1",
        "pric": amount,
        "det_item_fee_sumamt": amount,
        "fee_ocur_time": "2026-03-02T09:50:00+08:00",
        **extra,
    }


@pytest.fixture
async def world(settlement_app: FastAPI, api: httpx.AsyncClient) -> FastAPI:
    """Two level-2 hospitals, a pharmacy, one 甲类 item, an employee P1 with 500.00 in the account."""
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_institution(db, OTHER_HOSPITAL, hosp_lv=2)
    await seed_institution(db, PHARMACY, fixmedins_type="pharmacy")
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 50000)
    return settlement_app


async def register(
    api: httpx.AsyncClient, med_type: str = "21", *, begntime: str = ADMITTED, **extra: Any
) -> str:
    response = await api.post(
        "/visits",
        json={
            "fixmedins_code": HOSPITAL,
            "psn_no": "P1",
            "insutype": "310",
            "med_type": med_type,
            "begntime": begntime,
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    mdtrt_id: str = response.json()["mdtrt_id"]
    return mdtrt_id


async def upload(api: httpx.AsyncClient, mdtrt_id: str, *lines: dict[str, Any]) -> None:
    response = await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": list(lines)})
    assert response.status_code == 201, response.text


async def settle(api: httpx.AsyncClient, mdtrt_id: str, medins_setl_id: str, **extra: Any) -> httpx.Response:
    return await api.post(
        f"/visits/{mdtrt_id}/settlement",
        json={"medins_setl_id": medins_setl_id, "acct_used_flag": 0, **extra},
    )


async def stored(db: Any) -> tuple[int, ...]:
    """What a refusal must leave as it was: every visit's state, every line's, the settlements, the journal."""
    async with db.transaction(readonly=True) as session:
        visits = (
            await session.execute(
                sa.select(
                    Visit.mdtrt_id,
                    Visit.med_type,
                    Visit.status,
                    Visit.endtime,
                    Visit.dise_codg,
                    Visit.dise_name,
                    Visit.dscg_way,
                    Visit.cancel_reason,
                ).order_by(Visit.mdtrt_id)
            )
        ).all()
        lines = (
            await session.execute(
                sa.select(FeeDetail.mdtrt_id, FeeDetail.feedetl_sn, FeeDetail.status).order_by(
                    FeeDetail.fee_detail_id
                )
            )
        ).all()
    return (
        hash(tuple(visits)),
        hash(tuple(lines)),
        await count(db, Settlement),
        await count(db, Journal),
    )


DISCHARGE = {
    "endtime": "2026-03-02T09:00:00+08:00",
    "dise_codg": "J18.000",
    "dise_name": "支气管肺炎",
    "dscg_way": "1",
}


# --- discharge (2402) and its undoing (2405) ---------------------------------------------------------------


async def test_a_discharge_ends_the_stay_replaces_the_diagnosis_and_the_stay_settles_at_it(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1", "2000.00"))
    discharged = await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE)
    assert discharged.status_code == 200, discharged.text
    body = discharged.json()
    assert {
        k: body[k] for k in ("status", "endtime", "dise_codg", "dise_name", "dscg_way", "cancel_reason")
    } == {
        "status": "open",
        "endtime": "2026-03-02T01:00:00Z",
        "dise_codg": "J18.000",
        "dise_name": "支气管肺炎",
        "dscg_way": "1",
        "cancel_reason": None,
    }
    assert [f["feedetl_sn"] for f in body["feedetail"]] == ["1"]
    # The same discharge again, written in UTC: the same answer.
    again = await api.post(
        f"/visits/{mdtrt_id}/discharge", json=DISCHARGE | {"endtime": "2026-03-02T01:00:00+00:00"}
    )
    assert (again.status_code, again.json()) == (200, body)
    before = await stored(world.state.db)
    other = await api.post(
        f"/visits/{mdtrt_id}/discharge", json=DISCHARGE | {"endtime": "2026-03-02T09:30:00+08:00"}
    )
    assert (other.status_code, other.json()["code"]) == (409, "VISIT_DISCHARGED")
    assert await stored(world.state.db) == before

    settled = await settle(api, mdtrt_id, "ZY-1")
    assert settled.status_code == 201, settled.text
    # inpatient, level 2: deductible 600, (2,000 − 600) × 0.88 = 1,232.00; the person pays 768.00 in cash
    info = settled.json()["setlinfo"]
    assert (info["med_type"], info["act_pay_dedc"], info["hifp_pay"], info["psn_cash_pay"]) == (
        "21",
        "600.00",
        "1232.00",
        "768.00",
    )
    shown = (await api.get(f"/visits/{mdtrt_id}")).json()
    assert (shown["status"], shown["endtime"], shown["dise_codg"]) == (
        "settled",
        "2026-03-02T01:00:00Z",
        "J18.000",
    )
    setl_id = info["setl_id"]
    for response in (
        await api.delete(f"/visits/{mdtrt_id}/discharge"),
        await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE),
    ):
        assert (response.status_code, response.json()["code"], response.json()["setl_id"]) == (
            409,
            "VISIT_SETTLED",
            setl_id,
        )


async def test_an_endtime_sent_with_the_settlement_wins_over_the_discharge(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1"))
    assert (await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE)).status_code == 200
    settled = await settle(api, mdtrt_id, "ZY-2", endtime="2026-03-02T09:40:00+08:00")
    assert settled.status_code == 201, settled.text
    assert (await api.get(f"/visits/{mdtrt_id}")).json()["endtime"] == "2026-03-02T01:40:00Z"


async def test_a_stay_with_no_discharge_and_no_endtime_settles_only_midway(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1", "1000.00"))
    before = await stored(world.state.db)
    refused = await settle(api, mdtrt_id, "ZY-3")
    assert (refused.status_code, refused.json()["code"]) == (422, "NOT_DISCHARGED")
    assert refused.json()["detail"] == (
        f"Visit {mdtrt_id} is a stay with no end: discharge the patient (2402) or send endtime, "
        "or mid_setl_flag 1."
    )
    assert await stored(world.state.db) == before
    midway = await settle(api, mdtrt_id, "ZY-3", mid_setl_flag=1)
    assert midway.status_code == 201, midway.text
    # (1,000 − 600) × 0.88 = 352.00
    assert (midway.json()["setlinfo"]["act_pay_dedc"], midway.json()["setlinfo"]["hifp_pay"]) == (
        "600.00",
        "352.00",
    )
    shown = (await api.get(f"/visits/{mdtrt_id}")).json()
    assert (shown["status"], shown["endtime"]) == ("settled", None)


async def test_undoing_a_discharge_clears_it_and_the_stay_needs_an_end_again(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1"))
    not_yet = await api.delete(f"/visits/{mdtrt_id}/discharge")
    assert (not_yet.status_code, not_yet.json()["code"]) == (409, "VISIT_NOT_DISCHARGED")
    assert (await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE)).status_code == 200
    undone = await api.delete(f"/visits/{mdtrt_id}/discharge")
    assert undone.status_code == 200, undone.text
    # The discharge diagnosis stays: only the discharge itself is undone.
    assert {k: undone.json()[k] for k in ("status", "endtime", "dscg_way", "dise_codg")} == {
        "status": "open",
        "endtime": None,
        "dscg_way": None,
        "dise_codg": "J18.000",
    }
    again = await api.delete(f"/visits/{mdtrt_id}/discharge")
    assert (again.status_code, again.json()["code"]) == (409, "VISIT_NOT_DISCHARGED")
    refused = await settle(api, mdtrt_id, "ZY-4")
    assert (refused.status_code, refused.json()["code"]) == (422, "NOT_DISCHARGED")
    # A different discharge now goes through.
    later = DISCHARGE | {"endtime": "2026-03-02T09:45:00+08:00", "dscg_way": "2"}
    redone = await api.post(f"/visits/{mdtrt_id}/discharge", json=later)
    assert (redone.status_code, redone.json()["endtime"], redone.json()["dscg_way"]) == (
        200,
        "2026-03-02T01:45:00Z",
        "2",
    )


@pytest.mark.parametrize(
    ("med_type", "body", "code"),
    [
        pytest.param("11", DISCHARGE, "VISIT_NOT_INPATIENT", id="outpatient visit"),
        pytest.param("13", DISCHARGE, "VISIT_NOT_INPATIENT", id="emergency visit (outpatient by default)"),
        pytest.param(
            "21",
            DISCHARGE | {"endtime": "2026-03-01T09:29:59+08:00"},
            "ENDTIME_BEFORE_BEGNTIME",
            id="endtime before the admission",
        ),
        pytest.param(
            "21", DISCHARGE | {"endtime": "2026-03-03T09:00:00+08:00"}, "FUTURE_TIME", id="endtime ahead"
        ),
        pytest.param("21", DISCHARGE | {"endtime": "2026-03-02T09:00:00"}, "VALIDATION_ERROR", id="naive"),
        pytest.param("21", {"dise_codg": "J18.000"}, "VALIDATION_ERROR", id="no endtime"),
        pytest.param("21", DISCHARGE | {"dscg_way": "x y"}, "VALIDATION_ERROR", id="bad dscg_way"),
    ],
)
async def test_a_discharge_that_cannot_be_is_refused_and_changes_nothing(
    world: FastAPI, api: httpx.AsyncClient, med_type: str, body: dict[str, Any], code: str
) -> None:
    mdtrt_id = await register(api, med_type)
    before = await stored(world.state.db)
    response = await api.post(f"/visits/{mdtrt_id}/discharge", json=body)
    assert (response.status_code, response.json()["code"]) == (422, code), response.text
    assert await stored(world.state.db) == before


# --- cancellation (2202 / 2404) ------------------------------------------------------------------------


async def test_a_cancelled_visit_takes_its_lines_with_it_and_refuses_everything_after(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1"), line("2"))
    cancelled = await api.post(f"/visits/{mdtrt_id}/cancellation", json={"reason": "患者未入院，入院撤销"})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"], body["feedetail"]) == (
        "cancelled",
        "患者未入院，入院撤销",
        [],
    )
    async with world.state.db.transaction(readonly=True) as session:
        statuses = (
            await session.scalars(sa.select(FeeDetail.status).where(FeeDetail.mdtrt_id == mdtrt_id))
        ).all()
    assert sorted(statuses) == ["withdrawn", "withdrawn"]
    again = await api.post(f"/visits/{mdtrt_id}/cancellation", json={"reason": "重复提交"})
    assert (again.status_code, again.json()) == (200, body)

    before = await stored(world.state.db)
    attempts = {
        "upload": await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": [line("3")]}),
        "withdraw one": await api.delete(f"/visits/{mdtrt_id}/fee-details/1"),
        "withdraw all": await api.post(f"/visits/{mdtrt_id}/fee-details/withdrawal", json={}),
        "pre-settle": await api.post(f"/visits/{mdtrt_id}/pre-settlement", json={"acct_used_flag": 0}),
        "settle": await settle(api, mdtrt_id, "ZY-C", endtime="2026-03-02T09:00:00+08:00"),
        "discharge": await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE),
        "undo discharge": await api.delete(f"/visits/{mdtrt_id}/discharge"),
        "amend": await api.patch(f"/visits/{mdtrt_id}", json={"dise_codg": "J18.000"}),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in attempts.items()} == {
        name: (409, "VISIT_CANCELLED") for name in attempts
    }
    assert await stored(world.state.db) == before
    shown = (await api.get(f"/visits/{mdtrt_id}")).json()
    assert (shown["status"], shown["feedetail"]) == ("cancelled", [])


async def test_a_settled_visit_is_cancelled_only_after_its_settlement_is_reversed(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api, "11", begntime="2026-03-02T09:30:00+08:00")
    await upload(api, mdtrt_id, line("1"))
    setl_id = (await settle(api, mdtrt_id, "MZ-1")).json()["setlinfo"]["setl_id"]
    before = await stored(world.state.db)
    refused = await api.post(f"/visits/{mdtrt_id}/cancellation", json={"reason": "挂号撤销"})
    assert refused.status_code == 409
    assert {k: refused.json()[k] for k in ("code", "detail", "setl_id")} == {
        "code": "VISIT_SETTLED",
        "detail": f"Visit {mdtrt_id} is already settled as setl_id {setl_id}.",
        "setl_id": setl_id,
    }
    assert await stored(world.state.db) == before
    assert (await api.post(f"/settlements/{setl_id}/reversal", json={"reason": "退费"})).status_code == 201
    cancelled = await api.post(f"/visits/{mdtrt_id}/cancellation", json={"reason": "挂号撤销"})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


async def test_visit_settled_names_the_settlement_that_stands_wherever_it_is_answered(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1"))
    assert (await api.post(f"/visits/{mdtrt_id}/discharge", json=DISCHARGE)).status_code == 200
    setl_id = (await settle(api, mdtrt_id, "ZY-S")).json()["setlinfo"]["setl_id"]
    before = await stored(world.state.db)
    attempts = {
        "upload": await api.post(f"/visits/{mdtrt_id}/fee-details", json={"feedetail": [line("2")]}),
        "withdraw one": await api.delete(f"/visits/{mdtrt_id}/fee-details/1"),
        "withdraw batch": await api.post(f"/visits/{mdtrt_id}/fee-details/withdrawal", json={}),
        "pre-settle": await api.post(f"/visits/{mdtrt_id}/pre-settlement"),
        "settle again": await settle(api, mdtrt_id, "ZY-S2"),
        "cancel": await api.post(f"/visits/{mdtrt_id}/cancellation", json={"reason": "撤销"}),
        "amend": await api.patch(f"/visits/{mdtrt_id}", json={"dise_name": "肺炎"}),
    }
    expected = (409, "VISIT_SETTLED", f"Visit {mdtrt_id} is already settled as setl_id {setl_id}.", setl_id)
    assert {
        name: (r.status_code, r.json()["code"], r.json()["detail"], r.json()["setl_id"])
        for name, r in attempts.items()
    } == {name: expected for name in attempts}
    assert await stored(world.state.db) == before


# --- amendment (2203) ----------------------------------------------------------------------------------


async def test_an_open_visit_takes_a_new_diagnosis_and_a_med_type_of_the_same_kind_of_care(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    stay = await register(api)
    amended = await api.patch(f"/visits/{stay}", json={"med_type": "22", "dise_codg": "S06.000"})
    assert amended.status_code == 200, amended.text
    # A new code without a name: the old name described another disease.
    assert {k: amended.json()[k] for k in ("med_type", "dise_codg", "dise_name", "status")} == {
        "med_type": "22",
        "dise_codg": "S06.000",
        "dise_name": None,
        "status": "open",
    }
    named = await api.patch(f"/visits/{stay}", json={"dise_name": "颅脑损伤"})
    assert (named.json()["dise_codg"], named.json()["dise_name"]) == ("S06.000", "颅脑损伤")

    visit = await register(api, "11", begntime="2026-03-02T09:30:00+08:00")
    emergency = await api.patch(f"/visits/{visit}", json={"med_type": "13"})
    assert (emergency.status_code, emergency.json()["med_type"]) == (200, "13")
    await upload(api, visit, line("1", "1000.00"))
    settled = await settle(api, visit, "JZ-1")
    # 急诊 is paid as outpatient care: the 700 yearly deductible, then 0.60 at level 2.
    info = settled.json()["setlinfo"]
    assert (info["med_type"], info["act_pay_dedc"], info["hifp_pay"]) == ("13", "700.00", "180.00")


@pytest.mark.parametrize(
    ("registered", "body", "status", "code"),
    [
        pytest.param("21", {"med_type": "11"}, 422, "MED_TYPE_CHANGE_REFUSED", id="stay to outpatient"),
        pytest.param("11", {"med_type": "52"}, 422, "MED_TYPE_CHANGE_REFUSED", id="outpatient to a stay"),
        pytest.param("11", {"med_type": "41"}, 422, "MED_TYPE_NOT_ALLOWED", id="pharmacy care at a hospital"),
        pytest.param("11", {"med_type": "99"}, 422, "MED_TYPE_UNKNOWN", id="unknown med_type"),
        pytest.param("11", {}, 422, "VALIDATION_ERROR", id="nothing to amend"),
        pytest.param("11", {"dise_codg": None}, 422, "VALIDATION_ERROR", id="only nulls"),
        pytest.param("11", {"psn_no": "P2"}, 422, "VALIDATION_ERROR", id="not amendable"),
    ],
)
async def test_an_amendment_that_cannot_be_is_refused_and_changes_nothing(
    world: FastAPI, api: httpx.AsyncClient, registered: str, body: dict[str, Any], status: int, code: str
) -> None:
    mdtrt_id = await register(api, registered)
    before = await stored(world.state.db)
    response = await api.patch(f"/visits/{mdtrt_id}", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert await stored(world.state.db) == before


# --- fee lines by charge batch (2205) ------------------------------------------------------------------


async def test_lines_are_withdrawn_by_charge_batch_by_number_or_all_at_once(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    mdtrt_id = await register(api)
    await upload(
        api,
        mdtrt_id,
        line("1", chrg_bchno="B1"),
        line("2", chrg_bchno="B1"),
        line("3", chrg_bchno="B2"),
        line("4"),
        line("5", chrg_bchno="B2"),
    )
    shown = (await api.get(f"/visits/{mdtrt_id}")).json()["feedetail"]
    assert [(f["feedetl_sn"], f["chrg_bchno"]) for f in shown] == [
        ("1", "B1"),
        ("2", "B1"),
        ("3", "B2"),
        ("4", None),
        ("5", "B2"),
    ]
    url = f"/visits/{mdtrt_id}/fee-details/withdrawal"
    batch = await api.post(url, json={"chrg_bchno": "B1"})
    assert (batch.status_code, batch.json()) == (200, {"mdtrt_id": mdtrt_id, "withdrawn": ["1", "2"]})

    before = await stored(world.state.db)
    for body, asked in (
        ({"chrg_bchno": "B1"}, "of charge batch B1"),
        ({"chrg_bchno": "0000"}, "of charge batch 0000"),
        ({"chrg_bchno": "B2", "feedetl_sn": ["4"]}, "of charge batch B2 and numbered 4"),
        ({"feedetl_sn": ["1", "9"]}, "numbered 1, 9"),
    ):
        missing = await api.post(url, json=body)
        assert (missing.status_code, missing.json()["code"], missing.json()["detail"]) == (
            404,
            "FEE_DETAIL_NOT_FOUND",
            f"No standing line {asked} on visit {mdtrt_id}.",
        )
    assert await stored(world.state.db) == before

    both = await api.post(url, json={"chrg_bchno": "B2", "feedetl_sn": ["3", "4"]})
    assert both.json()["withdrawn"] == ["3"]
    numbered = await api.post(url, json={"feedetl_sn": ["5", "2"]})
    assert numbered.json()["withdrawn"] == ["5"]
    # A withdrawn line may be uploaded again, in another batch.
    await upload(api, mdtrt_id, line("1", chrg_bchno="B3"))
    everything = await api.post(url, json={})
    assert everything.json()["withdrawn"] == ["1", "4"]
    nothing_left = await api.post(url, json={})
    assert (nothing_left.status_code, nothing_left.json()["detail"]) == (
        404,
        f"No standing line at all on visit {mdtrt_id}.",
    )
    assert (await api.get(f"/visits/{mdtrt_id}")).json()["feedetail"] == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"feedetl_sn": []}, id="an empty list"),
        pytest.param({"chrg_bchno": ""}, id="an empty batch"),
        pytest.param({"chrg_bchno": "B" * 31}, id="a batch of 31 characters"),
        pytest.param({"reason": "x"}, id="an unknown field"),
    ],
)
async def test_a_withdrawal_body_that_makes_no_sense_is_422_and_withdraws_nothing(
    world: FastAPI, api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    mdtrt_id = await register(api)
    await upload(api, mdtrt_id, line("1", chrg_bchno="B1"))
    before = await stored(world.state.db)
    response = await api.post(f"/visits/{mdtrt_id}/fee-details/withdrawal", json=body)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert await stored(world.state.db) == before


# --- look-ups ------------------------------------------------------------------------------------------


async def test_a_persons_visits_newest_first_page_by_page_each_institution_its_own(
    world: FastAPI, api: httpx.AsyncClient
) -> None:
    await seed_person(world.state.db, "P2", coverage_id=2)
    first = await register(api, "21", begntime="2026-02-27T08:00:00+08:00")
    second = await register(api, "11", begntime="2026-03-01T08:00:00+08:00")
    third = await register(api, "13", begntime="2026-03-02T08:00:00+08:00")
    elsewhere = await register(api, "11", begntime="2026-03-02T07:00:00+08:00", fixmedins_code=OTHER_HOSPITAL)
    await register(api, "11", psn_no="P2")
    await upload(api, third, line("1", chrg_bchno="B1"))

    page = await api.get("/visits", params={"psn_no": "P1", "limit": 3})
    assert page.status_code == 200, page.text
    assert [v["mdtrt_id"] for v in page.json()["items"]] == [third, elsewhere, second]
    assert [f["feedetl_sn"] for f in page.json()["items"][0]["feedetail"]] == ["1"]
    rest = await api.get("/visits", params={"psn_no": "P1", "limit": 3, "cursor": page.json()["next_cursor"]})
    assert ([v["mdtrt_id"] for v in rest.json()["items"]], rest.json()["next_cursor"]) == ([first], None)

    period = await api.get(
        "/visits",
        params={
            "psn_no": "P1",
            "fixmedins_code": HOSPITAL,
            "begndate": "2026-02-28",
            "enddate": "2026-03-01",
        },
    )
    assert [v["mdtrt_id"] for v in period.json()["items"]] == [second]

    his = as_client(world, Principal("his-h1", Role.HIS, scope=HOSPITAL))
    async with his:
        own = await his.get("/visits", params={"psn_no": "P1"})
        assert [v["mdtrt_id"] for v in own.json()["items"]] == [third, second, first]
        other = await his.get("/visits", params={"psn_no": "P1", "fixmedins_code": OTHER_HOSPITAL})
        assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")

    for params, status, code in (
        ({}, 422, "VALIDATION_ERROR"),
        ({"psn_no": "P1", "begndate": "2026-03-02", "enddate": "2026-03-01"}, 422, "DATES_OUT_OF_ORDER"),
        ({"psn_no": "P1", "cursor": "not-a-cursor"}, 400, "INVALID_CURSOR"),
    ):
        refused = await api.get("/visits", params=params)
        assert (refused.status_code, refused.json()["code"]) == (status, code)


async def test_settlements_are_found_by_visit_and_by_the_institutions_own_id(
    world: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    visit = await register(api, "11", begntime="2026-03-02T09:30:00+08:00")
    await upload(api, visit, line("1"))
    first = (await settle(api, visit, "MZ-A")).json()["setlinfo"]["setl_id"]
    assert (await api.post(f"/settlements/{first}/reversal", json={"reason": "退费"})).status_code == 201
    clock.set(at_shanghai(2026, 3, 2, 10, 5))
    second = (await settle(api, visit, "MZ-B")).json()["setlinfo"]["setl_id"]
    other_visit = await register(
        api, "11", begntime="2026-03-02T09:30:00+08:00", fixmedins_code=OTHER_HOSPITAL
    )
    await upload(api, other_visit, line("1"))
    elsewhere = (await settle(api, other_visit, "MZ-A")).json()["setlinfo"]["setl_id"]

    by_visit = await api.get("/settlements", params={"mdtrt_id": visit})
    assert [(s["setl_id"], s["status"]) for s in by_visit.json()["items"]] == [
        (second, "settled"),
        (first, "reversed"),
    ]
    by_id = await api.get("/settlements", params={"medins_setl_id": "MZ-A"})
    assert sorted(s["setl_id"] for s in by_id.json()["items"]) == sorted([first, elsewhere])
    both = await api.get("/settlements", params={"medins_setl_id": "MZ-A", "mdtrt_id": other_visit})
    assert [s["setl_id"] for s in both.json()["items"]] == [elsewhere]
    his = as_client(world, Principal("his-h1", Role.HIS, scope=HOSPITAL))
    async with his:
        own = await his.get("/settlements", params={"medins_setl_id": "MZ-A"})
        assert [s["setl_id"] for s in own.json()["items"]] == [first]
        theirs = await his.get("/settlements", params={"mdtrt_id": other_visit})
        assert theirs.json()["items"] == []
