"""The stage contract: each stage (fetch, curate, build, card) proves it finished with a completion record, publishes
its files only once its run has succeeded, and deletes only files its own records list.

A recipe's output folder is the project's when it holds `.gap-replay/output.json` (the marker); a non-empty folder
without it is refused unless the user says `--force`. Under `.gap-replay/` live the records (`<stage>.json`), the
staging folders (`staging/<stage>/`) and a lock held while a command writes. A stage that publishes files:

1. writes them under its staging folder; a run that fails, or is only a dry run, stops here and nothing changes;
2. writes a journal (`<stage>.publish.json`: the new record, the files to move, the old files to remove);
3. removes its old record (from here its outputs do not count as complete), the old files the new run does not
   write again, then moves the staged files into place (a `manifest.json` last), and writes the new record.

A publish cut short by a kill is rolled forward by the next command that looks at the stage: everything it needs
is in the journal and the staging folder. Records are deterministic JSON (no timestamps), so a record's sha256 says
exactly what a stage read and wrote; a downstream record keeps the sha256 of each upstream record it read.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gap_replay.files import write_atomic

log = logging.getLogger(__name__)

FORMAT = "gap-replay-stage/1"
OUTPUT_FORMAT = "gap-replay-output/1"
STATE_DIR = ".gap-replay"
MARKER = "output.json"
LOCK = "lock"
STAGES = ("fetch", "curate", "build", "card")
LAST = ("manifest.json",)  # files that say "this folder is complete" move into place after everything else
CHUNK = 1 << 20


class PipelineNotRun(RuntimeError):
    """The runner returned without running the pipeline to its end (it failed, was cancelled, or only translated it
    as a dry run): the stage publishes nothing and earlier outputs stay as they were."""


class DryRun(PipelineNotRun):
    """A dry run translated the job, as asked, without running it."""


class StageError(RuntimeError):
    """A stage cannot run: its upstream is missing, unfinished or inconsistent, or the folder is not the project's.

    The message says what is wrong and which command to run.
    """


def state_dir(output: str | os.PathLike[str]) -> Path:
    return Path(output) / STATE_DIR


def record_path(output: str | os.PathLike[str], stage: str) -> Path:
    return state_dir(output) / f"{stage}.json"


def journal_path(output: str | os.PathLike[str], stage: str) -> Path:
    return state_dir(output) / f"{stage}.publish.json"


def staging_dir(output: str | os.PathLike[str], stage: str) -> Path:
    return state_dir(output) / "staging" / stage


# --- the folder: marker and lock -------------------------------------------------------------------------------


def is_project_folder(folder: str | os.PathLike[str]) -> bool:
    return (state_dir(folder) / MARKER).is_file()


def adopt(folder: str | os.PathLike[str], force: bool = False) -> None:
    """Mark `folder` as the project's: a new or empty folder is, a non-empty one only with the marker or `force`."""
    folder = Path(folder)
    if is_project_folder(folder):
        return
    if folder.exists() and not folder.is_dir():
        raise StageError(f"{folder}: not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise StageError(
            f"{folder}: the folder is not empty and was not made by gap-replay (no {STATE_DIR}/{MARKER}); "
            "choose another folder, or pass --force to use it (gap-replay then deletes only files it wrote)"
        )
    write_atomic(state_dir(folder) / MARKER, json.dumps({"format": OUTPUT_FORMAT}, indent=2) + "\n")


