"""Coverages, waiting periods, suspension, death and eligibility through the API."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from common.clock import FrozenClock
from tests.enrollment.conftest import at_shanghai, eligible, enroll, register

EMPLOYEE = {"insutype": "310", "begndate": "2026-01-01", "emp_code": "91420100MA4K123456"}


async def test_an_employee_is_covered_from_the_first_day_with_330_attached(api: httpx.AsyncClient) -> None:
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], **EMPLOYEE)
    assert (coverage["insutype"], coverage["attached_insutypes"], coverage["psn_type"]) == (
        "310",
        ["330"],
        "employed",
    )
    assert (coverage["benefit_start_date"], coverage["waiting_months"], coverage["status"]) == (
        "2026-01-01",
        0,
        "active",
    )
    answer = await eligible(api, person["psn_no"], "2026-03-02", "330")
    assert (answer["eligible"], answer["insutype"], answer["psn_type"], answer["reason"]) == (
        True,
        "330",
        "employed",
        None,
    )
    resident_cap = await eligible(api, person["psn_no"], "2026-03-02", "392")
    assert (resident_cap["eligible"], resident_cap["reason"]) == (False, "NO_COVERAGE")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"insutype": "310", "begndate": "2026-01-01"}, "EMP_CODE_REQUIRED"),
        ({"insutype": "390", "begndate": "2026-01-01", "emp_code": "X1"}, "NOT_FOR_RESIDENTS"),
        ({"insutype": "390", "begndate": "1980-01-01"}, "INVALID_DATE"),
        ({"insutype": "390", "begndate": "2026-01-01", "enrolled_on": "2026-03-03"}, "INVALID_DATE"),
        ({"insutype": "510", "begndate": "2026-01-01"}, "VALIDATION_ERROR"),
        (
            {"insutype": "310", "begndate": "2026-01-01", "emp_code": "E1", "psn_type": "boss"},
            "VALIDATION_ERROR",
        ),
        ({"insutype": "390", "begndate": "2026-13-01"}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_enrolments_are_refused_and_write_nothing(
    api: httpx.AsyncClient, body: dict[str, str], code: str
) -> None:
    person = await register(api)
    response = await api.post(f"/persons/{person['psn_no']}/coverages", json=body)
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert (await api.get(f"/persons/{person['psn_no']}/coverages")).json() == []


async def test_a_second_basic_coverage_is_refused_while_one_is_current(api: httpx.AsyncClient) -> None:
    person = await register(api)
    first = await enroll(api, person["psn_no"], **EMPLOYEE)
    second = await api.post(
        f"/persons/{person['psn_no']}/coverages", json={"insutype": "390", "begndate": "2026-01-01"}
    )
    assert (second.status_code, second.json()["code"], second.json()["coverage_id"]) == (
        409,
        "DUPLICATE_COVERAGE",
        first["coverage_id"],
    )


async def test_a_resident_enrolled_in_the_concentrated_period_is_covered_from_january(
    api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2025, 12, 31, 23))
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], insutype="390", begndate="2026-01-01")
    assert (coverage["attached_insutypes"], coverage["waiting_months"], coverage["benefit_start_date"]) == (
        ["392"],
        0,
        "2026-01-01",
    )
    assert (await eligible(api, person["psn_no"], "2026-01-01", "392"))["eligible"] is True


async def test_a_resident_enrolled_after_the_period_waits_three_months(
    api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 1, 1, 9))
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], insutype="390", begndate="2026-01-01")
    assert (coverage["waiting_months"], coverage["benefit_start_date"]) == (3, "2026-04-01")
    waiting = await eligible(api, person["psn_no"], "2026-03-31", "390")
    assert (
        waiting["eligible"],
        waiting["reason"],
        waiting["benefit_start_date"],
        waiting["waiting_days"],
    ) == (False, "WAITING_PERIOD", "2026-04-01", 1)
    assert (await eligible(api, person["psn_no"], "2026-04-01", "390"))["eligible"] is True


async def test_a_newborn_is_covered_without_waiting(api: httpx.AsyncClient, clock: FrozenClock) -> None:
    clock.set(at_shanghai(2026, 4, 30))
    baby = await register(api, date(2026, 1, 30), seq=2, name="小明")  # 90 days old
    coverage = await enroll(api, baby["psn_no"], insutype="390", begndate="2026-01-30")
    assert (coverage["waiting_months"], coverage["benefit_start_date"]) == (0, "2026-01-30")


async def test_a_break_and_its_repair_by_back_payment(api: httpx.AsyncClient, clock: FrozenClock) -> None:
    clock.set(at_shanghai(2022, 10, 1))
    person = await register(api)
    old = await enroll(api, person["psn_no"], insutype="390", begndate="2023-01-01")
    clock.set(at_shanghai(2023, 12, 31))
    await api.post(f"/coverages/{old['coverage_id']}/end", json={"enddate": "2023-12-31"})
    # Uncovered 2024 and 2025: two years of break, so 3 + 1 months.
    clock.set(at_shanghai(2026, 3, 2))
    coverage = await enroll(api, person["psn_no"], insutype="390", begndate="2026-03-02")
    assert (coverage["break_years"], coverage["waiting_months"], coverage["benefit_start_date"]) == (
        2,
        4,
        "2026-07-02",
    )
    paid = await api.post(
        f"/persons/{person['psn_no']}/contributions",
        json={
            "insutype": "390",
            "period": "2025",
            "amount": "400.00",
            "paid_at": "2026-03-02T10:00:00+08:00",
        },
    )
    assert (paid.status_code, paid.json()["back_payment"]) == (201, True)
    repaired = (await api.get(f"/coverages/{coverage['coverage_id']}")).json()
    assert (repaired["waiting_months"], repaired["benefit_start_date"]) == (3, "2026-06-02")


async def test_suspension_and_resumption_by_date(api: httpx.AsyncClient) -> None:
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], **EMPLOYEE)
    cid = coverage["coverage_id"]
    suspended = await api.post(f"/coverages/{cid}/suspend", json={"date": "2026-02-01", "reason": "停缴"})
    assert suspended.json()["status"] == "suspended"
    again = await api.post(f"/coverages/{cid}/suspend")
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_COVERAGE_STATE")
    early = await api.post(f"/coverages/{cid}/resume", json={"date": "2026-01-15"})
    assert (early.status_code, early.json()["code"]) == (422, "INVALID_DATE")
    resumed = await api.post(f"/coverages/{cid}/resume", json={"date": "2026-03-01"})
    assert resumed.json()["suspensions"] == [{"from_date": "2026-02-01", "to_date": "2026-03-01"}]
    assert (await eligible(api, person["psn_no"], "2026-01-31"))["eligible"] is True
    during = await eligible(api, person["psn_no"], "2026-02-28")
    assert (during["eligible"], during["reason"]) == (False, "SUSPENDED")
    assert (await eligible(api, person["psn_no"], "2026-03-01"))["eligible"] is True
    missing = await api.post("/coverages/999999/suspend")
    assert (missing.status_code, missing.json()["code"]) == (404, "COVERAGE_NOT_FOUND")


async def test_an_ended_coverage_makes_room_for_a_new_one(api: httpx.AsyncClient) -> None:
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], **EMPLOYEE)
    before = await api.post(f"/coverages/{coverage['coverage_id']}/end", json={"enddate": "2025-12-31"})
    assert (before.status_code, before.json()["code"]) == (422, "INVALID_DATE")
    ended = await api.post(f"/coverages/{coverage['coverage_id']}/end", json={"enddate": "2026-02-28"})
    assert (ended.json()["status"], ended.json()["enddate"]) == ("ended", "2026-02-28")
    assert (await eligible(api, person["psn_no"], "2026-03-01"))["reason"] == "NO_COVERAGE"
    resident = await enroll(api, person["psn_no"], insutype="390", begndate="2026-03-02")
    assert resident["break_years"] == 0


async def test_death_ends_coverage_and_care_after_it_is_not_covered(api: httpx.AsyncClient) -> None:
    person = await register(api)
    coverage = await enroll(api, person["psn_no"], **EMPLOYEE)
    died = await api.post(f"/persons/{person['psn_no']}/death", json={"death_date": "2026-02-10"})
    assert died.json()["death_date"] == "2026-02-10"
    ended = (await api.get(f"/coverages/{coverage['coverage_id']}")).json()
    assert (ended["status"], ended["enddate"], ended["end_reason"]) == ("ended", "2026-02-10", "death")
    assert (await eligible(api, person["psn_no"], "2026-02-10"))["eligible"] is True
    after = await eligible(api, person["psn_no"], "2026-02-11")
    assert (after["eligible"], after["reason"]) == (False, "DECEASED")
    same = await api.post(f"/persons/{person['psn_no']}/death", json={"death_date": "2026-02-10"})
    assert same.status_code == 200
    other = await api.post(f"/persons/{person['psn_no']}/death", json={"death_date": "2026-02-11"})
    assert (other.status_code, other.json()["code"]) == (409, "DEATH_ALREADY_RECORDED")
    future = await api.post(f"/persons/{person['psn_no']}/coverages", json=EMPLOYEE)
    assert (future.status_code, future.json()["code"]) == (409, "PERSON_DECEASED")


async def test_a_death_date_in_the_future_is_refused(api: httpx.AsyncClient) -> None:
    person = await register(api)
    response = await api.post(f"/persons/{person['psn_no']}/death", json={"death_date": "2026-03-03"})
    assert (response.status_code, response.json()["code"]) == (422, "INVALID_DATE")
    assert (await api.get(f"/persons/{person['psn_no']}")).json()["death_date"] is None


async def test_eligibility_needs_exactly_one_key_and_a_known_person(api: httpx.AsyncClient) -> None:
    person = await register(api)
    for params in ({}, {"psn_no": person["psn_no"], "certno": person["certno"]}):
        response = await api.get("/eligibility", params=params)
        assert (response.status_code, response.json()["code"]) == (422, "PERSON_KEY_REQUIRED")
    unknown = await api.get("/eligibility", params={"psn_no": "PNOBODY"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "PERSON_NOT_FOUND")
    by_certno = await api.get("/eligibility", params={"certno": person["certno"]})
    assert by_certno.json() | {"date": None} == {
        "eligible": False,
        "psn_no": person["psn_no"],
        "date": None,
        "insutype": None,
        "coverage_id": None,
        "psn_type": None,
        "assistance": None,
        "benefit_start_date": None,
        "waiting_days": 0,
        "incentive_raise": None,
        "reason": "NO_COVERAGE",
    }
    assert by_certno.json()["date"] == "2026-03-02"
    bad_type = await api.get("/eligibility", params={"psn_no": person["psn_no"], "insutype": "999"})
    assert (bad_type.status_code, bad_type.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_assistance_category_is_carried_and_can_change(api: httpx.AsyncClient) -> None:
    person = await register(api)
    coverage = await enroll(
        api,
        person["psn_no"],
        insutype="390",
        begndate="2026-01-01",
        enrolled_on="2025-11-01",
        assistance="minimum_living",
    )
    assert (await eligible(api, person["psn_no"], "2026-03-02"))["assistance"] == "minimum_living"
    changed = await api.post(f"/coverages/{coverage['coverage_id']}/assistance", json={"assistance": None})
    assert changed.json()["assistance"] is None
    bad = await api.post(f"/coverages/{coverage['coverage_id']}/assistance", json={"assistance": "rich"})
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_statistics_count_by_insutype_and_status(api: httpx.AsyncClient) -> None:
    a, b, c = [await register(api, seq=s) for s in (1, 3, 5)]
    await enroll(api, a["psn_no"], **EMPLOYEE)
    await enroll(api, b["psn_no"], insutype="390", begndate="2026-01-01")
    ended = await enroll(api, c["psn_no"], insutype="390", begndate="2026-01-01")
    await api.post(f"/coverages/{ended['coverage_id']}/end", json={"enddate": "2026-02-01"})
    stats = (await api.get("/stats/enrollment", params={"admdvs": "420100"})).json()
    assert stats == {
        "admdvs": "420100",
        "persons": 3,
        "deceased": 0,
        "coverages": [
            {"insutype": "310", "status": "active", "count": 1},
            {"insutype": "390", "status": "active", "count": 1},
            {"insutype": "390", "status": "ended", "count": 1},
        ],
    }
    assert (await api.get("/stats/enrollment", params={"admdvs": "500000"})).json()["persons"] == 0
