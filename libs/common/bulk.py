"""Bulk bodies: JSON {"<key>": [...]} or CSV with a header row, read into records for all-or-nothing loads.

Shared by every bulk load (institutions, catalogue, drugs): the same limits, codes and CSV rules everywhere.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel

from common.errors import PayloadTooLarge, Unprocessable
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
