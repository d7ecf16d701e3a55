"""Payment by points: the year's reference data, the settlement list (医保结算清单), a case's grouping and
特例单议 (DESIGN §12).

A year's reference data, its settlement lists and its 特例单议 points can change until a clearing of that
year is confirmed; after that they are what the clearing paid on, and every change is 409 YEAR_CONFIRMED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from common.bulk import LoadResult, Row, valid_rows
from common.clock import Clock
from common.errors import Conflict, Forbidden, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.settlement import CaseGrouped
from common.money import fen_to_yuan, yuan_to_fen
from common.principal import Principal
from settlement.domain.claims import REVERSED
from settlement.domain.points import (
    CODE_SEPARATOR,
    INPATIENT_MED_TYPE,
    Adrg,
    CaseCoding,
    CasePoints,
    DipGrouper,
    DrgGrouper,
    Group,
    Grouped,
    Method,
    YearParameters,
    case_points,
    coding_from_compact,
    coding_from_list,
    compact_coding,
)
from settlement.models import (
    DipRow,
    DrgAdrg,
    DrgComplication,
    PaymentYear,
    PointsGroup,
    QualityScore,
    SettlementList,
    SpecialCase,
)
from settlement.repository.points import KEY_COLUMNS, CaseRow, PointsInstitution
from settlement.schemas.points import (
    AdrgIn,
    AdrgRow,
    ComplicationIn,
    ComplicationRow,
    DipRowIn,
    DipRowRow,
    GroupIn,
    GroupRow,
    PaymentYearIn,
    PaymentYearRow,
    QualityScoreIn,
    QualityScoreRow,
    SettlementListIn,
    SpecialPointsIn,
)
from settlement.service.reference import decimal_text
from settlement.uow import SettlementUnitOfWork

FROZEN = ("confirmed", "locked")
PARAMETER_NAMES = (
    "quality_reserve_ratio",
    "low_ratio",
    "high_ratio",
    "keep",
    "share",
    "band",
    "yuan_per_point",
    "coefficient_lv1",
    "coefficient_lv2",
    "coefficient_lv3",
)


# --- a year is frozen once a clearing of it is confirmed ----------------------------------------------


async def ensure_open(uow: SettlementUnitOfWork, year: int, insutype: str | None = None) -> None:
    """409 YEAR_CONFIRMED when a clearing of the year (of the pool, when given) is confirmed or locked."""
    statuses = await uow.points.clearing_statuses(year)
    frozen = sorted(
        code for code, status in statuses.items() if status in FROZEN and insutype in (None, code)
    )
    if frozen:
        raise Conflict(
            f"The {year} clearing of {', '.join(frozen)} is confirmed: what it paid on no longer changes.",
            code="YEAR_CONFIRMED",
            year=year,
            insutypes=frozen,
        )


# --- payment years ---------------------------------------------------------------------------------------


def parameters_of(row: PaymentYear | dict[str, Any]) -> YearParameters:
    """A payment year's stored parameters (decimal text) as the domain's YearParameters."""
    stored = row.parameters if isinstance(row, PaymentYear) else row
    values = {name: Decimal(stored[name]) for name in PARAMETER_NAMES if name in stored}
    coefficients = {
        level: values.pop(f"coefficient_lv{level}")
        for level in (1, 2, 3)
        if f"coefficient_lv{level}" in values
    }
    defaults = YearParameters()
    return YearParameters(
        **{name: values.get(name, getattr(defaults, name)) for name in PARAMETER_NAMES[:7]},
        coefficients={**defaults.coefficients, **coefficients},
    )


def _payment_year_row(year: int, insutype: str, data: PaymentYearIn) -> Row:
    if data.low_ratio >= data.high_ratio:
        raise Unprocessable(
            "low_ratio must be below high_ratio.", code="INVALID_PARAMETERS", field="low_ratio"
        )
    return {
        "year": year,
        "insutype": insutype,
        "method": data.method.value,
        "budget_fen": yuan_to_fen(data.budget),
        "parameters": {name: decimal_text(getattr(data, name), places=2) for name in PARAMETER_NAMES},
    }


async def put_payment_year(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, data: PaymentYearIn, clock: Clock
) -> tuple[PaymentYear, bool]:
    await ensure_open(uow, year, insutype)
    outcome = await uow.points.upsert(PaymentYear, [_payment_year_row(year, insutype, data)], now=clock.now())
    return await get_payment_year(uow=uow, year=year, insutype=insutype), bool(outcome.created)


async def load_payment_years(
    *, uow: SettlementUnitOfWork, records: Sequence[object], clock: Clock
) -> LoadResult:
    rows = valid_rows(
        records,
        model=PaymentYearRow,
        key=("year", "insutype"),
        to_row=lambda item: _payment_year_row(item.year, item.insutype.value, item),
    )
    for year, insutype in sorted({(row["year"], row["insutype"]) for row in rows}):
        await ensure_open(uow, year, insutype)
    return (await uow.points.upsert(PaymentYear, rows, now=clock.now())).result


async def get_payment_year(*, uow: SettlementUnitOfWork, year: int, insutype: str) -> PaymentYear:
    found: PaymentYear | None = await uow.points.find(PaymentYear, year, insutype)
    if found is None:
        raise NotFound(
            f"No payment year {year} for insutype {insutype}: its inpatient care is not paid by points.",
            code="PAYMENT_YEAR_NOT_FOUND",
            year=year,
            insutype=insutype,
        )
    return found


def payment_year_view(row: PaymentYear, cleared: str | None) -> dict[str, Any]:
    return {
        "year": row.year,
        "insutype": row.insutype,
        "method": row.method,
        "budget": Decimal(row.budget_fen) / 100,
        **{name: Decimal(row.parameters[name]) for name in PARAMETER_NAMES},
        "cleared": cleared,
        "updated_at": row.updated_at,
    }


async def delete_row(uow: SettlementUnitOfWork, model: type[Any], *key: Any, what: str, code: str) -> None:
    """Remove one row of a year table (404 when there is none), unless the year is confirmed."""
    year = key[0]
    await ensure_open(uow, year, key[1] if model in (PaymentYear, QualityScore) else None)
    if not await uow.points.delete(model, *key):
        raise NotFound(f"No {what} {' '.join(str(k) for k in key)}.", code=code)


# --- groups, DIP rows, DRG tables --------------------------------------------------------------------------


def _group_row(year: int, group_code: str, data: GroupIn) -> Row:
    return {
        "year": year,
        "group_code": group_code,
        "group_name": data.group_name,
        "points": f"{data.points:.4f}",
        "avg_cost_fen": yuan_to_fen(data.avg_cost),
    }


def _dip_row(year: int, dise_prefix: str, oprn_code: str | None, data: DipRowIn) -> Row:
    return {
        "year": year,
        "dise_prefix": dise_prefix.upper(),
        "oprn_code": (oprn_code or "").upper(),
        "group_code": data.group_code,
    }


def _adrg_row(year: int, adrg: str, data: AdrgIn) -> Row:
    return {
        "year": year,
        "adrg": adrg.upper(),
        "adrg_name": data.adrg_name,
        "dise_prefixes": sorted({code.upper() for code in data.dise_prefixes}),
        "oprn_codes": sorted({code.upper() for code in data.oprn_codes}),
        "priority": data.priority,
    }


def _complication_row(year: int, dise_prefix: str, data: ComplicationIn) -> Row:
    return {"year": year, "dise_prefix": dise_prefix.upper(), "level": data.level.value}


@dataclass(frozen=True)
class YearTable:
    """One of a year's grouping tables: its model, its bulk row model, how a row is made."""

    model: type[Any]
    row_model: type[BaseModel]
    to_row: Callable[[int, Any], Row]


