"""Contracts of the events the pricing service publishes (data of the envelope, DESIGN.md §4 and §8)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from common.money import Price, Quantity


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AlertRaised(_Contract):
    """pricing.alert.raised — a pharmacy's price of a drug is out of line (yellow or red)."""

    alert_id: int
    fixmedins_code: str
    med_list_codg: str
    admdvs: str
    light: str = Field(description="yellow | red")
    pric: Price = Field(description="The price that raised it")
    reference_pric: Price = Field(description="The reference price of the drug in the region then")
    diff_ratio: str = Field(description="差值比 price ÷ reference − 1, 4 places")
    over_procurement: bool = Field(description="Red because above the factor × the procurement price")
    sale_id: str
    raised_at: datetime


class AlertResolved(_Contract):
    """pricing.alert.resolved — an alert worked and closed with a note."""

    alert_id: int
    fixmedins_code: str
    med_list_codg: str
    light: str
    note: str
    resolved_at: datetime
    resolved_by: str


class SoldLine(_Contract):
    """A POS sale line as recorded: what was sold, how many, at what price, when, with which codes."""

    sale_id: str
    med_list_codg: str
    cnt: Quantity
    pric: Price = Field(description="最终成交单价 the final unit price")
    sel_time: datetime
    drug_trac_codg: list[str] = Field(default_factory=list, description="药品追溯码, one per pack")


class SaleRecorded(_Contract):
    """pricing.sale.recorded — the lines of one POS upload recorded for the first time (never a replay)."""

    fixmedins_code: str
    lines: list[SoldLine]


class RefundedLine(_Contract):
    """A POS sale line refunded: the sale as it was recorded, and when it was refunded."""

    sale_id: str
    med_list_codg: str
    cnt: Quantity
    sel_time: datetime
    drug_trac_codg: list[str] = Field(default_factory=list)
    refund_time: datetime


class SaleRefunded(_Contract):
    """pricing.sale.refunded — sale lines refunded by one request (each once): their codes are free again."""

    fixmedins_code: str
    refunds: list[RefundedLine]
