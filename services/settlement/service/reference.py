"""Reference data of settlement: designated institutions, the catalogue, and the versioned policy."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.bulk import BadRecord
from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, ProblemError, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.outbox import add_events
from common.events.settlement import CatalogChanged, InstitutionChanged
from settlement.domain import policy as domain
from settlement.domain.policy import (
    DEFAULT_EFFECTIVE_FROM,
    DEFAULT_PARAMETERS,
    DEFAULT_POLICY,
    PolicyError,
    PolicyVersion,
    parse_policy,
)
from settlement.domain.split import CLASS_A, CLASS_C, CatalogEntry
from settlement.models import Base, CatalogItem, Institution
from settlement.models import PolicyVersion as PolicyVersionRow
from settlement.schemas.reference import (
    CatalogItemIn,
    CatalogItemRow,
    FixmedinsType,
    InstitutionIn,
    InstitutionRow,
    PolicyIn,
)

SOURCE = "settlement"
MAX_ROW_ERRORS = 100
_CHUNK = 900  # keys per IN (...): well under every driver's limit on bound parameters
_WRITE_BATCH = 2000
_DECIMAL_COLUMNS = frozenset({"selfpay_prop", "pric_uplmt_amt", "max_cnt_per_visit"})

Row = dict[str, Any]
_In = TypeVar("_In", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based position of the record in the file (the CSV header is not a record)
    field: str | None
    code: str
    message: str


def decimal_text(value: Decimal, *, places: int = 0) -> str:
    """The one stored spelling of a decimal: no exponent, no trailing zeros beyond `places` (12.50 -> 12.5)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    assert isinstance(exponent, int)
    return format(normal if -exponent > places else normal.quantize(Decimal(1).scaleb(-places)), "f")


# --- institutions ---------------------------------------------------------------------------------------


def institution_row(fixmedins_code: str, data: InstitutionIn) -> Row:
    """The stored values of an institution, after the rules that tie its fields together."""
    is_hospital = data.fixmedins_type is FixmedinsType.HOSPITAL
    if is_hospital and data.hosp_lv is None:
        raise Unprocessable(
            "A hospital needs its level hosp_lv (1, 2 or 3).", code="INVALID_HOSP_LV", field="hosp_lv"
        )
    if not is_hospital and data.hosp_lv is not None:
        raise Unprocessable("A pharmacy has no hosp_lv.", code="INVALID_HOSP_LV", field="hosp_lv")
    return {
        "fixmedins_code": fixmedins_code,
        "fixmedins_name": data.fixmedins_name,
        "fixmedins_type": data.fixmedins_type.value,
        "hosp_lv": data.hosp_lv,
        "admdvs": data.admdvs,
        "status": data.status.value,
    }


async def find_institution(session: AsyncSession, fixmedins_code: str) -> Institution | None:
    """The institution of a code, or None."""
    query = sa.select(Institution).where(Institution.fixmedins_code == fixmedins_code)
    return (await session.scalars(query)).one_or_none()


async def get_institution(session: AsyncSession, fixmedins_code: str) -> Institution:
    """The institution of a code, or 404 INSTITUTION_NOT_FOUND."""
    institution = await find_institution(session, fixmedins_code)
    if institution is None:
        raise NotFound(
            "No such designated institution.", code="INSTITUTION_NOT_FOUND", fixmedins_code=fixmedins_code
        )
    return institution


async def put_institution(
    session: AsyncSession, fixmedins_code: str, data: InstitutionIn, *, clock: Clock
) -> tuple[Institution, bool]:
    """Create or replace one institution; returns it and whether it was created. Emits only on change."""
    outcome = await _upsert(session, _INSTITUTIONS, [institution_row(fixmedins_code, data)], clock=clock)
    return await get_institution(session, fixmedins_code), outcome.created == 1


async def load_institutions(session: AsyncSession, records: Sequence[object], *, clock: Clock) -> LoadResult:
    """Create or replace many institutions, all or nothing: any bad record is 422 BULK_INVALID."""
    rows = _valid_rows(
        records, InstitutionRow, "fixmedins_code", lambda item: institution_row(item.fixmedins_code, item)
    )
    return await _upsert(session, _INSTITUTIONS, rows, clock=clock)


async def list_institutions(
    session: AsyncSession,
    *,
    admdvs: str | None,
    fixmedins_type: str | None,
    status: str | None,
    limit: int,
    after: str | None,
) -> list[Institution]:
    """Institutions in code order, keyset-paginated on the code."""
    query = sa.select(Institution)
    if admdvs:
        query = query.where(Institution.admdvs == admdvs)
    if fixmedins_type:
        query = query.where(Institution.fixmedins_type == fixmedins_type)
    if status:
        query = query.where(Institution.status == status)
    if after is not None:
        query = query.where(Institution.fixmedins_code > after)
    query = query.order_by(Institution.fixmedins_code).limit(limit)
    return list((await session.scalars(query)).all())


