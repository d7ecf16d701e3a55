"""Routes of payment by points (DRG/DIP): the year's reference data, the settlement list (医保结算清单), a case's
grouping and 特例单议, the year clearing (年清算) and budget execution (DESIGN §12)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from common.bulk import records_of
from common.deps import PROBLEMS, ClockDep
from common.errors import NotFound
from common.principal import OpsPrincipal, Role
from settlement.api.deps import InstitutionPrincipal, ensure_scope
from settlement.api.reference import BULK_RESPONSES, _bulk_body
from settlement.models import DipRow, DrgAdrg, DrgComplication, PaymentYear, PointsGroup, QualityScore
from settlement.schemas.points import (
    AdrgCode,
    AdrgIn,
    AdrgOut,
    AdrgPage,
    AdrgRow,
    BudgetExecutionOut,
    CaseKind,
    CaseOut,
    CasePage,
    ClearingIn,
    ClearingLineOut,
    ClearingOut,
    Code,
    ComplicationIn,
    ComplicationOut,
    ComplicationPage,
    ComplicationRow,
    DipRowIn,
    DipRowOut,
    DipRowPage,
    DipRowRow,
    GroupCode,
    GroupIn,
    GroupOut,
    GroupPage,
    GroupRow,
    PaymentYearIn,
    PaymentYearList,
    PaymentYearOut,
    PaymentYearRow,
    PoolInsutype,
    QualityScoreIn,
    QualityScoreList,
    QualityScoreOut,
    QualityScoreRow,
    SettlementListIn,
    SettlementListOut,
    SpecialPointsIn,
)
from settlement.schemas.reference import BulkOut, FixmedinsCode
from settlement.service import clearing, points
from settlement.uow import Uow

router = APIRouter(responses=PROBLEMS)
REFERENCE = "points reference 点数法基础数据"
LISTS = "settlement list 医保结算清单"
CLEARING = "year clearing 年清算"
YearPath = Annotated[int, Path(ge=2000, le=2100, description="付费年度")]
InsutypePath = Annotated[PoolInsutype, Path(description="险种 310 职工 | 390 居民")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]
NONE = "none"  # the procedure of a conservative DIP row on its path


def _bulk(result: Any) -> BulkOut:
    return BulkOut(created=result.created, updated=result.updated, unchanged=result.unchanged)


def _created(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200


_PUT = {**PROBLEMS, 200: {"description": "It existed: replaced"}}


# --- payment years ---------------------------------------------------------------------------------------


async def _year_out(uow: Any, row: PaymentYear) -> PaymentYearOut:
    statuses = await uow.points.clearing_statuses(row.year)
    return PaymentYearOut.model_validate(points.payment_year_view(row, statuses.get(row.insutype)))


@router.put(
    "/payment-years/{year}/{insutype}",
    response_model=PaymentYearOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Create or replace a pool's payment year 付费年度: method, budget, parameters",
)
async def put_payment_year(
    year: YearPath,
    insutype: InsutypePath,
    body: PaymentYearIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> PaymentYearOut:
    """A pool's payment year: DRG or DIP, the budget (以收定支) and the parameters of the year clearing.

    Every parameter is optional with the default of docs/points-payment.md. 409 YEAR_CONFIRMED once the pool's clearing
    of the year is confirmed.
    """
    row, created = await points.put_payment_year(
        uow=uow, year=year, insutype=insutype.value, data=body, clock=clock
    )
    _created(response, created)
    return await _year_out(uow, row)


@router.post(
    "/payment-years/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Load payment years, all or nothing (JSON or CSV)",
    openapi_extra=_bulk_body(
        "payment_years",
        PaymentYearRow,
        {"payment_years": [{"year": 2026, "insutype": "390", "method": "dip", "budget": "30000000.00"}]},
        "year,insutype,method,budget,quality_reserve_ratio\n2026,390,dip,30000000.00,0.05\n",
    ),
)
async def load_payment_years(request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> BulkOut:
    """Many payment years at once; one bad row is 422 BULK_INVALID and nothing is written."""
    records = await records_of(request, "payment_years", PaymentYearRow)
    return _bulk(await points.load_payment_years(uow=uow, records=records, clock=clock))


@router.get("/payment-years", response_model=PaymentYearList, tags=[REFERENCE], summary="Payment years")
async def list_payment_years(
    uow: Uow, _who: InstitutionPrincipal, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> PaymentYearList:
    """Every payment year (of one year when given), with the status of its clearing."""
    return PaymentYearList(items=[await _year_out(uow, row) for row in await uow.points.payment_years(year)])


@router.get(
    "/payment-years/{year}/{insutype}",
    response_model=PaymentYearOut,
    tags=[REFERENCE],
    summary="A payment year",
)
async def get_payment_year(
    year: YearPath, insutype: InsutypePath, uow: Uow, _who: InstitutionPrincipal
) -> PaymentYearOut:
    """A pool's payment year; 404 PAYMENT_YEAR_NOT_FOUND when its inpatient care is not paid by points."""
    return await _year_out(uow, await points.get_payment_year(uow=uow, year=year, insutype=insutype.value))


