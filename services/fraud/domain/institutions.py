"""Institution-level rules: an institution's month against its own admissions and its peers of the same level.

Pure functions of (the month's facts, params) → hits, like the claim-level families; the service gathers the
facts (fraud.service.institution_rules) and raises one finding per rule, institution and month (per metric
for institution_outlier), with no settlement and no person.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fraud.domain.facts import Hit
from fraud.domain.params import CodeList, ParamValue

MonthCheck = Callable[["InstitutionMonth", Mapping[str, ParamValue]], list[Hit]]

# The 诱导住院 default: 低标准入院 diagnoses that rarely need a bed (ICD-10 categories or finer prefixes).
MILD_DIAGNOSES: CodeList = (
    "J00",  # 急性鼻咽炎 (感冒)
    "J02",  # 急性咽炎
    "J03",  # 急性扁桃体炎
    "J06",  # 上呼吸道感染
    "J20",  # 急性支气管炎
    "A09",  # 感染性胃肠炎
    "K29",  # 胃炎
    "K52",  # 非感染性胃肠炎
    "I10",  # 原发性高血压
    "E11.9",  # 2型糖尿病不伴并发症
    "M54",  # 背痛 (腰腿痛)
    "R42",  # 头晕
    "R51",  # 头痛
    "I67.8",  # 脑供血不足
)
# 医保药品编码: 西药 X…, 中成药 Z…, 中药饮片 T….
DRUG_PREFIXES: CodeList = ("X", "Z", "T")
# DRG severity of the complications (CHS-DRG suffix 1 MCC, 3 CC); DIP cases carry none.
HIGH_SEVERITIES: CodeList = ("MCC", "CC")

COST_PER_CASE, ADMISSIONS_PER_PERSON, DRUG_SHARE = "cost_per_case", "admissions_per_person", "drug_share"
METRICS = (COST_PER_CASE, ADMISSIONS_PER_PERSON, DRUG_SHARE)
METRIC_NAMES = {
    COST_PER_CASE: "cost per inpatient case 次均住院费用",
    ADMISSIONS_PER_PERSON: "admissions per insured person 住院人次人头比",
    DRUG_SHARE: "drug share 药占比",
}


@dataclass(frozen=True, slots=True)
class Admission:
    """An inpatient settlement of the institution in the month."""

    setl_id: str
    psn_no: str
    dise_codg: str | None
    begin_date: date
    end_date: date | None
    setl_date: date
    medfee_fen: int
    fund_pay_fen: int

    @property
    def days(self) -> int:
        """Length of stay: discharge (else settlement) date less admission date; a same-day stay is 0."""
        return max(((self.end_date or self.setl_date) - self.begin_date).days, 0)


@dataclass(frozen=True, slots=True)
class InstitutionFigures:
    """An institution's month in figures (standing settlements of its settlement dates)."""

    fixmedins_code: str
    hosp_lv: int | None
    settlements: int = 0
    medfee_fen: int = 0
    fund_pay_fen: int = 0
    drug_fen: int = 0  # the lines whose code starts with one of the rule's drug prefixes
    admissions: int = 0
    inpatient_medfee_fen: int = 0
    inpatients: int = 0  # distinct persons admitted
    grouped_cases: int = 0  # points cases whose grouping fraud has (settlement.case.grouped)
    high_severity_cases: int = 0


@dataclass(frozen=True, slots=True)
class InstitutionMonth:
    """What an institution-level rule judges: one institution's month, its admissions, its peers' figures."""

    month: str
    own: InstitutionFigures
    admissions: tuple[Admission, ...] = ()
    peers: tuple[InstitutionFigures, ...] = ()


@dataclass(frozen=True, slots=True)
class Deviation:
    """A metric of the institution against the mean of its peers of the same level that have it."""

    metric: str
    value: Decimal | None
    peers_mean: Decimal | None
    peers: int

    @property
    def ratio(self) -> Decimal | None:
        if self.value is None or not self.peers_mean:
            return None
        return (self.value / self.peers_mean).quantize(Decimal("0.01"), ROUND_HALF_UP)


def metric(figures: InstitutionFigures, name: str) -> Decimal | None:
    """cost_per_case (yuan), admissions_per_person, drug_share (0–1), exact; None without a denominator."""
    if name == COST_PER_CASE:
        return (
            Decimal(figures.inpatient_medfee_fen) / figures.admissions / 100 if figures.admissions else None
        )
    if name == ADMISSIONS_PER_PERSON:
        return Decimal(figures.admissions) / figures.inpatients if figures.inpatients else None
    if name == DRUG_SHARE:
        return Decimal(figures.drug_fen) / figures.medfee_fen if figures.medfee_fen else None
    raise ValueError(f"unknown metric {name!r}")


