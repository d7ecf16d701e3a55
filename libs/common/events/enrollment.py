"""Contracts of the events the enrollment service publishes (data of the envelope, DESIGN.md §4)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from common.money import Yuan


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PersonRegistered(_Contract):
    """enrollment.person.registered"""

    psn_no: str
    certno: str
    gend: str = Field(description="1 male, 2 female")
    brdy: date
    admdvs: str


class Suspension(_Contract):
    from_date: date
    to_date: date | None = Field(description="First day covered again; null while still suspended")


class CoverageChanged(_Contract):
    """enrollment.coverage.changed — the whole coverage as it now stands (event-carried state)."""

    coverage_id: int
    psn_no: str
    insutype: str = Field(description="310 employee or 390 resident (the basic coverage)")
    attached_insutypes: list[str] = Field(description="330 with 310, 392 with 390")
    status: str = Field(description="active | suspended | ended")
    begndate: date
    enddate: date | None
    emp_code: str | None
    psn_type: str | None = Field(description="employed | retired for 310; null for residents")
    assistance: str | None = Field(description="extreme_poverty | minimum_living | monitored | null")
    benefit_start_date: date = Field(description="First day the fund pays (after any waiting period)")
    waiting_months: int
    continuous_years: int
    incentive_raise: Yuan = Field(description="Raise of the critical-illness cap from the incentives")
    suspensions: list[Suspension]


class PersonDeceased(_Contract):
    """enrollment.person.deceased"""

    psn_no: str
    death_date: date


class ContributionPaid(_Contract):
    """enrollment.contribution.paid"""

    contribution_id: int
    psn_no: str
    insutype: str
    period: str = Field(description="YYYY (resident) or YYYY-MM (employee)")
    amount: Yuan
    acct_amount: Yuan = Field(description="Part credited to the personal account")
    paid_at: datetime
    back_payment: bool = Field(
        description="Paid after its period ended (补缴): repairs a break, covers nothing"
    )


class FamilyBound(_Contract):
    """enrollment.family.bound — the holder's whole current family."""

    holder_psn_no: str
    member_psn_nos: list[str]
