"""The arithmetic of a month's reconciliation, without a database: months, totals, mismatches, staleness."""

from __future__ import annotations

from datetime import date, datetime

from settlement.domain.monthly import (
    SHANGHAI,
    InstitutionMonth,
    add_totals,
    differing_fields,
    month_bounds,
    month_of,
    next_day_start,
    open_dates,
    reconcile_days,
    stale_institution,
    zero_totals,
)

H1, H2 = "H42010200001", "H42010200002"
MARCH_2, MARCH_3 = date(2026, 3, 2), date(2026, 3, 3)


def totals(**values: int) -> dict[str, int]:
    return zero_totals() | values


def test_a_month_is_bounded_by_its_first_and_last_day_leap_february_included() -> None:
    assert month_bounds("2026-03") == (date(2026, 3, 1), date(2026, 3, 31))
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


def test_the_month_of_a_day_is_its_year_and_month_zero_padded() -> None:
    assert month_of(date(2026, 3, 31)) == "2026-03"
    assert month_of(date(987, 11, 1)) == "0987-11"


def test_a_business_date_ends_at_midnight_in_shanghai() -> None:
    assert next_day_start(date(2026, 3, 31)) == datetime(2026, 4, 1, tzinfo=SHANGHAI)


def test_every_day_after_the_latest_close_is_open() -> None:
    assert open_dates("2026-03", date(2026, 3, 29)) == [date(2026, 3, 30), date(2026, 3, 31)]


def test_a_month_closed_through_its_last_day_has_no_open_day() -> None:
    assert open_dates("2026-03", date(2026, 3, 31)) == []
    assert open_dates("2026-03", date(2026, 4, 2)) == []


def test_with_no_close_ever_or_one_before_the_month_every_day_of_it_is_open() -> None:
    assert len(open_dates("2026-02", None)) == 28
    assert open_dates("2026-02", date(2026, 1, 15))[0] == date(2026, 2, 1)


def test_totals_add_up_key_by_key_and_missing_keys_count_as_zero() -> None:
    into = totals(setl_cnt=2, medfee_fen=1000)
    add_totals(into, {"setl_cnt": 1, "medfee_fen": 250, "reversal_cnt": 1})
    assert into == totals(setl_cnt=3, reversal_cnt=1, medfee_fen=1250)


def test_differing_fields_are_named_as_on_the_wire() -> None:
    stated = totals(setl_cnt=2, medfee_fen=1000, fund_pay_fen=700)
    recomputed = totals(setl_cnt=2, medfee_fen=900, fund_pay_fen=600)
    assert differing_fields(stated, recomputed) == ["medfee_sumamt", "fund_pay_sumamt"]
    assert differing_fields(stated, dict(stated)) == []


def test_days_that_agree_sum_up_with_no_mismatch() -> None:
    day = totals(setl_cnt=1, medfee_fen=10000, fund_pay_fen=7000)
    months = reconcile_days(
        {(H1, MARCH_2): day, (H1, MARCH_3): day}, {(H1, MARCH_2): day, (H1, MARCH_3): day}
    )
    assert months[H1].statements == totals(setl_cnt=2, medfee_fen=20000, fund_pay_fen=14000)
    assert months[H1].settlements == months[H1].statements
    assert months[H1].mismatches == []


def test_a_day_whose_statement_differs_from_its_settlements_is_a_mismatch_with_both_sides() -> None:
    stated = totals(setl_cnt=1, medfee_fen=10000)
    months = reconcile_days({(H1, MARCH_2): stated}, {(H1, MARCH_2): totals(setl_cnt=1, medfee_fen=9000)})
    assert months[H1].mismatches == [
        {
            "business_date": "2026-03-02",
            "fields": ["medfee_sumamt"],
            "statements": stated,
            "settlements": totals(setl_cnt=1, medfee_fen=9000),
            "setl_ids": [],
            "setl_id_count": 0,
        }
    ]


def test_settlements_on_a_day_without_a_statement_are_a_mismatch_of_that_institution() -> None:
    months = reconcile_days({}, {(H2, MARCH_3): totals(setl_cnt=1, medfee_fen=500)})
    assert months[H2].statements == zero_totals()
    assert [m["fields"] for m in months[H2].mismatches] == [["setl_cnt", "medfee_sumamt"]]


def test_the_net_adjustment_takes_deductions_and_prepayments_off() -> None:
    month = InstitutionMonth(deductions_fen=1500, prepayments_fen=100000)
    assert month.net_adjustment_fen == -101500
    assert InstitutionMonth().net_adjustment_fen == 0


def test_a_case_penalty_is_taken_off_beside_the_recovery_and_shown_apart() -> None:
    month = InstitutionMonth(
        deductions_fen=13_333,
        penalties_fen=20_000,
        penalty_case_ids=["7"],
        prepayments_fen=100,
        quality_reserve_fen=1,
    )
    assert month.net_adjustment_fen == -(13_333 + 20_000 + 100 + 1)
    assert (month.deductions_fen, month.penalties_fen) == (13_333, 20_000)
    assert InstitutionMonth(penalties_fen=5).net_adjustment_fen == -5


def test_a_draft_that_still_adds_up_is_not_stale() -> None:
    day = totals(setl_cnt=1, medfee_fen=10000)
    now = reconcile_days({(H1, MARCH_2): day}, {(H1, MARCH_2): day})
    assert stale_institution({H1: (day, day)}, now) is None


def test_a_draft_is_stale_for_the_first_institution_whose_days_changed() -> None:
    day = totals(setl_cnt=1, medfee_fen=10000)
    later = totals(setl_cnt=2, medfee_fen=15000)
    now = reconcile_days(
        {(H1, MARCH_2): day, (H2, MARCH_2): later}, {(H1, MARCH_2): day, (H2, MARCH_2): later}
    )
    assert stale_institution({H1: (day, day), H2: (day, day)}, now) == H2


def test_an_institution_new_since_the_draft_makes_it_stale() -> None:
    day = totals(setl_cnt=1, medfee_fen=10000)
    now = reconcile_days({(H2, MARCH_3): day}, {(H2, MARCH_3): day})
    assert stale_institution({}, now) == H2


def test_an_institution_gone_since_the_draft_makes_it_stale() -> None:
    day = totals(setl_cnt=1, medfee_fen=10000)
    assert stale_institution({H1: (day, day)}, {}) == H1
