"""The bench table's arithmetic: medians, peaks and rates per stage, and the bytes a parser reads from a raw file
(the figures themselves are not checked: nothing here checks speed)."""

import gzip

from gap_replay.bench import HEADER, components_row, stage_row, uncompressed_size
from gap_replay.bench_corpora import jsonl_recipe, write_synthetic_jsonl
from gap_replay.benchmarking import Run


def test_a_stage_row_gives_the_median_time_the_highest_peaks_and_rates_from_the_median():
    runs = [Run(4.0, 1, 120, 900, None), Run(2.0, 1, 300, 700, None), Run(5.0, 1, 100, 650, None)]

    row = stage_row("jsonl 20k", "curate", runs, {"docs": 20_000, "MB": 5.0})

    assert row.startswith("jsonl 20k          curate ")
    assert "    4.00 s " in row  # median of 2, 4 and 5
    assert "  300 MB " in row and "  900 MB " in row  # the highest peaks, of any run
    assert "5,000 docs/s" in row and "1.25 MB/s" in row
    assert row.index(" s ") + 2 == HEADER.index("median") + len("median")  # the time under its header


def test_rates_below_a_hundred_keep_three_significant_digits():
    row = stage_row("sample", "fetch", [Run(2.0, 1, 1, 1, None)], {"MB": 0.123})

    assert "0.0615 MB/s" in row


def test_a_gzip_file_is_counted_by_the_bytes_it_holds(tmp_path):
    compressed = tmp_path / "a.xml.gz"
    compressed.write_bytes(gzip.compress(b"x" * 100_000))
    plain = tmp_path / "b.jsonl"
    plain.write_bytes(b"y" * 123)

    assert compressed.stat().st_size < 1000
    assert uncompressed_size(compressed) == 100_000
    assert uncompressed_size(plain) == 123


def test_the_beam_components_row_reports_the_star_rounds_it_used(tmp_path):
    write_synthetic_jsonl(tmp_path / "collection", 300)
    recipe = jsonl_recipe(tmp_path / "out", tmp_path / "collection")

    row = components_row("jsonl 300", recipe, 1, ["--runner=FnApiRunner"])

    assert row.startswith("jsonl 300          curate (beam) ")
    rounds = int(row.split("(near dedup: ")[1].split()[0])
    assert rounds >= 1  # at least the round that finds the labels settled
    assert recipe.dedup.minhash.components == "auto"  # the recipe given is left as it was