YEAR_TABLES: dict[str, YearTable] = {
    "groups": YearTable(PointsGroup, GroupRow, lambda year, item: _group_row(year, item.group_code, item)),
    "rows": YearTable(
        DipRow, DipRowRow, lambda year, item: _dip_row(year, item.dise_prefix, item.oprn_code, item)
    ),
    "adrgs": YearTable(DrgAdrg, AdrgRow, lambda year, item: _adrg_row(year, item.adrg, item)),
    "complications": YearTable(
        DrgComplication, ComplicationRow, lambda year, item: _complication_row(year, item.dise_prefix, item)
    ),
}


async def put_year_row(uow: SettlementUnitOfWork, model: type[Any], row: Row, *, clock: Clock) -> bool:
    """Create or replace one row of a year table; True when it was created."""
    await ensure_open(uow, row["year"])
    return bool((await uow.points.upsert(model, [row], now=clock.now())).created)


async def load_year_table(
    *, uow: SettlementUnitOfWork, table: str, year: int, records: Sequence[object], clock: Clock
) -> LoadResult:
    """All or nothing: one bad row is 422 BULK_INVALID listing them."""
    spec = YEAR_TABLES[table]
    rows = valid_rows(
        records,
        model=spec.row_model,
        key=KEY_COLUMNS[spec.model],
        to_row=lambda item: spec.to_row(year, item),
    )
    await ensure_open(uow, year)
    return (await uow.points.upsert(spec.model, rows, now=clock.now())).result


