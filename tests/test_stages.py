"""The stage contract: the folder marker and lock, completion records, and a publish that a kill at any step leaves
either as it was or finishable, deleting only files the stage's own records list."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gap_replay import stages
from gap_replay.stages import Publisher, StageError


class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing after the point where it is raised runs."""


def staged(publisher: Publisher, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = publisher.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def publish(output: Path, files: dict[str, bytes], stage: str = "curate", **fields) -> tuple[dict, str]:
    stages.adopt(output)
    publisher = Publisher(output, stage)
    staged(publisher, files)
    return publisher.publish(**fields)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` but the project's own state, by relative path."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and stages.STATE_DIR not in path.relative_to(folder).parts
    }


FIRST = {"curated/pubmed/part-0.parquet": b"pubmed v1", "curated/pmc/part-0.parquet": b"pmc v1", "README.md": b"r"}
SECOND = {"curated/pubmed/part-0.parquet": b"pubmed v2", "README.md": b"r2", "tokens/manifest.json": b"{}"}


# --- the folder ------------------------------------------------------------------------------------------------


def test_a_new_or_empty_folder_becomes_the_projects(tmp_path):
    stages.adopt(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    stages.adopt(tmp_path / "empty")
    assert stages.is_project_folder(tmp_path / "new") and stages.is_project_folder(tmp_path / "empty")


def test_a_non_empty_folder_without_the_marker_is_refused_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StageError, match=r"not empty and was not made by gap-replay .* pass --force"):
        stages.adopt(tmp_path)
    assert not stages.is_project_folder(tmp_path)
    stages.adopt(tmp_path, force=True)
    assert stages.is_project_folder(tmp_path) and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(StageError, match="not a folder"):
        stages.adopt(tmp_path / "out", force=True)


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    stages.adopt(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from gap_replay import stages\n"
            f"with stages.claim({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = rf"another gap-replay command \(pid {holder.pid}\) is writing"
        with pytest.raises(StageError, match=refused), stages.claim(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with stages.claim(tmp_path):  # the kernel dropped the lock with the killed process
        pass


# --- records and publishing ------------------------------------------------------------------------------------


def test_publish_moves_the_staged_files_into_place_and_records_each_with_its_size_and_sha256(tmp_path):
    record, digest = publish(tmp_path, FIRST, settings={"seed": 1}, inputs={"fetch": "ab" * 32}, summary={"kept": 3})
    assert tree(tmp_path) == FIRST
    expected = [
        {"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for path, data in sorted(FIRST.items())
    ]
    assert record["files"] == expected
    assert (record["settings"], record["inputs"], record["summary"]) == ({"seed": 1}, {"fetch": "ab" * 32}, {"kept": 3})
    on_disk = (tmp_path / ".gap-replay" / "curate.json").read_bytes()
    assert json.loads(on_disk) == record and hashlib.sha256(on_disk).hexdigest() == digest
    assert not stages.staging_dir(tmp_path, "curate").exists()


def test_the_same_run_gives_the_same_record_bytes(tmp_path):
    _, first = publish(tmp_path / "a", FIRST, settings={"seed": 1})
    _, second = publish(tmp_path / "b", FIRST, settings={"seed": 1})
    assert first == second


def test_a_new_publish_removes_only_the_old_files_it_does_not_write_again(tmp_path):
    publish(tmp_path, FIRST)
    (tmp_path / "curated" / "pmc" / "notes.txt").write_text("the user's")
    (tmp_path / "curated" / "pubmed" / "part-9.parquet").write_bytes(b"not ours")
    publish(tmp_path, SECOND)
    assert tree(tmp_path) == {
        **SECOND,
        "curated/pmc/notes.txt": b"the user's",
        "curated/pubmed/part-9.parquet": b"not ours",
    }


def test_only_the_listed_files_are_published(tmp_path):
    stages.adopt(tmp_path)
    publisher = Publisher(tmp_path, "build")
    staged(publisher, {"tokens/a.bin": b"a", "tokens/_list.jsonl": b"scratch"})
    record, _ = publisher.publish(only=["tokens/a.bin"], known={"tokens/a.bin": (1, "given")})
    assert record["files"] == [{"path": "tokens/a.bin", "bytes": 1, "sha256": "given"}]
    assert tree(tmp_path) == {"tokens/a.bin": b"a"}


def test_a_run_that_fails_before_publishing_changes_nothing_and_leaves_no_staging(tmp_path):
    publish(tmp_path, FIRST)
    before = (tree(tmp_path), stages.read_record(tmp_path, "curate"))
    with pytest.raises(RuntimeError), Publisher(tmp_path, "curate") as publisher:
        staged(publisher, SECOND)
        raise RuntimeError("the pipeline failed")
    assert (tree(tmp_path), stages.read_record(tmp_path, "curate")) == before
    assert not stages.staging_dir(tmp_path, "curate").exists()


def test_a_run_killed_before_publishing_leaves_staging_that_the_next_run_clears(tmp_path):
    publish(tmp_path, FIRST)
    publisher = Publisher(tmp_path, "curate")
    staged(publisher, {"curated/replay/part-0.parquet": b"half-written"})  # then the process dies
    assert stages.read_record(tmp_path, "curate")[0]["files"][0]["path"] == "README.md"
    publish(tmp_path, SECOND)
    assert tree(tmp_path) == SECOND


def named(name: str):
    return lambda path, *_: Path(path).name == name


@pytest.mark.parametrize(
    ("step", "owner", "function", "when"),
    [
        ("after the journal is written", stages, "forget", None),
        ("after the old record goes", Path, "unlink", named("part-0.parquet")),
        ("after the old files go", stages, "_move", None),
        ("after one move", stages, "_move", named("part-0.parquet")),
        ("after every move, before the new record", stages, "write_atomic", named("curate.json")),
        ("after the new record, before the staging folder goes", stages.shutil, "rmtree", named("curate")),
        ("after the staging folder, before the journal goes", Path, "unlink", named("curate.publish.json")),
    ],
)
def test_a_publish_killed_at_any_step_is_finished_by_the_next_reader(
    tmp_path, monkeypatch, step, owner, function, when
):
    publish(tmp_path, FIRST)
    original = getattr(owner, function)
    journal = stages.journal_path(tmp_path, "curate")

    def dying(*args, **kwargs):
        if journal.exists() and (when is None or when(*args)):
            raise Killed(step)
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(owner, function, dying)
        with pytest.raises(Killed):
            publish(tmp_path, SECOND, summary={"run": 2})
    assert journal.exists(), "killed while publishing"
    record, _ = stages.read_record(tmp_path, "curate")  # rolls the publish forward
    assert record["summary"] == {"run": 2}
    assert tree(tmp_path) == SECOND
    assert not journal.exists()
    assert not stages.staging_dir(tmp_path, "curate").exists()


def test_a_manifest_is_moved_into_place_after_every_other_file(tmp_path, monkeypatch):
    moved = []
    original = stages._move
    monkeypatch.setattr(stages, "_move", lambda source, target: (moved.append(target.name), original(source, target)))
    publish(tmp_path, {"tokens/manifest.json": b"{}", "tokens/z.bin": b"z", "tokens/a.bin": b"a"}, stage="build")
    assert moved == ["a.bin", "z.bin", "manifest.json"]


def test_files_published_into_another_root_are_recorded_there_and_old_roots_left_alone(tmp_path):
    output, first, second = tmp_path / "out", tmp_path / "cards1", tmp_path / "cards2"
    stages.adopt(output)
    for root in (first, second):
        publisher = Publisher(output, "card", root=root)
        staged(publisher, {"corpus.md": root.name.encode()})
        record, _ = publisher.publish()
        assert record["root"] == str(root.resolve())
    assert (first / "corpus.md").read_bytes() == b"cards1" and (second / "corpus.md").read_bytes() == b"cards2"


# --- what a downstream stage requires --------------------------------------------------------------------------


def test_require_names_the_missing_stage_and_the_command_to_run(tmp_path):
    with pytest.raises(StageError, match=r"build needs a finished curate; .* run `gap-replay curate`"):
        stages.require(tmp_path, "curate", needed_by="build")


def test_require_names_a_listed_file_that_is_gone_or_changed_size(tmp_path):
    publish(tmp_path, FIRST)
    (tmp_path / "curated" / "pmc" / "part-0.parquet").write_bytes(b"pmc v1 and more")
    with pytest.raises(StageError, match=r"curated/pmc/part-0.parquet has 15 bytes, curate wrote 6"):
        stages.require(tmp_path, "curate", needed_by="build")
    (tmp_path / "curated" / "pmc" / "part-0.parquet").unlink()
    with pytest.raises(StageError, match=r"curated/pmc/part-0.parquet is missing, though curate wrote it"):
        stages.require(tmp_path, "curate", needed_by="build")


def test_a_record_that_is_not_one_is_refused_naming_it(tmp_path):
    stages.adopt(tmp_path)
    stages.record_path(tmp_path, "curate").write_text('{"format": "something else"}')
    with pytest.raises(StageError, match=r"curate.json: not a curate completion record"):
        stages.require(tmp_path, "curate", needed_by="build")
    stages.record_path(tmp_path, "curate").write_text("{cut sh")
    with pytest.raises(StageError, match=r"curate.json: unreadable completion record"):
        stages.require(tmp_path, "curate", needed_by="build")


def test_settings_that_differ_are_named(tmp_path):
    record, _ = publish(tmp_path, FIRST, settings={"seed": 1, "dedup": {"exact": True}, "language": ["en"]})
    stages.check_settings(record, {"seed": 1, "dedup": {"exact": True}, "language": ["en"]})
    with pytest.raises(StageError, match=r"other settings than this recipe's \(dedup, seed differ\)"):
        stages.check_settings(record, {"seed": 2, "dedup": {"exact": False}, "language": ["en"]})
