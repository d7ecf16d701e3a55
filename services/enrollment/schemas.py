"""Request and response models of the enrollment API (national field names, 中文 + English)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan

PsnName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Admdvs = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Tel = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")]
EmpCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[0-9A-Za-z-]+$")
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Insutype(StrEnum):
    EMPLOYEE = "310"  # 职工基本医疗保险
    RESIDENT = "390"  # 城乡居民基本医疗保险


class LookupInsutype(StrEnum):
    EMPLOYEE = "310"
    EMPLOYEE_LARGE = "330"  # 职工大额医疗费用补助, attached to 310
    RESIDENT = "390"
    RESIDENT_CRITICAL = "392"  # 城乡居民大病, attached to 390


class PsnType(StrEnum):
    EMPLOYED = "employed"  # 在职
    RETIRED = "retired"  # 退休


class Assistance(StrEnum):
    EXTREME_POVERTY = "extreme_poverty"  # 特困
    MINIMUM_LIVING = "minimum_living"  # 低保
    MONITORED = "monitored"  # 监测对象


class CoverageStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class Gend(StrEnum):
    MALE = "1"
    FEMALE = "2"


class PersonIn(Strict):
    """Register a person (参保人登记)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "certno": "420102199003071259",
                    "psn_name": "张三",
                    "gend": "1",
                    "brdy": "1990-03-07",
                    "admdvs": "420100",
                    "tel": "13812345678",
                }
            ]
        },
    )

    certno: str = Field(description="身份证号 resident ID (18 characters, GB 11643 checksum)", max_length=32)
    psn_name: PsnName = Field(description="姓名 name")
    gend: Gend | None = Field(None, description="性别 gender: 1 男 male, 2 女 female; must agree with certno")
    brdy: date | None = Field(None, description="出生日期 birth date; must agree with certno")
    admdvs: Admdvs = Field(description="参保地行政区划 region code of enrollment, 6 digits (420100 武汉)")
    tel: Tel | None = Field(None, description="联系电话 phone")


class PersonOut(BaseModel):
    psn_no: str = Field(description="人员编号 person number (opaque, stable)")
    certno: str = Field(description="身份证号 (masked in lists)")
    psn_name: str
    gend: str
    brdy: date
    admdvs: str
    tel: str | None = Field(description="联系电话 (masked in lists)")
    death_date: date | None = Field(description="死亡日期 date of death")
    created_at: datetime


class PersonPage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None


class BulkPersonsIn(Strict):
    """Initial load: many persons at once (at most 10,000 per call)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "persons": [
                        {
                            "certno": "420102199003071259",
                            "psn_name": "张三",
                            "gend": "1",
                            "brdy": "1990-03-07",
                            "admdvs": "420100",
                        },
                        {"certno": "42010219850612002X", "psn_name": "李四", "admdvs": "420100"},
                    ]
                }
            ]
        },
    )

    persons: list[PersonIn] = Field(min_length=1, max_length=10_000)


class BulkRejected(BaseModel):
    index: int = Field(description="Position in the request")
    code: str
    detail: str


class BulkExisting(BaseModel):
    index: int
    psn_no: str


class BulkPersonsOut(BaseModel):
    created: int
    registered: list[str] = Field(description="psn_no of each new person, in request order")
    existing: list[BulkExisting] = Field(description="certnos already registered, with their psn_no")
    rejected: list[BulkRejected]


class CoverageIn(Strict):
    """Enroll a person in basic insurance (参保)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "insutype": "310",
                    "begndate": "2026-01-01",
                    "emp_code": "91420100MA4K123456",
                    "psn_type": "employed",
                },
                {"insutype": "390", "begndate": "2026-01-01", "assistance": "minimum_living"},
            ]
        },
    )

    insutype: Insutype = Field(
        description="险种 310 职工基本医疗保险 employee | 390 城乡居民基本医疗保险 resident"
    )
    begndate: date = Field(description="开始日期 first day of coverage")
    emp_code: EmpCode | None = Field(None, description="单位编号 employer code (310 only, required)")
    psn_type: PsnType | None = Field(None, description="人员类别 employed 在职 | retired 退休 (310 only)")
    assistance: Assistance | None = Field(None, description="医疗救助类别 assistance category")
    enrolled_on: date | None = Field(
        None, description="参保登记日期 date of enrolment (default today; earlier dates load history)"
    )


class SuspensionOut(BaseModel):
    from_date: date
    to_date: date | None


class CoverageOut(BaseModel):
    coverage_id: int
    psn_no: str
    insutype: str
    attached_insutypes: list[str] = Field(description="330 with 310, 392 with 390")
    status: CoverageStatus
    begndate: date
    enddate: date | None
    emp_code: str | None
    psn_type: str | None
    assistance: str | None
    enrolled_on: date
    benefit_start_date: date = Field(description="待遇享受开始日期 first day the fund pays")
    waiting_months: int = Field(description="待遇等待期 months (fixed + variable)")
    break_years: int = Field(description="断保年数 years without coverage before this one")
    continuous_years: int = Field(description="连续参保年数")
    incentive_raise: Yuan = Field(description="大病保险最高支付限额提高额 raise of the critical-illness cap")
    suspensions: list[SuspensionOut]
    end_reason: str | None