# --- quality scores ------------------------------------------------------------------------------------


def _score_row(year: int, insutype: str, fixmedins_code: str, data: QualityScoreIn) -> Row:
    return {
        "year": year,
        "insutype": insutype,
        "fixmedins_code": fixmedins_code,
        "score": f"{data.score:.4f}",
    }


async def put_quality_score(
    *,
    uow: SettlementUnitOfWork,
    year: int,
    insutype: str,
    fixmedins_code: str,
    data: QualityScoreIn,
    clock: Clock,
) -> tuple[QualityScore, bool]:
    await ensure_open(uow, year, insutype)
    await _points_hospital(uow, fixmedins_code)
    outcome = await uow.points.upsert(
        QualityScore, [_score_row(year, insutype, fixmedins_code, data)], now=clock.now()
    )
    found = await uow.points.find(QualityScore, year, insutype, fixmedins_code)
    return found, bool(outcome.created)


async def load_quality_scores(
    *, uow: SettlementUnitOfWork, records: Sequence[object], clock: Clock
) -> LoadResult:
    rows = valid_rows(
        records,
        model=QualityScoreRow,
        key=("year", "insutype", "fixmedins_code"),
        to_row=lambda item: _score_row(item.year, item.insutype.value, item.fixmedins_code, item),
    )
    for year, insutype in sorted({(row["year"], row["insutype"]) for row in rows}):
        await ensure_open(uow, year, insutype)
    known = await uow.points.points_institutions(sorted({row["fixmedins_code"] for row in rows}))
    unknown = sorted({row["fixmedins_code"] for row in rows} - set(known))
    if unknown:
        raise Unprocessable(
            f"{len(unknown)} institution(s) are not paid by points: {', '.join(unknown[:20])}; nothing was written.",
            code="NOT_POINTS_INSTITUTION",
            fixmedins_codes=unknown[:100],
        )
    return (await uow.points.upsert(QualityScore, rows, now=clock.now())).result


async def _points_hospital(uow: SettlementUnitOfWork, fixmedins_code: str) -> None:
    institution = await uow.institutions.find(fixmedins_code)
    if institution is None:
        raise NotFound(
            "No such designated institution.", code="INSTITUTION_NOT_FOUND", fixmedins_code=fixmedins_code
        )
    if not institution.points_payment:
        raise Unprocessable(
            f"Institution {fixmedins_code} is not paid by points (points_payment is false).",
            code="NOT_POINTS_INSTITUTION",
            fixmedins_code=fixmedins_code,
        )


# --- the settlement list (医保结算清单, 4101A) ------------------------------------------------------------


async def _settlement_of(uow: SettlementUnitOfWork, setl_id: str, principal: Principal) -> Any:
    settlement = await uow.settlements.get(setl_id)
    if settlement is None:
        raise NotFound(f"No settlement {setl_id}.", code="SETTLEMENT_NOT_FOUND", setl_id=setl_id)
    if not principal.may_act_for(settlement.fixmedins_code):
        raise Forbidden(
            f"This client may only act for institution {principal.scope}, not {settlement.fixmedins_code}.",
            code="SCOPE_FORBIDDEN",
        )
    return settlement


@dataclass(frozen=True, slots=True)
class ListSaved:
    row: SettlementList
    created: bool


