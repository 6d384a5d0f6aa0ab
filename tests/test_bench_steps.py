"""Each curate step timed on its own: the steps run in pipeline order, each over what the one before kept, and the
rows say documents in and out (the figures themselves are not checked: nothing here checks speed)."""

import json
import random

from gap_replay.bench_corpora import NAVIGATION, jsonl_recipe, synthetic_text
from gap_replay.bench_steps import StepTime, step_rows, step_times
from gap_replay.pipelines.curate import raw_inputs

FRENCH = (
    "Les patients atteints de diabète ont reçu un traitement pendant six mois à l'hôpital. "
    "Le risque de complications était plus faible chez les enfants que chez les adultes dans cette étude. "
) * 4


def write_collection(folder, texts):
    folder.mkdir()
    with open(folder / "rows.jsonl", "w", encoding="utf-8") as out:
        for index, text in enumerate(texts):
            out.write(json.dumps({"id": f"r{index}", "title": "A title", "text": text}) + "\n")


def test_steps_run_in_pipeline_order_each_over_what_the_previous_kept(tmp_path):
    rng = random.Random(5)
    english = [synthetic_text(rng) for _ in range(6)]
    write_collection(tmp_path / "in", [*english, FRENCH, "\n".join([NAVIGATION] * 12)])
    recipe = jsonl_recipe(tmp_path / "out", tmp_path / "in")

    times = step_times(recipe, raw_inputs(recipe, {"files": []}))

    assert [(t.name, t.documents, t.kept) for t in times] == [
        ("parse", 1, 8),  # one file in, eight rows out
        ("clean", 8, 8),
        ("language", 8, 7),  # the French row
        ("quality", 7, 6),  # the navigation row
        ("exact key", 6, 6),  # keys only: the grouping is Beam's
        ("minhash", 6, 6),
    ]
    assert all(t.cpu_seconds >= 0 for t in times)


def test_decontamination_is_timed_when_the_recipe_enables_it(tmp_path):
    write_collection(tmp_path / "in", ["Patients with fever were treated with a reduced dose after the trial. " * 8])
    benchmark = tmp_path / "quiz.jsonl"
    benchmark.write_text(json.dumps({"id": "q1", "question": "Which dose?", "options": {"A": "low"}}) + "\n")
    recipe = jsonl_recipe(
        tmp_path / "out", tmp_path / "in", {"enabled": True, "benchmarks": [{"name": "quiz", "path": str(benchmark)}]}
    )

    times = step_times(recipe, raw_inputs(recipe, {"files": []}))

    assert times[-1].name == "decontaminate"
    assert (times[-1].documents, times[-1].kept) == (1, 1)


def test_rows_give_each_step_and_the_whole_per_document_cost():
    times = [StepTime("parse", 2, 1000, 0.5), StepTime("clean", 1000, 900, 0.25), StepTime("minhash", 900, 900, 0.0)]

    rows = step_rows("corpus", times)

    assert len(rows) == 4
    assert "parse" in rows[0] and "2 files ->    1,000" in rows[0] and "2,000 docs/s" in rows[0]
    assert "1,000 docs  ->      900" in rows[1] and "4,000 docs/s" in rows[1]
    assert rows[2].endswith(" 0 docs/s")  # no measurable time: no rate rather than a division by zero
    assert "all steps" in rows[3] and "0.75 s CPU" in rows[3] and "1,333 docs/s" in rows[3]
