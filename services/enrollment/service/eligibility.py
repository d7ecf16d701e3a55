"""The eligibility look-up (待遇资格, 1101-style): may the fund pay for care begun on a date, and if not why not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from common.errors import NotFound
from enrollment.domain.coverages import BASIC_OF
from enrollment.domain.waiting import ResidentPolicy
from enrollment.schemas.base import Insutype, LookupInsutype
from enrollment.service.coverages import incentive_of
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    psn_no: str
    on: date
    insutype: str | None
    coverage_id: int | None = None
    psn_type: str | None = None
    assistance: str | None = None
    benefit_start_date: date | None = None
    waiting_days: int = 0
    incentive_raise_fen: int | None = None
    reason: str | None = None


async def eligibility(
    *,
    uow: EnrollmentUnitOfWork,
    psn_no: str | None,
    certno: str | None,
    insutype: LookupInsutype | None,
    on: date,
    policy: ResidentPolicy,
) -> Eligibility:
    """Whether the fund pays for care begun on `on`, and if not why not (one query in the usual case)."""
    asked = insutype.value if insutype else None
    facts = await uow.coverages.eligibility_facts(
        psn_no=psn_no,
        certno=(certno or "").strip().upper() or None,
        on=on,
        insutype=BASIC_OF[asked] if asked else None,
    )
    if facts is None:
        raise NotFound("No such person.", code="PERSON_NOT_FOUND")
    found_psn_no, coverage = facts.psn_no, facts.coverage
    if facts.death_date is not None and on > facts.death_date:
        return Eligibility(False, found_psn_no, on, asked, reason="DECEASED")
    if coverage is None:
        return Eligibility(False, found_psn_no, on, asked, reason="NO_COVERAGE")

    def answer(
        eligible: bool, *, reason: str | None = None, waiting_days: int = 0, raise_fen: int | None = None
    ) -> Eligibility:
        return Eligibility(
            eligible,
            found_psn_no,
            on,
            asked or coverage.insutype,
            coverage.coverage_id,
            coverage.psn_type,
            coverage.assistance,
            coverage.benefit_start_date,
            waiting_days,
            raise_fen,
            reason,
        )

    if facts.suspended:
        return answer(False, reason="SUSPENDED")
    if on < coverage.benefit_start_date:
        return answer(False, reason="WAITING_PERIOD", waiting_days=(coverage.benefit_start_date - on).days)
    if coverage.insutype != Insutype.RESIDENT:
        return answer(True)
    if coverage.incentive_year == on.year:
        return answer(True, raise_fen=coverage.incentive_raise_fen)
    reward = await incentive_of(uow, coverage, year=on.year, today=on, policy=policy)
    return answer(True, raise_fen=reward.total_fen)