async def put_settlement_list(
    *, uow: SettlementUnitOfWork, setl_id: str, data: SettlementListIn, principal: Principal, clock: Clock
) -> ListSaved:
    """Upload or replace a settlement's 医保结算清单: exactly one main diagnosis, one main procedure if any."""
    settlement = await _settlement_of(uow, setl_id, principal)
    if settlement.status == REVERSED:
        raise Conflict(
            f"Settlement {setl_id} was reversed; a reversed case has no settlement list.",
            code="SETTLEMENT_REVERSED",
            setl_id=setl_id,
        )
    mains = sum(1 for item in data.diagnoses if item.main)
    if mains != 1:
        raise Unprocessable(
            f"A settlement list has exactly one main diagnosis (主要诊断); this one has {mains}.",
            code="MAIN_DIAGNOSIS_REQUIRED",
            field="diagnoses",
        )
    main_procedures = sum(1 for item in data.procedures if item.main)
    if data.procedures and main_procedures != 1:
        raise Unprocessable(
            f"With procedures, exactly one is the main procedure (主要手术); this list has {main_procedures}.",
            code="MAIN_PROCEDURE_REQUIRED",
            field="procedures",
        )
    codes = [item.dise_codg.upper() for item in data.diagnoses]
    if len(set(codes)) != len(codes):
        raise Unprocessable("A diagnosis is listed twice.", code="DUPLICATE_DIAGNOSIS", field="diagnoses")
    await ensure_open(uow, settlement.year, settlement.insutype)
    diagnoses = [
        item.model_dump(mode="json") | {"dise_codg": item.dise_codg.upper()} for item in data.diagnoses
    ]
    procedures = [
        item.model_dump(mode="json") | {"oprn_codg": item.oprn_codg.upper()} for item in data.procedures
    ]
    main, secondary, procedure_codes = compact_coding(coding_from_list(None, diagnoses, procedures))
    now = clock.now()
    existing = await uow.points.settlement_list(setl_id, for_update=True)
    if existing is None:
        row = SettlementList(
            setl_id=setl_id,
            fixmedins_code=settlement.fixmedins_code,
            year=settlement.year,
            diagnoses=diagnoses,
            procedures=procedures,
            main_dise_codg=main,
            secondary_codes=secondary,
            procedure_codes=procedure_codes,
            revision=1,
            uploaded_at=now,
            uploaded_by=principal.client_id,
        )
        uow.points.add_list(row)
        await uow.flush()
        await _report_grouping(uow, setl_id, principal, revision=row.revision, clock=clock)
        return ListSaved(row, True)
    existing.diagnoses, existing.procedures = diagnoses, procedures
    existing.main_dise_codg, existing.secondary_codes, existing.procedure_codes = (
        main,
        secondary,
        procedure_codes,
    )
    existing.revision += 1
    existing.uploaded_at, existing.uploaded_by = now, principal.client_id
    await uow.flush()
    await _report_grouping(uow, setl_id, principal, revision=existing.revision, clock=clock)
    return ListSaved(existing, False)


async def _report_grouping(
    uow: SettlementUnitOfWork, setl_id: str, principal: Principal, *, revision: int, clock: Clock
) -> None:
    """settlement.case.grouped for a points case as its list now groups it (fraud's upcoding rule compares
    institutions' severity mix); a settlement that is not a points case sends nothing."""
    try:
        book, case = await points_case(uow, setl_id, principal)
    except Unprocessable:
        return
    group = case.group
    data = CaseGrouped(
        setl_id=setl_id,
        fixmedins_code=case.row.fixmedins_code,
        insutype=book.insutype,
        year=book.year,
        method=book.method.value,
        group_code=group.code if group else None,
        group_name=group.name if group else None,
        severity=case.grouped.severity if book.method is Method.DRG else None,
        base_points=f"{group.points:.4f}" if group else None,
        points=f"{case.points.points:.4f}",
        deviation=case.points.deviation.value,
        medfee_sumamt=fen_to_yuan(case.row.medfee_fen),
        revision=revision,
        grouped_at=clock.now(),
    )
    await uow.publish(
        new_event(
            type=Subject.CASE_GROUPED,
            source="settlement",
            subject=setl_id,
            data=data.model_dump(mode="json"),
            clock=clock,
        )
    )


async def get_settlement_list(
    *, uow: SettlementUnitOfWork, setl_id: str, principal: Principal
) -> SettlementList:
    await _settlement_of(uow, setl_id, principal)
    found = await uow.points.settlement_list(setl_id)
    if found is None:
        raise NotFound(
            f"Settlement {setl_id} has no settlement list yet.",
            code="SETTLEMENT_LIST_NOT_FOUND",
            setl_id=setl_id,
        )
    return found


