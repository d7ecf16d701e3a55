"""The demo's supervision steps (bench.city.supervision): what they send fits fraud's and settlement's request
models, the suspended doctor's claim is moved to the day it is sent, and the report prints. The steps
themselves run against the platform in tests/bench/test_demo.py (slow)."""

from __future__ import annotations

from datetime import date

import pytest

from bench.city import City, generate_city
from bench.city.model import INSTITUTION_FAMILIES
from bench.city.supervision import (
    APPEAL,
    APPEAL_HIGH_SEVERITY,
    OpenedCase,
    Supervision,
    _decision,
    dated,
    decide_on,
    report_lines,
)
from fraud.domain.families import FAMILIES
from fraud.domain.params import validate_params
from fraud.schemas.cases import AppealIn, AppealReviewIn, CaseIn, DecideIn, RefundIn
from fraud.schemas.rules import RuleUpdate
from settlement.schemas.claims import OneCallSettlementIn

START = date(2026, 3, 30)


@pytest.fixture(scope="module")
def city() -> City:
    return generate_city(5, 200, days=2, start=START)


def test_the_decisions_fit_the_case_models_with_points_only_against_registered_doctors(city: City) -> None:
    registered = {p.prac_codg for p in city.practitioners}
    decided = [case for case in city.cases if case.resolution in ("decide", "appeal_upheld")]
    assert {case.family for case in decided} >= {"bed_hold", "split_admission", "upcoding"}
    for case in decided:
        body = DecideIn.model_validate(_decision(case))
        assert body.penalty_basis in ("none", "violation", "fraud")
        assert {p.prac_codg for p in body.points} <= registered
    CaseIn.model_validate({"findings": [{"finding_id": 1, "amount": "12.30"}], "summary": "演示: 疑点核查"})
    AppealIn.model_validate(APPEAL)
    AppealIn.model_validate(APPEAL_HIGH_SEVERITY)
    RefundIn.model_validate({"statement": "演示: 经自查确认违规，同意退回全部违规费用 (自查自纠)"})
    for outcome in ("upheld", "overturned"):
        AppealReviewIn.model_validate({"outcome": outcome, "note": "演示: 复核"})


def test_the_rule_params_fit_their_families(city: City) -> None:
    assert set(city.rule_params) <= INSTITUTION_FAMILIES
    for family, params in city.rule_params.items():
        RuleUpdate.model_validate({"params": params, "note": "演示"})
        values = validate_params(FAMILIES[family].params, params)
        assert all(values[name] == value for name, value in params.items())


def test_the_suspended_doctors_claim_is_sent_on_the_day_asked() -> None:
    city = generate_city(5, 200, days=2, start=START)
    suspended = city.suspended_claim
    assert suspended is not None and suspended.template_date == city.day_dates[-1]
    body = dated(suspended, date(2026, 4, 10))
    assert body["begntime"].startswith("2026-04-10T")
    assert all(line["fee_ocur_time"].startswith("2026-04-10T") for line in body["feedetail"])
    assert suspended.claim.body["begntime"].startswith(city.day_dates[-1].isoformat())  # the city unchanged
    parsed = OneCallSettlementIn.model_validate({**body, "psn_no": "P1"})
    assert {line.bilg_dr_codg for line in parsed.feedetail} == {suspended.prac_codg}


def test_cases_are_decided_the_day_after_the_last_appeal_deadline_still_open() -> None:
    supervision = Supervision()
    assert decide_on(supervision) is None

    def opened(case_id: int, deadline: date, status: str) -> OpenedCase:
        return OpenedCase("x", "bed_hold", "decide", case_id, "H1", [case_id], 100, deadline, status)

    supervision.opened = [
        opened(1, date(2026, 4, 8), "notified"),
        opened(2, date(2026, 4, 9), "notified"),
        opened(3, date(2026, 4, 20), "decided"),  # refunded: not waited for
    ]
    assert decide_on(supervision) == date(2026, 4, 10)


def test_the_report_prints_the_cases_and_the_practitioners() -> None:
    section = {
        "registered_practitioners": {"registered": 3, "doctor": 2, "pharmacist": 1},
        "decided_on": "2026-04-10",
        "cases": [
            {
                "case_id": 7,
                "planted": "bed_hold-1",
                "fixmedins_code": "H42010000006",
                "status": "decided",
                "outcome": "decided",
                "recovery_fen": 282466,
                "penalty_fen": 564932,
                "points": [{"prac_codg": "D420100000061", "points": 6, "reason": "挂床住院"}],
            },
        ],
        "cases_by_status": {"decided": 1},
        "cases_by_outcome": {"decided": 1},
        "recovery_fen": 282466,
        "penalty_fen": 564932,
        "practitioners": {
            "D420100000061": {
                "fixmedins_code": "H42010000006",
                "status": "terminated",
                "year_points": 12,
                "suspensions": [{"from": "2026-04-10", "until": "2027-04-09", "points": 12}],
            },
        },
        "suspended_practitioners": [],
        "terminated_practitioners": ["D420100000061"],
        "refused_after_suspension": {
            "sent": True,
            "prac_codg": "D420100000061",
            "medins_setl_id": "H1-1",
            "on": "2026-04-10",
            "status": 422,
            "code": "PRACTITIONER_SUSPENDED",
        },
        "missed": [],
    }
    printed = "\n".join(report_lines(section))
    assert "登记医保医师、药师 3 人（医师 2 人，药师 1 人）" in printed
    assert "bed_hold-1" in printed and "2,824.66" in printed and "5,649.32" in printed
    assert "D420100000061 +6 分" in printed
    assert "案件状态：已决定 1 件（处理决定 1 件）；追回合计 2,824.66 元，罚款合计 5,649.32 元" in printed
    assert "本年记分 12 分，终止（2026-04-10 至 2027-04-09）" in printed
    assert "暂停支付资格的医师：无；终止支付资格的：D420100000061" in printed
    assert "被拒付 422 PRACTITIONER_SUSPENDED" in printed
