"""Routes of the reference data: designated institutions, the catalogue, the policy versions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from common.bulk import MAX_BULK_BYTES, MAX_BULK_ROWS, records_of
from common.clock import business_date
from common.deps import PROBLEMS, ClockDep, DatabaseDep
from common.principal import OpsPrincipal
from settlement.api.deps import InstitutionPrincipal, ensure_scope
from settlement.schemas.reference import (
    BulkOut,
    CatalogItemIn,
    CatalogItemOut,
    CatalogItemRow,
    CatalogPage,
    ChrgitmLv,
    FixmedinsCode,
    FixmedinsType,
    InstitutionIn,
    InstitutionOut,
    InstitutionPage,
    InstitutionRow,
    InstitutionStatus,
    MedListCodg,
    PolicyIn,
    PolicyOut,
    PolicyParameters,
)
from settlement.service import reference as service
from settlement.service.reference import PolicyBook, PolicyRecord
from settlement.uow import SettlementUnitOfWork, Uow

router = APIRouter()
INSTITUTIONS = "institutions 定点医药机构"
CATALOGUE = "catalogue 医保目录"
POLICY = "policy 政策"
_ONE_DAY = timedelta(days=1)


async def _policy_book(request: Request) -> PolicyBook:
    book: PolicyBook = request.app.state.policy_book
    return book


PolicyBookDep = Annotated[PolicyBook, Depends(_policy_book)]
InstitutionCode = Annotated[FixmedinsCode, Path(description="定点医药机构编码 institution code")]
CatalogCode = Annotated[MedListCodg, Path(description="医保目录编码 catalogue code")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


# --- bulk bodies: JSON {"<key>": [...]} or CSV with a header row -----------------------------------------


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its $defs written in place (a request body beside the components)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            here = {key: resolve(value) for key, value in node.items() if key != "$ref"}
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return {**resolve(definitions[ref.removeprefix("#/$defs/")]), **here}
            return here
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _bulk_body(key: str, model: type[BaseModel], json_example: Any, csv_example: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f'JSON {{"{key}": [...]}} or CSV (text/csv, a header row of the field names; '
            "an empty cell is an absent field; `charset` parameter honoured, default UTF-8). "
            f"At most {MAX_BULK_ROWS:,} records.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": [key],
                        "additionalProperties": False,
                        "properties": {
                            key: {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_BULK_ROWS,
                                "items": _inline_schema(model),
                            }
                        },
                    },
                    "example": json_example,
                },
                "text/csv": {"schema": {"type": "string"}, "example": csv_example},
            },
        }
    }


BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    413: {"description": f"BULK_TOO_LARGE: more than {MAX_BULK_ROWS:,} records or {MAX_BULK_BYTES:,} bytes"},
    415: {"description": "UNSUPPORTED_MEDIA_TYPE: neither application/json nor text/csv"},
    422: {
        "description": "BULK_INVALID: `errors` lists up to 100 of {row, field, code, message} (row 1 is the "
        "first record; the CSV header is not a record) and `error_count` counts them all; nothing was "
        "written. Also BULK_EMPTY, MALFORMED_JSON, MALFORMED_CSV, CSV_HEADER_INVALID, VALIDATION_ERROR."
    },
}


# --- institutions ---------------------------------------------------------------------------------------


@router.put(
    "/institutions/{fixmedins_code}",
    response_model=InstitutionOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "It existed: replaced (an event only if anything changed)"}},
    tags=[INSTITUTIONS],
    summary="Create or replace a designated institution 定点医药机构维护",
)
async def put_institution(
    fixmedins_code: InstitutionCode,
    body: InstitutionIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> InstitutionOut:
    """Create or replace a designated institution (定点医药机构): a hospital with its level, or a pharmacy.

    201 when new, 200 when it replaced the record; a change publishes settlement.institution.changed
    (pricing keeps its pharmacies from it). A suspended institution cannot settle (INSTITUTION_SUSPENDED).
    A hospital needs its level `hosp_lv` 1 to 3 and a pharmacy has none (422 INVALID_HOSP_LV).
    """
    saved = await service.put_institution(uow=uow, fixmedins_code=fixmedins_code, data=body, clock=clock)
    if not saved.created:
        response.status_code = 200
    return InstitutionOut.model_validate(saved.record, from_attributes=True)


@router.post(
    "/institutions/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[INSTITUTIONS],
    summary="Load many institutions, all or nothing (JSON or CSV) 定点医药机构批量导入",
    openapi_extra=_bulk_body(
        "institutions",
        InstitutionRow,
        {
            "institutions": [
                {
                    "fixmedins_code": "H42010200001",
                    "fixmedins_name": "武汉市第一医院",
                    "fixmedins_type": "hospital",
                    "hosp_lv": 3,
                    "admdvs": "420100",
                    "status": "active",
                },
                {
                    "fixmedins_code": "P42900600001",
                    "fixmedins_name": "天门市仁和大药房",
                    "fixmedins_type": "pharmacy",
                    "admdvs": "429006",
                    "status": "active",
                },
            ]
        },
        "fixmedins_code,fixmedins_name,fixmedins_type,hosp_lv,admdvs,status\n"
        "H42010200001,武汉市第一医院,hospital,3,420100,active\n"
        "P42900600001,天门市仁和大药房,pharmacy,,429006,active\n",
    ),
)
async def load_institutions(request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> BulkOut:
    """Create or replace many institutions at once (initial load, a region's refresh), as JSON or CSV.

    All or nothing: one bad record is 422 BULK_INVALID listing the rows and fields at fault, and nothing is
    written. Counts what was created, updated and unchanged; each change is published as on a single put.
    """
    records = await records_of(request, "institutions", InstitutionRow)
    outcome = await service.load_institutions(uow=uow, records=records, clock=clock)
    return BulkOut(created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged)


@router.get(
    "/institutions/{fixmedins_code}",
    response_model=InstitutionOut,
    responses=PROBLEMS,
    tags=[INSTITUTIONS],
    summary="One designated institution (an HIS/POS sees its own only)",
)
async def get_institution(
    fixmedins_code: InstitutionCode, uow: Uow, who: InstitutionPrincipal
) -> InstitutionOut:
    """One designated institution: name, type, level, region and status.

    A hospital or pharmacy may read only its own (403 SCOPE_FORBIDDEN). 404 INSTITUTION_NOT_FOUND.
    """
    ensure_scope(who, fixmedins_code)
    institution = await service.get_institution(uow=uow, fixmedins_code=fixmedins_code)
    return InstitutionOut.model_validate(institution, from_attributes=True)


@router.get(
    "/institutions",
    response_model=InstitutionPage,
    responses=PROBLEMS,
    tags=[INSTITUTIONS],
    summary="List designated institutions (by code)",
)
async def list_institutions(
    uow: Uow,
    _ops: OpsPrincipal,
    admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$", description="行政区划 region")] = None,
    fixmedins_type: Annotated[FixmedinsType | None, Query(description="hospital | pharmacy")] = None,
    status: Annotated[InstitutionStatus | None, Query(description="active | suspended")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InstitutionPage:
    """Designated institutions in code order.

    Filter by region, type (hospital, pharmacy) or status (active, suspended). Pass `next_cursor` as
    `cursor` for the next page.
    """
    page = await service.list_institutions(
        uow=uow,
        admdvs=admdvs,
        fixmedins_type=fixmedins_type.value if fixmedins_type else None,
        status=status.value if status else None,
        limit=limit,
        cursor=cursor or None,
    )
    return InstitutionPage(
        items=[InstitutionOut.model_validate(i, from_attributes=True) for i in page.items],
        next_cursor=page.next_cursor,
    )


# --- the catalogue --------------------------------------------------------------------------------------


@router.put(
    "/catalog/{med_list_codg}",
    response_model=CatalogItemOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "It existed: replaced (an event only if anything changed)"}},
    tags=[CATALOGUE],
    summary="Create or replace a catalogue item 医保目录维护",
)
async def put_catalog_item(
    med_list_codg: CatalogCode,
    body: CatalogItemIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> CatalogItemOut:
    """Create or replace one item of the reimbursement catalogue (医保目录): a drug, a service or a material.

    Its charge class (甲类 wholly within the fund's scope, 乙类 with a share the patient pays first
    (先行自付), 丙类 not covered), the self-pay proportion, the price ceiling and any gender, age or
    per-visit quantity limits shape every later settlement of it. 201 when new, 200 when replaced; a
    change publishes settlement.catalog.changed (fraud's rules read it).
    """
    saved = await service.put_catalog_item(uow=uow, med_list_codg=med_list_codg, data=body, clock=clock)
    if not saved.created:
        response.status_code = 200
    return CatalogItemOut.model_validate(saved.record, from_attributes=True)


@router.post(
    "/catalog/bulk",
    response_model=BulkOut,
    responses=BULK_RESPONSES,
    tags=[CATALOGUE],
    summary="Load many catalogue items, all or nothing (JSON or CSV) 医保目录批量导入",
    openapi_extra=_bulk_body(
        "items",
        CatalogItemRow,
        {
            "items": [
                {
                    "med_list_codg": "XC10AAA0001010101",
                    "name": "阿托伐他汀钙片 20mg*7片",
                    "chrgitm_lv": "02",
                    "selfpay_prop": "0.10",
                    "pric_uplmt_amt": "25.80",
                    "max_cnt_per_visit": "4",
                },
                {"med_list_codg": "XJ01CAA0001010101", "name": "阿莫西林胶囊", "chrgitm_lv": "01"},
            ]
        },
        "med_list_codg,name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,gend_lmt,age_min,age_max,max_cnt_per_visit\n"
        "XC10AAA0001010101,阿托伐他汀钙片 20mg*7片,02,0.10,25.80,,,,4\n"
        "XJ01CAA0001010101,阿莫西林胶囊,01,,,,,,\n",
    ),
)
async def load_catalog(request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> BulkOut:
    """Create or replace many catalogue items at once (the yearly catalogue, a monthly update), as JSON or CSV.

    All or nothing: one bad record is 422 BULK_INVALID listing the rows and fields at fault, and nothing is
    written. Counts what was created, updated and unchanged.
    """
    records = await records_of(request, "items", CatalogItemRow)
    outcome = await service.load_catalog(uow=uow, records=records, clock=clock)
    return BulkOut(created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged)


@router.get(
    "/catalog/{med_list_codg}",
    response_model=CatalogItemOut,
    responses=PROBLEMS,
    tags=[CATALOGUE],
    summary="One catalogue item 医保目录查询",
)
async def get_catalog_item(
    med_list_codg: CatalogCode, uow: Uow, _who: InstitutionPrincipal
) -> CatalogItemOut:
    """One catalogue item with its charge class, self-pay proportion and limits.

    404 CATALOG_ITEM_NOT_FOUND."""
    item = await service.get_catalog_item(uow=uow, med_list_codg=med_list_codg)
    return CatalogItemOut.model_validate(item, from_attributes=True)


@router.get(
    "/catalog",
    response_model=CatalogPage,
    responses=PROBLEMS,
    tags=[CATALOGUE],
    summary="Search the catalogue (by code)",
)
async def list_catalog(
    uow: Uow,
    _who: InstitutionPrincipal,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="start of the code, or any part of the name"),
    ] = None,
    chrgitm_lv: Annotated[ChrgitmLv | None, Query(description="01 甲类, 02 乙类, 03 丙类")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CatalogPage:
    """Search the catalogue by the start of the code or any part of the name, in code order.

    Optionally of one charge class (01 甲类, 02 乙类, 03 丙类). Pass `next_cursor` as `cursor` for the next
    page.
    """
    page = await service.list_catalog(
        uow=uow,
        q=(q.strip() or None) if q else None,
        chrgitm_lv=chrgitm_lv.value if chrgitm_lv else None,
        limit=limit,
        cursor=cursor or None,
    )
    return CatalogPage(
        items=[CatalogItemOut.model_validate(i, from_attributes=True) for i in page.items],
        next_cursor=page.next_cursor,
    )


# --- the policy -----------------------------------------------------------------------------------------


def _policies_out(records: list[PolicyRecord], today: date) -> list[PolicyOut]:
    current = service.record_in_force(records, today).version
    return [
        PolicyOut(
            version=record.version,
            effective_from=record.effective_from,
            effective_until=following.effective_from - _ONE_DAY if following else None,
            in_force=record.version == current,
            parameters=PolicyParameters.model_validate(record.parameters),
            note=record.note,
            created_by=record.created_by,
            created_at=record.created_at,
        )
        for record, following in zip(records, [*records[1:], None], strict=True)
    ]


def _one_of(outs: list[PolicyOut], version: int) -> PolicyOut:
    return next(out for out in outs if out.version == version)


@router.get(
    "/policies",
    response_model=list[PolicyOut],
    responses=PROBLEMS,
    tags=[POLICY],
    summary="Policy versions in effective order, the built-in default (version 0) first 政策版本",
)
async def list_policies(uow: Uow, _who: InstitutionPrincipal, clock: ClockDep) -> list[PolicyOut]:
    """Every version of the settlement policy, in the order they take effect, the built-in default first.

    A version holds, per basic insutype, the deductibles (起付线), reimbursement ratios by hospital level,
    the yearly fund ceilings, the supplementary and assistance parameters, and how each med_type is paid.

    Each says from when to when it is in force and whether it is in force today. A settlement is always
    split under the version in force on its business date.
    """
    return _policies_out(await service.policy_records(uow=uow), business_date(clock.now()))


@router.get(
    "/policies/in-force",
    response_model=PolicyOut,
    responses=PROBLEMS,
    tags=[POLICY],
    summary="The policy version in force on a business date 生效政策",
)
async def policy_in_force(
    uow: Uow,
    _who: InstitutionPrincipal,
    clock: ClockDep,
    on: Annotated[date | None, Query(alias="date", description="业务日期 YYYY-MM-DD (default today)")] = None,
) -> PolicyOut:
    """The policy version in force on a business date (default today), with its parameters.

    It is what a settlement of that date is split under. 404 NO_POLICY_IN_FORCE before the default's
    first day.
    """
    records = await service.policy_records(uow=uow)
    wanted = service.record_in_force(records, on or business_date(clock.now()))
    return _one_of(_policies_out(records, business_date(clock.now())), wanted.version)


@router.post(
    "/policies",
    response_model=PolicyOut,
    status_code=201,
    responses=PROBLEMS,
    tags=[POLICY],
    summary="Add a policy version from a future date 新增政策版本",
)
async def add_policy(
    body: PolicyIn, db: DatabaseDep, ops: OpsPrincipal, clock: ClockDep, book: PolicyBookDep
) -> PolicyOut:
    """Add a policy version that takes effect on a future date: next year's deductible, caps or ratios.

    The date must be after today (422 POLICY_BACKDATED): settlements already made keep the meaning they had.
    The parameters are checked as a whole (422 INVALID_POLICY); one version per date (409 POLICY_EXISTS).
    """
    # Its own transaction, so the cache is dropped only once the version is committed.
    async with SettlementUnitOfWork(db) as uow:
        record = await service.add_policy_version(uow=uow, data=body, created_by=ops.client_id, clock=clock)
        records = await service.policy_records(uow=uow)
    book.invalidate()
    return _one_of(_policies_out(records, business_date(clock.now())), record.version)