@contextlib.contextmanager
def claim(output: str | os.PathLike[str], force: bool = False) -> Iterator[None]:
    """Adopt the output folder and hold its lock while a command writes to it; a second writer is refused."""
    adopt(output, force)
    path = state_dir(output) / LOCK
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise StageError(
                f"{output}: another gap-replay command ({holder}) is writing to this folder; wait for it to end"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- records ---------------------------------------------------------------------------------------------------


def encode(record: Mapping[str, Any]) -> bytes:
    """A record's canonical bytes: its sha256 names it."""
    return (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def make_record(
    stage: str,
    files: Iterable[Mapping[str, Any]],
    *,
    settings: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str] | None = None,
    summary: Mapping[str, Any] | None = None,
    recipe: Mapping[str, Any] | None = None,
    root: str = ".",
) -> dict[str, Any]:
    """A completion record: the stage, the recipe (name, sha256) and settings it ran with, the sha256 of each
    upstream record it read, every file it wrote (path relative to `root`, bytes, sha256) and its summary."""
    return {
        "format": FORMAT,
        "stage": stage,
        "root": root,
        "recipe": dict(recipe or {}),
        "settings": dict(settings or {}),
        "inputs": dict(sorted((inputs or {}).items())),
        "files": sorted((dict(entry) for entry in files), key=lambda entry: entry["path"]),
        "summary": dict(summary or {}),
    }


def read_record(output: str | os.PathLike[str], stage: str) -> tuple[dict[str, Any], str] | None:
    """(record, sha256 of its bytes) of a stage's last finished run, or None; an interrupted publish is finished."""
    recover(output, stage)
    path = record_path(output, stage)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(data)
    except ValueError as error:
        raise StageError(f"{path}: unreadable completion record ({error}); rerun `gap-replay {stage}`") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("stage") != stage:
        raise StageError(f"{path}: not a {stage} completion record; rerun `gap-replay {stage}`")
    return record, hashlib.sha256(data).hexdigest()


def write_record(output: str | os.PathLike[str], record: Mapping[str, Any]) -> str:
    """Write a record atomically (for stages that do not publish through staging, i.e. fetch); its sha256."""
    data = encode(record)
    write_atomic(record_path(output, record["stage"]), data)
    return hashlib.sha256(data).hexdigest()


def forget(output: str | os.PathLike[str], stage: str) -> None:
    """Remove a stage's record: from now on its outputs do not count as complete (fetch does this as it starts)."""
    record_path(output, stage).unlink(missing_ok=True)


def root_of(output: str | os.PathLike[str], record: Mapping[str, Any]) -> Path:
    root = record.get("root", ".")
    return Path(output) if root == "." else Path(root)


def file_paths(output: str | os.PathLike[str], record: Mapping[str, Any]) -> list[Path]:
    """The absolute paths of the files a record lists."""
    root = root_of(output, record)
    return [root / entry["path"] for entry in record["files"]]


def require(output: str | os.PathLike[str], stage: str, *, needed_by: str) -> tuple[dict[str, Any], str]:
    """The record of a finished `stage` whose files are all in place with their sizes; otherwise a StageError
    naming what is wrong and what to rerun."""
    found = read_record(output, stage)
    rerun = f"run `gap-replay {stage}`"
    if found is None:
        raise StageError(f"{needed_by} needs a finished {stage}; {output} has no {stage} completion record: {rerun}")
    record, sha256 = found
    root = root_of(output, record)
    for entry in record["files"]:
        path = root / entry["path"]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise StageError(f"{path} is missing, though {stage} wrote it: {rerun} again") from None
        if size != entry["bytes"]:
            raise StageError(f"{path} has {size} bytes, {stage} wrote {entry['bytes']}: {rerun} again")
    return record, sha256


def check_settings(record: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """A StageError when a stage ran with other recipe settings than `settings`, naming the keys that differ."""
    if record["settings"] == dict(settings):
        return
    changed = sorted(
        key for key in set(record["settings"]) | set(settings) if record["settings"].get(key) != settings.get(key)
    )
    stage = record["stage"]
    raise StageError(
        f"{stage} ran with other settings than this recipe's ({', '.join(changed)} differ): run `gap-replay {stage}`"
    )


# --- publishing ------------------------------------------------------------------------------------------------


class Publisher:
    """One run of a stage that writes under a staging folder and publishes its files only when told the run
    succeeded. `root` is where the files go (the output folder, or the cards folder for `card`)."""

    def __init__(self, output: str | os.PathLike[str], stage: str, root: str | os.PathLike[str] | None = None):
        self.output = Path(output)
        self.stage = stage
        self.root = Path(root) if root is not None else self.output
        recover(self.output, stage)
        self.staging = staging_dir(self.output, stage)
        shutil.rmtree(self.staging, ignore_errors=True)  # leftovers of a run that never published
        self.staging.mkdir(parents=True)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """A run that ends in an error publishes nothing and leaves no staged files behind."""
        if exc_type is not None and not journal_path(self.output, self.stage).exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    def path(self, relative: str) -> Path:
        """Where a run writes the file that will be published as `<root>/<relative>`."""
        return self.staging / relative

    def publish(
        self,
        *,
        settings: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | None = None,
        summary: Mapping[str, Any] | None = None,
        recipe: Mapping[str, Any] | None = None,
        only: Iterable[str] | None = None,
        known: Mapping[str, tuple[int, str]] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Move the staged files (every one, or `only` these relative paths) into place and write the record;
        returns (record, its sha256). `known` gives (bytes, sha256) of staged files the run already hashed (and
        flushed to disk), so they are not read again."""
        known = known or {}
        if only is None:
            relatives = sorted(path.relative_to(self.staging).as_posix() for path in self.staging.rglob("*"))
            relatives = [relative for relative in relatives if (self.staging / relative).is_file()]
        else:
            relatives = sorted(only)
        files = []
        for relative in relatives:
            size, digest = known.get(relative) or _sync_and_hash(self.staging / relative)
            files.append({"path": relative, "bytes": size, "sha256": digest})
        root = "." if self.root == self.output else str(self.root.resolve())
        record = make_record(
            self.stage, files, settings=settings, inputs=inputs, summary=summary, recipe=recipe, root=root
        )
        # The previous run's files that this run does not write again go; files of a previous run into another
        # folder (cards written elsewhere) are left alone.
        previous = read_record(self.output, self.stage)
        targets = {os.path.abspath(self.root / entry["path"]) for entry in files}
        same_root = previous is not None and root_of(self.output, previous[0]).resolve() == self.root.resolve()
        old = [os.path.abspath(path) for path in file_paths(self.output, previous[0])] if same_root else []
        removes = [path for path in old if path not in targets]
        moves = sorted(
            ([str(self.staging / entry["path"]), str(self.root / entry["path"])] for entry in files),
            key=lambda move: (Path(move[1]).name in LAST, move[1]),
        )
        journal = {"record": record, "removes": removes, "moves": moves}
        write_atomic(journal_path(self.output, self.stage), json.dumps(journal, indent=2) + "\n")
        _apply(self.output, self.stage, journal)
        return record, hashlib.sha256(encode(record)).hexdigest()


def recover(output: str | os.PathLike[str], stage: str) -> None:
    """Finish a publish that a kill cut short (its journal is still there); nothing to do otherwise."""
    path = journal_path(output, stage)
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except ValueError:
        # A journal is written atomically, so an unreadable one was never started on: drop it.
        path.unlink()
        return
    log.warning("%s: finishing the interrupted publish of %s", output, stage)
    _apply(output, stage, journal)


def _apply(output: str | os.PathLike[str], stage: str, journal: Mapping[str, Any]) -> None:
    """Steps 3 and 4 of a publish; each is safe to repeat, so a kill anywhere here is finished by a rerun."""
    forget(output, stage)
    for path in journal["removes"]:
        Path(path).unlink(missing_ok=True)
    for source, target in journal["moves"]:
        _move(Path(source), Path(target))
    write_atomic(record_path(output, stage), encode(journal["record"]))
    shutil.rmtree(staging_dir(output, stage), ignore_errors=True)
    journal_path(output, stage).unlink(missing_ok=True)


def _move(source: Path, target: Path) -> None:
    """Move a staged file into place (replacing what is there); a file already moved by an earlier try is left."""
    if not source.exists():
        if target.exists():
            return
        raise StageError(f"{source}: staged file lost before it was published; rerun the stage")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        temporary = target.with_name(f".{target.name}.publishing")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
        source.unlink()


def _sync_and_hash(path: Path) -> tuple[int, str]:
    """Size and sha256 of a staged file, flushed to disk first so a published file is never only in the cache."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
