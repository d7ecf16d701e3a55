"""Persons (参保人): registration, the register's pages, bulk loads, death."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from enrollment.schemas.base import Admdvs, BulkRejected, Gend, PsnName, Strict, Tel


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


class BulkExisting(BaseModel):
    index: int
    psn_no: str


class BulkPersonsOut(BaseModel):
    created: int
    registered: list[str] = Field(description="psn_no of each new person, in request order")
    existing: list[BulkExisting] = Field(description="certnos already registered, with their psn_no")
    rejected: list[BulkRejected]


class DeathIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"death_date": "2026-02-14"}]})

    death_date: date = Field(description="死亡日期 date of death")
