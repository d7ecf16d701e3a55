"""Bulk loads: JSON {"<key>": [...]} or CSV bodies read into records, every record checked, then one upsert.

Shared by every bulk load (institutions, catalogue, drugs): the same limits, codes, CSV rules and
all-or-nothing semantics everywhere.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import Conflict, PayloadTooLarge, ProblemError, Unprocessable
from common.middleware import allow_body_of

MAX_BULK_ROWS = 50_000
MAX_BULK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record of a bulk file that could not even be read as fields (e.g. more CSV cells than columns)."""

    message: str


BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": f"BULK_TOO_LARGE: more than {MAX_BULK_ROWS:,} records or {MAX_BULK_BYTES:,} bytes"},
    415: {"description": "UNSUPPORTED_MEDIA_TYPE: neither application/json nor text/csv"},
    422: {
        "description": "BULK_INVALID: `errors` lists up to 100 of {row, field, code, message} (row 1 is the "
        "first record) and `error_count` counts them all; nothing was written. Also BULK_EMPTY, "
        "MALFORMED_JSON, MALFORMED_CSV, CSV_HEADER_INVALID, VALIDATION_ERROR."
    },
}


def bulk_body(key: str, json_example: Any, csv_example: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f'JSON {{"{key}": [...]}} or CSV (text/csv, a header row of the field names; an '
            "empty cell is an absent field; `charset` honoured, default UTF-8). "
            f"At most {MAX_BULK_ROWS:,} records.",
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": json_example},
                "text/csv": {"schema": {"type": "string"}, "example": csv_example},
            },
        }
    }


def too_many() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"A load holds at most {MAX_BULK_ROWS:,} records; split the file.", code="BULK_TOO_LARGE"
    )


async def read_body(request: Request) -> bytes:
    allow_body_of(request.scope, MAX_BULK_BYTES)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BULK_BYTES:
        raise PayloadTooLarge(f"The body is over {MAX_BULK_BYTES:,} bytes.", code="BULK_TOO_LARGE")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BULK_BYTES:
            raise PayloadTooLarge(f"The body is over {MAX_BULK_BYTES:,} bytes.", code="BULK_TOO_LARGE")
        chunks.append(chunk)
    return b"".join(chunks)


def json_records(body: bytes, key: str) -> list[object]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unprocessable("The request body is not valid JSON.", code="MALFORMED_JSON") from exc
    if not isinstance(document, dict) or set(document) != {key} or not isinstance(document[key], list):
        raise Unprocessable(f'The body must be {{"{key}": [...]}}.', code="VALIDATION_ERROR")
    records: list[object] = document[key]
    if len(records) > MAX_BULK_ROWS:
        raise too_many()
    return records


def csv_records(text: str, model: type[BaseModel]) -> list[object]:
    """Records of a CSV text; a row with more cells than the header is a BadRecord (reported by row)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        fields = model.model_fields
        unknown = [name for name in header if name not in fields]
        missing = [name for name, info in fields.items() if info.is_required() and name not in header]
        repeated = sorted({name for name in header if header.count(name) > 1})
        if not header or unknown or missing or repeated:
            problems = [
                f"unknown {unknown}" if unknown else "",
                f"missing {missing}" if missing else "",
                f"repeated {repeated}" if repeated else "",
                "no header" if not header else "",
            ]
            raise Unprocessable(
                "The CSV header must name the fields, each once: " + "; ".join(p for p in problems if p),
                code="CSV_HEADER_INVALID",
                columns=sorted(fields),
            )
        records: list[object] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(records) == MAX_BULK_ROWS:
                raise too_many()
            if len(cells) > len(header):
                records.append(BadRecord(f"{len(cells)} cells but the header has {len(header)}"))
                continue
            records.append(
                {name: cell.strip() for name, cell in zip(header, cells, strict=False) if cell.strip() != ""}
            )
    except csv.Error as exc:
        raise Unprocessable(
            f"The CSV is malformed at line {reader.line_num}: {exc}", code="MALFORMED_CSV"
        ) from exc
    return records


def decode_csv(body: bytes, charset: str) -> str:
    try:
        text = body.decode(charset)
    except LookupError as exc:
        raise Unprocessable(f"Unknown charset {charset[:40]!r}.", code="MALFORMED_CSV") from exc
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"The CSV is not {charset[:40]} text (byte {exc.start}); give the charset, e.g. text/csv; charset=gbk.",
            code="MALFORMED_CSV",
        ) from exc
    if "\x00" in text:  # PostgreSQL cannot store NUL in text
        raise Unprocessable("The CSV contains a NUL character.", code="MALFORMED_CSV")
    return text


async def records_of(request: Request, key: str, model: type[BaseModel]) -> list[object]:
    """The records of a bulk request, JSON or CSV by its content type."""
    media_type, *parameters = request.headers.get("content-type", "").split(";")
    media_type = media_type.strip().lower()
    options = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        options[name.strip().lower()] = value.strip().strip('"')
    if media_type != "text/csv" and media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, "Send application/json or text/csv.")
    body = await read_body(request)
    if media_type == "text/csv":
        return csv_records(decode_csv(body, options.get("charset") or "utf-8"), model)
    return json_records(body, key)


# --- the all-or-nothing load: every record checked first, then one upsert ---------------------------------

MAX_ROW_ERRORS = 100
_CHUNK = 900  # keys per IN (...): well under every driver's limit on bound parameters
_WRITE_BATCH = 2000

Row = dict[str, Any]
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one record of a load was refused."""

    row: int  # 1-based position of the record (the CSV header is not a record)
    field: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load did: records created, updated (they differed) and left as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Upserted:
    """The rows an upsert created and changed (to announce them), and how many it left as they were."""

    created: list[Row]
    changed: list[Row]
    unchanged: int

    @property
    def result(self) -> LoadResult:
        return LoadResult(created=len(self.created), updated=len(self.changed), unchanged=self.unchanged)


