"""JSON logging with the request id, and a filter that keeps personal data out of every line."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# A resident ID (18 chars, last may be X) or a mainland mobile number anywhere in a message is masked,
# whatever code wrote it: the rule "no certno, name or phone in logs" must not depend on every caller.
_CERTNO = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Libraries that log SQL parameters or full URLs (query strings) at DEBUG/INFO: a name in them cannot be
# masked by a pattern, so they never log below WARNING, whatever LOG_LEVEL says.
VERBOSE_LIBRARIES = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "httpx",
    "httpcore",
    "nats",
)
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def mask_personal_data(text: str) -> str:
    """Mask resident IDs and mobile numbers: 420102********1234, 138****5678."""
    text = _CERTNO.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:]}", text)
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, request id, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": mask_personal_data(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key != "color_message":
                entry[key] = (
                    value if isinstance(value, int | float | bool | None) else mask_personal_data(str(value))
                )
        if record.exc_info:
            entry["exception"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_ybj", False):
            root.removeHandler(existing)
    handler._ybj = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for name in VERBOSE_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