@router.delete(
    "/payment-years/{year}/{insutype}", status_code=204, tags=[REFERENCE], summary="Remove a payment year"
)
async def delete_payment_year(
    year: YearPath, insutype: InsutypePath, uow: Uow, _ops: OpsPrincipal
) -> Response:
    """Remove a pool's payment year (404 PAYMENT_YEAR_NOT_FOUND); 409 YEAR_CONFIRMED once its clearing is
    confirmed."""
    await points.delete_row(
        uow, PaymentYear, year, insutype.value, what="payment year", code="PAYMENT_YEAR_NOT_FOUND"
    )
    return Response(status_code=204)


# --- groups ----------------------------------------------------------------------------------------------


GroupPath = Annotated[GroupCode, Path(description="病组/病种编码 group code")]
CodePath = Annotated[Code, Path(description="diagnosis prefix")]


def _group_out(row: PointsGroup) -> GroupOut:
    return GroupOut(
        year=row.year,
        group_code=row.group_code,
        group_name=row.group_name,
        points=Decimal(row.points),
        avg_cost=Decimal(row.avg_cost_fen) / 100,
        updated_at=row.updated_at,
    )


@router.put(
    "/points/{year}/groups/{group_code}",
    response_model=GroupOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Create or replace a DRG/DIP group of a year 病组/病种分值",
)
async def put_group(
    year: YearPath,
    group_code: GroupPath,
    body: GroupIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> GroupOut:
    """A group's points (4 decimals) and its base-year average cost per case."""
    row = points.YEAR_TABLES["groups"].to_row(year, GroupRow(group_code=group_code, **body.model_dump()))
    _created(response, await points.put_year_row(uow, PointsGroup, row, clock=clock))
    return _group_out(await uow.points.find(PointsGroup, year, group_code))


@router.post(
    "/points/{year}/groups/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Load a year's groups, all or nothing (JSON or CSV)",
    openapi_extra=_bulk_body(
        "groups",
        GroupRow,
        {
            "groups": [
                {
                    "group_code": "HC23",
                    "group_name": "胆囊切除术，伴并发症",
                    "points": "85.2300",
                    "avg_cost": "12000.00",
                }
            ]
        },
        "group_code,group_name,points,avg_cost\nHC23,胆囊切除术，伴并发症,85.2300,12000.00\n",
    ),
)
async def load_groups(
    year: YearPath, request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep
) -> BulkOut:
    """A year's groups at once (JSON or CSV); one bad row is 422 BULK_INVALID listing the rows at fault, and
    nothing is written."""
    records = await records_of(request, "groups", GroupRow)
    return _bulk(
        await points.load_year_table(uow=uow, table="groups", year=year, records=records, clock=clock)
    )


@router.get("/points/{year}/groups", response_model=GroupPage, tags=[REFERENCE], summary="A year's groups")
async def list_groups(
    year: YearPath, uow: Uow, _who: InstitutionPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> GroupPage:
    """A year's groups in code order, a page at a time."""
    page = await uow.points.page(PointsGroup, year=year, limit=limit, cursor=cursor or None)
    return GroupPage(items=[_group_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.get(
    "/points/{year}/groups/{group_code}", response_model=GroupOut, tags=[REFERENCE], summary="A group"
)
async def get_group(year: YearPath, group_code: GroupPath, uow: Uow, _who: InstitutionPrincipal) -> GroupOut:
    """One group of a year: its points and base-year average cost; 404 GROUP_NOT_FOUND."""
    found = await uow.points.find(PointsGroup, year, group_code)
    if found is None:
        raise NotFound(f"No group {group_code} in {year}.", code="GROUP_NOT_FOUND")
    return _group_out(found)


@router.delete(
    "/points/{year}/groups/{group_code}", status_code=204, tags=[REFERENCE], summary="Remove a group"
)
async def delete_group(year: YearPath, group_code: GroupPath, uow: Uow, _ops: OpsPrincipal) -> Response:
    """Remove a group of a year (404 GROUP_NOT_FOUND); 409 YEAR_CONFIRMED once a clearing of the year is
    confirmed."""
    await points.delete_row(uow, PointsGroup, year, group_code, what="group", code="GROUP_NOT_FOUND")
    return Response(status_code=204)


# --- DIP rows ----------------------------------------------------------------------------------------------


def _dip_out(row: DipRow) -> DipRowOut:
    return DipRowOut(
        year=row.year,
        dise_prefix=row.dise_prefix,
        oprn_code=row.oprn_code or None,
        group_code=row.group_code,
        updated_at=row.updated_at,
    )


@router.put(
    "/points/{year}/dip-rows/{dise_prefix}/{oprn_code}",
    response_model=DipRowOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Create or replace a DIP matching row (oprn_code `none`: conservative)",
)
async def put_dip_row(
    year: YearPath,
    dise_prefix: CodePath,
    oprn_code: Annotated[Code, Path(description="procedure code, or `none` (保守治疗)")],
    body: DipRowIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> DipRowOut:
    """group ← (main-diagnosis prefix, procedure or none): the longest prefix with one of the case's
    procedures wins (the main one preferred); a case without procedures takes the longest conservative row."""
    procedure = None if oprn_code.lower() == NONE else oprn_code
    row = points.YEAR_TABLES["rows"].to_row(
        year, DipRowRow(dise_prefix=dise_prefix, oprn_code=procedure, group_code=body.group_code)
    )
    _created(response, await points.put_year_row(uow, DipRow, row, clock=clock))
    return _dip_out(await uow.points.find(DipRow, year, row["dise_prefix"], row["oprn_code"]))


@router.post(
    "/points/{year}/dip-rows/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Load a year's DIP matching rows, all or nothing (JSON or CSV)",
    openapi_extra=_bulk_body(
        "rows",
        DipRowRow,
        {
            "rows": [
                {"dise_prefix": "K80.1", "oprn_code": "51.2300", "group_code": "K80.1-51.23"},
                {"dise_prefix": "K80.1", "group_code": "K80.1-C"},
            ]
        },
        "dise_prefix,oprn_code,group_code\nK80.1,51.2300,K80.1-51.23\nK80.1,,K80.1-C\n",
    ),
)
async def load_dip_rows(
    year: YearPath, request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep
) -> BulkOut:
    """A year's DIP matching rows at once (JSON or CSV; an empty oprn_code is the conservative row); all or
    nothing."""
    records = await records_of(request, "rows", DipRowRow)
    return _bulk(await points.load_year_table(uow=uow, table="rows", year=year, records=records, clock=clock))


@router.get(
    "/points/{year}/dip-rows", response_model=DipRowPage, tags=[REFERENCE], summary="A year's DIP rows"
)
async def list_dip_rows(
    year: YearPath, uow: Uow, _who: InstitutionPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> DipRowPage:
    """A year's DIP matching rows by prefix and procedure, a page at a time."""
    page = await uow.points.page(DipRow, year=year, limit=limit, cursor=cursor or None)
    return DipRowPage(items=[_dip_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.delete(
    "/points/{year}/dip-rows/{dise_prefix}/{oprn_code}",
    status_code=204,
    tags=[REFERENCE],
    summary="Remove a DIP row",
)
async def delete_dip_row(
    year: YearPath, dise_prefix: CodePath, oprn_code: Annotated[Code, Path()], uow: Uow, _ops: OpsPrincipal
) -> Response:
    """Remove a DIP matching row (`none` for the conservative row); 404 DIP_ROW_NOT_FOUND."""
    procedure = "" if oprn_code.lower() == NONE else oprn_code.upper()
    await points.delete_row(
        uow, DipRow, year, dise_prefix.upper(), procedure, what="DIP row", code="DIP_ROW_NOT_FOUND"
    )
    return Response(status_code=204)


# --- DRG tables ----------------------------------------------------------------------------------------------


AdrgPath = Annotated[AdrgCode, Path(description="ADRG code")]


def _adrg_out(row: DrgAdrg) -> AdrgOut:
    return AdrgOut.model_validate(row, from_attributes=True)


@router.put(
    "/points/{year}/drg-adrgs/{adrg}",
    response_model=AdrgOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Create or replace a DRG grouping row (ADRG)",
)
async def put_adrg(
    year: YearPath,
    adrg: AdrgPath,
    body: AdrgIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> AdrgOut:
    """An ADRG: its main-diagnosis prefixes, its procedures (none: a medical ADRG) and its priority. Surgical
    ADRGs whose procedures the case has win over medical ones, then the lowest priority."""
    row = points.YEAR_TABLES["adrgs"].to_row(year, AdrgRow(adrg=adrg, **body.model_dump()))
    _created(response, await points.put_year_row(uow, DrgAdrg, row, clock=clock))
    return _adrg_out(await uow.points.find(DrgAdrg, year, row["adrg"]))


@router.post(
    "/points/{year}/drg-adrgs/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Load a year's ADRG rows, all or nothing (JSON or CSV; lists `|`-separated in CSV)",
    openapi_extra=_bulk_body(
        "adrgs",
        AdrgRow,
        {"adrgs": [{"adrg": "HC2", "dise_prefixes": ["K80"], "oprn_codes": ["51.2300"], "priority": 10}]},
        "adrg,adrg_name,dise_prefixes,oprn_codes,priority\nHC2,胆囊切除术,K80|K81,51.2200|51.2300,10\n",
    ),
)
async def load_adrgs(
    year: YearPath, request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep
) -> BulkOut:
    """A year's ADRG rows at once (JSON or CSV, the lists `|`-separated in a CSV cell); all or nothing."""
    records = await records_of(request, "adrgs", AdrgRow)
    return _bulk(
        await points.load_year_table(uow=uow, table="adrgs", year=year, records=records, clock=clock)
    )


@router.get(
    "/points/{year}/drg-adrgs", response_model=AdrgPage, tags=[REFERENCE], summary="A year's ADRG rows"
)
async def list_adrgs(
    year: YearPath, uow: Uow, _who: InstitutionPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> AdrgPage:
    """A year's ADRG rows in code order, a page at a time."""
    page = await uow.points.page(DrgAdrg, year=year, limit=limit, cursor=cursor or None)
    return AdrgPage(items=[_adrg_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.delete(
    "/points/{year}/drg-adrgs/{adrg}", status_code=204, tags=[REFERENCE], summary="Remove an ADRG row"
)
async def delete_adrg(year: YearPath, adrg: AdrgPath, uow: Uow, _ops: OpsPrincipal) -> Response:
    """Remove an ADRG row; 404 ADRG_NOT_FOUND."""
    await points.delete_row(uow, DrgAdrg, year, adrg.upper(), what="ADRG", code="ADRG_NOT_FOUND")
    return Response(status_code=204)


def _complication_out(row: DrgComplication) -> ComplicationOut:
    return ComplicationOut.model_validate(row, from_attributes=True)


@router.put(
    "/points/{year}/drg-complications/{dise_prefix}",
    response_model=ComplicationOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Create or replace a CC/MCC diagnosis prefix",
)
async def put_complication(
    year: YearPath,
    dise_prefix: CodePath,
    body: ComplicationIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> ComplicationOut:
    """A secondary diagnosis starting with this prefix makes the case an MCC (suffix 1) or CC (suffix 3)
    case."""
    row = points.YEAR_TABLES["complications"].to_row(
        year, ComplicationRow(dise_prefix=dise_prefix, level=body.level)
    )
    _created(response, await points.put_year_row(uow, DrgComplication, row, clock=clock))
    return _complication_out(await uow.points.find(DrgComplication, year, row["dise_prefix"]))


@router.post(
    "/points/{year}/drg-complications/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Load a year's CC/MCC list, all or nothing (JSON or CSV)",
    openapi_extra=_bulk_body(
        "complications",
        ComplicationRow,
        {"complications": [{"dise_prefix": "J96", "level": "mcc"}]},
        "dise_prefix,level\nJ96,mcc\nE11,cc\n",
    ),
)
async def load_complications(
    year: YearPath, request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep
) -> BulkOut:
    """A year's CC/MCC list at once (JSON or CSV); all or nothing."""
    records = await records_of(request, "complications", ComplicationRow)
    return _bulk(
        await points.load_year_table(uow=uow, table="complications", year=year, records=records, clock=clock)
    )


@router.get(
    "/points/{year}/drg-complications",
    response_model=ComplicationPage,
    tags=[REFERENCE],
    summary="A year's CC/MCC list",
)
async def list_complications(
    year: YearPath, uow: Uow, _who: InstitutionPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> ComplicationPage:
    """A year's CC/MCC list by prefix, a page at a time."""
    page = await uow.points.page(DrgComplication, year=year, limit=limit, cursor=cursor or None)
    return ComplicationPage(
        items=[_complication_out(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.delete(
    "/points/{year}/drg-complications/{dise_prefix}",
    status_code=204,
    tags=[REFERENCE],
    summary="Remove a CC/MCC prefix",
)
async def delete_complication(
    year: YearPath, dise_prefix: CodePath, uow: Uow, _ops: OpsPrincipal
) -> Response:
    """Remove a CC/MCC prefix; 404 COMPLICATION_NOT_FOUND."""
    await points.delete_row(
        uow, DrgComplication, year, dise_prefix.upper(), what="complication", code="COMPLICATION_NOT_FOUND"
    )
    return Response(status_code=204)


# --- quality scores --------------------------------------------------------------------------------------------


def _score_out(row: QualityScore) -> QualityScoreOut:
    return QualityScoreOut(
        year=row.year,
        insutype=row.insutype,
        fixmedins_code=row.fixmedins_code,
        score=Decimal(row.score),
        updated_at=row.updated_at,
    )


@router.put(
    "/quality-scores/{year}/{insutype}/{fixmedins_code}",
    response_model=QualityScoreOut,
    status_code=201,
    responses=_PUT,
    tags=[REFERENCE],
    summary="Enter an institution's quality score s_i of a year 质量考核",
)
async def put_quality_score(
    year: YearPath,
    insutype: InsutypePath,
    fixmedins_code: Annotated[FixmedinsCode, Path()],
    body: QualityScoreIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> QualityScoreOut:
    """The year's quality assessment in [0, 1] (1 when none is entered): final = A × (1 − q × (1 − s))."""
    row, created = await points.put_quality_score(
        uow=uow, year=year, insutype=insutype.value, fixmedins_code=fixmedins_code, data=body, clock=clock
    )
    _created(response, created)
    return _score_out(row)


@router.post(
    "/quality-scores/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[REFERENCE],
    summary="Enter many quality scores, all or nothing (JSON or CSV)",
    openapi_extra=_bulk_body(
        "scores",
        QualityScoreRow,
        {"scores": [{"year": 2026, "insutype": "390", "fixmedins_code": "H42010200001", "score": "0.95"}]},
        "year,insutype,fixmedins_code,score\n2026,390,H42010200001,0.95\n",
    ),
)
async def load_quality_scores(request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> BulkOut:
    """Many institutions' scores at once (JSON or CSV); every institution must be paid by points (422
    NOT_POINTS_INSTITUTION); all or nothing."""
    records = await records_of(request, "scores", QualityScoreRow)
    return _bulk(await points.load_quality_scores(uow=uow, records=records, clock=clock))


@router.get("/quality-scores", response_model=QualityScoreList, tags=[REFERENCE], summary="Quality scores")
async def list_quality_scores(
    uow: Uow, _ops: OpsPrincipal, year: Annotated[int, Query(ge=2000, le=2100)], insutype: PoolInsutype
) -> QualityScoreList:
    """The quality scores entered for a pool's year, by institution (an institution without one counts as 1)."""
    rows = await uow.points.all_of_year(QualityScore, year, insutype=insutype.value)
    return QualityScoreList(items=[_score_out(row) for row in sorted(rows, key=lambda r: r.fixmedins_code)])


@router.delete(
    "/quality-scores/{year}/{insutype}/{fixmedins_code}",
    status_code=204,
    tags=[REFERENCE],
    summary="Remove a quality score (back to 1)",
)
async def delete_quality_score(
    year: YearPath,
    insutype: InsutypePath,
    fixmedins_code: Annotated[FixmedinsCode, Path()],
    uow: Uow,
    _ops: OpsPrincipal,
) -> Response:
    """Remove an institution's score: it counts as 1 again; 404 QUALITY_SCORE_NOT_FOUND."""
    await points.delete_row(
        uow,
        QualityScore,
        year,
        insutype.value,
        fixmedins_code,
        what="quality score",
        code="QUALITY_SCORE_NOT_FOUND",
    )
    return Response(status_code=204)


# --- the settlement list, a case's grouping, 特例单议 ----------------------------------------------------------

SetlPath = Annotated[str, Path(max_length=32, description="结算ID")]


def _list_out(row: Any) -> SettlementListOut:
    return SettlementListOut.model_validate(
        {
            "setl_id": row.setl_id,
            "fixmedins_code": row.fixmedins_code,
            "year": row.year,
            "revision": row.revision,
            "uploaded_at": row.uploaded_at,
            "uploaded_by": row.uploaded_by,
            "diagnoses": row.diagnoses,
            "procedures": row.procedures,
        }
    )


@router.put(
    "/settlements/{setl_id}/settlement-list",
    response_model=SettlementListOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "It replaced the earlier list (revision + 1)"}},
    tags=[LISTS],
    summary="Upload or replace a settlement's 医保结算清单 (national 4101A)",
)
async def put_settlement_list(
    setl_id: SetlPath,
    body: SettlementListIn,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    response: Response,
) -> SettlementListOut:
    """The case's diagnoses (exactly one main) and procedures (exactly one main when there are any): what it
    is grouped on. Replaceable until the clearing of its year is confirmed (409 YEAR_CONFIRMED); refused for
    an unknown (404), reversed (409 SETTLEMENT_REVERSED) or another institution's settlement (403)."""
    saved = await points.put_settlement_list(
        uow=uow, setl_id=setl_id, data=body, principal=principal, clock=clock
    )
    _created(response, saved.created)
    return _list_out(saved.row)


@router.get(
    "/settlements/{setl_id}/settlement-list",
    response_model=SettlementListOut,
    tags=[LISTS],
    summary="A settlement's 医保结算清单",
)
async def get_settlement_list(
    setl_id: SetlPath, uow: Uow, principal: InstitutionPrincipal
) -> SettlementListOut:
    """The settlement's 医保结算清单 as last uploaded, with its revision; 404 SETTLEMENT_LIST_NOT_FOUND before the
    first upload. An institution reads only its own."""
    return _list_out(await points.get_settlement_list(uow=uow, setl_id=setl_id, principal=principal))


@router.get(
    "/settlements/{setl_id}/grouping",
    response_model=CaseOut,
    tags=[LISTS],
    summary="How a case was grouped and pointed: group, r, points, why",
)
async def get_grouping(setl_id: SetlPath, uow: Uow, principal: InstitutionPrincipal) -> CaseOut:
    """The case's group, its cost ratio r, the deviation (低倍率/高倍率/未入组), the coefficient, its points and
    why, so a hospital can see how it is paid. 422 NOT_A_POINTS_CASE, with the reason, for any other settlement."""
    book, case = await points.points_case(uow, setl_id, principal)
    special = await uow.points.special_case(setl_id) if case.points.special else None
    return clearing.case_out(book, case, special)


@router.put(
    "/settlements/{setl_id}/special-points",
    response_model=CaseOut,
    tags=[LISTS],
    summary="特例单议: set a case's points by hand, with the reason",
)
async def put_special_points(
    setl_id: SetlPath, body: SpecialPointsIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> CaseOut:
    """Ops set any points case's points (4 decimals) with the reason; who and when are kept. Until the clearing
    of its year is confirmed (409 YEAR_CONFIRMED)."""
    book, case = await points.set_special_points(
        uow=uow, setl_id=setl_id, data=body, principal=principal, clock=clock
    )
    return clearing.case_out(book, case, await uow.points.special_case(setl_id))


@router.delete(
    "/settlements/{setl_id}/special-points",
    status_code=204,
    tags=[LISTS],
    summary="Take back a case's 特例单议 points",
)
async def delete_special_points(setl_id: SetlPath, uow: Uow, principal: OpsPrincipal) -> Response:
    """The case's points are computed again; 404 SPECIAL_POINTS_NOT_FOUND when none were set; 409
    YEAR_CONFIRMED after the clearing."""
    await points.clear_special_points(uow=uow, setl_id=setl_id, principal=principal)
    return Response(status_code=204)


# --- the year clearing ----------------------------------------------------------------------------------------


def _answer(outcome: clearing.ClearingOutcome, *, created_status: int = 200) -> JSONResponse:
    return JSONResponse(
        outcome.clearing.model_dump(mode="json"), status_code=created_status if outcome.created else 200
    )


@router.post(
    "/annual-clearings",
    status_code=201,
    response_model=ClearingOut,
    responses={200: {"description": "The draft recomputed", "model": ClearingOut}},
    tags=[CLEARING],
    summary="Compute a pool's year clearing 年清算 (or recompute its draft)",
)
async def compute_clearing(
    body: ClearingIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> JSONResponse:
    """PV = (budget + N) ÷ T; per institution E, A (结余留用 / 超支分担), the quality adjustment and the
    balance C against what the months paid. 409 YEAR_NOT_CLOSED until 31 December is closed, 409
    MONTHS_NOT_CONFIRMED while a month of the year with activity is not confirmed."""
    outcome = await clearing.compute_clearing(
        uow=uow, year=body.year, insutype=body.insutype.value, computed_by=principal.client_id, clock=clock
    )
    return _answer(outcome, created_status=201)


@router.post(
    "/annual-clearings/{year}/{insutype}/confirm",
    response_model=ClearingOut,
    tags=[CLEARING],
    summary="Confirm a clearing: journals, disbursements and recoveries, settlement.year.cleared",
)
async def confirm_clearing(
    year: YearPath, insutype: InsutypePath, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> JSONResponse:
    """draft → confirmed: posts the clearing's journals, orders a disbursement for each positive C_i and carries
    each negative one into the next open month as a deduction. 409 CLEARING_STALE when the cases changed."""
    return _answer(
        await clearing.confirm_clearing(
            uow=uow, year=year, insutype=insutype.value, confirmed_by=principal.client_id, clock=clock
        )
    )


@router.post(
    "/annual-clearings/{year}/{insutype}/lock",
    response_model=ClearingOut,
    tags=[CLEARING],
    summary="Lock a confirmed clearing: it never changes again",
)
async def lock_clearing(
    year: YearPath, insutype: InsutypePath, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> JSONResponse:
    """confirmed → locked; locking a locked clearing answers it unchanged; 409 CLEARING_NOT_CONFIRMED for a
    draft."""
    return _answer(
        await clearing.lock_clearing(
            uow=uow, year=year, insutype=insutype.value, locked_by=principal.client_id, clock=clock
        )
    )


@router.get(
    "/annual-clearings/{year}/{insutype}",
    response_model=ClearingOut,
    tags=[CLEARING],
    summary="A year clearing with every institution's figures (an institution sees its own line)",
)
async def get_clearing(
    year: YearPath, insutype: InsutypePath, uow: Uow, principal: InstitutionPrincipal
) -> ClearingOut:
    """The clearing's pool figures (budget, T, N, F, PV) and every institution's line; an institution's key
    sees only its own line. 404 CLEARING_NOT_FOUND."""
    only = None if principal.role is Role.OPS else (principal.scope or "")
    return await clearing.get_clearing(uow=uow, year=year, insutype=insutype.value, only_fixmedins_code=only)


@router.get(
    "/annual-clearings/{year}/{insutype}/institutions/{fixmedins_code}",
    response_model=ClearingLineOut,
    tags=[CLEARING],
    summary="One institution's line of a year clearing",
)
async def get_clearing_line(
    year: YearPath,
    insutype: InsutypePath,
    fixmedins_code: Annotated[FixmedinsCode, Path()],
    uow: Uow,
    principal: InstitutionPrincipal,
) -> ClearingLineOut:
    """One institution's figures: cases, T_i, CMI, N_i, F_i, E_i, A_i, W_i, s_i, final_i, P_i, C_i, colour
    and the deviation counts, with the disbursement or deduction it ordered."""
    ensure_scope(principal, fixmedins_code)
    return await clearing.get_clearing_line(
        uow=uow, year=year, insutype=insutype.value, fixmedins_code=fixmedins_code
    )


@router.get(
    "/annual-clearings/{year}/{insutype}/cases",
    response_model=CasePage,
    tags=[CLEARING],
    summary="A pool's cases of a year: the deviation cases and the 特例单议 list",
)
async def list_cases(
    year: YearPath,
    insutype: InsutypePath,
    uow: Uow,
    principal: InstitutionPrincipal,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    kind: Annotated[CaseKind | None, Query(description="low | high | ungrouped | special")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> CasePage:
    """The year's cases in setl_id order as they are grouped now (frozen once the clearing is confirmed);
    an institution sees only its own."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    items, next_cursor = await clearing.list_cases(
        uow=uow,
        year=year,
        insutype=insutype.value,
        fixmedins_code=fixmedins_code,
        kind=kind,
        limit=limit,
        cursor=cursor or None,
    )
    return CasePage(items=items, next_cursor=next_cursor)


@router.get(
    "/budget-execution",
    response_model=BudgetExecutionOut,
    tags=[CLEARING],
    summary="Budget execution so far, the provisional point value and each institution's colour 三色预警",
)
async def budget_execution(
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    insutype: PoolInsutype,
    on: Annotated[dt.date | None, Query(description="figures up to this day; default today")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
) -> BudgetExecutionOut:
    """The budget against F so far, the share spent against the share of the year gone (warning when it runs
    ahead by more than 5 points), the provisional PV = (budget × share + N) ÷ T, and per institution its
    provisional entitlement and colour: green (F − E) ÷ E ≤ 0, yellow ≤ 0.10, red above. An institution sees
    only its own line."""
    if principal.role is not Role.OPS:
        fixmedins_code = principal.scope or ""
    return await clearing.budget_execution(
        uow=uow, year=year, insutype=insutype.value, on=on, fixmedins_code=fixmedins_code, clock=clock
    )
