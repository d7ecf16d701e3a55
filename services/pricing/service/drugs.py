"""Drug reference data: one drug created or replaced, or many at once (all or nothing), and name search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.bulk import BadRecord
from common.clock import Clock
from common.errors import Conflict, NotFound, ProblemError, Unprocessable
from pricing.domain.money import price_to_micro
from pricing.models import Drug, table_of
from pricing.schemas.drugs import DrugIn, DrugRow

MAX_ROW_ERRORS = 100
_CHUNK = 900  # keys per IN (...): well under every driver's limit on bound parameters
_WRITE_BATCH = 2000
_COLUMNS = (
    "generic_name",
    "dosage_form",
    "spec",
    "manufacturer",
    "listing_price_micro",
    "procurement_price_micro",
)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based position of the record (the CSV header is not a record)
    field: str | None
    code: str
    message: str


def drug_row(med_list_codg: str, data: DrugIn) -> Row:
    """The stored values of a drug."""
    return {
        "med_list_codg": med_list_codg,
        "generic_name": data.generic_name,
        "dosage_form": data.dosage_form or None,
        "spec": data.spec,
        "manufacturer": data.manufacturer,
        "listing_price_micro": price_to_micro(data.listing_price) if data.listing_price else None,
        "procurement_price_micro": price_to_micro(data.procurement_price) if data.procurement_price else None,
    }


async def get_drug(session: AsyncSession, med_list_codg: str) -> Drug:
    """The drug of a code, or 404 DRUG_NOT_FOUND."""
    drug = await session.get(Drug, med_list_codg)
    if drug is None:
        raise NotFound("No such drug.", code="DRUG_NOT_FOUND", med_list_codg=med_list_codg)
    return drug


async def put_drug(
    session: AsyncSession, med_list_codg: str, data: DrugIn, *, clock: Clock
) -> tuple[Drug, bool]:
    """Create or replace one drug; returns it and whether it was created."""
    outcome = await _upsert(session, [drug_row(med_list_codg, data)], clock=clock)
    return await get_drug(session, med_list_codg), outcome.created == 1


def valid_rows(records: Sequence[object]) -> list[Row]:
    """Every record validated; any failure is one 422 BULK_INVALID listing them all (nothing written)."""
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
            item = DrugRow.model_validate(record)
            row = drug_row(item.med_list_codg, item)
        except ValidationError as exc:
            errors.extend(
                RowError(
                    number, str(err["loc"][0]) if err.get("loc") else None, "VALIDATION_ERROR", err["msg"]
                )
                for err in exc.errors()
            )
            continue
        except ProblemError as exc:
            errors.append(RowError(number, exc.extra.get("field"), exc.code, exc.detail))
            continue
        code = row["med_list_codg"]
        if code in first_seen:
            errors.append(
                RowError(
                    number,
                    "med_list_codg",
                    "DUPLICATE_IN_REQUEST",
                    f"med_list_codg {code} is also on row {first_seen[code]}",
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


async def load_drugs(session: AsyncSession, records: Sequence[object], *, clock: Clock) -> LoadResult:
    """Create or replace many drugs, all or nothing: any bad record is 422 BULK_INVALID."""
    return await _upsert(session, valid_rows(records), clock=clock)


async def load_drug_rows(session: AsyncSession, rows: Sequence[Row], *, clock: Clock) -> LoadResult:
    """Create or replace drugs already validated by valid_rows (the CLI validates the whole file first)."""
    return await _upsert(session, rows, clock=clock)


async def search_drugs(session: AsyncSession, *, q: str | None, limit: int, after: str | None) -> list[Drug]:
    """Drugs in code order; q matches any part of the generic name or the start of the code."""
    query = sa.select(Drug)
    if q:
        needle = q.lower()
        query = query.where(
            sa.or_(
                sa.func.lower(Drug.generic_name).contains(needle, autoescape=True),
                sa.func.lower(Drug.med_list_codg).startswith(needle, autoescape=True),
            )
        )
    if after is not None:
        query = query.where(Drug.med_list_codg > after)
    return list((await session.scalars(query.order_by(Drug.med_list_codg).limit(limit))).all())


def _same(old: Mapping[str, Any], new: Row) -> bool:
    return all(old[column] == new[column] for column in _COLUMNS)


async def _upsert(session: AsyncSession, rows: Sequence[Row], *, clock: Clock) -> LoadResult:
    """Insert the new rows and update the changed ones (locked in key order: overlapping loads queue)."""
    table = table_of(Drug)
    by_key = {row["med_list_codg"]: row for row in rows}
    keys = sorted(by_key)
    existing: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(keys), _CHUNK):
        query = (
            sa.select(table)
            .where(table.c.med_list_codg.in_(keys[start : start + _CHUNK]))
            .order_by(table.c.med_list_codg)
            .with_for_update()
        )
        existing.update({row.med_list_codg: row._mapping for row in await session.execute(query)})
    now = clock.now()
    created = [{**by_key[key], "updated_at": now} for key in keys if key not in existing]
    changed = [
        {**by_key[key], "updated_at": now}
        for key in keys
        if key in existing and not _same(existing[key], by_key[key])
    ]
    if created:
        try:
            async with session.begin_nested():
                for start in range(0, len(created), _WRITE_BATCH):
                    await session.execute(sa.insert(table), created[start : start + _WRITE_BATCH])
        except IntegrityError as exc:
            raise Conflict(
                "Another request created some of these drugs at the same moment; retry.",
                code="CONCURRENT_CHANGE",
            ) from exc
    for start in range(0, len(changed), _WRITE_BATCH):
        await session.execute(sa.update(Drug), changed[start : start + _WRITE_BATCH])
    return LoadResult(
        created=len(created), updated=len(changed), unchanged=len(rows) - len(created) - len(changed)
    )