def _field_of(error: Mapping[str, Any]) -> str | None:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else None


Key = str | tuple[str, ...]
"""The column (or columns) that identify a row of a load."""


def key_of(row: Mapping[Any, Any], key: Key) -> Any:
    """A row's key: one value, or a tuple of values for a composite key."""
    return row[key] if isinstance(key, str) else tuple(row[name] for name in key)


def _key_text(key: Key, value: Any) -> str:
    if isinstance(key, str):
        return f"{key} {value}"
    return " ".join(f"{name} {part}" for name, part in zip(key, value, strict=True))


def valid_rows(
    records: Sequence[object], *, model: type[_Model], key: Key, to_row: Callable[[_Model], Row]
) -> list[Row]:
    """Every record validated as `model` and made a row; any failure is one 422 BULK_INVALID listing them
    all (up to MAX_ROW_ERRORS, with the count), so nothing is written. A key twice is DUPLICATE_IN_REQUEST."""
    if not records:
        raise Unprocessable("The load holds no records.", code="BULK_EMPTY")
    errors: list[RowError] = []
    rows: list[Row] = []
    first_seen: dict[Any, int] = {}
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
        code = key_of(row, key)
        if code in first_seen:
            errors.append(
                RowError(
                    number,
                    key if isinstance(key, str) else key[-1],
                    "DUPLICATE_IN_REQUEST",
                    f"{_key_text(key, code)} is also on row {first_seen[code]}",
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


def _all_equal(old: Mapping[str, Any], new: Row) -> bool:
    return all(old[column] == value for column, value in new.items())


async def upsert(
    session: AsyncSession,
    table: sa.Table,
    rows: Sequence[Row],
    *,
    key: Key,
    now: datetime,
    same: Callable[[Mapping[str, Any], Row], bool] = _all_equal,
) -> Upserted:
    """Insert the new rows and update the changed ones (`same` says whether a stored row already holds a new
    one's values), stamping `updated_at`. The rows are locked in key order first, so two loads that overlap
    queue instead of deadlocking; a row created by a concurrent load in between is 409 CONCURRENT_CHANGE."""
    names = (key,) if isinstance(key, str) else key
    columns = [table.c[name] for name in names]
    key_column: Any = columns[0] if isinstance(key, str) else sa.tuple_(*columns)
    by_key = {key_of(row, key): row for row in rows}
    keys = sorted(by_key)
    existing: dict[Any, Any] = {}
    for start in range(0, len(keys), _CHUNK):
        query = (
            sa.select(table)
            .where(key_column.in_(keys[start : start + _CHUNK]))
            .order_by(*columns)
            .with_for_update()
        )
        existing.update({key_of(row._mapping, key): row._mapping for row in await session.execute(query)})
    created: list[Row] = []
    changed: list[Row] = []
    for code in keys:
        row, before = by_key[code], existing.get(code)
        if before is None:
            created.append({**row, "updated_at": now})
        elif not same(before, row):
            changed.append({**row, "updated_at": now})
    if created:
        try:
            async with session.begin_nested():
                for start in range(0, len(created), _WRITE_BATCH):
                    await session.execute(sa.insert(table), created[start : start + _WRITE_BATCH])
        except IntegrityError as exc:
            raise Conflict(
                "Another request created some of these records at the same moment; retry.",
                code="CONCURRENT_CHANGE",
            ) from exc
    for start in range(0, len(changed), _WRITE_BATCH):
        await session.execute(
            sa.update(table).where(*(column == sa.bindparam(f"_{column.name}") for column in columns)),
            [
                {**row, **{f"_{name}": row[name] for name in names}}
                for row in changed[start : start + _WRITE_BATCH]
            ],
        )
    return Upserted(created, changed, len(rows) - len(created) - len(changed))
