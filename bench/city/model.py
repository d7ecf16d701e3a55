"""What a synthetic city is made of: reference data, persons, the days' traffic and the planted cases."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# The kinds of planted case and the rule family (fraud) or check (pricing) each should trigger.
REPEATED_ADMISSIONS = "repeated_admissions"
SPLIT_ADMISSION = "split_admission"
COST_OUTLIER = "cost_outlier"
TRACE_CODE_REUSE = "trace_code_reuse"
AFTER_DEATH = "after_death"
OVERPRICED_PHARMACY = "overpriced_pharmacy"
TRACE_CODE_SOLD = "trace_code_sold"  # a code sold through a pharmacy's POS, then settled at a hospital
BED_HOLD = "bed_hold"
INDUCED_ADMISSION = "induced_admission"
INSTITUTION_OUTLIER = "institution_outlier"
UPCODING = "upcoding"
FAMILY_OF_KIND = {
    REPEATED_ADMISSIONS: "admission_frequency",
    SPLIT_ADMISSION: "split_admission",
    COST_OUTLIER: "cost_outlier",
    TRACE_CODE_REUSE: "trace_code_reuse",
    AFTER_DEATH: "after_death",
    OVERPRICED_PHARMACY: "price_index",
    TRACE_CODE_SOLD: "trace_code_reuse",
    BED_HOLD: "bed_hold",
    INDUCED_ADMISSION: "induced_admission",
    INSTITUTION_OUTLIER: "institution_outlier",
    UPCODING: "upcoding",
}
# Institution-level families: a finding names the institution and the month (setl_id and psn_no null).
INSTITUTION_FAMILIES = frozenset({"induced_admission", "institution_outlier", "upcoding"})
# How the supervision steps (bench.city.supervision) settle a planted case's finding (案件处理).
REFUND, DECIDE, APPEAL_UPHELD, APPEAL_OVERTURNED = "refund", "decide", "appeal_upheld", "appeal_overturned"


@dataclass(frozen=True, slots=True)
class PersonSpec:
    """One insured person: the enrollment payloads, keyed by a local id until enrollment gives a psn_no."""

    key: str
    kind: str  # employee | retiree | resident
    person: dict[str, Any]  # a row of POST /enrollment/persons:bulk
    coverage: dict[str, Any]  # body of POST /enrollment/persons/{psn_no}/coverages
    contributions: tuple[dict[str, Any], ...]  # bodies of POST /enrollment/persons/{psn_no}/contributions
    assistance: str | None
    waiting: bool  # enrolled outside the concentrated period: in the waiting period on every played day
    acct_fen: int  # what the contributions credit to the personal account


@dataclass(frozen=True, slots=True)
class FamilySpec:
    holder: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """A one-call settlement (POST /settlement/settlements); `body` lacks psn_no, filled in at play time.

    An inpatient claim usually carries its 医保结算清单: `settlement_list` is the body of PUT
    /settlement/settlements/{setl_id}/settlement-list, which the hospital uploads with its own key right after
    the settlement, by REST (`list_via` "rest") or as the national 4101A message ("4101A").
    """

    person: str
    fixmedins_code: str
    body: dict[str, Any]
    settlement_list: dict[str, Any] | None = None
    list_via: str | None = None  # rest | 4101A

    @property
    def medins_setl_id(self) -> str:
        return str(self.body["medins_setl_id"])


@dataclass(frozen=True, slots=True)
class SaleBatch:
    """A POS sales upload (POST /pricing/sales)."""

    fixmedins_code: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeathSpec:
    person: str
    death_date: date


@dataclass(frozen=True, slots=True)
class Phase:
    """What is sent together; the next phase waits until fraud and pricing have seen this one."""

    name: str
    claims: tuple[ClaimSpec, ...] = ()
    sales: tuple[SaleBatch, ...] = ()
    deaths: tuple[DeathSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class DayPlan:
    business_date: date
    phases: tuple[Phase, ...]

    @property
    def claims(self) -> list[ClaimSpec]:
        return [claim for phase in self.phases for claim in phase.claims]


@dataclass(frozen=True, slots=True)
class PlantedCase:
    """A fraud pattern or an overpriced pharmacy put into the city on purpose.

    `expect`: how it should show — `finding` (a post rule raises a finding on the trigger settlement or the
    person), `blocked` (the real-time review refuses the trigger claim), `listed` (red alerts and a price index
    above the warning line).
    """

    case_id: str
    kind: str
    family: str
    expect: str
    persons: tuple[str, ...] = ()
    medins_setl_ids: tuple[str, ...] = ()  # every claim of the pattern, in the order played
    trigger: str | None = None  # the claim that completes the pattern
    fixmedins_code: str | None = None
    note: str = ""
    # The case over its finding(s): how it ends (refund 自查自纠 | decide 处理决定 | appeal_upheld 申诉被驳回,
    # then decided | appeal_overturned 申诉成立) and, when decided, the penalty and the points (记分) against
    # the practitioner who ordered its claims. None: nothing to open a case on (blocked, listed).
    resolution: str | None = None
    penalty_basis: str | None = None  # none | violation | fraud
    penalty_multiple: str | None = None
    practitioner: str | None = None  # prac_codg of the doctor who ordered the pattern's claims
    points: int = 0
    points_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A row of POST /fraud/practitioners: a doctor or pharmacist registered with their institution."""

    prac_codg: str
    prac_type: str  # doctor | pharmacist
    fixmedins_code: str

    def body(self) -> dict[str, str]:
        return {
            "prac_codg": self.prac_codg,
            "prac_type": self.prac_type,
            "fixmedins_code": self.fixmedins_code,
        }


