"""`gap-replay eval` end to end on a tiny random Llama: the three result files, reruns byte for byte, the config
file and the command line, and the corpus's decontamination stated per task."""

import hashlib
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eval_models import tiny_export  # noqa: E402

from gap_replay.cli import main  # noqa: E402
from gap_replay.eval.run import PREDICTIONS, RESULTS, TABLE, EvalConfig, load_config, parse_tasks, run_eval  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
QUESTIONS = [
    ("Which drug lowers blood pressure?", ["insulin", "amlodipine", "heparin", "aspirin"], "B", None),
    ("Which organ makes insulin?", ["liver", "kidney", "pancreas", "spleen"], "C", None),
    ("Which vitamin deficiency causes scurvy?", ["vitamin C", "vitamin D", "vitamin A", "vitamin K"], "A", None),
    ("Which nerve passes the stylomastoid foramen?", ["vagus", "facial", "optic", "trochlear"], "B", None),
    ("What is the normal adult resting heart rate?", ["20-40", "60-100", "120-160", "180-200"], "B", None),
]


def write_task(path: Path, subjects: bool = False) -> Path:
    rows = [
        {
            "realidx": f"q{n}",
            "question": question,
            "options": dict(zip("ABCD", options, strict=True)),
            "answer_idx": answer,
            **({"subject": "anatomy" if n % 2 else "physiology"} if subjects else {}),
        }
        for n, (question, options, answer, _) in enumerate(QUESTIONS)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(tiny_export(tmp_path_factory.mktemp("eval") / "tiny"))


@pytest.fixture
def tasks(tmp_path):
    return {
        "medqa": str(write_task(tmp_path / "medqa.jsonl")),
        "mmlu_medical": str(write_task(tmp_path / "mmlu.jsonl", True)),
    }


def evaluate(model, tasks, out, **settings):
    return run_eval(EvalConfig(model=model, tasks=tasks, out=str(out), device="cpu", bootstrap=200, **settings))


@pytest.mark.parametrize("method", ["top_token", "loglik"])
def test_two_runs_write_the_same_bytes_apart_from_timing(model, tasks, tmp_path, method):
    evaluate(model, tasks, tmp_path / "one", method=method, shots=2)
    evaluate(model, tasks, tmp_path / "two", method=method, shots=2)
    one, two = ((tmp_path / run / RESULTS).read_bytes() for run in ("one", "two"))
    assert one[: one.index(b'"timing"')] == two[: two.index(b'"timing"')]  # the timing is the last entry
    assert json.loads(one)["timing"].keys() == {"seconds", "load_seconds", "score_seconds", "items_per_second"}
    for name in (PREDICTIONS, TABLE):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_results_name_every_input_by_its_sha256(model, tasks, tmp_path):
    results = evaluate(model, tasks, tmp_path / "out", shots=1, seed=5)
    assert (results["method"], results["shots"], results["seed"]) == ("top_token", 1, 5)
    for name, path in tasks.items():
        entry = results["tasks"][name]
        assert entry["file"] == {"path": path, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
        assert entry["items"] == len(QUESTIONS)
    bundled = Path(__file__).resolve().parents[1] / "gap_replay" / "eval" / "templates" / "multiple_choice.yaml"
    assert results["prompt"]["sha256"] == hashlib.sha256(bundled.read_bytes()).hexdigest()
    files = sorted(p for p in Path(model).iterdir() if p.is_file())
    lines = "".join(f"{p.name}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in files)
    assert results["model"]["sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert set(results["tasks"]["mmlu_medical"]["subjects"]) == {"anatomy", "physiology"}
    assert "subjects" not in results["tasks"]["medqa"]


def test_predictions_hold_each_items_choice_and_scores(model, tasks, tmp_path):
    evaluate(model, tasks, tmp_path / "out", shots=0)
    rows = [json.loads(line) for line in (tmp_path / "out" / PREDICTIONS).read_text().splitlines()]
    assert [(row["task"], row["id"]) for row in rows] == [
        (task, f"q{n}") for task in ("medqa", "mmlu_medical") for n in range(len(QUESTIONS))
    ]
    for row in rows:
        assert row["chosen"] == max(row["scores"], key=row["scores"].get)
        assert row["correct"] == (row["chosen"] == row["answer"])
        assert sum(math.exp(score) for score in row["scores"].values()) < 1.0  # letters of a whole vocabulary


def test_loglik_normalises_each_option_by_its_continuation_characters(model, tasks, tmp_path):
    evaluate(model, {"medqa": tasks["medqa"]}, tmp_path / "out", method="loglik", shots=0)
    rows = [json.loads(line) for line in (tmp_path / "out" / PREDICTIONS).read_text().splitlines()]
    for row, (_, options, _, _) in zip(rows, QUESTIONS, strict=True):
        for letter, text in zip("ABCD", options, strict=True):
            assert row["scores_norm"][letter] == pytest.approx(row["scores"][letter] / len(" " + text))
        assert row["chosen_norm"] == max(row["scores_norm"], key=row["scores_norm"].get)


def test_a_sample_scores_some_items_with_the_prompts_they_have_in_the_whole_run(model, tasks, tmp_path):
    evaluate(model, tasks, tmp_path / "all", shots=2)
    evaluate(model, tasks, tmp_path / "some", shots=2, sample=2)
    everything = {(row["task"], row["id"]): row for row in map(json.loads, (tmp_path / "all" / PREDICTIONS).open())}
    sampled = [json.loads(line) for line in (tmp_path / "some" / PREDICTIONS).read_text().splitlines()]
    assert [row["task"] for row in sampled] == ["medqa", "medqa", "mmlu_medical", "mmlu_medical"]
    for row in sampled:  # other batch-mates: the last float digits may move
        whole = everything[(row["task"], row["id"])]
        assert row["chosen"] == whole["chosen"]
        assert row["scores"] == pytest.approx(whole["scores"], abs=1e-4)


def test_shots_come_from_the_fewshot_file_when_given(model, tasks, tmp_path):
    shots = tmp_path / "shots.jsonl"
    row = {
        "question": "Which ion is mostly inside cells?",
        "options": {"A": "sodium", "B": "potassium"},
        "answer_idx": "B",
    }
    shots.write_text("".join(json.dumps({**row, "realidx": f"s{n}"}) + "\n" for n in range(4)), encoding="utf-8")
    own = evaluate(model, tasks, tmp_path / "own", shots=3)
    other = evaluate(model, tasks, tmp_path / "other", shots=3, fewshot={"medqa": str(shots)})
    assert other["tasks"]["medqa"]["fewshot"]["sha256"] == hashlib.sha256(shots.read_bytes()).hexdigest()
    assert own["tasks"]["medqa"]["fewshot"] is None
    assert (tmp_path / "own" / PREDICTIONS).read_text() != (tmp_path / "other" / PREDICTIONS).read_text()


def test_the_corpus_manifest_says_which_tasks_were_decontaminated(model, tasks, tmp_path):
    medqa_sha = hashlib.sha256(Path(tasks["medqa"]).read_bytes()).hexdigest()
    manifest = tmp_path / "manifest.json"
    benchmarks = [{"name": "medqa_test", "sha256": medqa_sha}, {"name": "other", "sha256": "0" * 64}]
    manifest.write_text(json.dumps({"decontamination": {"benchmarks": benchmarks}}), encoding="utf-8")
    results = evaluate(model, tasks, tmp_path / "out", shots=0, corpus_manifest=str(manifest))
    assert results["corpus"] == {
        "manifest": str(manifest),
        "benchmarks": ["medqa_test", "other"],
        "tasks": {"medqa": "medqa_test", "mmlu_medical": None},
    }
    table = (tmp_path / "out" / TABLE).read_text()
    assert table.endswith(f"Corpus `{manifest}` decontaminated against: medqa (as `medqa_test`).\n")


def test_top_token_refuses_a_tokenizer_that_splits_the_letters(model, tasks, tmp_path):
    template = tmp_path / "template.yaml"
    bundled = Path(__file__).resolve().parents[1] / "gap_replay" / "eval" / "templates" / "multiple_choice.yaml"
    template.write_text(bundled.read_text().replace('choice: " {letter}"', 'choice: " ({letter})"'), encoding="utf-8")
    with pytest.raises(ValueError, match=r"top_token needs each answer letter to be one token: ' \(A\)' is"):
        evaluate(model, tasks, tmp_path / "out", shots=0, template=str(template))


def test_the_command_line_runs_from_a_config_file_and_overrides_it(model, tasks, tmp_path, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(f"model: {model}\ntasks:\n  medqa: {tasks['medqa']}\nshots: 1\nout: {tmp_path / 'a'}\n")
    assert (
        main(["eval", "--config", str(config), "--device", "cpu", "--out", str(tmp_path / "b"), "--sample", "2"]) == 0
    )
    printed = capsys.readouterr().out
    assert (
        "| medqa | 2 |" in printed
        and f"wrote results.json, predictions.jsonl and results.md to {tmp_path / 'b'}" in printed
    )
    results = json.loads((tmp_path / "b" / RESULTS).read_text())
    assert (results["shots"], results["sample"], list(results["tasks"])) == (1, 2, ["medqa"])
    assert not (tmp_path / "a").exists()


def test_a_bad_option_is_refused_with_its_name(model, tasks, tmp_path, capsys):
    assert main(["eval", "--model", model, "--tasks", "usmle=x.jsonl", "--out", str(tmp_path / "o")]) == 2
    assert "tasks: Value error, unknown task(s) ['usmle']" in capsys.readouterr().err
    assert main(["eval", "--model", model, "--tasks", "medqa", "--out", str(tmp_path / "o")]) == 2
    assert "--tasks: 'medqa' is not TASK=FILE" in capsys.readouterr().err


def test_task_lists_and_config_files_are_read_strictly(tmp_path):
    assert parse_tasks("medqa=a.jsonl, pubmedqa=b") == {"medqa": "a.jsonl", "pubmedqa": "b"}
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\ntasks: {medqa: a}\nout: o\nshots: 30\n")
    with pytest.raises(ValueError, match=r"eval\.yaml: shots: Input should be less than or equal to 25"):
        load_config(str(config), {})
    config.write_text("model: m\ntasks: {medqa: a}\nout: o\nshot: 3\n")
    with pytest.raises(ValueError, match="shot: Extra inputs are not permitted"):
        load_config(str(config), {})


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="../shared/benchmarks is not beside the repo")
def test_all_four_local_benchmarks_evaluate(model, tmp_path):
    files = {
        "medqa": "medqa_test.jsonl",
        "medmcqa": "medmcqa_dev_subset.jsonl",
        "pubmedqa": "pubmedqa_test.jsonl",
        "mmlu_medical": "mmlu_medical_test.jsonl",
    }
    results = evaluate(model, {task: str(BENCHMARKS / name) for task, name in files.items()}, tmp_path, sample=3)
    assert {name: entry["items"] for name, entry in results["tasks"].items()} == dict.fromkeys(files, 3)
    pubmedqa = [json.loads(line) for line in (tmp_path / PREDICTIONS).read_text().splitlines() if "pubmedqa" in line]
    assert all(sorted(row["scores"]) == ["A", "B", "C"] for row in pubmedqa)


def test_self_consistency_is_reproducible_by_seed(model, tasks, tmp_path):
    settings = dict(method="sc_cot", shots=0, samples=3, max_new_tokens=12, sample=2)
    evaluate(model, tasks, tmp_path / "one", **settings)
    evaluate(model, tasks, tmp_path / "two", **settings)
    evaluate(model, tasks, tmp_path / "three", **settings, seed=99)
    one, two, three = ((tmp_path / run / PREDICTIONS).read_text() for run in ("one", "two", "three"))
    assert one == two
    rows = [json.loads(line) for line in one.splitlines()]
    assert all(len(row["generated"]) == 3 and len(row["answers"]) == 3 for row in rows)
    assert [row["generated"] for row in rows] != [json.loads(line)["generated"] for line in three.splitlines()]
    results = json.loads((tmp_path / "one" / RESULTS).read_text())
    assert results["generation"] == {"max_new_tokens": 12, "samples": 3, "temperature": 0.7}


def test_a_chain_of_thought_keeps_its_text_and_says_how_its_answer_was_read(model, tasks, tmp_path):
    results = evaluate(model, {"medqa": tasks["medqa"]}, tmp_path, method="cot", shots=1, max_new_tokens=10)
    rows = [json.loads(line) for line in (tmp_path / PREDICTIONS).read_text().splitlines()]
    assert all(
        isinstance(row["generated"], str) and row["rule"] in ("answer is", "leading letter", "none") for row in rows
    )
    assert all((row["chosen"] is None) == (row["rule"] == "none") for row in rows)
    unanswered = sum(row["chosen"] is None for row in rows)
    assert results["tasks"]["medqa"].get("unanswered", 0) == unanswered
    assert results["generation"] == {"max_new_tokens": 10}
    assert f"| medqa | {len(QUESTIONS)} |" in (tmp_path / TABLE).read_text()


def test_a_run_that_fails_while_writing_leaves_no_results_json_over_new_predictions(
    model, tasks, tmp_path, monkeypatch
):
    evaluate(model, tasks, tmp_path, shots=0, sample=2)
    assert (tmp_path / RESULTS).is_file()

    def broken(results):
        raise OSError("No space left on device")

    monkeypatch.setattr("gap_replay.eval.run.markdown_table", broken)
    with pytest.raises(OSError, match="No space left"):
        evaluate(model, tasks, tmp_path, shots=1, sample=2)
    assert (tmp_path / PREDICTIONS).is_file() and not (tmp_path / RESULTS).exists()


def test_an_evaluation_names_at_least_one_task():
    with pytest.raises(ValueError, match="name at least one task"):
        EvalConfig(model="m", tasks={}, out="o")
