"""Request and response models of cases (案件): opening, appeal, appeal review, voluntary refund, decision, close."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
CaseStatus = Literal["notified", "appealed", "upheld", "decided", "closed"]
Outcome = Literal["decided", "refunded", "overturned"]
FindingId = Annotated[int, Field(ge=1, le=2**62, description="疑点ID")]


class CaseFindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finding_id: FindingId
    amount: Yuan | None = Field(
        default=None,
        ge=Decimal(0),
        description="拟追回金额 notified, at most the settlement's fund pay; by default the finding's confirmed "
        "amount to recover, else its amount concerned (违规金额, capped at the fund pay)",
    )


class CaseIn(BaseModel):
    """立案并告知: open a case on findings of one institution; the institution is notified at once."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "findings": [{"finding_id": 12, "amount": "1280.50"}, {"finding_id": 15}],
                    "summary": "2026年3月分解住院疑点核查，拟追回统筹基金",
                }
            ]
        },
    )

    findings: list[CaseFindingIn] = Field(
        min_length=1, max_length=200, description="the findings (open or confirmed, all of one institution)"
    )
    summary: Note = Field(description="案情摘要 what the institution is told")


class AppealFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="文件名"
    )
    ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="the file's reference in the institution's document store (not its content)"
    )


class AppealIn(BaseModel):
    """申诉: the institution's statement and references to its supporting files."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "statement": "患者三次住院诊断不同，均有入院指征，病程记录附后。",
                    "files": [{"name": "病程记录.pdf", "ref": "his-docs://2026/03/IP-3/progress-notes"}],
                }
            ]
        },
    )

    statement: Statement = Field(description="申诉理由")
    files: list[AppealFile] = Field(default_factory=list, max_length=20, description="佐证材料 references")


class AppealReviewIn(BaseModel):
    """申诉复核: upheld (the case goes on to a decision) or overturned (its findings dismissed, case closed)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "upheld", "note": "申诉理由不成立，维持原核查意见"}]},
    )

    outcome: Literal["upheld", "overturned"] = Field(
        description="upheld: 维持 the findings stand | overturned: 撤销 the findings are dismissed"
    )
    note: Note = Field(description="复核意见")


class RefundIn(BaseModel):
    """自查自纠: the institution acknowledges the findings and refunds the amounts notified, without penalty."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"statement": "经自查，确认存在分解住院，同意退回全部违规费用。"}]},
    )

    statement: Note = Field(description="自查说明")


class RecoveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finding_id: FindingId
    amount: Yuan = Field(ge=Decimal(0), description="追回金额, at most the finding's settlement fund pay")


class PointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prac_codg: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")] = Field(
        description="医保医师/药师代码 a registered practitioner"
    )
    points: int = Field(ge=1, le=12, description="记分")
    reason: Note = Field(description="记分事由")


class DecideIn(BaseModel):
    """处理决定: the recovery per finding, the penalty by the scale, points, referral."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recoveries": [{"finding_id": 12, "amount": "1280.50"}],
                    "penalty_basis": "violation",
                    "penalty_multiple": "1.5",
                    "points": [{"prac_codg": "D420102000123", "points": 6, "reason": "分解住院"}],
                    "referral": False,
                    "note": "责令退回违规费用，并处1.5倍违约金",
                }
            ]
        },
    )

    recoveries: list[RecoveryIn] | None = Field(
        default=None,
        max_length=200,
        description="追回 per finding of the case; a finding left out keeps the amount notified; null: all as notified",
    )
    penalty_basis: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,30}$")] = Field(
        description="处罚依据: a basis of the configured scale, by default none (0), violation (1–2 倍, 条例 "
        "第三十八条), fraud (2–5 倍, 条例 第四十条)"
    )
    penalty_multiple: Decimal = Field(
        ge=Decimal(0),
        le=Decimal(100),
        decimal_places=2,
        description="处罚倍数 of the total recovery, within the basis's band",
    )
    points: list[PointsIn] = Field(
        default_factory=list, max_length=50, description="记分 against practitioners"
    )
    referral: bool = Field(default=False, description="移交 refer the case to another authority")
    referral_to: Note | None = Field(default=None, description="移交机关, e.g. 公安机关 (when referred)")
    note: Note = Field(description="处理意见")


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "款项已扣回，结案"}]})

    note: Note | None = Field(default=None, description="结案说明")


class CaseFindingOut(BaseModel):
    finding_id: int = Field(description="疑点ID")
    family: str = Field(description="规则类别")
    setl_id: str | None = Field(description="结算ID")
    psn_no: str | None = Field(description="人员编号")
    finding_status: str = Field(description="the finding's own status: open | confirmed | dismissed")
    fund_pay_sumamt: Yuan = Field(description="基金支付总额: the most that can be recovered")
    proposed_amount: Yuan = Field(description="拟追回金额 notified")
    recovery: Yuan | None = Field(description="追回金额 decided; null until decided")


class CaseEventOut(BaseModel):
    action: str = Field(
        description="notified | appealed | appeal_upheld | appeal_overturned | refunded | decided | closed"
    )
    status_from: str | None
    status_to: str
    at: datetime
    by: str = Field(description="who")
    note: str | None
    detail: dict[str, Any] | None


class CaseOut(BaseModel):
    case_id: int = Field(description="案件ID")
    fixmedins_code: str = Field(description="定点医药机构编码")
    status: CaseStatus = Field(description="notified | appealed | upheld | decided | closed")
    outcome: Outcome | None = Field(description="decided | refunded (自查自纠) | overturned (申诉成立)")
    summary: str = Field(description="案情摘要")
    proposed_amount: Yuan = Field(description="拟追回 the amounts notified")
    notified_on: date = Field(description="告知日期 (Asia/Shanghai)")
    appeal_deadline: date = Field(description="申诉截止日 the last day an appeal or a refund is accepted")
    created_at: datetime
    created_by: str
    appeal_statement: str | None
    appeal_files: list[AppealFile] | None
    appealed_at: datetime | None
    appealed_by: str | None
    review_note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    recovery: Yuan | None = Field(description="追回 total decided")
    penalty_basis: str | None
    penalty_multiple: Decimal | None
    penalty_amount: Yuan | None = Field(description="罚款/违约金 = multiple × recovery, half-up to the fen")
    points: list[PointsIn] | None
    referral: bool | None = Field(description="移交")
    referral_to: str | None
    decision_note: str | None
    decided_at: datetime | None
    decided_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    findings: list[CaseFindingOut]
    history: list[CaseEventOut] | None = Field(
        default=None, description="every transition, oldest first (in GET /cases/{case_id} and the answers)"
    )


class CasePage(BaseModel):
    items: list[CaseOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