# --- the catalogue --------------------------------------------------------------------------------------


def catalog_row(med_list_codg: str, data: CatalogItemIn) -> Row:
    """The stored values of a catalogue item, after the rules that tie its fields together."""
    share = data.selfpay_prop
    if data.chrgitm_lv == CLASS_A and share not in (None, Decimal(0)):
        raise Unprocessable(
            "A 甲类 (01) item has no self-pay share: leave selfpay_prop out or give 0.",
            code="INVALID_SELFPAY_PROP",
            field="selfpay_prop",
        )
    if data.chrgitm_lv == CLASS_C and share not in (None, Decimal(1)):
        raise Unprocessable(
            "A 丙类 (03) item is paid by the person in full: leave selfpay_prop out or give 1.",
            code="INVALID_SELFPAY_PROP",
            field="selfpay_prop",
        )
    if data.age_min is not None and data.age_max is not None and data.age_min > data.age_max:
        raise Unprocessable("age_min is above age_max.", code="INVALID_AGE_RANGE", field="age_min")
    # Only a 乙类 item's share means anything; the class says it all for the others.
    keep_share = share is not None and data.chrgitm_lv not in (CLASS_A, CLASS_C)
    return {
        "med_list_codg": med_list_codg,
        "name": data.name,
        "chrgitm_lv": data.chrgitm_lv.value,
        "selfpay_prop": decimal_text(share, places=2) if keep_share and share is not None else None,
        "pric_uplmt_amt": decimal_text(data.pric_uplmt_amt, places=2)
        if data.pric_uplmt_amt is not None
        else None,
        "gend_lmt": data.gend_lmt.value if data.gend_lmt else None,
        "age_min": data.age_min,
        "age_max": data.age_max,
        "max_cnt_per_visit": decimal_text(data.max_cnt_per_visit)
        if data.max_cnt_per_visit is not None
        else None,
    }


async def find_catalog_item(session: AsyncSession, med_list_codg: str) -> CatalogItem | None:
    query = sa.select(CatalogItem).where(CatalogItem.med_list_codg == med_list_codg)
    return (await session.scalars(query)).one_or_none()


async def get_catalog_item(session: AsyncSession, med_list_codg: str) -> CatalogItem:
    """The catalogue item of a code, or 404 CATALOG_ITEM_NOT_FOUND."""
    item = await find_catalog_item(session, med_list_codg)
    if item is None:
        raise NotFound("No such catalogue item.", code="CATALOG_ITEM_NOT_FOUND", med_list_codg=med_list_codg)
    return item


async def put_catalog_item(
    session: AsyncSession, med_list_codg: str, data: CatalogItemIn, *, clock: Clock
) -> tuple[CatalogItem, bool]:
    """Create or replace one catalogue item; returns it and whether it was created. Emits only on change."""
    outcome = await _upsert(session, _CATALOG, [catalog_row(med_list_codg, data)], clock=clock)
    return await get_catalog_item(session, med_list_codg), outcome.created == 1


async def load_catalog(session: AsyncSession, records: Sequence[object], *, clock: Clock) -> LoadResult:
    """Create or replace many catalogue items, all or nothing: any bad record is 422 BULK_INVALID."""
    rows = _valid_rows(
        records, CatalogItemRow, "med_list_codg", lambda item: catalog_row(item.med_list_codg, item)
    )
    return await _upsert(session, _CATALOG, rows, clock=clock)


async def list_catalog(
    session: AsyncSession, *, q: str | None, chrgitm_lv: str | None, limit: int, after: str | None
) -> list[CatalogItem]:
    """Catalogue items in code order; q matches the start of the code or any part of the name."""
    query = sa.select(CatalogItem)
    if q:
        needle = q.lower()
        query = query.where(
            sa.or_(
                sa.func.lower(CatalogItem.med_list_codg).startswith(needle, autoescape=True),
                sa.func.lower(CatalogItem.name).contains(needle, autoescape=True),
            )
        )
    if chrgitm_lv:
        query = query.where(CatalogItem.chrgitm_lv == chrgitm_lv)
    if after is not None:
        query = query.where(CatalogItem.med_list_codg > after)
    query = query.order_by(CatalogItem.med_list_codg).limit(limit)
    return list((await session.scalars(query)).all())


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


