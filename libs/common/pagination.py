"""Opaque list cursors (`limit` + `cursor`, DESIGN.md §3): the last row's sort key, base64url-encoded."""

from __future__ import annotations

import base64
import binascii

from common.errors import BadRequest

_SEPARATOR = "|"


def encode_cursor(*parts: str) -> str:
    """A cursor for the row after which the next page starts (its sort key, in order)."""
    return base64.urlsafe_b64encode(_SEPARATOR.join(parts).encode()).decode()


def decode_cursor(cursor: str, *, parts: int) -> tuple[str, ...]:
    """The sort key a cursor carries; 400 INVALID_CURSOR for anything this API did not give out."""
    try:
        text = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid() from exc
    values = tuple(text.split(_SEPARATOR, parts - 1))
    if len(values) != parts or not all(values[-1:]):
        raise _invalid()
    return values


def _invalid() -> BadRequest:
    return BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR")
