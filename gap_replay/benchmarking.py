"""Timed runs for `make bench`: a stage in a fresh process, its wall time and CPU time, and the peak memory of the
process and of every worker process it starts, summed over the tree while it runs."""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from queue import Empty
from typing import Any

import psutil

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds, CPU seconds of the process tree, peak RSS in MB of the driver alone and of the
    driver with its workers (the largest sum seen at once), and what the stage returned."""

    seconds: float
    cpu_seconds: float
    driver_mb: float
    total_mb: float
    result: Any


class TreeMemory:
    """Samples the RSS of a process and its descendants every `SAMPLE_SECONDS` on a thread, keeping the peaks."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self.driver_bytes = 0
        self.total_bytes = 0
        self.cpu_seconds = 0.0
        self._cpu: dict[int, float] = {}
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in tree:
                try:
                    rss = process.memory_info().rss
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                total += rss
                self._cpu[process.pid] = times.user + times.system
                if process.pid == self._root.pid:
                    self.driver_bytes = max(self.driver_bytes, rss)
            self.total_bytes = max(self.total_bytes, total)
            self.cpu_seconds = sum(self._cpu.values())
            self._stop.wait(SAMPLE_SECONDS)


def _child(queue: Any, stage: Callable[..., Any], args: tuple) -> None:
    start = time.perf_counter()
    result = stage(*args)
    queue.put((time.perf_counter() - start, result))


def measure(stage: Callable[..., Any], *args: Any) -> Run:
    """`stage(*args)` in a fresh (spawned) process; its errors end the benchmark with the stage named."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, stage, args))
    process.start()
    with TreeMemory(process.pid) as memory:
        while True:
            try:
                seconds, result = queue.get(timeout=1)
                break
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(
                        f"benchmark stage {stage.__name__} failed with exit code {process.exitcode}"
                    ) from None
        process.join()
    return Run(seconds, memory.cpu_seconds, memory.driver_bytes / 2**20, memory.total_bytes / 2**20, result)


def median_seconds(runs: Sequence[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def peak(runs: Sequence[Run]) -> tuple[float, float]:
    """(highest driver peak, highest driver + workers peak) in MB over the runs."""
    return max(run.driver_mb for run in runs), max(run.total_mb for run in runs)


def runner_args(workers: int) -> list[str]:
    """Beam options for the in-process FnApiRunner (0 workers) or the multi-process one with `workers` workers."""
    args = ["--runner=FnApiRunner"]
    if workers:
        args += ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    return args
