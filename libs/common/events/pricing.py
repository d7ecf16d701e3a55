"""Contracts of the events the pricing service publishes (data of the envelope, DESIGN.md §4 and §8)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from common.money import Price


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
