"""Contracts of the events the fraud service publishes (data of the envelope, DESIGN.md §4 and §7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.money import Yuan


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FindingConfirmed(_Contract):
    """fraud.finding.confirmed — a finding (疑点) confirmed with the amount to recover (扣款) from the institution."""

    finding_id: str = Field(description="The finding's id: settlement keeps one deduction per finding")
    rule_id: str = Field(description="The rule instance that raised it")
    rule_version: int = Field(description="The version of the rule instance that raised it")
    family: str = Field(description="Rule family, e.g. split_admission, trace_code_reuse")
    setl_id: str | None = Field(
        default=None, description="The settlement it is about; null for a pattern over many"
    )
    psn_no: str | None = Field(default=None, description="The insured person it is about, if one")
    fixmedins_code: str = Field(description="The institution the amount is recovered from")
    amount_to_recover: Yuan = Field(description="追回金额, at most the settlement's fund pay; 0: none")
    note: str | None = Field(default=None, description="Why it was confirmed, as the reviewer wrote it")
    confirmed_at: AwareDatetime = Field(
        description="When it was confirmed; its Asia/Shanghai date picks the month"
    )
    confirmed_by: str = Field(description="Who confirmed it")
    case_id: str | None = Field(
        default=None, description="The case (案件) whose decision recovers it; null before cases existed"
    )


class FindingRaised(_Contract):
    """fraud.finding.raised — a post rule flagged a settlement or a pattern (疑点), open for review."""

    finding_id: str = Field(description="The finding's id")
    rule_id: str = Field(description="The rule instance that raised it")
    rule_version: int = Field(description="The version of the rule instance that raised it")
    family: str = Field(description="Rule family")
    category: str = Field(description="fraud, or assistance (high burden: for the assistance office)")
    severity: str = Field(description="info | warn | block")
    setl_id: str | None = Field(default=None, description="The settlement it is about")
    psn_no: str | None = Field(default=None, description="The insured person it is about")
    fixmedins_code: str = Field(description="The institution concerned")
    message: str = Field(description="What the rule saw")
    vola_amt: Yuan | None = Field(default=None, description="违规金额 the amount concerned")
    raised_at: AwareDatetime


class FindingDismissed(_Contract):
    """fraud.finding.dismissed — a finding closed without recovery, with who and why."""

    finding_id: str
    rule_id: str
    rule_version: int
    family: str
    setl_id: str | None = None
    psn_no: str | None = None
    fixmedins_code: str
    note: str | None = None
    dismissed_at: AwareDatetime
    dismissed_by: str


# --- practitioners' payment qualification (医保支付资格管理, 记分) ---------------------------------------------


class PractitionerPointed(_Contract):
    """fraud.practitioner.pointed — points (记分) recorded against a practitioner; their institution is told."""

    entry_id: str = Field(description="The points entry's id (append-only)")
    prac_codg: str = Field(description="医保医师/药师/护士代码")
    prac_type: str = Field(description="doctor | pharmacist | nurse | technician")
    fixmedins_code: str = Field(description="The institution the practitioner is registered with")
    points: int = Field(description="记分 this entry, 1–12")
    year: int = Field(description="The calendar year the points count in (of on_date)")
    year_points: int = Field(description="The practitioner's points in that year after this entry")
    reason: str = Field(description="Why, as the bureau wrote it")
    source: str = Field(description="finding | case | manual")
    source_id: str | None = Field(default=None, description="The finding's or case's id")
    on_date: date = Field(description="The date the points count from")
    recorded_at: AwareDatetime
    recorded_by: str


class PractitionerSuspended(_Contract):
    """fraud.practitioner.suspended — a practitioner may not bill the fund from suspended_from to suspended_until.

    Settlement refuses the lines they ordered or dispensed with a fee date in [suspended_from, suspended_until].
    """

    suspension_id: str = Field(description="The suspension's id: settlement keeps one row per suspension")
    prac_codg: str = Field(description="医保医师/药师/护士代码")
    prac_type: str = Field(description="doctor | pharmacist | nurse | technician")
    fixmedins_code: str = Field(description="The practitioner's institution")
    points: int = Field(description="The practitioner's points in the year when it began")
    level: str = Field(description="suspended (暂停, 9 points) | terminated (终止, 12 points)")
    suspended_from: date = Field(description="First day refused")
    suspended_until: date = Field(description="Last day refused (inclusive)")


class PractitionerReinstated(_Contract):
    """fraud.practitioner.reinstated — a suspension's period is over: the practitioner may bill the fund again."""

    suspension_id: str
    prac_codg: str
    fixmedins_code: str
    level: str = Field(description="suspended | terminated")
    suspended_from: date
    suspended_until: date
    reinstated_on: date = Field(description="The first day paid again")


