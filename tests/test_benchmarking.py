"""Timed runs for `make bench`: a stage runs in a fresh process and comes back with its result, its time and the
peak memory of its process tree; a stage that fails ends the benchmark naming it (nothing here checks speed)."""

import os
import time

import pytest

from gap_replay.benchmarking import Run, measure, median_seconds, peak, runner_args

MB = 2**20


def allocate(megabytes: int) -> int:
    """Holds `megabytes` for a moment, then returns this process's id."""
    block = bytearray(megabytes * MB)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(0.3)
    return os.getpid()


def fail() -> None:
    raise SystemExit(3)


def test_a_stage_runs_in_another_process_and_returns_its_result():
    run = measure(allocate, 1)

    assert run.result != os.getpid()
    assert run.seconds >= 0.3
    assert run.cpu_seconds > 0


def test_the_peak_memory_of_the_stage_is_seen():
    small, large = measure(allocate, 1), measure(allocate, 200)

    assert large.driver_mb - small.driver_mb > 150
    assert large.driver_mb <= large.total_mb


def test_a_failing_stage_is_named_with_its_exit_code():
    with pytest.raises(RuntimeError, match="benchmark stage fail failed with exit code 3"):
        measure(fail)


def test_the_median_time_and_the_highest_peaks_of_several_runs():
    runs = [Run(3.0, 1, 100, 300, None), Run(1.0, 1, 250, 260, None), Run(2.0, 1, 90, 400, None)]

    assert median_seconds(runs) == 2.0
    assert peak(runs) == (250, 400)


def test_runner_args_pick_the_in_process_or_the_multi_process_runner():
    assert runner_args(0) == ["--runner=FnApiRunner"]
    assert runner_args(2) == [
        "--runner=FnApiRunner",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
    ]
