"""Opaque cursors: what one page hands out, the next page reads back; anything else is 400."""

from __future__ import annotations

import pytest

from common.errors import BadRequest
from common.pagination import decode_cursor, encode_cursor


def test_a_cursor_carries_its_sort_key_back_even_with_the_separator_in_the_last_part() -> None:
    assert decode_cursor(encode_cursor("2026-03-02T10:00:00+00:00", "S1"), parts=2) == (
        "2026-03-02T10:00:00+00:00",
        "S1",
    )
    assert decode_cursor(encode_cursor("a", "b|c"), parts=2) == ("a", "b|c")
    assert decode_cursor(encode_cursor("H001"), parts=1) == ("H001",)


@pytest.mark.parametrize(
    "cursor", ["%%%", "not base64!", encode_cursor("only-one"), encode_cursor(""), "gA=="]
)
def test_a_cursor_this_api_did_not_give_out_is_400(cursor: str) -> None:
    with pytest.raises(BadRequest) as raised:
        decode_cursor(cursor, parts=2 if cursor != encode_cursor("") else 1)
    assert raised.value.code == "INVALID_CURSOR"
