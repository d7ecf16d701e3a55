"""A progress bar for long jobs (imports, data generation, benchmarks) on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`[#####.....] 52,000/100,000  52% 24,310/s  eta 2s`; redrawn in place on a terminal, a line a tenth elsewhere."""

    def __init__(self, total: int, *, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_tenth = -1

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        tenth = self.done * 10 // self.total
        if self._tty or tenth != self._last_tenth:
            self._last_tenth = tenth
            self._draw(final=False)

    def close(self) -> float:
        """Finish the bar; returns the elapsed seconds."""
        self._draw(final=True)
        return time.perf_counter() - self.started

    def _draw(self, *, final: bool) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        filled = self.width * self.done // self.total
        eta = (self.total - self.done) / rate if rate else 0.0
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done:,}/{self.total:,} "
            f"{100 * self.done // self.total:3d}% {rate:,.0f}/s "
            + (f"in {elapsed:.1f}s" if final else f"eta {eta:.0f}s")
        )
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