async def catalog_entries(session: AsyncSession, codes: Collection[str]) -> dict[str, CatalogEntry]:
    """The catalogue entries of the given codes (codes not in the catalogue are simply absent)."""
    wanted = set(codes)
    if not wanted:
        return {}
    table = CatalogItem.__table__
    rows = await session.execute(sa.select(table).where(table.c.med_list_codg.in_(wanted)))
    return {
        row.med_list_codg: CatalogEntry(
            med_list_codg=row.med_list_codg,
            chrgitm_lv=row.chrgitm_lv,
            selfpay_prop=_decimal(row.selfpay_prop),
            pric_uplmt_amt=_decimal(row.pric_uplmt_amt),
            gend_lmt=row.gend_lmt,
            age_min=row.age_min,
            age_max=row.age_max,
            max_cnt_per_visit=_decimal(row.max_cnt_per_visit),
        )
        for row in rows
    }


# --- writing reference rows: validate all, then insert the new, update the changed, emit for both --------


@dataclass(frozen=True, slots=True)
class _Kind:
    model: type[Base]
    key: str
    subject: str
    contract: type[BaseModel]


_INSTITUTIONS = _Kind(Institution, "fixmedins_code", Subject.INSTITUTION_CHANGED, InstitutionChanged)
_CATALOG = _Kind(CatalogItem, "med_list_codg", Subject.CATALOG_CHANGED, CatalogChanged)


def _field_of(error: Mapping[str, Any]) -> str | None:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else None


def _valid_rows(
    records: Sequence[object], model: type[_In], key: str, to_row: Callable[[_In], Row]
) -> list[Row]:
    """Every record validated and checked; any failure is one 422 BULK_INVALID listing them all."""
    if not records:
        raise Unprocessable("The load holds no records.", code="BULK_EMPTY")
    errors: list[RowError] = []
    rows: list[Row] = []
    first_seen: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        if isinstance(record, BadRecord):
            errors.append(RowError(number, None, "MALFORMED_ROW", record.message))
            continue
        try:
            row = to_row(model.model_validate(record))
        except ValidationError as exc:
            errors.extend(
                RowError(number, _field_of(err), "VALIDATION_ERROR", err["msg"]) for err in exc.errors()
            )
            continue
        except ProblemError as exc:
            errors.append(RowError(number, exc.extra.get("field"), exc.code, exc.detail))
            continue
        code = row[key]
        if code in first_seen:
            errors.append(
                RowError(
                    number, key, "DUPLICATE_IN_REQUEST", f"{key} {code} is also on row {first_seen[code]}"
                )
            )
            continue
        first_seen[code] = number
        rows.append(row)
    if errors:
        bad_rows = len({error.row for error in errors})
        raise Unprocessable(
            f"{bad_rows} of {len(records)} records are invalid; nothing was written.",
            code="BULK_INVALID",
            error_count=len(errors),
            errors=[asdict(error) for error in errors[:MAX_ROW_ERRORS]],
        )
    return rows


def _same(old: Mapping[str, Any], new: Row) -> bool:
    for column, value in new.items():
        before = old[column]
        if column in _DECIMAL_COLUMNS and before is not None and value is not None:
            if Decimal(before) != Decimal(value):
                return False
        elif before != value:
            return False
    return True


async def _upsert(session: AsyncSession, kind: _Kind, rows: Sequence[Row], *, clock: Clock) -> LoadResult:
    """Insert the new rows, update the changed ones, and write one event for each of those."""
    table = cast(sa.Table, kind.model.__table__)
    key_column = table.c[kind.key]
    by_key = {row[kind.key]: row for row in rows}
    keys = sorted(by_key)
    existing: dict[str, Mapping[str, Any]] = {}
    # Locked in key order, so two loads that overlap wait for each other instead of deadlocking.
    for start in range(0, len(keys), _CHUNK):
        query = (
            sa.select(table)
            .where(key_column.in_(keys[start : start + _CHUNK]))
            .order_by(key_column)
            .with_for_update()
        )
        existing.update({row._mapping[kind.key]: row._mapping for row in await session.execute(query)})
    now = clock.now()
    created: list[Row] = []
    changed: list[Row] = []
    for key in keys:
        row = by_key[key]
        before = existing.get(key)
        if before is None:
            created.append({**row, "updated_at": now})
        elif not _same(before, row):
            changed.append({**row, "updated_at": now})
    if created:
        try:
            async with session.begin_nested():
                for start in range(0, len(created), _WRITE_BATCH):
                    await session.execute(sa.insert(table), created[start : start + _WRITE_BATCH])
        except IntegrityError as exc:  # created by a concurrent request since we looked
            raise Conflict(
                "Another request created some of these records at the same moment; retry.",
                code="CONCURRENT_CHANGE",
            ) from exc
    for start in range(0, len(changed), _WRITE_BATCH):
        await session.execute(sa.update(kind.model), changed[start : start + _WRITE_BATCH])
    await add_events(
        session,
        [
            new_event(
                type=kind.subject,
                source=SOURCE,
                subject=row[kind.key],
                data=kind.contract.model_validate(row).model_dump(mode="json"),
                clock=clock,
            )
            for row in created + changed
        ],
    )
    return LoadResult(
        created=len(created), updated=len(changed), unchanged=len(rows) - len(created) - len(changed)
    )