def _base(figures: InstitutionFigures, name: str) -> int:
    """What a metric is measured over: the admissions, or every settlement for the drug share."""
    return figures.settlements if name == DRUG_SHARE else figures.admissions


def deviation(month: InstitutionMonth, name: str, *, min_cases: int = 1) -> Deviation:
    """The institution's metric and the mean over its peers with the metric and at least `min_cases`."""
    values = [
        value
        for peer in month.peers
        if _base(peer, name) >= min_cases and (value := metric(peer, name)) is not None
    ]
    mean = sum(values, Decimal(0)) / len(values) if values else None
    return Deviation(name, metric(month.own, name), mean, len(values))


def _shown(name: str, value: Decimal) -> str:
    if name == COST_PER_CASE:
        return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP)}"
    if name == DRUG_SHARE:
        return _percent(value)
    return f"{value.quantize(Decimal('0.0001'), ROUND_HALF_UP)}"


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def _int(params: Mapping[str, ParamValue], name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


def _decimal(params: Mapping[str, ParamValue], name: str) -> Decimal:
    value = params[name]
    assert isinstance(value, Decimal | int)
    return Decimal(value)


def _codes(params: Mapping[str, ParamValue], name: str) -> CodeList:
    value = params[name]
    assert isinstance(value, tuple)
    return value


def _yuan(fen: int | Decimal) -> str:
    return f"{(Decimal(fen) / 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}"


# --- the checks -----------------------------------------------------------------------------------------


def induced_admission(month: InstitutionMonth, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Short, low-cost admissions of mild diagnoses above a share S of the month's admissions (≥ a count)."""
    max_days, max_fen = _int(params, "max_days"), _decimal(params, "max_cost_yuan") * 100
    share, least = _decimal(params, "max_share"), _int(params, "min_count")
    mild = _codes(params, "mild_diagnoses")
    total = len(month.admissions)
    flagged = [
        a
        for a in month.admissions
        if a.days <= max_days
        and a.medfee_fen <= max_fen
        and a.dise_codg is not None
        and a.dise_codg.strip().upper().startswith(mild)
    ]
    if not total or len(flagged) < least or len(flagged) <= share * total:
        return []
    return [
        Hit(
            message=f"{len(flagged)} of {total} admissions in {month.month} "
            f"({_percent(Decimal(len(flagged)) / total)}) were short (≤ {max_days} days), low-cost "
            f"(≤ {_yuan(max_fen)}) and of mild diagnoses, above {_percent(share)} (at least {least})",
            key=f"{month.own.fixmedins_code}:{month.month}",
            vola_fen=sum(a.fund_pay_fen for a in flagged),
        )
    ]


def institution_outlier(month: InstitutionMonth, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Cost per inpatient case, admissions per person or drug share above k × the mean of ≥ m peers."""
    k, m, least = _decimal(params, "multiple"), _int(params, "min_peers"), _int(params, "min_cases")
    own = month.own
    hits: list[Hit] = []
    for name in METRICS:
        if _base(own, name) < least:
            continue
        found = deviation(month, name, min_cases=least)
        if found.value is None or found.peers_mean is None or found.peers < m:
            continue
        if found.value <= k * found.peers_mean:
            continue
        hits.append(
            Hit(
                message=f"{METRIC_NAMES[name]} {_shown(name, found.value)} in {month.month} above {k} × the "
                f"mean {_shown(name, found.peers_mean)} of {found.peers} level-{own.hosp_lv} peers",
                key=f"{own.fixmedins_code}:{month.month}:{name}",
            )
        )
    return hits


def upcoding(month: InstitutionMonth, params: Mapping[str, ParamValue]) -> list[Hit]:
    """高套: the share of high-severity DRG groups among the grouped cases above k × the peers' mean share."""
    k, m, least = _decimal(params, "multiple"), _int(params, "min_peers"), _int(params, "min_cases")
    own = month.own
    if own.grouped_cases < least or own.grouped_cases == 0:
        return []
    shares = [
        Decimal(peer.high_severity_cases) / peer.grouped_cases
        for peer in month.peers
        if peer.grouped_cases >= max(least, 1)
    ]
    if len(shares) < m or not shares:
        return []
    mean = sum(shares, Decimal(0)) / len(shares)
    share = Decimal(own.high_severity_cases) / own.grouped_cases
    if share <= k * mean:
        return []
    severities = ", ".join(code.lower() for code in _codes(params, "severities"))
    return [
        Hit(
            message=f"high-severity ({severities}) share {_percent(share)} of {own.grouped_cases} grouped "
            f"cases in {month.month} above {k} × the mean {_percent(mean)} of {len(shares)} "
            f"level-{own.hosp_lv} peers",
            key=f"{own.fixmedins_code}:{month.month}",
        )
    ]
