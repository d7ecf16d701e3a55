"""A simulated clock shared by the demo's processes: the demo moves the business date, the services follow.

The services take the time from `common.clock.SystemClock`. Started with BENCH_SIMCLOCK_FILE set (and
bench/city/simclock_site on PYTHONPATH, whose sitecustomize calls `install`), a process reads the time from
that file instead: `{"at": <simulated ISO moment>, "real": <epoch seconds when it was set>}`, so simulated time
runs on at the real pace from the moment set. Every process (gateway and services) reads the same file, so the
signed principal's age and every business date agree. Only bench code uses it; the services are unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

ENV = "BENCH_SIMCLOCK_FILE"


def set_time(path: Path, at: datetime) -> None:
    """Move the simulated clock of every process reading `path` to `at` (atomically)."""
    if at.tzinfo is None:
        raise ValueError("a simulated moment needs an offset")
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"at": at.isoformat(), "real": time.time()}))
    os.replace(temporary, path)


class FileClock:
    """The clock a process reads from the simulated-clock file (re-read whenever the file changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = -1
        self._at = 0.0
        self._real = 0.0
        self._load()

    def _load(self) -> None:
        stamp = os.stat(self.path).st_mtime_ns
        if stamp != self._stamp:
            document = json.loads(self.path.read_text())
            self._at = datetime.fromisoformat(document["at"]).timestamp()
            self._real = float(document["real"])
            self._stamp = stamp

    def now(self) -> datetime:
        with contextlib.suppress(OSError, ValueError):  # mid-replace: the last reading stands
            self._load()
        return datetime.fromtimestamp(self._at + (time.time() - self._real), UTC)


def install() -> None:
    """Make `common.clock.SystemClock` read the simulated clock named by BENCH_SIMCLOCK_FILE."""
    from common import clock

    path = Path(os.environ[ENV])
    reader = FileClock(path)

    def now(self: clock.SystemClock) -> datetime:
        return reader.now()

    clock.SystemClock.now = now  # type: ignore[method-assign]