# --- the policy -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A policy version as stored (the built-in default is version 0)."""

    version: int
    effective_from: date
    parameters: Mapping[str, Any]
    note: str | None
    created_by: str
    created_at: datetime | None


DEFAULT_RECORD = PolicyRecord(
    version=0,
    effective_from=DEFAULT_EFFECTIVE_FROM,
    parameters=DEFAULT_PARAMETERS,
    note="默认政策 the default table shipped with the service (DESIGN.md §6.2)",
    created_by="system",
    created_at=None,
)


def _record(row: PolicyVersionRow) -> PolicyRecord:
    return PolicyRecord(
        version=row.version_id,
        effective_from=row.effective_from,
        parameters=row.parameters,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def policy_records(session: AsyncSession) -> list[PolicyRecord]:
    """Every version in effective order, the built-in default first."""
    rows = await session.scalars(sa.select(PolicyVersionRow).order_by(PolicyVersionRow.effective_from))
    return [DEFAULT_RECORD, *(_record(row) for row in rows)]


def record_in_force(records: Sequence[PolicyRecord], on: date) -> PolicyRecord:
    """The record in force on a business date, or 404 NO_POLICY_IN_FORCE before the default's date."""
    for record in reversed(records):
        if record.effective_from <= on:
            return record
    raise NotFound(f"No policy was in force on {on}.", code="NO_POLICY_IN_FORCE")


async def add_policy_version(
    session: AsyncSession, data: PolicyIn, *, created_by: str, clock: Clock
) -> PolicyRecord:
    """A new policy version from a future date: settlements already made keep the meaning they had."""
    today = business_date(clock.now())
    if data.effective_from <= today:
        raise Unprocessable(
            f"effective_from must be after today ({today}): settlements made under the policy in force "
            "must not change meaning.",
            code="POLICY_BACKDATED",
            field="effective_from",
        )
    parameters = data.parameters.model_dump(mode="json", by_alias=True)
    try:
        parse_policy(parameters)
    except PolicyError as exc:
        raise Unprocessable(str(exc), code="INVALID_POLICY") from exc
    same_date = sa.select(PolicyVersionRow.version_id).where(
        PolicyVersionRow.effective_from == data.effective_from
    )
    existing = await session.scalar(same_date)
    if existing is not None:
        raise Conflict(
            f"A policy version takes effect on {data.effective_from} already.",
            code="POLICY_EXISTS",
            version=existing,
        )
    row = PolicyVersionRow(
        effective_from=data.effective_from,
        parameters=parameters,
        note=data.note,
        created_by=created_by,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:  # added concurrently a moment ago
        raise Conflict(
            f"A policy version takes effect on {data.effective_from} already.", code="POLICY_EXISTS"
        ) from exc
    return _record(row)


class PolicyBook:
    """Policy versions cached per replica for ttl_s; the default table is version 0."""

    def __init__(self, *, ttl_s: float, clock: Clock) -> None:
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self._cached: tuple[datetime, list[PolicyVersion]] | None = None
        self._generation = 0

    async def versions(self, session: AsyncSession) -> list[PolicyVersion]:
        """Every version in effective order, the default first (from the cache while it is fresh)."""
        now = self._clock.now()
        if self._cached is not None and timedelta(0) <= now - self._cached[0] < self._ttl:
            return list(self._cached[1])
        generation = self._generation
        versions = [
            PolicyVersion(
                record.version,
                record.effective_from,
                DEFAULT_POLICY if record.version == 0 else parse_policy(record.parameters),
            )
            for record in await policy_records(session)
        ]
        # A load that began before an invalidate() may hold what the invalidation replaced: use, don't keep.
        if generation == self._generation:
            self._cached = (now, versions)
        return list(versions)

    async def in_force(self, session: AsyncSession, on: date) -> PolicyVersion:
        """The version in force on a business date."""
        return domain.in_force(await self.versions(session), on)

    def invalidate(self) -> None:
        """Forget the cache (after this replica added a version); other replicas catch up within ttl_s."""
        self._cached = None
        self._generation += 1