@dataclass(frozen=True, slots=True)
class SuspendedClaim:
    """An outpatient claim the suspended doctor orders after the suspension: settlement must refuse it
    (422 PRACTITIONER_SUSPENDED). `body` is dated on `template_date`; the supervision step moves its times
    to the day it is sent (see bench.city.supervision.dated)."""

    claim: ClaimSpec
    prac_codg: str
    template_date: date


@dataclass(frozen=True, slots=True)
class PointsReference:
    """Payment by points (DRG/DIP) for the year the city plays in: what ops load before any claim.

    Each tuple holds the rows of the bulk endpoint named (through the gateway, under /settlement):
    `payment_years` POST /payment-years/bulk, `groups` POST /points/{year}/groups/bulk, `dip_rows`
    POST /points/{year}/dip-rows/bulk, `adrgs` POST /points/{year}/drg-adrgs/bulk, `complications`
    POST /points/{year}/drg-complications/bulk, `quality_scores` POST /quality-scores/bulk.
    `estimated_hifp_fen`: per pool, the basic pool's pay the generator expects for the played inpatient cases
    at points-paid hospitals (what each budget was sized from); `budget_share`: budget ÷ that estimate.
    """

    year: int
    payment_years: tuple[dict[str, Any], ...]
    groups: tuple[dict[str, Any], ...]
    dip_rows: tuple[dict[str, Any], ...]
    adrgs: tuple[dict[str, Any], ...]
    complications: tuple[dict[str, Any], ...]
    quality_scores: tuple[dict[str, Any], ...]
    estimated_hifp_fen: dict[str, int]
    budget_share: str


@dataclass(frozen=True, slots=True)
class City:
    seed: int
    start: date
    day_dates: tuple[date, ...]
    admdvs: str
    institutions: tuple[dict[str, Any], ...]
    catalog: tuple[dict[str, Any], ...]
    drugs: tuple[dict[str, Any], ...]
    persons: tuple[PersonSpec, ...]
    families: tuple[FamilySpec, ...]
    days: tuple[DayPlan, ...]
    cases: tuple[PlantedCase, ...]
    hospitals: tuple[str, ...]
    pharmacies: tuple[str, ...]
    overpriced: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    points: PointsReference | None = None  # payment by points of the played year (None: not paid by points)
    practitioners: tuple[Practitioner, ...] = ()  # doctors of the hospitals, pharmacists of the pharmacies
    suspended_claim: SuspendedClaim | None = None
    # Parameters the bureau sets on institution-level rules for a city this size (PUT /fraud/rules/{id}):
    # {family: {param: value}}; the families not named keep their defaults.
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The whole city, canonical: the same seed and arguments give the same bytes."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=_encode).encode()

    def claims(self) -> list[ClaimSpec]:
        return [claim for day in self.days for claim in day.claims]

    def ground_truth(self, psn_no: dict[str, str] | None = None) -> dict[str, Any]:
        """The planted cases as a JSON-able document (psn_no filled in when the city is loaded)."""
        cases = []
        for case in self.cases:
            entry: dict[str, Any] = {
                "case_id": case.case_id,
                "kind": case.kind,
                "family": case.family,
                "expect": case.expect,
                "persons": list(case.persons),
                "medins_setl_ids": list(case.medins_setl_ids),
                "trigger": case.trigger,
                "fixmedins_code": case.fixmedins_code,
                "note": case.note,
                "level": "institution" if case.family in INSTITUTION_FAMILIES else "claim",
                "resolution": case.resolution,
                "penalty_basis": case.penalty_basis,
                "penalty_multiple": case.penalty_multiple,
                "practitioner": case.practitioner,
                "points": case.points,
            }
            if psn_no is not None:
                entry["psn_nos"] = [psn_no[key] for key in case.persons]
            cases.append(entry)
        return {
            "seed": self.seed,
            "days": [day.isoformat() for day in self.day_dates],
            "params": self.params,
            "overpriced_pharmacies": list(self.overpriced),
            "cases": cases,
            "rule_params": self.rule_params,
            "practitioners": {
                "registered": len(self.practitioners),
                "points": self.practitioner_points(),
                "suspended": self.expected_suspended(),
            },
        }

    def practitioner_points(self) -> dict[str, int]:
        """The points each practitioner gets from the planted cases' decisions (their calendar year)."""
        points: dict[str, int] = {}
        for case in self.cases:
            if case.practitioner and case.points:
                points[case.practitioner] = points.get(case.practitioner, 0) + case.points
        return dict(sorted(points.items()))

    def expected_suspended(self, suspend_at: int = 9) -> list[str]:
        """The practitioners the decisions take to a suspension: 9 points in a year suspend (暂停), 12 end
        the qualification (终止) — fraud's default scale; either way settlement refuses their lines."""
        return [code for code, points in self.practitioner_points().items() if points >= suspend_at]


def _encode(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
