"""Contracts of the events the fraud service publishes (data of the envelope, DESIGN.md §4 and §7)."""

from __future__ import annotations

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
