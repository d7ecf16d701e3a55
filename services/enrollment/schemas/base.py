"""Shared pieces of enrollment's models: the national codes, strict input, bulk answers' items."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class BulkRejected(BaseModel):
    index: int = Field(description="Position in the request")
    code: str
    detail: str


class BulkCreated(BaseModel):
    index: int = Field(description="Position in the request")
    psn_no: str
    id: int = Field(description="the coverage_id or contribution_id created (or found, for a retry)")
