"""Progress for work that takes a while, in a terminal or a log alike.

`Progress`: inside a Beam worker, what has been done so far and its rate, to stderr every `every_seconds`. Beam's
metrics are only read once the pipeline ends, so each worker counts its own share; given a `Whole`, workers leave
their counts in a shared folder and each line sums them, with the share of the total and the time left.

`bar`: work with a known total (files to fetch, bytes to download): tqdm's bar on a terminal, and in a log, where a
bar's carriage returns would make one endless line, a plain line every `every_seconds` with the share done, the
rate and the time left.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from tqdm import tqdm

from gap_replay.files import write_atomic

Item = TypeVar("Item")

# Seconds between progress lines; GAP_REPLAY_PROGRESS_SECONDS sets it for a run (Beam's workers inherit it).
PROGRESS_SECONDS = float(os.environ.get("GAP_REPLAY_PROGRESS_SECONDS", "30"))


@dataclass(frozen=True)
class Whole:
    """The whole job that each worker's Progress is a share of: a local folder where every worker leaves its counts,
    the total of the amount the rate is of (None: unknown), and when the job started (seconds since the epoch)."""

    folder: str
    total: int | None
    started: float


class Progress:
    """Counts of named amounts (`documents`, `files`, ...) and a line about them at most every `every_seconds`:
    this worker's, or with `whole` every worker's together, with the share done and the time left."""

    def __init__(
        self,
        stage: str,
        rate_of: str,
        every_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
        whole: Whole | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._stage = stage
        self._rate_of = rate_of
        self._every = PROGRESS_SECONDS if every_seconds is None else every_seconds
        self._clock = clock
        self._stream = stream
        self._whole = whole
        self._wall = wall
        self._name = f"{uuid.uuid4().hex}.json"
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
        line = self.line(now) if self._whole is None or not os.path.isdir(self._whole.folder) else self.whole_line()
        print(line, file=self._stream or sys.stderr, flush=True)
        return line

    def line(self, now: float) -> str:
        """`<stage>: 12,345 documents, 40 files so far (1,234 documents/s)`."""
        amounts = ", ".join(f"{count:,} {name}" for name, count in self.counts.items())
        elapsed = now - self._start
        rate = self.counts.get(self._rate_of, 0) / elapsed if elapsed > 0 else 0.0
        return f"{self._stage}: {amounts} so far ({rate:,.0f} {self._rate_of}/s)"

    def whole_line(self) -> str:
        """`status_line` over every worker: this worker's counts are left in the shared folder and everyone's are
        summed."""
        assert self._whole is not None
        folder = Path(self._whole.folder)
        write_atomic(folder / self._name, json.dumps(self.counts))
        done = 0
        for path in folder.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):  # a file another worker is replacing: counted next time
                done += json.loads(path.read_bytes()).get(self._rate_of, 0)
        elapsed = self._wall() - self._whole.started
        return status_line(self._stage, done, self._whole.total, elapsed, lambda value: f"{value:,.0f} {self._rate_of}")


def status_line(stage: str, done: float, total: float | None, elapsed: float, quantity: Callable[[float], str]) -> str:
    """`<stage>: 12 files of 40 files (30%), 0.4 files/s, about 70 s left`, or without a total `<stage>: 12 files so
    far (0.4 files/s)`; `quantity` writes an amount with its unit."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if not total:
        return f"{stage}: {quantity(done)} so far ({quantity(rate)}/s)"
    left = f", about {max(total - done, 0) / rate:,.0f} s left" if rate > 0 else ""
    return f"{stage}: {quantity(done)} of {quantity(total)} ({done / total:.0%}), {quantity(rate)}/s{left}"


class Counted(Protocol):
    """What a long task reports its progress to: tqdm's bar or a LogBar."""

    def update(self, amount: float = 1) -> object: ...


class LogBar:
    """tqdm's `update`, iteration and `close` as plain lines: `<desc>: 12 files of 40 files (30%), 1.5 files/s,
    about 19 s left` at most every `every_seconds`, and a last line when closed after one of those. `update` may come
    from several threads."""

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: float | None = None,
        desc: str,
        unit: str,
        unit_scale: bool = False,
        every_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ) -> None:
        self._iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self.n: float = 0
        self._desc, self._unit, self._scale = desc, unit, unit_scale
        self._every = PROGRESS_SECONDS if every_seconds is None else every_seconds
        self._clock, self._stream = clock, stream
        self._start = self._last = clock()
        self._lock = threading.Lock()
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self._iterable or ():
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> LogBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, amount: float = 1) -> str | None:
        """Count `amount` more; the line written, when it was time for one."""
        with self._lock:
            self.n += amount
            now = self._clock()
            if now - self._last < self._every:
                return None
            self._last = now
            return self._write(self.line(now))

    def close(self) -> str | None:
        """The last line, once, after work that printed progress: what was done and how long it took (work done
        before its first line was due needs no progress, and says nothing)."""
        with self._lock:
            if self._closed or self._last == self._start:
                self._closed = True
                return None
            self._closed = True
            now = self._clock()
            return self._write(f"{self._desc}: {self._quantity(self.n)} in {now - self._start:,.0f} s")

    def line(self, now: float) -> str:
        return status_line(self._desc, self.n, self.total, now - self._start, self._quantity)

    def _quantity(self, value: float) -> str:
        """An amount with its unit: `1,234 files`, or with `unit_scale` in the largest fitting step (`12.3 MB`)."""
        if self._scale:
            for step, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
                if abs(value) >= step:
                    return f"{value / step:.1f} {prefix}{self._unit}"
        number = f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
        return f"{number} {self._unit}"

    def _write(self, line: str) -> str:
        print(line, file=self._stream or sys.stderr, flush=True)
        return line


def bar(
    iterable: Iterable[Item] | None = None,
    *,
    total: float | None = None,
    desc: str,
    unit: str,
    unit_scale: bool = False,
    stream: TextIO | None = None,
) -> Any:
    """tqdm's bar on a terminal; `LogBar`'s plain lines when stderr (or `stream`) is not one."""
    out = stream or sys.stderr
    if out.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=out)
    return LogBar(iterable, total=total, desc=desc, unit=unit, unit_scale=unit_scale, stream=stream)
