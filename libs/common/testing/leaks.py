"""A guard for the whole test run: no certno, name or phone may reach a log line (DESIGN.md §10).

Every record any logger emits during the run is formatted exactly as production formats it (the JSON
formatter with its masking) and searched for a resident ID or mobile number that escaped the mask, and for
the names the tests give their persons. The formatter can mask numbers; it cannot recognise a name, so a
name in a log line means some code logged personal data it should not have.
"""

from __future__ import annotations

import logging
import re

from common.logs import JsonFormatter

# Unmasked: 18 characters of a resident ID, or 11 digits of a mobile number, standing alone.
_CERTNO = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
# The names the test suite registers persons under (see tests/*/conftest.py and the API tests).
TEST_NAMES = ("张三", "李四", "王五", "赵六", "参保人")


class PersonalDataGuard(logging.Handler):
    """Remembers every log line that still carries personal data after formatting."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter("leak-guard"))
        self.leaks: list[str] = []
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is another test's business
            return
        self.lines += 1
        if _CERTNO.search(line) or _PHONE.search(line) or any(name in line for name in TEST_NAMES):
            self.leaks.append(line[:400])
