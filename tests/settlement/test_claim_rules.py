"""The pure claim rules (domain/claims.py) and the ledger check's arithmetic, with literals: no app, no database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from common.national import Benefit
from settlement.domain.claims import (
    Covered,
    PersonFacts,
    Refusal,
    benefit_of,
    covered,
    discharge_refusal,
    institution_refusal,
    line_refusal,
    med_type_change_refusal,
    stay_end,
    time_refusal,
    unknown_med_type,
)
from settlement.domain.coverage import CoverageFacts
from settlement.domain.ledger_check import account_differences, accumulator_differences, totals
from settlement.domain.policy import DEFAULT_POLICY, PolicyVersion

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POLICY = PolicyVersion(0, date(2000, 1, 1), DEFAULT_POLICY)


@dataclass(frozen=True)
class Institution:
    status: str
    fixmedins_type: str


@dataclass(frozen=True)
class Line:
    feedetl_sn: str
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Decimal
    fee_ocur_time: datetime


def _line(sn: str = "1", *, amount: str = "20.00", at: datetime = NOW) -> Line:
    return Line(sn, Decimal("2"), Decimal("10.00"), Decimal(amount), at)


def _coverage(**changes: object) -> CoverageFacts:
    base = CoverageFacts(
        coverage_id=1,
        insutype="310",
        attached_insutypes=(),
        status="active",
        begndate=date(2026, 1, 1),
        enddate=None,
        psn_type=None,
        assistance=None,
        benefit_start_date=date(2026, 1, 1),
        incentive_raise_fen=0,
        suspensions=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _person(*coverages: CoverageFacts, death_date: date | None = None) -> PersonFacts:
    return PersonFacts("P1", "1", date(1980, 5, 1), "420100", death_date, coverages, None)


def test_a_med_type_outside_the_national_dictionary_is_unknown() -> None:
    refusal = unknown_med_type("99")
    assert (
        refusal is not None and refusal.code == "MED_TYPE_UNKNOWN" and refusal.extra == {"field": "med_type"}
    )
    assert unknown_med_type("21") is None


def test_the_default_policy_pays_an_admission_as_inpatient_care() -> None:
    assert benefit_of(POLICY, "21") is Benefit.INPATIENT
    assert benefit_of(POLICY, "41") is Benefit.PHARMACY


def test_a_med_type_the_policy_does_not_map_is_not_covered() -> None:
    narrow = PolicyVersion(3, date(2026, 1, 1), replace(DEFAULT_POLICY, benefits={"11": Benefit.OUTPATIENT}))
    refusal = benefit_of(narrow, "21")
    assert isinstance(refusal, Refusal)
    assert refusal.code == "MED_TYPE_NOT_COVERED"
    assert "(version 3)" in refusal.detail


def test_an_unknown_institution_is_not_found_and_a_suspended_one_forbidden() -> None:
    missing = institution_refusal(None, fixmedins_code="H1", med_type="11", benefit=Benefit.OUTPATIENT)
    assert missing == Refusal("No designated institution H1.", code="INSTITUTION_NOT_FOUND", kind="not_found")
    suspended = institution_refusal(
        Institution("suspended", "hospital"), fixmedins_code="H1", med_type="11", benefit=Benefit.OUTPATIENT
    )
    assert suspended is not None and (suspended.code, suspended.kind) == (
        "INSTITUTION_SUSPENDED",
        "forbidden",
    )


def test_a_pharmacy_settles_only_pharmacy_purchases_and_a_hospital_none() -> None:
    pharmacy, hospital = Institution("active", "pharmacy"), Institution("active", "hospital")
    kwargs = {"fixmedins_code": "X1", "med_type": "41"}
    assert institution_refusal(pharmacy, benefit=Benefit.PHARMACY, **kwargs) is None
    refused = institution_refusal(hospital, benefit=Benefit.PHARMACY, **kwargs)
    assert refused is not None and refused.code == "MED_TYPE_NOT_ALLOWED"


def test_care_begun_in_the_waiting_period_is_covered_but_marked() -> None:
    person = _person(_coverage(benefit_start_date=date(2026, 4, 1)))
    assert covered(person, insutype="310", begntime=NOW) == Covered(
        person.coverages[0], in_waiting_period=True
    )


def test_care_begun_after_death_without_coverage_or_while_suspended_is_refused() -> None:
    dead = _person(_coverage(), death_date=date(2026, 3, 1))
    assert _code(covered(dead, insutype="310", begntime=NOW)) == "PERSON_DECEASED"
    assert _code(covered(_person(_coverage()), insutype="390", begntime=NOW)) == "NO_COVERAGE"
    suspended = _person(_coverage(suspensions=((date(2026, 3, 1), None),)))
    assert _code(covered(suspended, insutype="310", begntime=NOW)) == "COVERAGE_SUSPENDED"


def test_care_begun_beyond_the_clock_skew_is_in_the_future() -> None:
    assert time_refusal(begntime=NOW + timedelta(minutes=9), endtime=None, now=NOW) is None
    assert _code(time_refusal(begntime=NOW + timedelta(minutes=11), endtime=None, now=NOW)) == "FUTURE_TIME"
    assert (
        _code(time_refusal(begntime=NOW, endtime=NOW - timedelta(hours=1), now=NOW)) == "DATES_OUT_OF_ORDER"
    )


def test_a_line_must_add_up_within_a_fen() -> None:
    assert line_refusal([_line(amount="20.01")], begntime=NOW, now=NOW) is None
    refusal = line_refusal([_line(amount="20.02")], begntime=NOW, now=NOW)
    assert refusal is not None and refusal.code == "AMOUNT_MISMATCH" and refusal.extra == {"feedetl_sn": "1"}


def test_a_line_number_sent_twice_is_refused() -> None:
    assert _code(line_refusal([_line("7"), _line("7")], begntime=NOW, now=NOW)) == "DUPLICATE_FEEDETL_SN"


def test_a_line_may_fall_earlier_on_the_visits_first_day_but_not_the_day_before() -> None:
    begun = NOW  # 10:00 in Shanghai; midnight there is 16:00 UTC the day before
    early = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert line_refusal([_line(at=early)], begntime=begun, now=NOW) is None
    refusal = line_refusal([_line(at=early - timedelta(seconds=1))], begntime=begun, now=NOW)
    assert _code(refusal) == "DATES_OUT_OF_ORDER"


def test_only_a_stay_is_discharged_and_not_before_its_admission() -> None:
    def discharge(med_type: str, benefit: Benefit, endtime: datetime) -> Refusal | None:
        return discharge_refusal(
            mdtrt_id="M1", med_type=med_type, benefit=benefit, begntime=NOW, endtime=endtime, now=NOW
        )

    assert _code(discharge("11", Benefit.OUTPATIENT, NOW)) == "VISIT_NOT_INPATIENT"
    assert _code(discharge("21", Benefit.INPATIENT, NOW - timedelta(1))) == "ENDTIME_BEFORE_BEGNTIME"
    assert _code(discharge("21", Benefit.INPATIENT, NOW + timedelta(minutes=11))) == "FUTURE_TIME"
    assert discharge("21", Benefit.INPATIENT, NOW) is None


def test_a_visit_never_moves_into_or_out_of_a_stay() -> None:
    into_stay = med_type_change_refusal(
        POLICY, mdtrt_id="M1", current="11", wanted="21", benefit=Benefit.INPATIENT
    )
    assert _code(into_stay) == "MED_TYPE_CHANGE_REFUSED"
    assert (
        med_type_change_refusal(POLICY, mdtrt_id="M1", current="21", wanted="52", benefit=Benefit.INPATIENT)
        is None
    )


def test_a_stay_ends_at_the_endtime_sent_else_at_discharge_else_only_mid_stay() -> None:
    discharged = NOW - timedelta(hours=2)
    assert stay_end(mdtrt_id="M1", endtime=NOW, discharged=discharged, mid_setl_flag=0) == NOW
    assert stay_end(mdtrt_id="M1", endtime=None, discharged=discharged, mid_setl_flag=0) == discharged
    assert stay_end(mdtrt_id="M1", endtime=None, discharged=None, mid_setl_flag=1) is None
    assert _code(stay_end(mdtrt_id="M1", endtime=None, discharged=None, mid_setl_flag=0)) == "NOT_DISCHARGED"


def test_a_personal_account_is_minus_its_ledger_balance() -> None:
    by_account = {"psn_acct:P1": -5000, "psn_acct:P2": -100, "fund:310100": 300}
    differences = account_differences({"P1": 5000, "P2": 200}, by_account, limit=10)
    assert differences == [{"psn_no": "P2", "stored": "2.00", "journal": "1.00"}]


def test_yearly_totals_that_differ_from_the_settlements_are_reported_up_to_the_limit() -> None:
    fields = ("pool_fen", "settlement_count")
    kept = {("P1", "310", 2026): (100, 1), ("P2", "310", 2026): (0, 0)}
    recomputed = {("P1", "310", 2026): (100, 1), ("P3", "390", 2026): (50, 1)}
    assert accumulator_differences(kept, recomputed, fields=fields, limit=10) == [
        {
            "psn_no": "P3",
            "insutype": "390",
            "year": 2026,
            "stored": {"pool_fen": 0, "settlement_count": 0},
            "from_settlements": {"pool_fen": 50, "settlement_count": 1},
        }
    ]


def test_ledger_totals_report_funds_each_and_other_accounts_by_kind() -> None:
    by_account = {"fund:310100": 300, "psn_acct:P1": -100, "psn_acct:P2": -50, "bank:fund": -150}
    assert totals(by_account) == {"bank:fund": -150, "fund:310100": 300, "psn_acct": -150}


def _code(decision: object) -> str | None:
    return decision.code if isinstance(decision, Refusal) else None
