"""The rule families of DESIGN §7: each a pure function of (claim, history, params) → hits; and the
institution-level ones (fraud.domain.institutions), of (an institution's month, params) → hits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from common.national import age_on
from fraud.domain import institutions
from fraud.domain.facts import INPATIENT, OUTPATIENT, SETTLEMENT, Claim, History, Hit, PastClaim
from fraud.domain.params import CodeList, ParamSpec, ParamValue

Check = Callable[[Claim, History, Mapping[str, ParamValue]], list[Hit]]
Lookback = Callable[[Mapping[str, ParamValue]], int]

FRAUD, ASSISTANCE = "fraud", "assistance"


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


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


def _window_start_key(claim: Claim, within: list[PastClaim]) -> str:
    """A pattern's finding key: the person and the first settlement of the window (so one per window)."""
    earliest = min(within, key=lambda c: (c.begin_date, c.setl_id), default=None)
    if earliest is None or (earliest.begin_date, earliest.setl_id) > (claim.begin_date, claim.key):
        return f"{claim.psn_no}:{claim.key}"
    return f"{claim.psn_no}:{earliest.setl_id}"


# --- the checks -----------------------------------------------------------------------------------------


def admission_frequency(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """≥ N inpatient admissions begun within W days (the claim's own admission included)."""
    if not claim.is_inpatient:
        return []
    n, w = _int(params, "min_admissions"), _int(params, "window_days")
    earliest = claim.begin_date - timedelta(days=w)
    within = [
        c
        for c in history.claims
        if c.med_type in INPATIENT
        and earliest < c.begin_date <= claim.begin_date
        and c.setl_id != claim.setl_id
    ]
    if len(within) + 1 < n:
        return []
    return [
        Hit(
            message=f"{len(within) + 1} inpatient admissions within {w} days (threshold {n})",
            key=_window_start_key(claim, within),
            vola_fen=claim.fund_pay_fen,
        )
    ]


def cost_outlier(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Inpatient medfee above k × the mean of ≥ m peers (same diagnosis category and hospital level)."""
    peers = history.peers
    if not claim.is_inpatient or claim.dise_category is None or peers is None:
        return []
    k, m = _decimal(params, "multiple"), _int(params, "min_peers")
    if peers.count < m or peers.count == 0:
        return []
    if Decimal(claim.medfee_fen) * peers.count <= k * peers.total_fen:
        return []
    mean = (Decimal(peers.total_fen) / peers.count / 100).quantize(Decimal("0.01"))
    return [
        Hit(
            message=f"medfee {_yuan(claim.medfee_fen)} above {k} × the mean {mean} of {peers.count} peers "
            f"({claim.dise_category}, level {claim.hosp_lv})",
            key=claim.key,
            vola_fen=claim.fund_pay_fen,
        )
    ]


def split_admission(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Readmission to the same institution ≤ D days after a discharge, same diagnosis category."""
    category = claim.dise_category
    if not claim.is_inpatient or category is None:
        return []
    d = _int(params, "max_days")
    for previous in sorted(history.claims, key=lambda c: c.end_date or c.begin_date, reverse=True):
        if (
            previous.setl_id == claim.setl_id
            or previous.med_type not in INPATIENT
            or previous.fixmedins_code != claim.fixmedins_code
            or previous.dise_category != category
            or previous.begin_date > claim.begin_date
        ):
            continue
        gap = (claim.begin_date - (previous.end_date or previous.begin_date)).days
        if 0 <= gap <= d:
            return [
                Hit(
                    message=f"readmitted {gap} days after discharge from settlement {previous.setl_id} "
                    f"({category}, threshold {d} days)",
                    key=claim.key,
                    vola_fen=claim.fund_pay_fen,
                )
            ]
    return []


def trace_code_reuse(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """A drug traceability code already settled or sold and not reversed or refunded, or twice in the same
    claim; the hit names the code's first use."""
    hits: list[Hit] = []
    seen: dict[str, str] = {}
    for line in claim.lines:
        for code in line.trace_codes:
            used = history.used_trace_codes.get(code)
            if used is not None and not (used.source == SETTLEMENT and used.use_id == claim.setl_id):
                reason = f"traceability code {code} already {used.describe()}"
            elif code in seen:
                reason = f"traceability code {code} twice in this claim (line {seen[code]})"
            else:
                seen[code] = line.feedetl_sn
                continue
            hits.append(
                Hit(
                    message=reason,
                    key=f"{claim.key}:{line.feedetl_sn}",
                    feedetl_sn=line.feedetl_sn,
                    vola_fen=line.amount_fen,
                )
            )
            break
    return hits


def after_death(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Care begun after the person's date of death (also when the death is recorded later)."""
    death = history.death_date
    if death is None or claim.begin_date <= death:
        return []
    return [
        Hit(
            message=f"care begun {claim.begin_date} after the date of death {death}",
            key=claim.key,
            vola_fen=claim.fund_pay_fen,
        )
    ]


def duplicate_billing(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """The same item on the same day billed twice for the person, in this or another settlement."""
    hits: list[Hit] = []
    earlier: dict[tuple[str, object], str] = {
        (line.med_list_codg, line.fee_date): line.setl_id
        for line in history.lines
        if line.setl_id != claim.setl_id
    }
    in_claim: dict[tuple[str, object], str] = {}
    for line in claim.lines:
        day_item = (line.med_list_codg, line.fee_date)
        if day_item in earlier:
            where = f"settlement {earlier[day_item]}"
        elif day_item in in_claim:
            where = f"line {in_claim[day_item]} of this claim"
        else:
            in_claim[day_item] = line.feedetl_sn
            continue
        hits.append(
            Hit(
                message=f"{line.med_list_codg} on {line.fee_date} already billed in {where}",
                key=f"{claim.key}:{line.feedetl_sn}",
                feedetl_sn=line.feedetl_sn,
                vola_fen=line.amount_fen,
            )
        )
    return hits


def over_quantity(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """Quantity above the catalogue's per-visit limit, or supplies overlapping within W days.

    A visit's limit is taken as the supply for W days: the same item bought again within W days with the
    quantities together above the limit means the person holds overlapping supplies (超量开药).
    """
    w = _int(params, "window_days")
    since = claim.begin_date - timedelta(days=w)
    totals: dict[str, tuple[Decimal, str, int]] = {}
    for line in claim.lines:
        cnt, first_sn, amount = totals.get(line.med_list_codg, (Decimal(0), line.feedetl_sn, 0))
        totals[line.med_list_codg] = (cnt + line.cnt, first_sn, amount + line.amount_fen)
    hits: list[Hit] = []
    for item, (cnt, feedetl_sn, amount) in totals.items():
        limit = history.catalog.get(item)
        if limit is None or limit.max_cnt_per_visit is None:
            continue
        cap = limit.max_cnt_per_visit
        if cnt > cap:
            message = f"{item}: quantity {cnt} above the per-visit limit {cap}"
        else:
            before = sum(
                (
                    line.cnt
                    for line in history.lines
                    if line.med_list_codg == item
                    and line.setl_id != claim.setl_id
                    and since < line.fee_date <= claim.begin_date
                ),
                Decimal(0),
            )
            if before == 0 or before + cnt <= cap:
                continue
            message = f"{item}: {before} already supplied within {w} days, {cnt} more exceeds the limit {cap}"
        hits.append(
            Hit(message=message, key=f"{claim.key}:{feedetl_sn}", feedetl_sn=feedetl_sn, vola_fen=amount)
        )
    return hits


def gender_age_limit(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """An item the catalogue restricts to one gender or an age range, billed outside it."""
    hits: list[Hit] = []
    for line in claim.lines:
        limit = history.catalog.get(line.med_list_codg)
        if limit is None:
            continue
        reason = None
        if limit.gend_lmt and claim.gend and claim.gend != limit.gend_lmt:
            reason = f"restricted to gender {limit.gend_lmt}, the person's is {claim.gend}"
        elif claim.brdy is not None and (limit.age_min is not None or limit.age_max is not None):
            age = age_on(claim.brdy, line.fee_date)
            if limit.age_min is not None and age < limit.age_min:
                reason = f"restricted to ages from {limit.age_min}, the person is {age}"
            elif limit.age_max is not None and age > limit.age_max:
                reason = f"restricted to ages up to {limit.age_max}, the person is {age}"
        if reason:
            hits.append(
                Hit(
                    message=f"{line.med_list_codg}: {reason}",
                    key=f"{claim.key}:{line.feedetl_sn}",
                    feedetl_sn=line.feedetl_sn,
                    vola_fen=line.amount_fen,
                )
            )
    return hits


def visit_frequency(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """More than N outpatient visits begun within W days, across institutions (异常就医)."""
    if not claim.is_outpatient:
        return []
    n, w = _int(params, "max_visits"), _int(params, "window_days")
    earliest = claim.begin_date - timedelta(days=w)
    within = [
        c
        for c in history.claims
        if c.med_type in OUTPATIENT
        and earliest < c.begin_date <= claim.begin_date
        and c.setl_id != claim.setl_id
    ]
    if len(within) + 1 <= n:
        return []
    return [
        Hit(
            message=f"{len(within) + 1} outpatient visits within {w} days (more than {n})",
            key=_window_start_key(claim, within),
            vola_fen=claim.fund_pay_fen,
        )
    ]


def high_burden(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """The person's burden (psn_part_amt) this year above the threshold of the person's assistance category
    (the claim's, as settled), else the general one: for the assistance office (高额医疗费用预警)."""
    year = claim.setl_date.year
    by_category = params["thresholds_by_category"]
    assert isinstance(by_category, Mapping)
    threshold = by_category.get(claim.assistance or "")
    whose = f" (threshold of {claim.assistance})" if threshold is not None else ""
    if threshold is None:
        threshold = _decimal(params, "threshold_yuan")
    total = claim.psn_part_fen + sum(
        c.psn_part_fen for c in history.claims if c.setl_date.year == year and c.setl_id != claim.setl_id
    )
    if total <= threshold * 100:
        return []
    return [
        Hit(
            message=f"personal burden {_yuan(total)} in {year} above {threshold}{whose}",
            key=f"{claim.psn_no}:{year}",
            vola_fen=None,
        )
    ]


def bed_hold(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """挂床住院: at least D days of the stay [admission, discharge) with no bed, nursing or treatment charge.

    Which items count is the parameter `care_prefixes`; a stay billed with none of them at all is not
    itemised by day in those codes and is not judged.
    """
    if not claim.is_inpatient or claim.end_date is None:
        return []
    prefixes = _codes(params, "care_prefixes")
    charged = {
        line.fee_date for line in claim.lines if line.med_list_codg.strip().upper().startswith(prefixes)
    }
    if not charged:
        return []
    stay = (claim.end_date - claim.begin_date).days
    empty = [day for day in (claim.begin_date + timedelta(days=n) for n in range(stay)) if day not in charged]
    d = _int(params, "min_days")
    if len(empty) < d:
        return []
    shown = ", ".join(day.isoformat() for day in empty[:10]) + (", …" if len(empty) > 10 else "")
    return [
        Hit(
            message=f"{len(empty)} of {stay} inpatient days with no bed, nursing or treatment charge "
            f"({shown}; threshold {d})",
            key=claim.key,
            vola_fen=claim.fund_pay_fen,
        )
    ]


def _no_claim_hits(claim: Claim, history: History, params: Mapping[str, ParamValue]) -> list[Hit]:
    """An institution-level family judges months, not claims (POST /institution-rules/run)."""
    return []


CLAIM, INSTITUTION = "claim", "institution"
# 医疗服务项目 codes (全国医疗服务价格项目规范) whose charge shows the patient was in the ward that day: 1109
# 床位费, 12 一般检查治疗 (1201 护理费 一般护理 and 专项护理, injections, oxygen, dressing, drainage...), as
# the 9-digit price-item code and as the national 医保 code (00 + price-item code + 4 digits, e.g.
# 001109000010000).
CARE_PREFIXES: CodeList = ("1109", "12", "001109", "0012")


# --- the registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Family:
    """A built-in rule family: what it flags, its parameters, and its defaults as shipped."""

    name: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    severity: str
    scope: str
    category: str
    needs: frozenset[str]
    check: Check
    claim_lookback: Lookback
    line_lookback: Lookback
    # `claim` families judge each claim; `institution` ones an institution's month (month_check).
    level: str = CLAIM
    month_check: institutions.MonthCheck | None = None


def _none(params: Mapping[str, ParamValue]) -> int:
    return 0


def _window(params: Mapping[str, ParamValue]) -> int:
    return _int(params, "window_days")


def _param(
    name: str, kind: str, default: ParamValue, low: int | Decimal, high: int | Decimal, text: str
) -> ParamSpec:
    assert kind in ("integer", "decimal")
    return ParamSpec(name, kind, default, low, high, text)  # type: ignore[arg-type]


def _codes_param(name: str, default: CodeList, text: str, *, least: int = 1, most: int = 200) -> ParamSpec:
    return ParamSpec(name, "codes", default, least, most, text)


def _multiple(default: str, text: str = "k: multiple of the peers' mean 倍数") -> ParamSpec:
    return _param("multiple", "decimal", Decimal(default), Decimal(1), Decimal(100), text)


ASSISTANCE_CATEGORIES = ("extreme_poverty", "minimum_living", "monitored")


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "admission_frequency",
            "频繁住院 frequent admissions",
            "≥ N inpatient admissions begun within W days (1年内住院3次以上).",
            (
                _param("min_admissions", "integer", 3, 2, 100, "N: admissions that flag 住院次数"),
                _param("window_days", "integer", 365, 1, 3650, "W: window in days 统计天数"),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset({"claims"}),
            admission_frequency,
            _window,
            _none,
        ),
        Family(
            "cost_outlier",
            "费用异常 cost outlier",
            "Inpatient medfee > k × the mean of peers with the same diagnosis category (first 3 characters "
            "of dise_codg) and hosp_lv, when there are at least m peers (超过平均3倍).",
            (
                _param(
                    "multiple",
                    "decimal",
                    Decimal(3),
                    Decimal(1),
                    Decimal(100),
                    "k: multiple of the mean 倍数",
                ),
                _param("min_peers", "integer", 30, 1, 1_000_000, "m: fewest peers to compare 最少同类病例数"),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset({"peers"}),
            cost_outlier,
            _none,
            _none,
        ),
        Family(
            "split_admission",
            "分解住院 split admission",
            "Readmission to the same institution ≤ D days after discharge, same diagnosis category.",
            (_param("max_days", "integer", 15, 0, 365, "D: days after discharge 出院后天数"),),
            "warn",
            "post",
            FRAUD,
            frozenset({"claims"}),
            split_admission,
            lambda params: _int(params, "max_days") + 366,
            _none,
        ),
        Family(
            "trace_code_reuse",
            "追溯码重复 traceability code reuse",
            "A drug traceability code (追溯码) already settled or sold at a pharmacy (POS), and not reversed or "
            "refunded (回流药, 串换); the hit names the code's first use. A POS sale, which has no real-time "
            "review, is judged when pricing.sale.recorded arrives: a finding on the sale.",
            (),
            "block",
            "in",
            FRAUD,
            frozenset({"trace_codes"}),
            trace_code_reuse,
            _none,
            _none,
        ),
        Family(
            "after_death",
            "死亡后就医 care after death",
            "Care begun after the date of death, including when the death is recorded later (死亡人员比对).",
            (),
            "warn",
            "post",
            FRAUD,
            frozenset({"death"}),
            after_death,
            _none,
            _none,
        ),
        Family(
            "duplicate_billing",
            "重复收费 duplicate billing",
            "The same person, item and day billed twice, in the same or different settlements.",
            (),
            "warn",
            "in",
            FRAUD,
            frozenset({"lines"}),
            duplicate_billing,
            _none,
            lambda params: 1,
        ),
        Family(
            "over_quantity",
            "超量开药 over quantity",
            "Quantity above the catalogue's per-visit limit, or the same item again within W days with the "
            "quantities together above that limit (overlapping supplies).",
            (_param("window_days", "integer", 30, 1, 365, "W: days a visit's supply lasts 用药天数"),),
            "warn",
            "in",
            FRAUD,
            frozenset({"lines", "catalog"}),
            over_quantity,
            _none,
            _window,
        ),
        Family(
            "gender_age_limit",
            "性别年龄限制 gender or age limit",
            "An item the catalogue restricts by gender or age, billed for someone outside it.",
            (),
            "block",
            "in",
            FRAUD,
            frozenset({"catalog"}),
            gender_age_limit,
            _none,
            _none,
        ),
        Family(
            "visit_frequency",
            "异常就医 visit frequency",
            "More than N outpatient visits (med_type 11, 14) within W days across institutions.",
            (
                _param("max_visits", "integer", 20, 1, 1000, "N: most visits allowed 最多就诊次数"),
                _param("window_days", "integer", 30, 1, 365, "W: window in days 统计天数"),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset({"claims"}),
            visit_frequency,
            _window,
            _none,
        ),
        Family(
            "high_burden",
            "个人负担过高 high personal burden",
            "The person's yearly burden (psn_part_amt) above the threshold (个人负担超5万). Not fraud: a "
            "warning for the medical assistance office, reported in the category `assistance`.",
            (
                _param(
                    "threshold_yuan",
                    "decimal",
                    Decimal(50000),
                    Decimal(0),
                    Decimal(10_000_000),
                    "yearly burden above which to report, yuan 年度个人负担阈值(元)",
                ),
                ParamSpec(
                    "thresholds_by_category",
                    "yuan_map",
                    {},
                    Decimal(0),
                    Decimal(10_000_000),
                    "threshold by the person's assistance category (医疗救助类别: extreme_poverty 特困, "
                    "minimum_living 低保, monitored 监测对象), yuan; a category not listed uses threshold_yuan "
                    "分类预警标准(元)",
                    ASSISTANCE_CATEGORIES,
                ),
            ),
            "info",
            "post",
            ASSISTANCE,
            frozenset({"claims"}),
            high_burden,
            lambda params: 400,
            _none,
        ),
        Family(
            "bed_hold",
            "挂床住院 bed hold",
            "An inpatient stay with at least D days in [admission, discharge) on which no bed, nursing or "
            "treatment charge (catalogue codes starting with one of care_prefixes) was billed: the patient "
            "was likely not in the ward. A stay with none of those charges at all is not judged.",
            (
                _param("min_days", "integer", 2, 1, 365, "D: days without a charge that flag 无收费住院天数"),
                _codes_param(
                    "care_prefixes",
                    CARE_PREFIXES,
                    "codes (prefixes) of the bed, nursing and treatment items 床位/护理/治疗项目编码前缀",
                ),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset(),
            bed_hold,
            _none,
            _none,
        ),
        Family(
            "induced_admission",
            "诱导住院 induced admission",
            "Institution-level, per month: short (≤ L days), low-cost (≤ C yuan) admissions of mild "
            "diagnoses (mild_diagnoses: ICD-10 prefixes) above a share S of the institution's admissions "
            "settled in the month, and at least N of them (低标准入院).",
            (
                _param("max_days", "integer", 3, 0, 60, "L: longest stay in days 住院天数上限"),
                _param(
                    "max_cost_yuan",
                    "decimal",
                    Decimal(3000),
                    Decimal(0),
                    Decimal(1_000_000),
                    "C: highest medfee, yuan 住院费用上限(元)",
                ),
                _param("max_share", "decimal", Decimal("0.2"), Decimal(0), Decimal(1), "S: share 0–1 占比"),
                _param("min_count", "integer", 5, 1, 100_000, "N: fewest such admissions 最少例数"),
                _codes_param(
                    "mild_diagnoses", institutions.MILD_DIAGNOSES, "mild diagnoses, ICD-10 prefixes 轻症诊断"
                ),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset(),
            _no_claim_hits,
            _none,
            _none,
            INSTITUTION,
            institutions.induced_admission,
        ),
        Family(
            "institution_outlier",
            "机构指标异常 institution outlier",
            "Institution-level, per month: cost per inpatient case, admissions per insured person or drug "
            "share (lines whose code starts with one of drug_prefixes ÷ medfee) above k × the mean of at "
            "least m peers of the same hosp_lv (institutions with at least min_cases admissions, or "
            "settlements for the drug share); one finding per metric.",
            (
                _multiple("2"),
                _param("min_peers", "integer", 5, 1, 10_000, "m: fewest peers to compare 最少同级机构数"),
                _param(
                    "min_cases", "integer", 10, 1, 1_000_000, "fewest cases an institution needs 最少例数"
                ),
                _codes_param("drug_prefixes", institutions.DRUG_PREFIXES, "drug code prefixes 药品编码前缀"),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset(),
            _no_claim_hits,
            _none,
            _none,
            INSTITUTION,
            institutions.institution_outlier,
        ),
        Family(
            "upcoding",
            "高套病组 upcoding",
            "Institution-level, per month: the share of high-severity DRG groups (severities: MCC, CC) among "
            "its grouped points cases (settlement.case.grouped) above k × the mean share of at least m peers "
            "of the same hosp_lv with at least min_cases grouped cases. DIP cases carry no severity.",
            (
                _multiple("1.5"),
                _param("min_peers", "integer", 5, 1, 10_000, "m: fewest peers to compare 最少同级机构数"),
                _param("min_cases", "integer", 20, 1, 1_000_000, "fewest grouped cases 最少入组病例数"),
                _codes_param(
                    "severities",
                    institutions.HIGH_SEVERITIES,
                    "severities that count as high: MCC, CC 严重程度",
                ),
            ),
            "warn",
            "post",
            FRAUD,
            frozenset(),
            _no_claim_hits,
            _none,
            _none,
            INSTITUTION,
            institutions.upcoding,
        ),
    )
}
