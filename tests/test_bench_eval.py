"""The eval bench's inputs: the synthetic task and the random model it falls back on work with every method."""

import json

import pytest

pytest.importorskip("torch")

from gap_replay.bench_eval import PLANS, evaluate, random_model, rendered, synthetic_task


def test_the_fallback_model_and_task_evaluate_with_every_method(tmp_path):
    task = synthetic_task(tmp_path / "task.jsonl", items=12)
    rows = [json.loads(line) for line in task.read_text().splitlines()]
    assert len(rows) == 12 and {row["answer_idx"] for row in rows} == {"A", "B", "C", "D"}
    model = random_model(tmp_path / "model", [rendered(row) for row in rows])
    for method, _, settings in PLANS:
        items, seconds = evaluate(str(model), {"medqa": str(task)}, method, 2, str(tmp_path / method), settings)
        assert items == 2 and seconds > 0
        assert (tmp_path / method / "results.json").is_file()


def test_a_row_is_rendered_as_the_prompts_lay_it_out():
    row = {"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "B"}
    assert rendered(row) == "Question: Q?\nOptions:\nA. x\nB. y\nAnswer: B"
