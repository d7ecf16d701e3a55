"""Request and response models of findings (疑点): listing, confirming, dismissing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
FindingStatus = Literal["open", "confirmed", "dismissed"]
Category = Literal["fraud", "assistance"]


class FindingOut(BaseModel):
    finding_id: int = Field(description="疑点ID")
    rule_id: int = Field(description="规则ID the rule instance that raised it")
    rule_version: int = Field(description="规则版本 its version then")
    family: str = Field(description="规则类别")
    category: Category = Field(description="类别 fraud, or assistance (for the assistance office, not fraud)")
    severity: str = Field(description="严重程度")
    status: FindingStatus = Field(description="状态 open | confirmed | dismissed")
    setl_id: str | None = Field(description="结算ID the settlement it is about")
    psn_no: str | None = Field(description="人员编号")
    fixmedins_code: str = Field(description="定点医药机构编码")
    message: str = Field(description="说明")
    feedetl_sn: str | None = Field(description="费用明细流水号, if about one line")
    vola_amt: Yuan | None = Field(description="违规金额 amount concerned")
    fund_pay_sumamt: Yuan = Field(
        description="基金支付总额 of the settlement: the most that can be recovered"
    )
    raised_at: datetime = Field(description="发现时间")
    amount_to_recover: Yuan | None = Field(description="追回金额, once confirmed")
    note: str | None = Field(description="处理意见 why it was confirmed or dismissed")
    decided_by: str | None = Field(description="处理人 who")
    decided_at: datetime | None = Field(description="处理时间")


class FindingPage(BaseModel):
    items: list[FindingOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount_to_recover": "1280.50", "note": "核实为分解住院，追回统筹基金"}]
        },
    )

    amount_to_recover: Yuan = Field(
        ge=Decimal(0),
        description="追回金额 yuan, at most the settlement's fund pay (0 for assistance findings)",
    )
    note: Note = Field(description="处理意见 why")


class DismissIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "经核实为病情需要，非违规"}]}
    )

    note: Note = Field(description="处理意见 why")
