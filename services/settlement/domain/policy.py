"""The reimbursement policy: parameters by basic insutype, the default table of DESIGN.md §6.2, versions."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from common.national import DEFAULT_BENEFIT, EMPLOYEE, MED_TYPE, RESIDENT, Benefit

BASIC_INSUTYPES = (EMPLOYEE, RESIDENT)
ASSISTANCE_CATEGORIES = ("extreme_poverty", "minimum_living", "monitored")
HOSP_LEVELS = (1, 2, 3)
# The day before any real policy: the default table is in force from here until ops add a version.
DEFAULT_EFFECTIVE_FROM = date(2000, 1, 1)
MAX_AMOUNT = Decimal("9999999999.99")


class PolicyError(ValueError):
    """Parameters that cannot make a policy (a missing level, a ratio above 1, ...)."""


class MedTypeNotCovered(LookupError):
    """A med_type the policy does not pay as any benefit (the caller refuses the claim before the split)."""


@dataclass(frozen=True, slots=True)
class SchemePolicy:
    """The parameters of one basic insurance scheme (310 employee or 390 resident), amounts in fen."""

    inpatient_deductible_fen: Mapping[int, int]  # per admission, by hosp_lv
    inpatient_ratio: Mapping[int, Decimal]
    outpatient_deductible_fen: int  # per year (med_type 11 and 14)
    outpatient_ratio: Mapping[int, Decimal]
    outpatient_pool_cap_fen: int  # per year
    retiree_bonus: Decimal
    max_ratio: Decimal
    pool_ceiling_fen: int  # per year, inpatient and outpatient together
    supplementary_threshold_fen: int
    supplementary_ratio: Decimal
    supplementary_cap_fen: int
    assistance_ratio: Mapping[str, Decimal]
    assistance_cap_fen: int  # per year


@dataclass(frozen=True, slots=True)
class Policy:
    schemes: Mapping[str, SchemePolicy]
    class_b_selfpay_prop: Decimal  # 乙类 share paid first by the person when the catalogue gives none
    # How each med_type is paid; a med_type missing here is not covered by this policy.
    benefits: Mapping[str, Benefit] = field(default_factory=lambda: dict(DEFAULT_BENEFIT))

    def scheme(self, insutype: str) -> SchemePolicy:
        return self.schemes[insutype]

    def benefit_of(self, med_type: str) -> Benefit:
        """The benefit a med_type is paid as; MedTypeNotCovered when this policy does not map it."""
        try:
            return self.benefits[med_type]
        except KeyError:
            raise MedTypeNotCovered(med_type) from None


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int  # 0 is the default table shipped with the service
    effective_from: date
    policy: Policy


def _fen(value: Any, where: str) -> int:
    amount = _decimal(value, where)
    if amount != amount.quantize(Decimal("0.01")):
        raise PolicyError(f"{where}: at most 2 decimal places")
    return int(amount * 100)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise PolicyError(f"{where}: expected a decimal number as a string")
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise PolicyError(f"{where}: not a number") from exc
    if not number.is_finite() or number < 0:
        raise PolicyError(f"{where}: must be a non-negative number")
    if number > MAX_AMOUNT:
        raise PolicyError(f"{where}: out of range (at most {MAX_AMOUNT})")
    return number


def _ratio(value: Any, where: str) -> Decimal:
    ratio = _decimal(value, where)
    if ratio > 1:
        raise PolicyError(f"{where}: a ratio is at most 1")
    if ratio != ratio.quantize(Decimal("0.0001")):
        raise PolicyError(f"{where}: at most 4 decimal places")
    return ratio


def _section(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}.{key}: missing or not an object")
    return value


def _by_level(data: Mapping[str, Any], key: str, where: str, parse: Any) -> dict[int, Any]:
    section = _section(data, key, where)
    levels = {}
    for level in HOSP_LEVELS:
        if str(level) not in section:
            raise PolicyError(f"{where}.{key}: level {level} missing")
        levels[level] = parse(section[str(level)], f"{where}.{key}.{level}")
    extra = set(section) - {str(level) for level in HOSP_LEVELS}
    if extra:
        raise PolicyError(f"{where}.{key}: unknown levels {sorted(extra)}")
    return levels


def _scheme(data: Mapping[str, Any], where: str) -> SchemePolicy:
    inpatient = _section(data, "inpatient", where)
    outpatient = _section(data, "outpatient", where)
    supplementary = _section(data, "supplementary", where)
    assistance = _section(data, "assistance", where)
    ratios = _section(assistance, "ratio", f"{where}.assistance")
    missing = [c for c in ASSISTANCE_CATEGORIES if c not in ratios]
    if missing:
        raise PolicyError(f"{where}.assistance.ratio: missing {missing}")
    scheme = SchemePolicy(
        inpatient_deductible_fen=_by_level(inpatient, "deductible", f"{where}.inpatient", _fen),
        inpatient_ratio=_by_level(inpatient, "ratio", f"{where}.inpatient", _ratio),
        outpatient_deductible_fen=_fen(outpatient.get("deductible_per_year"), f"{where}.outpatient"),
        outpatient_ratio=_by_level(outpatient, "ratio", f"{where}.outpatient", _ratio),
        outpatient_pool_cap_fen=_fen(outpatient.get("pool_cap_per_year"), f"{where}.outpatient"),
        retiree_bonus=_ratio(data.get("retiree_bonus", "0"), f"{where}.retiree_bonus"),
        max_ratio=_ratio(data.get("max_ratio", "0.95"), f"{where}.max_ratio"),
        pool_ceiling_fen=_fen(data.get("pool_ceiling_per_year"), f"{where}.pool_ceiling_per_year"),
        supplementary_threshold_fen=_fen(supplementary.get("threshold"), f"{where}.supplementary.threshold"),
        supplementary_ratio=_ratio(supplementary.get("ratio"), f"{where}.supplementary.ratio"),
        supplementary_cap_fen=_fen(supplementary.get("cap"), f"{where}.supplementary.cap"),
        assistance_ratio={
            c: _ratio(ratios[c], f"{where}.assistance.ratio.{c}") for c in ASSISTANCE_CATEGORIES
        },
        assistance_cap_fen=_fen(assistance.get("cap_per_year"), f"{where}.assistance.cap_per_year"),
    )
    return scheme


def _benefits(value: Any) -> dict[str, Benefit]:
    """benefits {med_type: outpatient | inpatient | pharmacy}; absent (a version stored before it existed):
    the default table."""
    if value is None:
        return dict(DEFAULT_BENEFIT)
    if not isinstance(value, Mapping) or not value:
        raise PolicyError("benefits: expected an object mapping at least one med_type to its benefit")
    unknown = sorted(code for code in value if code not in MED_TYPE)
    if unknown:
        raise PolicyError(f"benefits: unknown med_type {unknown} (known: {', '.join(MED_TYPE)})")
    benefits = {}
    for code, paid_as in value.items():
        try:
            benefits[code] = Benefit(paid_as)
        except ValueError:
            raise PolicyError(
                f"benefits.{code}: {paid_as!r} is not one of {', '.join(b.value for b in Benefit)}"
            ) from None
    return benefits


def parse_policy(parameters: Mapping[str, Any]) -> Policy:
    """A policy from its JSON parameters (the shape of DEFAULT_PARAMETERS); PolicyError names the bad field."""
    if not isinstance(parameters, Mapping):
        raise PolicyError("parameters: expected an object")
    schemes = {}
    for insutype in BASIC_INSUTYPES:
        schemes[insutype] = _scheme(_section(parameters, insutype, "parameters"), insutype)
    unknown = set(parameters) - {*BASIC_INSUTYPES, "class_b_selfpay_prop", "benefits"}
    if unknown:
        raise PolicyError(f"parameters: unknown keys {sorted(unknown)}")
    return Policy(
        schemes=schemes,
        class_b_selfpay_prop=_ratio(parameters.get("class_b_selfpay_prop"), "class_b_selfpay_prop"),
        benefits=_benefits(parameters.get("benefits")),
    )


def _levels(*values: str) -> dict[str, str]:
    return {str(level): value for level, value in zip(HOSP_LEVELS, values, strict=True)}


DEFAULT_PARAMETERS: dict[str, Any] = {
    "310": {
        "inpatient": {"deductible": _levels("300", "600", "1000"), "ratio": _levels("0.92", "0.88", "0.85")},
        "outpatient": {
            "deductible_per_year": "700",
            "ratio": _levels("0.70", "0.60", "0.50"),
            "pool_cap_per_year": "3000",
        },
        "retiree_bonus": "0.05",
        "max_ratio": "0.95",
        "pool_ceiling_per_year": "400000",
        "supplementary": {"threshold": "20000", "ratio": "0.80", "cap": "500000"},
        "assistance": {
            "ratio": {"extreme_poverty": "0.90", "minimum_living": "0.80", "monitored": "0.70"},
            "cap_per_year": "50000",
        },
    },
    "390": {
        "inpatient": {"deductible": _levels("200", "500", "1000"), "ratio": _levels("0.85", "0.75", "0.60")},
        "outpatient": {
            "deductible_per_year": "0",
            "ratio": _levels("0.50", "0.40", "0.30"),
            "pool_cap_per_year": "400",
        },
        "retiree_bonus": "0",
        "max_ratio": "0.95",
        "pool_ceiling_per_year": "200000",
        "supplementary": {"threshold": "15000", "ratio": "0.60", "cap": "400000"},
        "assistance": {
            "ratio": {"extreme_poverty": "0.90", "minimum_living": "0.80", "monitored": "0.70"},
            "cap_per_year": "50000",
        },
    },
    "class_b_selfpay_prop": "0.10",
    "benefits": {code: benefit.value for code, benefit in DEFAULT_BENEFIT.items()},
}
"""The default table of DESIGN.md §6.2, amounts in yuan."""

DEFAULT_POLICY = parse_policy(DEFAULT_PARAMETERS)


def in_force(versions: Sequence[PolicyVersion], on: date) -> PolicyVersion:
    """The version in force on a business date; `versions` sorted by effective_from, the default first."""
    dates = [v.effective_from for v in versions]
    index = bisect.bisect_right(dates, on) - 1
    if index < 0:
        raise PolicyError(f"no policy in force on {on}")
    return versions[index]
