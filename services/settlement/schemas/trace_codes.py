"""Request and response models of the 依码结算 policy: a switch per institution type."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from settlement.schemas.reference import FixmedinsType, Note, Strict


class TraceCodeSwitchIn(Strict):
    """Turn 依码结算 on or off for an institution type."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "required": True,
                    "note": "2027年1月起定点药店依码结算 pharmacies settle by trace code from 2027-01",
                }
            ]
        },
    )

    required: bool = Field(
        description="依码结算 true: a drug line whose catalogue item needs a traceability code and carries "
        "none is refused (422 TRACE_CODE_REQUIRED); false: accepted (counted in the scan rate only)"
    )
    note: Note | None = Field(None, description="说明 why, e.g. the notice that announced it")


class TraceCodeSwitchOut(BaseModel):
    fixmedins_type: FixmedinsType = Field(description="机构类型 hospital | pharmacy")
    required: bool = Field(description="依码结算 in force for this type")
    version: int = Field(description="版本 the change in force; 0: never set (off by default)")
    note: str | None = Field(description="说明")
    created_by: str = Field(description="设置人 who set it (never set: system)")
    created_at: datetime | None = Field(description="设置时间; null when never set")


class TraceCodePolicyOut(BaseModel):
    types: list[TraceCodeSwitchOut] = Field(description="each institution type's switch as it stands")
    history: list[TraceCodeSwitchOut] = Field(description="every change, oldest first")