class CaseFindingRecovery(_Contract):
    """One finding of a decided case and what is recovered for it (追回)."""

    finding_id: str = Field(description="The finding's id: settlement keeps one deduction per finding")
    rule_id: str = Field(description="The rule instance that raised it")
    rule_version: int = Field(description="The version of the rule instance that raised it")
    family: str = Field(description="Rule family")
    setl_id: str | None = Field(default=None, description="The settlement it is about, if one")
    psn_no: str | None = Field(default=None, description="The insured person it is about, if one")
    recovery: Yuan = Field(description="追回金额, at most the settlement's fund pay; 0: nothing")


class CasePointsAgainst(_Contract):
    """记分 against a practitioner decided with a case."""

    prac_codg: str = Field(description="医保医师/药师代码")
    points: int = Field(description="Points recorded")
    reason: str = Field(description="Why")


class CaseDecided(_Contract):
    """fraud.case.decided — a case (案件) decided by ops, or settled by the institution's voluntary refund (自查自纠).

    Settlement keeps each finding's recovery (once per finding, as from fraud.finding.confirmed) and the
    penalty (once per case) as deductions of the month of `decided_at` (Asia/Shanghai).
    """

    case_id: str = Field(description="The case's id: settlement keeps one penalty per case")
    fixmedins_code: str = Field(description="The institution the amounts are recovered from")
    outcome: str = Field(description="decided (by ops) | refunded (自查自纠: no penalty, no points)")
    findings: list[CaseFindingRecovery] = Field(description="The case's findings with their recovery")
    total_recovery: Yuan = Field(description="追回 the sum of the findings' recoveries")
    penalty_basis: str = Field(description="处罚依据 the scale's basis, e.g. none | violation | fraud")
    penalty_multiple: Decimal = Field(description="处罚倍数 of the recovery (exact decimal)")
    penalty_amount: Yuan = Field(description="罚款/违约金 = multiple × total recovery, half-up to the fen")
    points: list[CasePointsAgainst] = Field(default_factory=list, description="记分 against practitioners")
    referral: bool = Field(description="移交 referred to another authority (e.g. 公安机关)")
    referral_to: str | None = Field(default=None, description="to whom, if referred")
    note: str | None = Field(default=None, description="处理意见 (or the institution's 自查说明)")
    decided_at: AwareDatetime = Field(description="When; its Asia/Shanghai date picks the month")
    decided_by: str = Field(description="Who decided (or recorded the refund)")


class WarningFamily(_Contract):
    family: str = Field(description="Rule family")
    count: int = Field(description="Open findings of the family")
    vola_amt: Yuan = Field(description="违规金额 the amount they concern")


class WarningFindings(_Contract):
    count: int = Field(description="The institution's open fraud findings when published")
    vola_amt: Yuan = Field(description="违规金额 the amount they concern")
    by_family: list[WarningFamily] = Field(description="By family, by name")


class WarningDeviation(_Contract):
    metric: str = Field(description="cost_per_case | admissions_per_person | drug_share")
    value: str | None = Field(description="The institution's figure (yuan, ratio, or share 0–1); null: none")
    peers_mean: str | None = Field(description="The mean of its peers of the same hosp_lv; null: no peers")
    peers: int = Field(description="How many peers")
    ratio: str | None = Field(description="value ÷ peers_mean, 2 decimals")
    above: bool = Field(description="Above k × the peers' mean (the institution_outlier rule's multiple)")


class WarningScanRate(_Contract):
    lines_needing: int = Field(description="Drug lines that need a traceability code")
    lines_scanned: int = Field(description="Those that carried one")
    rate: str | None = Field(description="扫码率, 4 decimals; null when no line needed a code")


class WarningPublished(_Contract):
    """fraud.warning.published — the monthly warning (每月推送预警) to an institution, readable by its key."""

    warning_id: str = Field(description="The warning's id (GET /warnings/{id})")
    fixmedins_code: str = Field(description="The institution warned")
    month: str = Field(description="YYYY-MM")
    version: int = Field(description="1, then +1 each time a publication changed what it says")
    open_findings: WarningFindings
    deviations: list[WarningDeviation] = Field(description="Its figures against its peers")
    scan_rate: WarningScanRate | None = Field(description="追溯码扫码率 of the month; null: not known")
    published_at: AwareDatetime
