"""The datatrove comparison: its ground truth (the duplicates the synthetic corpus plants), its precision and recall,
the line it prints without datatrove, and one small run end to end (figures only; nothing here checks speed)."""

import json
import sys

import pytest

from gap_replay import bench_datatrove
from gap_replay.bench_corpora import NAVIGATION, NEAR_COPY_SUFFIX, planted_duplicates, row_kinds, synthetic_rows
from gap_replay.bench_datatrove import Scores, dedup_scores, duplicate_clusters
from gap_replay.benchmarking import Run

ENGLISH = "Patients with the fever were treated. The dose was reduced after the trial."
OTHER = "Enfants avec fièvre dans hôpital. Risque chez patients pour une dose."


def _rows(*texts):
    return [{"id": f"doc-{index}", "title": "t", "text": text} for index, text in enumerate(texts)]


def test_copies_and_repeated_navigation_are_traced_to_their_first_original():
    navigation = "\n".join([NAVIGATION] * 10)
    rows = _rows(
        ENGLISH,  # 0
        OTHER,  # 1
        ENGLISH,  # 2: exact copy of 0
        ENGLISH.replace(" the ", " a ", 1) + NEAR_COPY_SUFFIX,  # 3: near copy of 0
        navigation,  # 4
        "\n".join([NAVIGATION] * 12),  # 5: the navigation row again, two lines longer
        OTHER + NEAR_COPY_SUFFIX,  # 6: near copy of 1 (no " the " to change)
        ENGLISH.replace(" the ", " a ", 1) + NEAR_COPY_SUFFIX,  # 7: exact copy of the near copy 3
        navigation + NEAR_COPY_SUFFIX,  # 8: near copy of 4
    )
    assert planted_duplicates(rows) == [
        ("doc-2", "doc-0", "exact"),
        ("doc-3", "doc-0", "near"),
        ("doc-5", "doc-4", "navigation"),
        ("doc-6", "doc-1", "near"),
        ("doc-7", "doc-3", "exact"),
        ("doc-8", "doc-4", "near"),
    ]
    assert row_kinds(rows) == {
        "doc-0": "english",
        "doc-1": "other_language",
        "doc-2": "english",
        "doc-3": "english",
        "doc-4": "navigation",
        "doc-5": "navigation",
        "doc-6": "other_language",
        "doc-7": "english",
        "doc-8": "navigation",
    }


def test_every_planted_pair_of_a_seeded_corpus_follows_the_generator_rules():
    rows = synthetic_rows(600, seed=3)
    text = {row["id"]: row["text"] for row in rows}
    planted = planted_duplicates(rows)
    assert {kind for *_, kind in planted} == {"exact", "near", "navigation"}
    for duplicate, original, kind in planted:
        assert original < duplicate
        if kind == "exact":
            assert text[duplicate] == text[original]
        elif kind == "near":
            assert text[duplicate] == text[original].replace(" the ", " a ", 1) + NEAR_COPY_SUFFIX
        else:
            assert set(text[duplicate].split("\n")) == set(text[original].split("\n")) == {NAVIGATION}
    copies = {duplicate for duplicate, *_ in planted}
    originals = [row["text"] for row in rows if row["id"] not in copies]
    assert len(originals) == len(set(originals))


def test_pairs_join_into_clusters():
    clusters = duplicate_clusters([("b", "a"), ("d", "c"), ("e", "d")])
    assert sorted(map(sorted, clusters)) == [["a", "b"], ["c", "d", "e"]]


def test_a_removal_is_right_while_its_cluster_keeps_a_copy():
    clusters = [{"a", "b"}, {"c", "d", "e"}]
    # Expected removals: 1 + 2 = 3. Right: b (a kept), two of c, d, e; wrong: the last of c, d, e, and x.
    assert dedup_scores({"b", "c", "d", "e", "x"}, clusters) == Scores(removed=5, correct=3, expected=3)
    assert dedup_scores({"b", "c", "d", "e", "x"}, clusters).precision == pytest.approx(3 / 5)
    assert dedup_scores({"b", "c", "d", "e", "x"}, clusters).recall == 1.0
    # Either member of a pair may go; one of three removed is right, and finds a third of the duplicates.
    assert dedup_scores({"a"}, clusters) == Scores(removed=1, correct=1, expected=3)
    assert dedup_scores({"a"}, clusters).recall == pytest.approx(1 / 3)
    assert dedup_scores({"a", "b"}, clusters).precision == 0.5
    assert dedup_scores(set(), clusters).precision == 1.0


def test_without_datatrove_the_table_is_one_line_saying_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "datatrove", None)
    assert bench_datatrove.comparison_rows(documents=50, repeat=1, workers=1) == [
        "datatrove comparison skipped: datatrove is not installed (the optional `bench` extra)"
    ]


needs_datatrove = pytest.mark.skipif(
    bench_datatrove.datatrove_missing() is not None,
    reason=f"the comparison needs datatrove: {bench_datatrove.datatrove_missing()}",
)


@needs_datatrove
def test_the_stand_in_reader_shards_files_as_jsonl_reader_does(tmp_path):
    for number, rows in enumerate([_rows("one", "two"), _rows("three")]):
        (tmp_path / f"part-{number}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    docs = list(bench_datatrove.read_jsonl(None, 1, 2, folder=str(tmp_path)))
    assert [(doc.id, doc.text, doc.metadata) for doc in docs] == [("doc-0", "three", {"title": "t"})]


@pytest.mark.slow
@needs_datatrove
def test_a_small_comparison_runs_both_sides_end_to_end(monkeypatch):
    # Each side in this process rather than a fresh one: the same work, without two interpreters' imports.
    monkeypatch.setattr(bench_datatrove, "measure", lambda stage, *args: Run(1.0, 1.0, 0.0, 0.0, stage(*args)))
    lines = bench_datatrove.comparison_rows(documents=200, repeat=1, workers=1)
    table = "\n".join(lines)
    assert "gap-replay, in-process (curate's)" in table and "datatrove MinHash" in table
    assert "Beam workers" not in table, "one worker: curate's runner is the only one of ours"
    assert "in-process (curate's) / datatrove (docs/s)" in table and "ours / datatrove (docs/s)" in table
    assert "datatrove GopherQualityFilter" in table
    ours = next(line for line in lines if "gap-replay build_rules" in line).split()
    junk, english = ours[-3], ours[-2]
    assert junk.split("/")[0] == junk.split("/")[1]  # every navigation row dropped
    assert english.startswith("0/")  # no English prose dropped