# --- the year book: what grouping a pool's cases of a year needs ------------------------------------------


def coding_of(row: CaseRow) -> CaseCoding:
    """The case's diagnoses and procedures: from its settlement list, else the visit's diagnosis alone."""
    if row.coding is not None:
        return row.coding
    if row.list_main is not None:
        return coding_from_compact(row.list_main, row.list_secondary, row.list_procedures)
    return coding_from_list(row.dise_codg, row.diagnoses, row.procedures)


@dataclass(frozen=True, slots=True)
class CaseResult:
    row: CaseRow
    coding: CaseCoding
    grouped: Grouped
    group: Group | None
    points: CasePoints


@dataclass
class YearBook:
    """A pool's payment year with its groups, grouper and the institutions paid by points."""

    year: int
    insutype: str
    method: Method
    budget_fen: int
    parameters: YearParameters
    stored_parameters: dict[str, str]
    groups: dict[str, Group]
    grouper: DipGrouper | DrgGrouper
    institutions: dict[str, PointsInstitution]
    _coefficients: dict[str, Decimal] = field(default_factory=dict)
    # Cases coded alike group alike: the grouper runs once per distinct coding.
    _grouped: dict[CaseCoding, tuple[Grouped, Group | None]] = field(default_factory=dict)
    _by_key: dict[tuple[str | None, ...], tuple[Grouped, Group | None]] = field(default_factory=dict)
    _severities: dict[str, str] = field(default_factory=dict)

    def coefficient(self, fixmedins_code: str) -> Decimal:
        found = self._coefficients.get(fixmedins_code)
        if found is None:
            institution = self.institutions.get(fixmedins_code)
            own = institution.points_coefficient if institution else None
            found = self.parameters.coefficient(
                institution.hosp_lv if institution else None, Decimal(own) if own else None
            )
            self._coefficients[fixmedins_code] = found
        return found

    def _group(self, coding: CaseCoding) -> tuple[Grouped, Group | None]:
        found = self._grouped.get(coding)
        if found is None:
            grouped = self.grouper.group(coding)
            group = self.groups.get(grouped.group_code) if grouped.group_code else None
            if grouped.group_code and group is None:
                grouped = Grouped(
                    None, f"{grouped.why}; group {grouped.group_code} is not in the year's groups"
                )
            found = self._grouped[coding] = (grouped, group)
        return found

    def _group_row(self, row: CaseRow) -> tuple[Grouped, Group | None]:
        """A case's group, keyed on what the grouper reads of it: DIP the main diagnosis and the procedures,
        DRG those and the severity of the other diagnoses (a list never holds the main one twice)."""
        if row.coding is not None or row.diagnoses is not None:
            return self._group(coding_of(row))
        main = row.dise_codg if row.list_main is None else row.list_main
        if isinstance(self.grouper, DrgGrouper):
            severity = self._severities.get(row.list_secondary)
            if severity is None:
                codes = row.list_secondary.split(CODE_SEPARATOR) if row.list_secondary else []
                severity = self._severities[row.list_secondary] = self.grouper.severity(codes, "") or "none"
            key: tuple[str | None, ...] = (main, row.list_procedures, severity)
        else:
            key = (main, row.list_procedures)
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = self._group(coding_of(row))
        return found

    def evaluate(self, row: CaseRow) -> CaseResult:
        coding = coding_of(row)
        grouped, group = self._group(coding)
        return CaseResult(row, coding, grouped, group, self._points(row, group))

    def _points(self, row: CaseRow, group: Group | None) -> CasePoints:
        return case_points(
            medfee_fen=row.medfee_fen,
            group=group,
            coefficient=self.coefficient(row.fixmedins_code),
            parameters=self.parameters,
            special_points=Decimal(row.special_points) if row.special_points is not None else None,
        )

    def points_of(self, row: CaseRow) -> CasePoints:
        """A case's points alone (what the year's totals need), without keeping how it was grouped."""
        return self._points(row, self._group_row(row)[1])

    def evaluate_all(self, rows: Iterable[CaseRow]) -> list[CaseResult]:
        return [self.evaluate(row) for row in rows]


