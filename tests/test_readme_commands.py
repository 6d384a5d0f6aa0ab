"""Every command form the README shows, run through the installed `gap-replay` console script on the sample
corpus (with one guideline organisation, for time), in the order a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stage_helpers import small_sample_recipe

SCRIPT = Path(sys.executable).parent / "gap-replay"
TINY = Path(__file__).resolve().parents[1] / "pipelines" / "train" / "tiny.yaml"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"the console script is not installed at {SCRIPT}")


def gap_replay(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, f"gap-replay {' '.join(args)}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[list[str], Path]:
    """The recipe options of every stage command, and the output folder, after fetch, curate, build and card."""
    folder = tmp_path_factory.mktemp("readme")
    recipe = folder / "recipe.yaml"
    recipe.write_text(small_sample_recipe(), encoding="utf-8")
    options = ["--recipe", str(recipe), "--output", str(folder / "out"), "--cards", str(folder / "cards")]
    gap_replay("fetch", *options, "--sources", "pubmed,pmc", "--limit", "2")
    gap_replay("fetch", *options)
    for stage in ("curate", "build", "card"):
        gap_replay(stage, *options)
    return options, folder / "out"


def test_the_stage_commands_and_corpus_run_in_turn(sample):
    options, out = sample

    result = gap_replay("corpus", *options)

    assert "manifest:" in result.stdout
    assert (out / "tokens" / "manifest.json").is_file()


def test_parse_reads_a_fetched_file(sample, tmp_path):
    _, out = sample
    raw = sorted((out / "raw" / "pubmed").rglob("*.xml.gz"))[0]

    gap_replay("parse", "pubmed", str(raw), "--out", str(tmp_path / "docs.jsonl"))

    rows = [json.loads(line) for line in (tmp_path / "docs.jsonl").read_text().splitlines()]
    assert rows and all(row["id"].startswith("pubmed:") for row in rows)


def test_download_then_inspect_and_megatron_on_the_copy(sample, tmp_path):
    _, out = sample

    gap_replay("download", str(out / "tokens" / "manifest.json"), str(tmp_path / "copy"))
    verified = gap_replay("inspect", str(tmp_path / "copy" / "manifest.json"), "--verify")
    megatron = gap_replay("megatron", str(tmp_path / "copy" / "manifest.json"))

    first = json.loads((out / "tokens" / "manifest.json").read_text())["shards"][0]
    assert "verified: no problem found" in verified.stdout
    assert megatron.stdout.startswith(f"--train-data-path {first['tokens']} {tmp_path / 'copy' / first['path']} ")


def test_train_then_eval_and_card_with_the_readme_forms(sample, tmp_path):
    options, out = sample
    overrides = {
        "data.manifests": f"[{out / 'tokens' / 'manifest.json'}]",
        "output": str(tmp_path / "run"),
        "train.steps": "2",
        "eval.every_steps": "0",
        "eval.samples": "4",
        "checkpoint.every_steps": "0",
        "log.progress": "false",
    }
    sets = [argument for key, value in overrides.items() for argument in ("--set", f"{key}={value}")]

    result = gap_replay("train", "--config", str(TINY), *sets)

    assert "best validation perplexity" in result.stdout
    assert (tmp_path / "run" / "hf" / "tokenizer.json").is_file()

    task = tmp_path / "medqa.jsonl"
    rows = [
        {"question": f"Which drug {n}?", "options": {"A": "x", "B": "y"}, "answer_idx": "AB"[n % 2]} for n in range(6)
    ]
    task.write_text("".join(json.dumps({**row, "realidx": n}) + "\n" for n, row in enumerate(rows)), encoding="utf-8")
    manifest = out / "tokens" / "manifest.json"
    evaluation = out / "eval" / "tiny"
    table = gap_replay(
        "eval", "--model", str(tmp_path / "run" / "hf"), "--out", str(evaluation), "--tasks", f"medqa={task}",
        "--method", "top_token", "--shots", "3", "--corpus-manifest", str(manifest),
    )  # fmt: skip
    assert "| medqa | 6 |" in table.stdout and (evaluation / "results.json").is_file()
    gap_replay("card", *options)
    assert "| medqa | 6 |" in (Path(options[options.index("--cards") + 1]) / "corpus.md").read_text()
