"""`make mutation`: mutation testing of the pure modules with cosmic-ray, each module against its own tests.

Every mutant is one small change to a module (an operator swapped, a constant moved, a condition negated); it is
killed when the module's tests fail on it. A module's score is the share of its mutants killed, leaving out those
inside annotations (strings no code evaluates, under `from __future__ import annotations`; they are not even run)
and those listed in `tools/equivalent_mutants.toml` (changes no test can see, each with its reason). Mutation happens
in copies of the working tree under `out/mutation/copies/` (one per module), never in the checkout, so a run stopped
anywhere leaves the sources as they were; a module's session is kept there and resumes. It starts over when the module
changed; when only its tests changed, the survivors run again and the kills stand (`--fresh` starts over, as after
a test was weakened or removed). Surviving mutants are written, as diffs, to `out/mutation/<module>.survivors.txt`.

    python tools/mutation.py                  # every module, two at a time
    python tools/mutation.py --only gap_replay/mix.py --jobs 1
    python tools/mutation.py --report         # the scores of the sessions kept, without running anything
    python tools/mutation.py --fresh          # every module from the start, kills included
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "mutation"
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.toml"
COSMIC_RAY = Path(sys.executable).with_name("cosmic-ray")
TARGET = 0.85
# A mutant that makes a test loop for ever is killed (by timeout) after this long; each module's tests take under 5 s.
TIMEOUT_SECONDS = 30.0
# Each module and the tests that speak for it (the modules the issue of record names: text, dedup, mix, shards,
# and the PubMed, JATS and guideline extraction parsers).
MODULES: dict[str, tuple[str, ...]] = {
    "gap_replay/text/clean.py": ("tests/test_clean.py",),
    "gap_replay/text/decontaminate.py": ("tests/test_decontaminate.py", "tests/test_decontaminate_boundaries.py"),
    "gap_replay/text/lang.py": ("tests/test_lang.py",),
    # The calibration tests take ten seconds a run: the rules' own tests speak for the module.
    "gap_replay/text/quality.py": ("tests/test_quality.py", "tests/test_quality_boundaries.py"),
    "gap_replay/dedup/exact.py": ("tests/test_exact.py",),
    "gap_replay/dedup/minhash.py": ("tests/test_minhash.py",),
    "gap_replay/dedup/survivor.py": ("tests/test_survivor.py",),
    "gap_replay/mix.py": ("tests/test_mix.py",),
    "gap_replay/shards/indexed.py": ("tests/test_indexed.py", "tests/test_indexed_boundaries.py"),
    "gap_replay/shards/manifest.py": ("tests/test_manifest.py", "tests/test_manifest_boundaries.py"),
    "sources/pubmed.py": (
        "tests/test_pubmed_boundaries.py",
        "tests/test_pubmed_batches.py",
        "tests/test_pubmed.py",
        "tests/test_pubmed_updates.py",  # a whole Beam curate: last, as most mutants fail a test before it
    ),
    "sources/jats.py": ("tests/test_jats.py", "tests/test_jats_boundaries.py", "tests/test_pmc.py"),
    # `extract.py` only gathers what the organisation modules import; the extraction itself is these three. Their
    # own tests come first: most mutants fail one of them, and `-x` stops before the slower sample-file tests.
    "sources/guidelines/markdown.py": ("tests/test_guidelines_markdown.py", "tests/test_extract.py"),
    "sources/guidelines/html_text.py": ("tests/test_guidelines_html_text.py", "tests/test_extract.py"),
    "sources/guidelines/pdf_text.py": ("tests/test_guidelines_pdf_text.py", "tests/test_extract.py"),
}


@dataclass(frozen=True)
class Score:
    module: str
    mutants: int
    killed: int
    survived: int
    equivalent: int
    pending: int

    @property
    def rate(self) -> float:
        counted = self.killed + self.survived
        return self.killed / counted if counted else 0.0

    def line(self) -> str:
        mark = "ok" if self.rate >= TARGET and not self.pending else "below" if not self.pending else "unfinished"
        return (
            f"{self.module:<34} {self.mutants:>6} {self.killed:>7} {self.survived:>9} {self.equivalent:>11} "
            f"{self.pending:>8} {self.rate:>7.1%}  {mark}"
        )


def name_of(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def fingerprint(module: str, tree: Path) -> str:
    """Two sha256 lines, of the module and of its tests as they are in `tree`: a session is of these bytes."""
    lines = []
    for paths in ((module,), MODULES[module]):
        digest = hashlib.sha256()
        for path in paths:
            digest.update(path.encode() + b"\0" + (tree / path).read_bytes())
        lines.append(digest.hexdigest())
    return "\n".join(lines)


# Where cosmic-ray's traceback shows that its operator itself could not make the mutant (its exception replacer
# fails on a dotted name such as `zlib.error`): such a mutant never exists, and trying again fails the same way.
UNMADE = "cosmic_ray/operators/"


def forget_failed_runs(session: Path) -> int:
    """Forget the results of mutants whose run failed rather than their tests (cosmic-ray could not apply or undo
    the mutation, or its worker died): they say nothing of the tests, so they run again. Mutants cosmic-ray cannot
    make at all are kept as they are."""
    from cosmic_ray.work_item import WorkerOutcome

    failed = (WorkerOutcome.EXCEPTION.name, WorkerOutcome.ABNORMAL.name, f"%{UNMADE}%")
    with contextlib.closing(sqlite3.connect(session)) as db, db:
        query = "DELETE FROM work_results WHERE worker_outcome IN (?, ?) AND coalesce(output, '') NOT LIKE ?"
        return db.execute(query, failed).rowcount


def retest_survivors(session: Path) -> int:
    """Forget the survivors' results so that they run again; killed mutants stay killed (tests added to a module's
    own cannot revive them). Returns how many will run again."""
    from cosmic_ray.work_item import TestOutcome

    with contextlib.closing(sqlite3.connect(session)) as db, db:
        return db.execute("DELETE FROM work_results WHERE test_outcome = ?", (TestOutcome.SURVIVED.name,)).rowcount


def working_files() -> list[str]:
    """The files of the working tree that git tracks or would track (changes not yet committed included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def fresh_copy(folder: Path) -> Path:
    """A copy of the working tree where `gap_replay.sources` and `gap_replay.pipelines` resolve to its own folders,
    as the installed package maps them, when it is first on PYTHONPATH."""
    shutil.rmtree(folder, ignore_errors=True)
    for name in working_files():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    for package in ("sources", "pipelines"):
        (folder / "gap_replay" / package).symlink_to(Path("..") / package)
    return folder


def config_text(module: str) -> str:
    tests = " ".join(MODULES[module])
    return (
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {TIMEOUT_SECONDS}\n"
        "excluded-modules = []\n"
        f'test-command = "{sys.executable} -m pytest -x -q -p no:cacheprovider {tests}"\n\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of every annotation of a module that imports `annotations` from `__future__`:
    there they are strings no code evaluates, so a mutant inside one changes nothing. None for other modules."""
    tree = ast.parse(source)
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not future:
        return []
    found = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            annotations = [argument.annotation for argument in every if argument is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        found += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in annotations if a is not None]
    return found


def in_annotation(spec, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    """Whether a mutation's source range lies inside an annotation (cosmic-ray's lines count from 1, as ast's)."""
    return any(start <= tuple(spec.start_pos) and tuple(spec.end_pos) <= end for start, end in spans)


def skip_annotations(module: str, session: Path, tree: Path) -> None:
    """Mark the session's mutants inside annotations (of the module as it is in `tree`) as skipped: not run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans((tree / module).read_text(encoding="utf-8"))
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            if in_annotation(item.mutations[0], spans):
                db.set_result(item.job_id, WorkResult(WorkerOutcome.SKIPPED, "inside an annotation"))


# Process groups of the cosmic-ray runs going on: stopping the runner stops them and the test runs they started.
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def _run(command: list[str], cwd: Path, env: dict[str, str], quiet: bool = False) -> None:
    """Run a command in its own process group, which is killed if this runner is stopped while it runs."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL if quiet else None
    )
    with _RUNNING_LOCK:
        _RUNNING.add(process.pid)
    try:
        if process.wait() != 0:
            raise subprocess.CalledProcessError(process.returncode, command)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process.pid)


