"""The results table: its exact Markdown for each kind of method, and the evaluations a corpus card reads."""

import json

import pytest

from gap_replay.eval.report import markdown_table, read_evaluations


def results(method: str = "top_token", **task_extra) -> dict:
    figures = {"items": 40, "correct": 11, "accuracy": 0.275, "ci95": [0.15, 0.425], **task_extra}
    return {
        "model": {"name": "out/train/tiny/hf", "sha256": "683f9bb18c87" + "0" * 52},
        "method": method,
        "shots": 3,
        "seed": 1234,
        "prompt": {"sha256": "e8edfa5b1d8a" + "0" * 52},
        "tasks": {"medqa": figures},
    }


HEAD = "Model `out/train/tiny/hf` (sha256 683f9bb18c87), {method}, 3-shot, seed 1234, prompt sha256 e8edfa5b1d8a\n\n"


def test_a_top_token_table():
    assert markdown_table(results()) == HEAD.format(method="top_token") + (
        "| task | items | accuracy | 95% CI |\n|---|---:|---:|---|\n| medqa | 40 | 27.5 | 15.0-42.5 |\n"
    )


def test_a_loglik_table_adds_the_normalised_accuracy():
    norm = {"items": 40, "correct": 13, "accuracy": 0.325, "ci95": [0.2, 0.475]}
    assert markdown_table(results("loglik", norm=norm)).endswith(
        "| task | items | accuracy | 95% CI | accuracy (norm) |\n|---|---:|---:|---|---:|\n"
        "| medqa | 40 | 27.5 | 15.0-42.5 | 32.5 |\n"
    )


@pytest.mark.parametrize(("extra", "shown"), [({"unanswered": 7}, "7"), ({}, "0")])
def test_a_chain_of_thought_table_counts_the_items_without_an_answer(extra, shown):
    assert markdown_table(results("cot", **extra)).endswith(
        "| task | items | accuracy | 95% CI | no answer |\n|---|---:|---:|---|---:|\n"
        f"| medqa | 40 | 27.5 | 15.0-42.5 | {shown} |\n"
    )


def test_subjects_are_indented_under_their_task_and_the_corpus_decontamination_follows():
    subject = {"items": 9, "correct": 2, "accuracy": 0.222222, "ci95": [0.0, 0.444444]}
    table = results(subjects={"anatomy": subject})
    table["corpus"] = {"manifest": "m.json", "benchmarks": ["medqa_test"], "tasks": {"medqa": "medqa_test"}}
    assert markdown_table(table).endswith(
        "| medqa | 40 | 27.5 | 15.0-42.5 |\n| &nbsp;&nbsp;anatomy | 9 | 22.2 | 0.0-44.4 |\n\n"
        "Corpus `m.json` decontaminated against: medqa (as `medqa_test`).\n"
    )


def test_evaluations_are_read_by_run_name_and_a_foreign_file_is_named(tmp_path):
    assert read_evaluations(tmp_path / "absent") == []
    for run, seed in (("b-run", 2), ("a-run", 1)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "results.json").write_text(json.dumps({**results(), "seed": seed}))
    assert [entry["seed"] for entry in read_evaluations(tmp_path)] == [1, 2]
    (tmp_path / "c-run").mkdir()
    (tmp_path / "c-run" / "results.json").write_text('{"accuracy": 0.3}')
    with pytest.raises(ValueError, match=r"c-run/results\.json: not the results of gap-replay eval"):
        read_evaluations(tmp_path)
