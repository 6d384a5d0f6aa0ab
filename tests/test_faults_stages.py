"""The stages under kills, full disks and foreign folders, as real `gap-replay` processes: no stage takes half-done
work as done, a rerun after a SIGKILL anywhere ends byte-identical to an uninterrupted run, and every failure exits
non-zero with a message that says what to do."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from stage_helpers import small_sample_recipe

from gap_replay import stages
from gap_replay.cli import main

pytestmark = pytest.mark.slow

KILL_AT = Path(__file__).parent / "kill_at.py"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def with_recipe(output: Path, args: tuple[str, ...]) -> list[str]:
    """`COMMAND ARGS --output OUTPUT --cards OUTPUT/cards`, with the small sample recipe unless ARGS name one."""
    command, *rest = args
    if "--recipe" not in rest:
        recipe = output.parent / "small-sample.yaml"
        if not recipe.exists():
            recipe.write_text(small_sample_recipe(), encoding="utf-8")
        rest += ["--recipe", str(recipe)]
    return [command, *rest, "--output", str(output), "--cards", str(output / "cards")]


def gap_replay(
    output: Path, *args: str, kill_at: str | None = None, file_size_limit: int | None = None
) -> subprocess.CompletedProcess:
    """Run `gap-replay ARGS --output OUTPUT --cards OUTPUT/cards` in a fresh process; optionally SIGKILL it at the
    Nth call of a function (see kill_at.py), or cap the size of any file it writes (a disk that fills up)."""
    argv = with_recipe(output, args)
    prefix = [sys.executable, str(KILL_AT), kill_at, "--"] if kill_at else [sys.executable, "-m", "gap_replay.cli"]

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        prefix + argv,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        preexec_fn=limit_files if file_size_limit else None,
    )


def killed(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == -signal.SIGKILL


def outputs(output: Path) -> dict[str, bytes]:
    """What a finished corpus is made of, comparable across runs and folders: shards, tokenizer, manifest (less its
    creation time and the folders it was told to use), curated Parquet, rejects (as a sorted set of lines: Beam
    writes them in any order), stats and cards."""
    found = {}
    for path in sorted(output.rglob("*")):
        relative = path.relative_to(output).as_posix()
        if not path.is_file() or relative.startswith(("raw/", ".gap-replay/")) or "/.gap-replay/" in relative:
            continue
        data = path.read_bytes()
        if relative == "tokens/manifest.json":
            manifest = json.loads(data)
            del manifest["created"], manifest["recipe"]["output"], manifest["recipe"]["cards"]
            data = json.dumps(manifest, sort_keys=True).encode()
        elif relative.startswith("rejects/"):
            data = b"".join(sorted(data.splitlines(keepends=True)))
        found[relative] = data
    return found


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """An uninterrupted `gap-replay corpus` of the sample recipe."""
    output = tmp_path_factory.mktemp("clean") / "out"
    assert in_process(output, "corpus") == 0
    return output


@pytest.fixture
def copy(clean, tmp_path) -> Path:
    """A finished corpus to break."""
    return Path(shutil.copytree(clean, tmp_path / "out"))


def test_corpus_killed_in_every_stage_then_rerun_ends_byte_identical_to_a_clean_run(clean, tmp_path):
    output = tmp_path / "out"

    # fetch, killed after three files are in, then again as a body arrives: no record, so curate refuses.
    assert killed(gap_replay(output, "corpus", kill_at="gap_replay.http:FetchLog.append#3"))
    assert killed(gap_replay(output, "corpus", kill_at="gap_replay.http:TransferGuard.check#8"))
    refused = gap_replay(output, "curate")
    assert refused.returncode == 2
    assert "curate needs a finished fetch" in refused.stderr and "run `gap-replay fetch`" in refused.stderr

    # curate, killed once its pipeline has run but before it published: build refuses, naming what is missing.
    assert killed(gap_replay(output, "corpus", kill_at="gap_replay.stages:Publisher.publish"))
    refused = gap_replay(output, "build")
    assert refused.returncode == 2
    assert "build needs a finished curate" in refused.stderr and "run `gap-replay curate`" in refused.stderr
    assert "(no curated documents of guidelines, pubmed, pmc, replay)" in refused.stderr
    assert not (output / "curated").exists()

    # curate, killed half-way through moving its files into place: the next command finishes the move.
    assert killed(gap_replay(output, "corpus", kill_at="gap_replay.stages:_move#3"))
    assert (output / ".gap-replay" / "curate.publish.json").exists()
    resumed = gap_replay(output, "build")
    assert resumed.returncode == 0, resumed.stderr
    assert "finishing the interrupted publish of curate" in resumed.stderr

    # build, killed mid-pipeline with some shards written: the earlier shards stay, with their manifest.
    before = outputs(output)
    assert killed(gap_replay(output, "build", kill_at="gap_replay.pipelines.build:write_split_shard#2"))
    assert outputs(output) == before

    # build, killed while moving its files into place; card, killed while rendering.
    assert killed(gap_replay(output, "build", kill_at="gap_replay.stages:_move#4"))
    assert (output / ".gap-replay" / "build.publish.json").exists()
    assert killed(gap_replay(output, "card", kill_at="gap_replay.cards:render_card#2"))

    final = gap_replay(output, "corpus")
    assert final.returncode == 0, final.stderr
    assert outputs(output) == outputs(clean)
    assert not (output / ".gap-replay" / "staging").exists() or not any((output / ".gap-replay" / "staging").iterdir())


def in_process(output: Path, *args: str) -> int:
    """The command line in this process, for cases that need no kill (faster: no interpreter or Beam start-up)."""
    return main(with_recipe(output, args))


@pytest.fixture
def stricter(tmp_path) -> str:
    """The sample recipe with one curate threshold changed."""
    recipe = tmp_path / "stricter.yaml"
    recipe.write_text(small_sample_recipe().replace("min_words: 40", "min_words: 45", 1))
    return str(recipe)


def test_build_refuses_when_a_sources_curated_files_are_missing(copy, capsys):
    parquet = next((copy / "curated" / "pmc").glob("train-*.parquet"))
    parquet.unlink()
    assert in_process(copy, "build") == 2
    assert f"{parquet} is missing, though curate wrote it: run `gap-replay curate` again" in capsys.readouterr().err


def test_build_refuses_curated_output_made_with_other_settings(copy, stricter, capsys):
    assert in_process(copy, "build", "--recipe", stricter) == 2
    error = capsys.readouterr().err
    assert "curate ran with other settings than this recipe's (sources differ): run `gap-replay curate`" in error


def test_card_refuses_shards_of_an_older_curate(copy, stricter, capsys):
    assert in_process(copy, "curate", "--recipe", stricter) == 0
    assert in_process(copy, "card", "--recipe", stricter) == 2
    error = capsys.readouterr().err
    assert "curate ran again after build" in error and "run `gap-replay build`" in error


def test_a_curate_that_fills_the_disk_fails_with_the_reason_and_leaves_the_corpus_as_it_was(copy):
    before = outputs(copy)
    records = {path.name: path.read_bytes() for path in (copy / ".gap-replay").glob("*.json")}
    result = gap_replay(copy, "curate", file_size_limit=16_000)
    assert result.returncode == 1
    assert "gap-replay curate: error: OSError: [Errno 27] File too large" in result.stderr
    assert outputs(copy) == before
    assert {path.name: path.read_bytes() for path in (copy / ".gap-replay").glob("*.json")} == records
    assert not stages.staging_dir(copy, "curate").exists(), "nothing half-written is left behind"
    assert gap_replay(copy, "card").returncode == 0, "the corpus is still whole"


def test_an_output_folder_the_project_did_not_make_is_refused_and_with_force_its_files_are_kept(tmp_path, capsys):
    output = tmp_path / "shared"
    theirs = {
        "notes.md": b"the lab's notes",
        "tokens/train-00000-of-00009.bin": b"someone else's shard",
        "curated/pubmed/part-00003-of-00004.parquet": b"someone else's parquet",
    }
    for relative, data in theirs.items():
        (output / relative).parent.mkdir(parents=True, exist_ok=True)
        (output / relative).write_bytes(data)
    for command in ("fetch", "curate", "build", "corpus"):
        assert in_process(output, command) == 2
        error = capsys.readouterr().err
        assert f"{output}: the folder is not empty and was not made by gap-replay" in error and "--force" in error
    assert not (output / "raw").exists() and not (output / ".gap-replay").exists()
    assert in_process(output, "corpus", "--force") == 0
    assert in_process(output, "build") == 0, "a rerun replaces the shards it wrote, and only those"
    assert {relative: (output / relative).read_bytes() for relative in theirs} == theirs


def test_a_dataflow_dry_run_translates_the_job_and_leaves_the_corpus_as_it_was(copy, capsys):
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs the gcp extra (.[gcp])")
    before = outputs(copy)
    records = {path.name: path.read_bytes() for path in (copy / ".gap-replay").glob("*.json")}
    dataflow = ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1"]
    dataflow += ["--temp_location=gs://my-bucket/tmp", "--dry_run=True"]
    assert in_process(copy, "curate", *dataflow) == 0
    assert "curate: dry run: the pipeline was translated, not run; nothing was written" in capsys.readouterr().out
    assert outputs(copy) == before
    assert {path.name: path.read_bytes() for path in (copy / ".gap-replay").glob("*.json")} == records
