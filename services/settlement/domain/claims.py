"""The pure rules of a claim: who and what it is about, and every refusal decided without the database.

Each check answers a `Refusal` (or the value asked for) instead of raising: the use case turns a refusal into
the API's problem answer, so these stay stdlib + Decimal and are tested with literals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from common.clock import SHANGHAI, business_date
from common.money import fen_to_yuan, yuan_to_fen
from common.national import DEFAULT_BENEFIT, MED_TYPE, Benefit, described
from settlement.domain.coverage import CoverageFacts, coverage_on
from settlement.domain.policy import MedTypeNotCovered, PolicyVersion
from settlement.domain.split import yuan_times

# A visit's life: open → settled (→ open again on reversal) or cancelled; its lines active or withdrawn.
OPEN, SETTLED, CANCELLED = "open", "settled", "cancelled"
ACTIVE, WITHDRAWN = "active", "withdrawn"
REVERSED = "reversed"  # a settlement taken back (冲正)

# A care time this far ahead of our clock is a typo or a wrong clock at the institution.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a claim cannot go on: a stable code, the answer's kind, and the fields that point at the cause."""

    detail: str
    code: str
    kind: Literal["not_found", "forbidden", "conflict", "unprocessable"] = "unprocessable"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaimHeader:
    """What a settlement is about: who, where, which kind of care, when."""

    fixmedins_code: str
    psn_no: str
    insutype: str
    med_type: str
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """The insured person as the split sees them: every coverage, and the family holder if bound."""

    psn_no: str
    gend: str
    brdy: date
    admdvs: str
    death_date: date | None
    coverages: tuple[CoverageFacts, ...]
    family_holder: str | None


@dataclass(frozen=True, slots=True)
class Covered:
    """The coverage that pays for the care, and whether the care began in its waiting period."""

    coverage: CoverageFacts
    in_waiting_period: bool


