"""Progress lines for work that takes a while inside a Beam worker: what this worker has done so far and its rate,
to stderr every `every_seconds`, so a long curate or build shows it is moving, in a terminal or a log alike.
Each worker counts its own share (Beam's metrics are only read once the pipeline ends)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

PROGRESS_SECONDS = 30.0


class Progress:
    """Counts of named amounts (`documents`, `files`, ...) and a line about them at most every `every_seconds`."""

    def __init__(
        self,
        stage: str,
        rate_of: str,
        every_seconds: float = PROGRESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ) -> None:
        self._stage = stage
        self._rate_of = rate_of
        self._every = every_seconds
        self._clock = clock
        self._stream = stream
        self._start = self._last = clock()
        self.counts: dict[str, int] = {}

    def add(self, **amounts: int) -> str | None:
        """Count the amounts; the line written, when it was time for one."""
        for name, amount in amounts.items():
            self.counts[name] = self.counts.get(name, 0) + amount
        now = self._clock()
        if now - self._last < self._every:
            return None
        self._last = now
        line = self.line(now)
        print(line, file=self._stream or sys.stderr, flush=True)
        return line

    def line(self, now: float) -> str:
        """`<stage>: 12,345 documents, 40 files so far (1,234 documents/s)`."""
        amounts = ", ".join(f"{count:,} {name}" for name, count in self.counts.items())
        elapsed = now - self._start
        rate = self.counts.get(self._rate_of, 0) / elapsed if elapsed > 0 else 0.0
        return f"{self._stage}: {amounts} so far ({rate:,.0f} {self._rate_of}/s)"
