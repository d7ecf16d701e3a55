"""Routes of the traceability codes (追溯码): the scan rate per institution and month (扫码率)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.principal import Role
from fraud.api.deps import PROBLEMS, InstitutionPrincipal, ensure_scope
from fraud.schemas.tracecodes import ScanRateOut, ScanRatesOut
from fraud.service import tracecodes
from fraud.uow import Uow

router = APIRouter(tags=["trace codes 追溯码"], responses=PROBLEMS)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


@router.get(
    "/trace-codes/scan-rates",
    response_model=ScanRatesOut,
    summary="Scan rates of traceability codes per institution and month 追溯码扫码率",
    description="Per institution and month (the Asia/Shanghai month of the settlement or the sale): the lines "
    "whose catalogue item needs a traceability code (`trac_codg_required` in settlement's catalogue), settled "
    "fee lines and POS sale lines alike; those that carried at least one code; and the rate, 4 places "
    "half-up (null when no line needed one). A reversed settlement or a refunded sale takes its lines back "
    "out. Staff see every institution (or the one asked); an institution's key sees only its own. A month "
    "not spelt YYYY-MM is 422 VALIDATION_ERROR.",
)
async def list_scan_rates(
    uow: Uow,
    principal: InstitutionPrincipal,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="月份 YYYY-MM")],
    fixmedins_code: Annotated[
        str | None, Query(max_length=30, description="定点医药机构编码 (an institution's key: its own)")
    ] = None,
) -> ScanRatesOut:
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope or ""
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    rates = await tracecodes.scan_rates(uow=uow, month=month, fixmedins_code=fixmedins_code)
    return ScanRatesOut(
        month=month,
        items=[
            ScanRateOut(
                fixmedins_code=code,
                month=month,
                lines_needing=rate.lines_needing,
                lines_scanned=rate.lines_scanned,
                scan_rate=format(rate.rate, "f") if rate.rate is not None else None,
            )
            for code, rate in rates
        ],
    )
