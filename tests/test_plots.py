"""The data cards' plots: what the drop plot draws, and byte-stable PNGs."""

from gap_replay.plots import drop_plot, drop_series

STATS = {
    "curate": {
        "sources": {
            "pubmed": {"kept": 1_000_000, "dropped": {"language": 1, "near_duplicate": 5_000}},
            "pmc": {"kept": 300, "dropped": {"retracted": 2}},
        }
    }
}


def test_every_reason_of_any_source_is_a_row_with_each_sources_count():
    categories, series = drop_series(STATS, ["pubmed", "pmc", "guidelines"])

    assert categories == ["kept", "language", "near_duplicate", "retracted"]
    assert series == {"pubmed": [1_000_000, 1, 5_000, 0], "pmc": [300, 0, 0, 2], "guidelines": [0, 0, 0, 0]}


def test_the_plot_is_a_png_with_the_same_bytes_for_the_same_counts(tmp_path):
    first = drop_plot(STATS, ["pubmed", "pmc"], tmp_path / "a.png").read_bytes()
    second = drop_plot(STATS, ["pubmed", "pmc"], tmp_path / "b.png").read_bytes()

    assert first.startswith(b"\x89PNG") and first == second
