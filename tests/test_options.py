"""Beam options as the stages take them: the runner picked by the size of the input when none is given, and what
the user gives always kept."""

import pytest

from gap_replay.pipelines.options import MULTI_PROCESS_BYTES, pipeline_options, stored_bytes


def chosen(beam_args, input_bytes):
    options = pipeline_options(beam_args, input_bytes).get_all_options()
    return options["runner"], options["direct_running_mode"], options["direct_num_workers"]


@pytest.mark.parametrize(
    ("input_bytes", "expected"),
    [
        (0, ("FnApiRunner", "in_memory", 1)),
        (MULTI_PROCESS_BYTES - 1, ("FnApiRunner", "in_memory", 1)),
        (MULTI_PROCESS_BYTES, ("FnApiRunner", "multi_processing", 0)),
    ],
)
def test_without_a_runner_a_large_input_gets_every_core(input_bytes, expected):
    assert chosen([], input_bytes) == expected


def test_a_running_mode_given_is_kept_whatever_the_input():
    assert chosen(["--direct_running_mode=in_memory"], 10 * MULTI_PROCESS_BYTES)[1] == "in_memory"
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=3"]
    assert chosen(args, 0) == ("FnApiRunner", "multi_processing", 3)


def test_a_worker_count_given_alone_is_not_overridden():
    assert chosen(["--direct_num_workers=3"], 10 * MULTI_PROCESS_BYTES) == ("FnApiRunner", "in_memory", 3)


def test_a_runner_given_is_kept_and_nothing_added():
    assert chosen(["--runner=PortableRunner"], 10 * MULTI_PROCESS_BYTES) == ("PortableRunner", "in_memory", 1)


def test_stored_bytes_sum_the_files_as_stored(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "b").write_bytes(b"y" * 5)

    assert stored_bytes([str(tmp_path / "a"), str(tmp_path / "b")]) == 15
