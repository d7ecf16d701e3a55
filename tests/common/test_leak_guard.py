"""The run-wide guard against personal data in logs notices what the masking cannot hide."""

from __future__ import annotations

import logging

from common.testing.leaks import PersonalDataGuard


def test_a_name_in_a_log_line_is_a_leak_and_a_masked_certno_or_phone_is_not() -> None:
    guard = PersonalDataGuard()
    logger = logging.getLogger("tests.leak_guard")
    logger.propagate = False  # these lines leak on purpose: kept away from the run-wide guard itself
    logger.addHandler(guard)
    logger.setLevel(logging.INFO)
    try:
        logger.info("registered 420102199003071259, phone 13812345678")  # masked by the formatter
        logger.info("settled for %s", "张三")
        logger.info("ids %s", {"certno": "420102199003071259"})  # masked inside extras too
    finally:
        logger.removeHandler(guard)
    assert guard.lines == 3
    assert len(guard.leaks) == 1
    assert "张三" in guard.leaks[0]


def test_an_identifier_glued_to_letters_is_not_taken_for_a_certno() -> None:
    guard = PersonalDataGuard()
    logger = logging.getLogger("tests.leak_guard.ids")
    logger.propagate = False
    logger.addHandler(guard)
    logger.setLevel(logging.INFO)
    try:
        logger.info("visit M000000000000000001 trace 81234567890123456789")
    finally:
        logger.removeHandler(guard)
    assert guard.leaks == []
