"""Request and response models of the real-time review (事前/事中审核, like 3101/3102)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.events.review import ReviewHit
from common.money import Price, Quantity, Yuan

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class ReviewLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedetl_sn: Code = Field(description="费用明细流水号 fee line number, unique in the claim")
    med_list_codg: Code = Field(description="医疗目录编码 national catalogue code")
    chrgitm_lv: str | None = Field(default=None, max_length=2, description="收费项目等级 01 | 02 | 03")
    cnt: Quantity = Field(gt=Decimal(0), description="数量 quantity (≤ 4 places)")
    pric: Price = Field(ge=Decimal(0), description="单价 unit price, yuan (≤ 6 places)")
    det_item_fee_sumamt: Yuan = Field(ge=Decimal(0), description="明细项目费用总额 line amount, yuan")
    fee_ocur_time: datetime = Field(description="费用发生时间 when, ISO 8601 with offset")
    drug_trac_codg: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=1000, description="药品追溯码 traceability codes, one per pack"
    )


class ReviewIn(BaseModel):
    """A claim to review before it is settled (the same claim settlement sends on fraud.review)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "stage": "in",
                    "psn_no": "P4201000000000000001",
                    "gend": "1",
                    "brdy": "1958-04-12",
                    "insutype": "310",
                    "med_type": "41",
                    "fixmedins_code": "P42010200007",
                    "fixmedins_type": "pharmacy",
                    "hosp_lv": None,
                    "admdvs": "420100",
                    "mdtrt_id": None,
                    "begntime": "2026-03-02T09:30:00+08:00",
                    "endtime": None,
                    "dise_codg": None,
                    "medfee_sumamt": "62.40",
                    "lines": [
                        {
                            "feedetl_sn": "1",
                            "med_list_codg": "XA10BAE036A001010100445",
                            "chrgitm_lv": "01",
                            "cnt": "2",
                            "pric": "31.2",
                            "det_item_fee_sumamt": "62.40",
                            "fee_ocur_time": "2026-03-02T09:31:00+08:00",
                            "drug_trac_codg": ["81234560012345678901", "81234560012345678902"],
                        }
                    ],
                }
            ]
        },
    )

    stage: Literal["pre", "in"] = Field(
        default="in", description="事前 pre (prescribing) or 事中 in (settling)"
    )
    psn_no: Code = Field(description="人员编号 insured person")
    gend: Literal["1", "2"] = Field(description="性别 1 male, 2 female")
    brdy: date = Field(description="出生日期 birth date")
    insutype: Code = Field(description="险种类型 310 | 390 | ...")
    med_type: Code = Field(description="医疗类别 11 | 14 | 21 | 41")
    fixmedins_code: Code = Field(description="定点医药机构编码")
    fixmedins_type: Literal["hospital", "pharmacy"] = Field(description="机构类型")
    hosp_lv: int | None = Field(
        default=None, ge=1, le=3, description="医院等级 1 | 2 | 3; null for pharmacies"
    )
    admdvs: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(description="行政区划 6 digits")
    mdtrt_id: str | None = Field(default=None, max_length=40, description="就诊ID, if registered")
    begntime: datetime = Field(description="开始时间 care began")
    endtime: datetime | None = Field(default=None, description="结束时间 discharge, inpatient")
    dise_codg: str | None = Field(default=None, max_length=30, description="病种编码 ICD-10 diagnosis")
    medfee_sumamt: Yuan = Field(ge=Decimal(0), description="医疗费总额 total, yuan")
    lines: list[ReviewLineIn] = Field(min_length=1, max_length=2000, description="费用明细 fee lines")


class ReviewOut(BaseModel):
    status: Literal["passed", "warned", "blocked"] = Field(
        description="结论 passed (no hits), warned (warn/info hits), blocked (a block hit: do not settle)"
    )
    hits: list[ReviewHit] = Field(description="命中 hits, each naming the rule and its version")