def _stop(signum: int, frame: object) -> None:
    """On SIGINT or SIGTERM: kill every running group (cosmic-ray and its pytest), then leave."""
    with _RUNNING_LOCK:
        for group in _RUNNING:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    print("mutation: stopped; the sessions resume on the next run", file=sys.stderr)
    os._exit(130)


@contextlib.contextmanager
def module_lock(module: str) -> Iterator[bool]:
    """Hold the module's lock while it is mutated, so that two runs never share its copy or its session; yields
    False, without waiting, when another run holds it."""
    with open(OUT / f"{name_of(module)}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def run_module(module: str, copy: Path, fresh: bool = False) -> None:
    """Initialise (or resume) the module's session and run its pending mutants in `copy`. When only the tests
    changed since, the survivors run again and the kills stand, unless `fresh` starts over."""
    name = name_of(module)
    config, session, stamp = OUT / f"{name}.toml", OUT / f"{name}.sqlite", OUT / f"{name}.fingerprint"
    current = fingerprint(module, copy)  # the bytes being mutated, whatever the checkout holds by now
    env = {**os.environ, "PYTHONPATH": str(copy), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    config.write_text(config_text(module))  # the timeout and command may change without the session starting over
    source_snapshot(module).write_bytes((copy / module).read_bytes())  # no mutant is applied yet
    before = stamp.read_text().splitlines() if stamp.exists() else []
    now = current.splitlines()
    if session.exists() and not fresh and before[:1] == now[:1] and before != now:
        print(f"{module}: its tests changed, {retest_survivors(session)} survivor(s) run again", flush=True)
        stamp.write_text(current)
    if fresh or not (session.exists() and stamp.read_text() == current):
        session.unlink(missing_ok=True)
        _run([str(COSMIC_RAY), "init", str(config), str(session)], copy, env)
        skip_annotations(module, session, copy)
        stamp.write_text(current)
    forget_failed_runs(session)
    print(f"mutating {module} ...", flush=True)
    _run([str(COSMIC_RAY), "exec", str(config), str(session)], copy, env, quiet=True)


def equivalents() -> list[dict[str, str]]:
    if not EQUIVALENT.is_file():
        return []
    return tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get("equivalent", [])


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and added lines of a mutant's diff without any whitespace (cosmic-ray writes `maxsize= 65`, and a
    removed decorator takes blank lines with it): what identifies a mutant across edits and line shifts."""
    lines = diff.splitlines()
    removed = "".join(
        "".join(line[1:].split()) for line in lines if line.startswith("-") and not line.startswith("---")
    )
    added = "".join("".join(line[1:].split()) for line in lines if line.startswith("+") and not line.startswith("+++"))
    return removed, added


def listed(entry: dict[str, str], removed: str, added: str) -> bool:
    """Whether an equivalents entry names this change (compared without whitespace, as `changed_lines` gives it);
    `added = "*"` names every change of the removed line (a cache's size: any value, or none, is the same result)."""
    if "".join(entry["removed"].split()) != removed:
        return False
    return entry["added"] == "*" or "".join(entry["added"].split()) == added


def copy_of(module: str) -> Path:
    """The folder of the module's own copy of the working tree, where its mutants are made and tested."""
    return OUT / "copies" / name_of(module)


def source_snapshot(module: str) -> Path:
    """Where the module's bytes are kept as its session mutates them, taken before any mutant is applied."""
    return OUT / f"{name_of(module)}.source"


def mutated_source(module: str) -> Path:
    """The module as its session mutated it: its snapshot (the copy itself holds a mutant while a run goes on, and
    the checkout may have moved on since, with other line numbers); the copy's or the checkout's without one."""
    for path in (source_snapshot(module), copy_of(module) / module):
        if path.is_file():
            return path
    return ROOT / module


def score(module: str) -> Score | None:
    """The module's score from its session, and its survivors written out; None when it has no session."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    session = OUT / f"{name_of(module)}.sqlite"
    if not session.exists():
        return None
    known = [entry for entry in equivalents() if entry["module"] == module]
    spans = annotation_spans(mutated_source(module).read_text(encoding="utf-8"))
    killed = survived = equivalent = 0
    survivors = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        for item, result in db.completed_work_items:
            if result.worker_outcome in (WorkerOutcome.EXCEPTION, WorkerOutcome.ABNORMAL):
                if UNMADE in (result.output or ""):
                    equivalent += 1  # no such mutant: cosmic-ray's operator could not make it
                continue  # otherwise the run failed, not the tests: pending, run again next time
            if result.worker_outcome == WorkerOutcome.SKIPPED or in_annotation(item.mutations[0], spans):
                equivalent += 1  # inside an annotation: never evaluated
                continue
            if result.test_outcome != TestOutcome.SURVIVED:
                killed += 1  # killed, or incompetent (the mutant does not even import): the tests see it
                continue
            removed, added = changed_lines(result.diff or "")
            if any(listed(entry, removed, added) for entry in known):
                equivalent += 1
                continue
            survived += 1
            spec = item.mutations[0]
            where = f"{spec.operator_name} in {spec.definition_name} line {spec.start_pos[0]}"
            survivors.append(f"# {where}\n{result.diff}")
        pending = total - killed - survived - equivalent
    (OUT / f"{name_of(module)}.survivors.txt").write_text("\n".join(survivors), encoding="utf-8")
    return Score(module, total, killed, survived, equivalent, pending)


def report(modules: list[str]) -> bool:
    """Print the table; True when every module reached the target."""
    print(f"{'module':<34} {'mutants':>6} {'killed':>7} {'survived':>9} {'equivalent':>11} {'pending':>8} {'score':>7}")
    scores = [found for module in modules if (found := score(module)) is not None]
    for found in scores:
        print(found.line())
    missing = [module for module in modules if module not in {found.module for found in scores}]
    for module in missing:
        print(f"{module:<34} no session yet")
    print(f"target: {TARGET:.0%} of the mutants that are not equivalent, in every module; survivors in {OUT}")
    return not missing and all(found.rate >= TARGET and not found.pending for found in scores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(MODULES), metavar="MODULE", help="some of the modules")
    parser.add_argument("--jobs", type=int, default=2, help="modules mutated at once, each in its own copy")
    parser.add_argument("--report", action="store_true", help="print the kept sessions' scores, run nothing")
    parser.add_argument("--fresh", action="store_true", help="start the modules' sessions over, kills included")
    args = parser.parse_args(argv)
    modules = args.only or list(MODULES)
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.report:
        if not COSMIC_RAY.exists():
            print(f"cosmic-ray is not installed beside {sys.executable}: make install-dev", file=sys.stderr)
            return 2
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)

        def work(module: str) -> None:
            with module_lock(module) as held:
                if not held:
                    print(f"{module}: another run is mutating it; left to that run", file=sys.stderr)
                    return
                run_module(module, fresh_copy(copy_of(module)), args.fresh)

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(work, modules))
    return 0 if report(modules) else 1


if __name__ == "__main__":
    raise SystemExit(main())