class StatusChangeIn(Strict):
    """Suspend or resume a coverage from a date (default today)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"date": "2026-03-01", "reason": "单位停缴 employer stopped paying"}]
        },
    )

    date_: date | None = Field(None, alias="date", description="生效日期 effective date (default today)")
    reason: Reason | None = None


class EndCoverageIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enddate": "2026-06-30", "reason": "转出 moved to another city"}]},
    )

    enddate: date = Field(description="终止日期 last day covered")
    reason: Reason | None = None


class AssistanceIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assistance": "minimum_living"}, {"assistance": None}]},
    )

    assistance: Assistance | None = Field(description="new assistance category, or null to clear it")


class ContributionIn(Strict):
    """A contribution (缴费) for one period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "insutype": "310",
                    "period": "2026-01",
                    "amount": "800.00",
                    "paid_at": "2026-01-15T10:00:00+08:00",
                },
                {
                    "insutype": "390",
                    "period": "2026",
                    "amount": "400.00",
                    "paid_at": "2025-11-02T09:30:00+08:00",
                },
            ]
        },
    )

    insutype: Insutype
    period: str = Field(description="缴费期 YYYY for 390, YYYY-MM for 310", max_length=7)
    amount: Yuan = Field(description="缴费金额 amount (yuan)")
    paid_at: AwareDatetime = Field(description="缴费时间 time of payment, ISO 8601 with offset")
    acct_amount: Yuan | None = Field(
        None,
        description="划入个人账户 part credited to the personal account: for 310 default amount × 2 ÷ 10; "
        "for 390 always 0",
    )


class BulkCoverageItem(CoverageIn):
    """One enrolment of a bulk load: the person and the coverage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "P4201000000001",
                    "insutype": "310",
                    "begndate": "2026-01-01",
                    "emp_code": "91420100MA4K123456",
                    "psn_type": "employed",
                }
            ]
        },
    )
    psn_no: str = Field(min_length=1, max_length=30, description="人员编号 the person enrolled")


class BulkCoveragesIn(Strict):
    """Initial load: many enrolments at once (at most 10,000 per call), each under the rules of one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "coverages": [
                        {
                            "psn_no": "P4201000000001",
                            "insutype": "310",
                            "begndate": "2026-01-01",
                            "emp_code": "91420100MA4K123456",
                        },
                        {"psn_no": "P4201000000002", "insutype": "390", "begndate": "2026-01-01"},
                    ]
                }
            ]
        },
    )

    coverages: list[BulkCoverageItem] = Field(min_length=1, max_length=10_000)


class BulkCreated(BaseModel):
    index: int = Field(description="Position in the request")
    psn_no: str
    id: int = Field(description="the coverage_id or contribution_id created (or found, for a retry)")


class BulkCoveragesOut(BaseModel):
    created: list[BulkCreated]
    rejected: list[BulkRejected] = Field(description="items refused, each with the code one call would give")


class BulkContributionItem(ContributionIn):
    """One contribution of a bulk load: the person and the contribution."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "P4201000000001",
                    "insutype": "310",
                    "period": "2026-01",
                    "amount": "800.00",
                    "paid_at": "2026-01-15T10:00:00+08:00",
                }
            ]
        },
    )
    psn_no: str = Field(min_length=1, max_length=30, description="人员编号 the contributor")


class BulkContributionsIn(Strict):
    """Initial load: many contributions at once (at most 10,000 per call), idempotent per person and period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contributions": [
                        {
                            "psn_no": "P4201000000001",
                            "insutype": "310",
                            "period": "2026-01",
                            "amount": "800.00",
                            "paid_at": "2026-01-15T10:00:00+08:00",
                        },
                        {
                            "psn_no": "P4201000000002",
                            "insutype": "390",
                            "period": "2026",
                            "amount": "400.00",
                            "paid_at": "2025-11-02T09:30:00+08:00",
                        },
                    ]
                }
            ]
        },
    )

    contributions: list[BulkContributionItem] = Field(min_length=1, max_length=10_000)


class BulkContributionsOut(BaseModel):
    created: list[BulkCreated]
    existing: list[BulkCreated] = Field(description="the same contribution was recorded before (a retry)")
    rejected: list[BulkRejected]


class ContributionOut(BaseModel):
    contribution_id: int
    psn_no: str
    insutype: str
    period: str
    amount: Yuan
    acct_amount: Yuan
    paid_at: datetime
    back_payment: bool = Field(description="补缴: paid after its period; repairs a break, covers nothing")


class DeathIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"death_date": "2026-02-14"}]})

    death_date: date = Field(description="死亡日期 date of death")


class FamilyIn(Strict):
    """Bind close relatives to an employee's personal account (家庭共济)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"holder_psn_no": "P0A1B2C3D4E5F6071829", "member_psn_nos": ["P1B2C3D4E5F607182930"]}
            ]
        },
    )

    holder_psn_no: str = Field(max_length=20, description="共济账户持有人 the employee")
    member_psn_nos: list[Annotated[str, StringConstraints(max_length=20)]] = Field(
        min_length=1, max_length=20, description="共济人员 relatives"
    )


class FamilyOut(BaseModel):
    holder_psn_no: str
    member_psn_nos: list[str]


class IneligibleReason(StrEnum):
    NO_COVERAGE = "NO_COVERAGE"
    SUSPENDED = "SUSPENDED"
    WAITING_PERIOD = "WAITING_PERIOD"
    DECEASED = "DECEASED"


class EligibilityOut(BaseModel):
    """The 1101-style look-up HIS calls first."""

    eligible: bool
    psn_no: str
    date_: date = Field(serialization_alias="date", description="the date asked about")
    insutype: str | None = Field(description="the insutype asked for (or the basic one)")
    coverage_id: int | None
    psn_type: str | None
    assistance: str | None
    benefit_start_date: date | None
    waiting_days: int = Field(description="days left until the fund pays (0 when eligible)")
    incentive_raise: Yuan | None = Field(description="critical-illness cap raise (residents)")
    reason: IneligibleReason | None = Field(description="why not eligible")


class StatsRow(BaseModel):
    insutype: str
    status: str
    count: int


class EnrollmentStats(BaseModel):
    admdvs: str | None
    persons: int
    deceased: int
    coverages: list[StatsRow]