async def year_book(uow: SettlementUnitOfWork, year: int, insutype: str) -> YearBook:
    """Everything grouping needs for a pool's year, read once; 404 PAYMENT_YEAR_NOT_FOUND without a year."""
    payment_year = await get_payment_year(uow=uow, year=year, insutype=insutype)
    groups = {
        row.group_code: Group(row.group_code, row.group_name, Decimal(row.points), row.avg_cost_fen)
        for row in await uow.points.all_of_year(PointsGroup, year)
    }
    method = Method(payment_year.method)
    grouper: DipGrouper | DrgGrouper
    if method is Method.DIP:
        grouper = DipGrouper(
            (row.dise_prefix, row.oprn_code or None, row.group_code)
            for row in await uow.points.all_of_year(DipRow, year)
        )
    else:
        grouper = DrgGrouper(
            (
                Adrg(row.adrg, tuple(row.dise_prefixes), frozenset(row.oprn_codes), row.priority)
                for row in await uow.points.all_of_year(DrgAdrg, year)
            ),
            {row.dise_prefix: row.level for row in await uow.points.all_of_year(DrgComplication, year)},
            groups,
        )
    return YearBook(
        year=year,
        insutype=insutype,
        method=method,
        budget_fen=payment_year.budget_fen,
        parameters=parameters_of(payment_year),
        stored_parameters=dict(payment_year.parameters),
        groups=groups,
        grouper=grouper,
        institutions=await uow.points.points_institutions(),
    )


# --- a case's grouping and 特例单议 ----------------------------------------------------------------------


async def points_case(
    uow: SettlementUnitOfWork, setl_id: str, principal: Principal
) -> tuple[YearBook, CaseResult]:
    """A settlement as a points case, or 422 NOT_A_POINTS_CASE saying why it is not one."""
    settlement = await _settlement_of(uow, setl_id, principal)

    def not_a_case(reason: str) -> Unprocessable:
        return Unprocessable(
            f"Settlement {setl_id} is not paid by points: {reason}.", code="NOT_A_POINTS_CASE", reason=reason
        )

    if settlement.status == REVERSED:
        raise not_a_case("it was reversed")
    if settlement.med_type != INPATIENT_MED_TYPE:
        raise not_a_case(f"med_type {settlement.med_type} is not inpatient (21)")
    institution = await uow.institutions.find(settlement.fixmedins_code)
    if institution is None or not institution.points_payment:
        raise not_a_case(f"institution {settlement.fixmedins_code} is not paid by points")
    if await uow.points.find(PaymentYear, settlement.year, settlement.insutype) is None:
        raise not_a_case(f"there is no payment year {settlement.year} for insutype {settlement.insutype}")
    book = await year_book(uow, settlement.year, settlement.insutype)
    first, last = date(settlement.year, 1, 1), date(settlement.year, 12, 31)
    rows = await uow.points.cases(insutype=settlement.insutype, first=first, last=last, setl_id=setl_id)
    if not rows:  # pragma: no cover - every condition of the query was checked above
        raise not_a_case("it does not count in its year")
    return book, book.evaluate(rows[0])


async def set_special_points(
    *, uow: SettlementUnitOfWork, setl_id: str, data: SpecialPointsIn, principal: Principal, clock: Clock
) -> tuple[YearBook, CaseResult]:
    """特例单议: ops set a case's points by hand, with the reason; who and when are kept."""
    book, _ = await points_case(uow, setl_id, principal)
    await ensure_open(uow, book.year, book.insutype)
    existing = await uow.points.special_case(setl_id)
    now = clock.now()
    points = f"{data.points:.4f}"
    if existing is None:
        uow.points.add_special(
            SpecialCase(
                setl_id=setl_id, points=points, reason=data.reason, set_by=principal.client_id, set_at=now
            )
        )
    else:
        existing.points, existing.reason, existing.set_by, existing.set_at = (
            points,
            data.reason,
            principal.client_id,
            now,
        )
    await uow.flush()
    return await points_case(uow, setl_id, principal)


async def clear_special_points(*, uow: SettlementUnitOfWork, setl_id: str, principal: Principal) -> None:
    book, _ = await points_case(uow, setl_id, principal)
    await ensure_open(uow, book.year, book.insutype)
    if not await uow.points.delete_special_case(setl_id):
        raise NotFound(f"Settlement {setl_id} has no 特例单议 points.", code="SPECIAL_POINTS_NOT_FOUND")
