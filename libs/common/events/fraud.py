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
