"""Logs: one JSON object per line, with the request id, and never a certno or a phone number."""

import json
import logging

from common.logs import JsonFormatter, mask_personal_data, request_id_var


def test_certno_and_phone_are_masked_wherever_they_appear() -> None:
    text = "person 42010219900307123X phoned from 13812345678 about 420102199003071234"
    assert mask_personal_data(text) == (
        "person 420102********123X phoned from 138****5678 about 420102********1234"
    )


def test_numbers_that_are_not_personal_data_are_left_alone() -> None:
    assert mask_personal_data("setl_id 2026030200000123 amount 12345678") == (
        "setl_id 2026030200000123 amount 12345678"
    )


def test_a_log_line_is_json_with_the_request_id_and_masked_extras() -> None:
    formatter = JsonFormatter("enrollment")
    record = logging.makeLogRecord(
        {
            "name": "t",
            "levelname": "INFO",
            "msg": "registered %s",
            "args": ("420102199003071234",),
            "certno": "420102199003071234",
            "count": 3,
        }
    )
    token = request_id_var.set("req-1")
    try:
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["service"] == "enrollment"
    assert line["request_id"] == "req-1"
    assert line["message"] == "registered 420102********1234"
    assert line["certno"] == "420102********1234"
    assert line["count"] == 3
