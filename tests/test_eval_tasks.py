"""Benchmark items: rows as in the local copies, or a dataset folder; a row that cannot be scored names itself."""

import hashlib
import json
from pathlib import Path

import pytest

from gap_replay.eval.tasks import Item, item_from_row, items_from_rows, load_task, sample_items

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_benchmarks = pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="../shared/benchmarks is not beside the repo")

ROW = {"question": "Which drug?", "options": {"B": "amlodipine", "A": "insulin"}, "answer_idx": "B", "realidx": 7}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_row_becomes_an_item_with_its_options_in_letter_order():
    assert item_from_row("7", ROW) == Item("7", "Which drug?", (("A", "insulin"), ("B", "amlodipine")), "B")


def test_options_given_as_a_list_are_lettered_from_a():
    item = item_from_row("1", {"question": "Q?", "options": ["yes", "no", "maybe"], "answer_idx": "C"})
    assert item.options == (("A", "yes"), ("B", "no"), ("C", "maybe"))
    assert item.letters == ("A", "B", "C")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question": "  "}, "no question text"),
        ({"options": {"A": "only one"}}, "1 option"),
        ({"options": {"A": "x", "B": " "}}, "option B is empty"),
        ({"options": {"A": "x", "b": "y"}}, "'b' is not one capital letter"),
        ({"options": "A. x B. y"}, "must be a mapping"),
        ({"answer_idx": "C"}, "answer_idx 'C' is not one of the options"),
        ({"answer_idx": None}, "answer_idx None"),
    ],
)
def test_a_row_that_cannot_be_scored_says_why(change, message):
    with pytest.raises(ValueError, match=message):
        item_from_row("7", {**ROW, **change})


def test_two_options_are_enough_and_the_answer_may_be_the_last():
    item = item_from_row("1", {"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "B"})
    assert item.answer == "B"


def test_the_bad_row_is_named_by_file_and_item_id():
    rows = [("1", ROW), ("2", {**ROW, "answer_idx": "Z"})]
    with pytest.raises(ValueError, match=r"bench\.jsonl: item 2: answer_idx 'Z'"):
        items_from_rows(rows, "bench.jsonl")


def test_an_id_twice_is_an_error_because_predictions_are_keyed_by_it():
    with pytest.raises(ValueError, match="item id 7 appears twice"):
        items_from_rows([("7", ROW), ("7", ROW)], "bench.jsonl")


def test_jsonl_rows_keep_their_ids_and_the_file_sha256_is_of_its_bytes(tmp_path):
    path = write_jsonl(
        tmp_path / "medqa.jsonl", [ROW, {**ROW, "realidx": "x9"}, {k: v for k, v in ROW.items() if k != "realidx"}]
    )
    task = load_task("medqa", str(path))
    assert [item.id for item in task.items] == ["7", "x9", "line 3"]
    assert task.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unknown_task_or_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'usmle'"):
        load_task("usmle", str(write_jsonl(tmp_path / "a.jsonl", [ROW])))
    with pytest.raises(ValueError, match="no items"):
        load_task("medqa", str(write_jsonl(tmp_path / "b.jsonl", [])))


def test_a_line_that_is_not_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(ROW) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.jsonl:2: not JSON"):
        load_task("medqa", str(path))


def test_a_saved_hugging_face_dataset_folder_reads_like_its_jsonl(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [ROW, {**ROW, "realidx": 8, "answer_idx": "A"}]
    folder = tmp_path / "medqa"
    datasets.Dataset.from_dict(
        {
            "question": [row["question"] for row in rows],
            "options": [[row["options"]["A"], row["options"]["B"]] for row in rows],
            "answer_idx": [row["answer_idx"] for row in rows],
            "realidx": [row["realidx"] for row in rows],
        }
    ).save_to_disk(str(folder))
    task = load_task("medqa", str(folder))
    assert [(item.id, item.answer, item.options[1][1]) for item in task.items] == [
        ("7", "B", "amlodipine"),
        ("8", "A", "amlodipine"),
    ]
    lines = sorted(
        f"{file.relative_to(folder)}\t{hashlib.sha256(file.read_bytes()).hexdigest()}\n"
        for file in folder.rglob("*")
        if file.is_file()
    )
    assert task.sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()


@needs_benchmarks
@pytest.mark.parametrize(
    ("name", "file", "items", "options"),
    [
        ("medqa", "medqa_test.jsonl", 1273, {4}),
        ("medmcqa", "medmcqa_dev_subset.jsonl", 2816, {4}),
        ("pubmedqa", "pubmedqa_test.jsonl", 500, {3}),
        ("mmlu_medical", "mmlu_medical_test.jsonl", 1089, {4}),
    ],
)
def test_the_local_benchmark_copies_load_whole(name, file, items, options):
    # Counts from ../shared/benchmarks/README.md's table.
    task = load_task(name, str(BENCHMARKS / file))
    assert len(task.items) == items
    assert {len(item.options) for item in task.items} == options


@needs_benchmarks
def test_mmlu_items_carry_their_subject():
    task = load_task("mmlu_medical", str(BENCHMARKS / "mmlu_medical_test.jsonl"))
    counts = {}
    for item in task.items:
        counts[item.subject] = counts.get(item.subject, 0) + 1
    assert counts == {
        "anatomy": 135,
        "clinical_knowledge": 265,
        "college_biology": 144,
        "college_medicine": 173,
        "medical_genetics": 100,
        "professional_medicine": 272,
    }


ITEMS = [Item(str(n), f"Q{n}?", (("A", "x"), ("B", "y")), "A") for n in range(20)]


def test_a_sample_keeps_file_order_and_is_the_same_for_the_same_seed():
    sample = sample_items(ITEMS, 5, seed=1, task="medqa")
    assert len(sample) == 5 and len(set(sample)) == 5
    assert [int(item.id) for item in sample] == sorted(int(item.id) for item in sample)
    assert sample_items(ITEMS, 5, seed=1, task="medqa") == sample
    assert sample != tuple(ITEMS[:5]) or sample_items(ITEMS, 5, seed=2, task="medqa") != sample


def test_a_sample_as_large_as_the_task_or_none_is_every_item():
    assert sample_items(ITEMS, 20, seed=1, task="medqa") == tuple(ITEMS)
    assert sample_items(ITEMS, None, seed=1, task="medqa") == tuple(ITEMS)
    assert len(sample_items(ITEMS, 19, seed=1, task="medqa")) == 19


def test_samples_differ_between_tasks_and_seeds():
    draws = {
        tuple(i.id for i in sample_items(ITEMS, 5, seed, task)) for seed in (1, 2) for task in ("medqa", "pubmedqa")
    }
    assert len(draws) > 1
