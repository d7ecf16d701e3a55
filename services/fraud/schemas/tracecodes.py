"""Response models of the trace codes' scan rates (扫码率)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ScanRateOut(BaseModel):
    fixmedins_code: str = Field(description="定点医药机构编码 institution code")
    month: str = Field(description="月份 YYYY-MM (Asia/Shanghai month of the settlement or sale)")
    lines_needing: int = Field(
        description="应扫码明细数 lines whose catalogue item needs a traceability code (settled and sold)"
    )
    lines_scanned: int = Field(description="已扫码明细数 of those, lines that carried at least one code")
    scan_rate: str | None = Field(
        description="扫码率 lines_scanned ÷ lines_needing, 4 places half-up; null when no line needed a code"
    )


class ScanRatesOut(BaseModel):
    month: str = Field(description="月份 YYYY-MM")
    items: list[ScanRateOut] = Field(
        description="one per institution with lines counted that month, by code (an institution's own key: "
        "its own only, even with nothing counted)"
    )