class InstitutionFacts(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def fixmedins_type(self) -> str: ...


class TimedLine(Protocol):
    """A fee line as sent: its number, quantity, price, amount and time."""

    @property
    def feedetl_sn(self) -> str: ...
    @property
    def cnt(self) -> Decimal: ...
    @property
    def pric(self) -> Decimal: ...
    @property
    def det_item_fee_sumamt(self) -> Decimal: ...
    @property
    def fee_ocur_time(self) -> datetime: ...


def unknown_med_type(med_type: str) -> Refusal | None:
    """MED_TYPE_UNKNOWN for a code not in the national dictionary, naming the known ones."""
    if med_type in MED_TYPE:
        return None
    return Refusal(
        f"med_type {med_type} is not a national 医疗类别 code; known: {described(MED_TYPE)}.",
        code="MED_TYPE_UNKNOWN",
        extra={"field": "med_type"},
    )


def benefit_of(policy: PolicyVersion, med_type: str) -> Benefit | Refusal:
    """How the policy pays a med_type, or MED_TYPE_UNKNOWN / MED_TYPE_NOT_COVERED when it cannot."""
    unknown = unknown_med_type(med_type)
    if unknown is not None:
        return unknown
    try:
        return policy.policy.benefit_of(med_type)
    except MedTypeNotCovered:
        return Refusal(
            f"med_type {med_type} ({MED_TYPE[med_type]}) is not covered by the policy in force "
            f"(version {policy.version}).",
            code="MED_TYPE_NOT_COVERED",
            extra={"field": "med_type"},
        )


def institution_refusal(
    institution: InstitutionFacts | None, *, fixmedins_code: str, med_type: str, benefit: Benefit
) -> Refusal | None:
    """Unless the institution exists, is active and gives this kind of care (a pharmacy only pharmacy care)."""
    if institution is None:
        return Refusal(
            f"No designated institution {fixmedins_code}.", code="INSTITUTION_NOT_FOUND", kind="not_found"
        )
    if institution.status != "active":
        return Refusal(
            f"Institution {fixmedins_code} is suspended and may not settle.",
            code="INSTITUTION_SUSPENDED",
            kind="forbidden",
        )
    is_pharmacy = institution.fixmedins_type == "pharmacy"
    if is_pharmacy != (benefit is Benefit.PHARMACY):
        allowed = "pharmacy purchases" if is_pharmacy else "outpatient and inpatient care"
        return Refusal(
            f"A {institution.fixmedins_type} settles {allowed}, not med_type {med_type} "
            f"({MED_TYPE[med_type]}, paid as {benefit.value}).",
            code="MED_TYPE_NOT_ALLOWED",
        )
    return None


def covered(person: PersonFacts, *, insutype: str, begntime: datetime) -> Covered | Refusal:
    """The coverage of `insutype` that pays for care begun at `begntime`, or why none does."""
    on = business_date(begntime)
    decision = coverage_on(person.coverages, insutype=insutype, on=on, death_date=person.death_date)
    if decision.refusal == "PERSON_DECEASED":
        return Refusal(
            f"The person died on {person.death_date}; care begun after death is not settled.",
            code="PERSON_DECEASED",
        )
    if decision.refusal == "NO_COVERAGE" or decision.coverage is None:
        return Refusal(f"The person has no {insutype} coverage in force on {on}.", code="NO_COVERAGE")
    if decision.refusal == "COVERAGE_SUSPENDED":
        return Refusal("The person's coverage is suspended (暂停) on that date.", code="COVERAGE_SUSPENDED")
    return Covered(decision.coverage, decision.in_waiting_period)


def time_refusal(*, begntime: datetime, endtime: datetime | None, now: datetime) -> Refusal | None:
    """FUTURE_TIME for care begun ahead of the clock, DATES_OUT_OF_ORDER for an end before the beginning."""
    if begntime > now + CLOCK_SKEW:
        return Refusal("begntime is in the future.", code="FUTURE_TIME", extra={"field": "begntime"})
    if endtime is not None and endtime < begntime:
        return Refusal("endtime is before begntime.", code="DATES_OUT_OF_ORDER", extra={"field": "endtime"})
    return None


def line_refusal(lines: Sequence[TimedLine], *, begntime: datetime, now: datetime) -> Refusal | None:
    """Amounts that add up, line numbers unique, times within the visit; the first line that fails otherwise."""
    seen: set[str] = set()
    first_day = begntime.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    for line in lines:
        sn = {"feedetl_sn": line.feedetl_sn}
        if line.feedetl_sn in seen:
            return Refusal(
                f"feedetl_sn {line.feedetl_sn} appears twice.", code="DUPLICATE_FEEDETL_SN", extra=sn
            )
        seen.add(line.feedetl_sn)
        expected = yuan_times(line.cnt, line.pric)
        if abs(expected - yuan_to_fen(line.det_item_fee_sumamt)) > 1:
            return Refusal(
                f"Line {line.feedetl_sn}: det_item_fee_sumamt {line.det_item_fee_sumamt} is not cnt × pric "
                f"({fen_to_yuan(expected)}).",
                code="AMOUNT_MISMATCH",
                extra=sn,
            )
        if line.fee_ocur_time < first_day:
            return Refusal(
                f"Line {line.feedetl_sn}: fee_ocur_time is before the visit began.",
                code="DATES_OUT_OF_ORDER",
                extra=sn,
            )
        if line.fee_ocur_time > now + CLOCK_SKEW:
            return Refusal(
                f"Line {line.feedetl_sn}: fee_ocur_time is in the future.", code="FUTURE_TIME", extra=sn
            )
    return None


def discharge_refusal(
    *, mdtrt_id: str, med_type: str, benefit: Benefit, begntime: datetime, endtime: datetime, now: datetime
) -> Refusal | None:
    """Only a stay is discharged, and not before its admission nor ahead of the clock."""
    if benefit is not Benefit.INPATIENT:
        return Refusal(
            f"Visit {mdtrt_id} is med_type {med_type} ({MED_TYPE[med_type]}), paid as "
            f"{benefit.value} care: only a stay is discharged.",
            code="VISIT_NOT_INPATIENT",
        )
    if endtime < begntime:
        return Refusal(
            f"endtime {endtime.isoformat()} is before the admission ({begntime.isoformat()}).",
            code="ENDTIME_BEFORE_BEGNTIME",
            extra={"field": "endtime"},
        )
    if endtime > now + CLOCK_SKEW:
        return Refusal("endtime is in the future.", code="FUTURE_TIME", extra={"field": "endtime"})
    return None


def med_type_change_refusal(
    policy: PolicyVersion, *, mdtrt_id: str, current: str, wanted: str, benefit: Benefit
) -> Refusal | None:
    """MED_TYPE_CHANGE_REFUSED when the new med_type would move the visit into or out of a stay."""
    paid_now = policy.policy.benefits.get(current) or DEFAULT_BENEFIT.get(current)
    if (benefit is Benefit.INPATIENT) == (paid_now is Benefit.INPATIENT):
        return None
    return Refusal(
        f"med_type {wanted} ({MED_TYPE[wanted]}) is paid as {benefit.value} care and "
        f"visit {mdtrt_id} as {paid_now.value if paid_now else 'nothing'}: a visit never moves into or "
        "out of a stay; cancel it and register anew.",
        code="MED_TYPE_CHANGE_REFUSED",
        extra={"field": "med_type"},
    )


def stay_end(
    *, mdtrt_id: str, endtime: datetime | None, discharged: datetime | None, mid_setl_flag: int
) -> datetime | Refusal | None:
    """Where a stay's settlement ends: the endtime sent, else the discharge; neither only mid-stay (中途结算)."""
    if endtime is not None:
        return endtime
    if discharged is None and mid_setl_flag == 0:
        return Refusal(
            f"Visit {mdtrt_id} is a stay with no end: discharge the patient (2402) or send endtime, "
            "or mid_setl_flag 1.",
            code="NOT_DISCHARGED",
        )
    return discharged
