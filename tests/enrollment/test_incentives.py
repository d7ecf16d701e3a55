"""Continuous-enrollment and zero-claim incentives on the critical-illness cap."""

from enrollment.domain.waiting import ClaimYear, ResidentPolicy, incentive

POLICY = ResidentPolicy()
STEP = 300_000  # 3,000 yuan in fen


def test_four_continuous_years_earn_nothing_yet_the_fifth_earns_one_step() -> None:
    claims = [ClaimYear(y, 10_000) for y in range(2021, 2027)]  # every year had some reimbursement
    fourth = incentive(year=2024, covered_years=range(2021, 2025), claims=claims, policy=POLICY)
    assert (fourth.continuous_years, fourth.continuity_raise_fen) == (4, 0)
    fifth = incentive(year=2025, covered_years=range(2021, 2026), claims=claims, policy=POLICY)
    assert (fifth.continuous_years, fifth.continuity_raise_fen) == (5, STEP)
    sixth = incentive(year=2026, covered_years=range(2021, 2027), claims=claims, policy=POLICY)
    assert (sixth.continuous_years, sixth.continuity_raise_fen, sixth.total_fen) == (6, 2 * STEP, 2 * STEP)


def test_a_zero_claim_year_raises_the_next_years_cap() -> None:
    claims = [ClaimYear(2024, 0), ClaimYear(2025, 5_000)]
    this_year = incentive(year=2025, covered_years=(2024, 2025), claims=claims, policy=POLICY)
    assert this_year.zero_claim_raise_fen == STEP
    next_year = incentive(year=2026, covered_years=(2024, 2025, 2026), claims=claims, policy=POLICY)
    assert next_year.zero_claim_raise_fen == STEP  # 2025 had a claim: no more, but 2024's raise stays


def test_a_year_settlement_never_reported_counts_as_zero_claim() -> None:
    assert (
        incentive(year=2026, covered_years=(2025, 2026), claims=(), policy=POLICY).zero_claim_raise_fen
        == STEP
    )


def test_zero_claim_years_accumulate_until_the_raise_is_used() -> None:
    claims = [
        ClaimYear(2022, 0),
        ClaimYear(2023, 0),
        ClaimYear(2024, 9_000_000, zero_claim_raise_used=True),
        ClaimYear(2025, 0),
    ]
    covered = range(2022, 2027)
    assert (
        incentive(year=2024, covered_years=covered, claims=claims, policy=POLICY).zero_claim_raise_fen
        == 2 * STEP
    )
    # Used in 2024: reset; 2025 was a zero-claim year again.
    assert (
        incentive(year=2026, covered_years=covered, claims=claims, policy=POLICY).zero_claim_raise_fen == STEP
    )


def test_a_break_restarts_the_count_but_keeps_the_raise_earned() -> None:
    covered = [*range(2015, 2021), 2022, 2023]  # 6 continuous years, a break in 2021, then 2 more
    claims = [ClaimYear(y, 1) for y in range(2015, 2024)]
    result = incentive(year=2023, covered_years=covered, claims=claims, policy=POLICY)
    assert result.continuous_years == 2
    assert result.continuity_raise_fen == 2 * STEP  # earned in 2019 and 2020


def test_an_uncovered_year_earns_no_zero_claim_raise() -> None:
    result = incentive(year=2026, covered_years=(2024, 2026), claims=(), policy=POLICY)
    assert result.zero_claim_raise_fen == STEP  # 2024 only; 2025 was not covered
    assert result.continuous_years == 1


def test_the_total_raise_is_capped_at_80000_yuan() -> None:
    claims = [ClaimYear(y, 0) for y in range(1990, 2027)]
    result = incentive(year=2026, covered_years=range(1990, 2027), claims=claims, policy=POLICY)
    assert result.total_fen == 8_000_000
    assert result.continuity_raise_fen == 8_000_000  # 32 steps earned, capped first
    assert result.zero_claim_raise_fen == 0
