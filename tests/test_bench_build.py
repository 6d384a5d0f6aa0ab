"""The build benchmark's pieces that decide what is compared: runner options, the given-tokenizer recipe, the rows
and the table's rates and ratios (no timing here)."""

from __future__ import annotations

from pathlib import Path

from gap_replay import bench_build
from gap_replay.bench_build import Row, fastest_floor, net_of_beam, plans, table, with_tokenizer
from gap_replay.bench_corpora import pubmed_recipe
from gap_replay.benchmarking import Run


def run(seconds: float, driver: float = 200.0, total: float = 500.0) -> Run:
    return Run(seconds=seconds, cpu_seconds=2 * seconds, driver_mb=driver, total_mb=total, result=None)


def test_the_given_tokenizer_replaces_training_and_leaves_the_rest_of_the_recipe(tmp_path):
    recipe = pubmed_recipe(tmp_path / "out")

    given = with_tokenizer(recipe, tmp_path / "tokenizer.json")

    assert given.tokenizer.path == str(tmp_path / "tokenizer.json")
    assert recipe.tokenizer.path is None
    assert given.model_dump(exclude={"tokenizer"}) == recipe.model_dump(exclude={"tokenizer"})


def test_the_floor_comes_first_and_every_build_but_the_last_is_given_the_tokenizer(tmp_path):
    recipe = pubmed_recipe(tmp_path / "out")
    tokenizer = tmp_path / "tok" / "tokenizer.json"

    rows = plans(recipe, tokenizer, workers=2, threads=2, baseline="old_build")

    assert [row.name for row in rows] == [
        "encode_batch_fast, 2 threads, one call",
        "encode_batch_fast, 2 threads, 256 a call",
        "encode_batch, 2 threads, one call",
        "tokenizer training (build, before the rest)",
        "build, in-process runner",
        "build, 2 worker processes",
        "old_build, in-process runner",
        "old_build, 2 worker processes",
        "build, 2 workers, training included",
        "Beam alone, in-process runner",
        "Beam alone, 2 worker processes",
    ]
    assert [row.name for row in rows if not row.tokenizes] == [rows[3].name, *[row.name for row in rows[-2:]]]
    assert [row.name for row in rows if row.floor] == [row.name for row in rows[:3]]
    assert [row.args[3:] for row in rows[:3]] == [(True, 0), (True, 256), (False, 0)]
    builds = [row for row in rows if row.stage is bench_build.build_stage]
    assert [Path(row.args[0].tokenizer.path or "-").name for row in builds] == ["tokenizer.json"] * 4 + ["-"]
    assert [row.args[3] for row in builds[:4]] == [bench_build.BUILD] * 2 + ["old_build"] * 2


def test_ratios_are_to_the_fastest_floor_by_median():
    slow = Row("one call", [run(1.0), run(9.0), run(8.0)], tokens=300, floor=True)
    fast = Row("batched", [run(3.0), run(4.0), run(2.0)], tokens=300, floor=True)
    build = Row("build", [run(2.0)], tokens=300)

    assert fastest_floor([slow, fast, build]) is fast


def test_table_gives_median_rates_ratios_to_the_floor_and_peak_memory():
    floor = Row("floor", [run(2.0), run(4.0), run(3.0)], tokens=300, floor=True)
    build = Row("build", [run(6.0, 250, 900), run(5.0, 300, 800)], tokens=300)
    training = Row("training", [run(1.0)])

    lines = table([floor, build, training], floor)

    assert (floor.seconds, floor.tokens_per_second) == (3.0, 100.0)
    assert build.tokens_per_second == 300 / 5.5
    assert lines[2].split()[1:] == ["3.00", "6.0", "100", "1.00x", "200", "500"]
    assert lines[3].split()[1:] == ["5.50", "11.0", "55", "0.55x", "300", "900"]
    assert lines[4].split()[1:] == ["1.00", "2.0", "200", "500"]


def test_net_of_beam_takes_the_empty_pipelines_time_off_each_build():
    floor = Row("floor", [run(2.0)], tokens=400, floor=True)
    rows = [
        floor,
        Row("build, in-process runner", [run(3.0)], tokens=400),
        Row("build, 2 worker processes", [run(5.0)], tokens=400),
        Row("Beam alone, in-process runner", [run(0.5)]),
        Row("Beam alone, 2 worker processes", [run(2.5)]),
    ]

    assert net_of_beam(rows, floor, workers=2) == [
        "build, in-process runner, less Beam alone: 2.50 s, 0.80x floor",
        "build, 2 worker processes, less Beam alone: 2.50 s, 0.80x floor",
    ]
