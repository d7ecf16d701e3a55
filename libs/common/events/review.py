"""The request/reply contract of `fraud.review`: settlement asks before it settles (DESIGN.md §7).

Core NATS request/reply (never stored in a stream). Settlement waits at most its budget (150 ms by default)
and settles anyway when no answer comes (fail-open, `review: skipped`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.money import Price, Quantity, Yuan


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ReviewLine(_Contract):
    feedetl_sn: str
    med_list_codg: str
    chrgitm_lv: str | None
    cnt: Quantity
    pric: Price
    det_item_fee_sumamt: Yuan
    fee_ocur_time: datetime
    drug_trac_codg: list[str] = Field(default_factory=list)


class ReviewClaim(_Contract):
    """The claim about to be settled, with what settlement knows of the person and institution."""

    psn_no: str
    gend: str
    brdy: date
    insutype: str
    med_type: str
    fixmedins_code: str
    fixmedins_type: str
    hosp_lv: int | None
    admdvs: str
    mdtrt_id: str | None
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None
    medfee_sumamt: Yuan
    lines: list[ReviewLine]


class ReviewRequest(_Contract):
    stage: Literal["pre", "in"] = Field(description="事前 (before prescribing) or 事中 (before settling)")
    claim: ReviewClaim


class ReviewHit(_Contract):
    rule_id: int | str
    rule_version: int
    family: str
    severity: Literal["info", "warn", "block"]
    message: str
    feedetl_sn: str | None = None
    vola_amt: Yuan | None = Field(default=None, description="违规金额 the amount concerned")


class ReviewReply(_Contract):
    hits: list[ReviewHit] = Field(default_factory=list)
