"""The installed `gap-replay` console script, run as a user runs it: every command's `--help`, the trainer's own
options after `train` (argparse would otherwise take them for gap-replay's), and no notice about optional Google
Cloud libraries on a local run."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gap_replay.cli import GCP_NOTICE, _without_gcp_notice

SCRIPT = Path(sys.executable).parent / "gap-replay"
COMMANDS = ["fetch", "curate", "build", "card", "corpus", "parse", "download", "inspect", "megatron", "train"]

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"the console script is not installed at {SCRIPT}")


def gap_replay(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command):
    result = gap_replay(command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: gap-replay {command}")


@pytest.mark.parametrize("command", ["curate", "build", "corpus"])
def test_the_beam_commands_say_where_other_options_go(command):
    assert "Options not listed here go to Beam" in gap_replay(command, "--help").stdout


def test_the_top_level_help_lists_every_command():
    result = gap_replay("--help")

    assert result.returncode == 0
    assert all(command in result.stdout for command in COMMANDS)


def test_train_passes_its_options_to_the_trainer(tmp_path):
    missing = tmp_path / "missing.yaml"

    result = gap_replay("train", "--config", str(missing))

    assert result.returncode == 2
    assert "unrecognized arguments" not in result.stderr
    assert f"{missing}: cannot read config" in result.stderr


def test_a_global_flag_before_train_is_still_gap_replays(tmp_path):
    result = gap_replay("-v", "train", "--config", str(tmp_path / "missing.yaml"), "--set", "a=1")

    assert "unrecognized arguments" not in result.stderr
    assert "cannot read config" in result.stderr


def test_options_beam_does_not_take_are_refused_for_other_commands():
    result = gap_replay("inspect", "x.json", "--runner=FnApiRunner")

    assert result.returncode == 2
    assert "unrecognized arguments: --runner=FnApiRunner" in result.stderr


def test_a_beam_stage_prints_no_notice_about_optional_google_cloud_libraries(tmp_path):
    collection = tmp_path / "rows.jsonl"
    text = "Patients with fever were given a reduced dose of the drug after the trial ended. " * 6
    collection.write_text(json.dumps({"id": "r1", "text": text}) + "\n", encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "console",
                "output": str(tmp_path / "out"),
                "sources": {
                    "local": {"enabled": True, "paths": [str(collection)], "license": "CC-BY-4.0"},
                    **{name: {"enabled": False} for name in ("pubmed", "pmc", "guidelines", "replay")},
                },
            }
        ),
        encoding="utf-8",
    )

    result = gap_replay("curate", "--recipe", str(recipe))

    assert result.returncode == 0, result.stderr
    assert "curate: 1 of 1 documents kept from 1 raw files in " in result.stdout + result.stderr
    assert GCP_NOTICE not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (GCP_NOTICE + ", and bigquery client libraries are not available", False),
        ("curate: 3 documents kept", True),
        ("the apitools notice is Beam's", True),
    ],
)
def test_only_beams_google_cloud_notice_is_dropped(message, kept):
    record = logging.LogRecord("root", logging.WARNING, __file__, 1, message, None, None)

    assert _without_gcp_notice(record) is kept


def test_pubmed_parse_starts_without_beam_parquet_the_recipe_models_http_or_language_id():
    # What `gap-replay parse pubmed` imports before it reads a file: the CLI and the parser, nothing heavier: the
    # HTTP client is for fetching, the language detectors for curating, the progress bar for long fetches.
    heavy = ("apache_beam", "pyarrow", "pydantic", "requests", "urllib3", "fasttext", "langdetect", "tqdm", "numpy")
    probe = (
        "import sys, gap_replay.cli, gap_replay.sources.pubmed; "
        f"print(','.join(name for name in {heavy!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_guideline_extractors_and_one_organisation_load_without_the_other_organisations():
    # The organisation modules load when asked for: a parse of WHO files imports WHO's module, not fifteen others.
    probe = (
        "import sys, gap_replay.sources.guidelines.extract; from gap_replay.sources import guidelines; "
        "assert 'cdc' in guidelines.ORGANISATIONS and 'acme' not in guidelines.ORGANISATIONS; "
        "before = sorted(key for key in guidelines.KEYS if f'gap_replay.sources.guidelines.{key}' in sys.modules); "
        "guidelines.ORGANISATIONS['who']; "
        "after = sorted(key for key in guidelines.KEYS if f'gap_replay.sources.guidelines.{key}' in sys.modules); "
        "print(before, after, len(guidelines.ORGANISATIONS), list(guidelines.ORGANISATIONS)[:2])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] ['who'] 16 ['aafp', 'cco']"
