"""`make mutation`'s bookkeeping: a module's score from its cosmic-ray session, equivalents left out by their
changed lines, survivors written out, and copies of the tree that import their own sources."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

cosmic_ray = pytest.importorskip("cosmic_ray", reason="cosmic-ray comes with the dev extra")
from cosmic_ray.work_db import WorkDB, use_db  # noqa: E402
from cosmic_ray.work_item import MutationSpec, WorkerOutcome, WorkItem, WorkResult  # noqa: E402
from cosmic_ray.work_item import TestOutcome as Outcome  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import mutation  # noqa: E402


def diff(removed: str, added: str) -> str:
    return f"--- a/gap_replay/mix.py\n+++ b/gap_replay/mix.py\n@@ -1 +1 @@\n-    {removed}\n+    {added}\n"


def session(path: Path, outcomes: list[tuple[Outcome | None, str]]) -> None:
    with use_db(str(path), WorkDB.Mode.create) as db:
        for number, (outcome, change) in enumerate(outcomes):
            spec = MutationSpec("gap_replay/mix.py", "core/NumberReplacer", number, (number + 1, 0), (number + 1, 1))
            db.add_work_item(WorkItem(job_id=str(number), mutations=(spec,)))
            if outcome is not None:
                db.set_result(str(number), WorkResult(WorkerOutcome.NORMAL, "", outcome, change))


def test_the_score_counts_killed_over_killed_and_surviving_leaving_out_equivalents(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    equivalent = tmp_path / "equivalent.toml"
    equivalent.write_text(
        '[[equivalent]]\nmodule = "gap_replay/mix.py"\nremoved = "return 1"\nadded = "return 1.0"\n'
        'reason = "the caller takes int() of it"\n'
    )
    monkeypatch.setattr(mutation, "EQUIVALENT", equivalent)
    session(
        tmp_path / "gap_replay_mix.sqlite",
        [
            (Outcome.KILLED, diff("return a + b", "return a - b")),
            (Outcome.KILLED, diff("x = 2", "x = 3")),
            (Outcome.INCOMPETENT, diff("import math", "import math2")),
            (Outcome.SURVIVED, diff("return 1", "return 1.0")),  # listed as equivalent
            (Outcome.SURVIVED, diff("if a < b:", "if a <= b:")),
            (None, ""),  # not run yet
        ],
    )
    found = mutation.score("gap_replay/mix.py")
    assert (found.mutants, found.killed, found.survived, found.equivalent, found.pending) == (6, 3, 1, 1, 1)
    assert found.rate == 0.75
    survivors = (tmp_path / "gap_replay_mix.survivors.txt").read_text()
    assert "+    if a <= b:" in survivors and "return 1.0" not in survivors
    assert found.line().endswith("75.0%  unfinished")


def test_when_only_the_tests_changed_the_survivors_run_again_and_the_kills_stand(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    monkeypatch.setattr(mutation, "EQUIVALENT", tmp_path / "none.toml")
    session(
        tmp_path / "gap_replay_mix.sqlite",
        [
            (Outcome.KILLED, diff("return a + b", "return a - b")),
            (Outcome.SURVIVED, diff("if a < b:", "if a <= b:")),
            (Outcome.INCOMPETENT, diff("import math", "import math2")),
            (Outcome.SURVIVED, diff("x = 2", "x = 3")),
        ],
    )

    assert mutation.retest_survivors(tmp_path / "gap_replay_mix.sqlite") == 2

    found = mutation.score("gap_replay/mix.py")
    assert (found.killed, found.survived, found.pending) == (2, 0, 2)


def test_a_module_is_mutated_by_one_run_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)

    with (
        mutation.module_lock("gap_replay/mix.py") as first,
        mutation.module_lock("gap_replay/mix.py") as second,
        mutation.module_lock("gap_replay/text/lang.py") as other,
    ):
        assert (first, second, other) == (True, False, True)
    with mutation.module_lock("gap_replay/mix.py") as again:
        assert again


def test_the_fingerprint_tells_a_changed_module_from_changed_tests(tmp_path, monkeypatch):
    monkeypatch.setitem(mutation.MODULES, "pkg/rule.py", ("tests/test_rule.py",))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pkg/rule.py").write_text("LIMIT = 3\n")
    (tmp_path / "tests/test_rule.py").write_text("def test_limit(): ...\n")
    first = mutation.fingerprint("pkg/rule.py", tmp_path).splitlines()

    (tmp_path / "tests/test_rule.py").write_text("def test_limit(): ...\ndef test_more(): ...\n")
    tests_changed = mutation.fingerprint("pkg/rule.py", tmp_path).splitlines()
    (tmp_path / "pkg/rule.py").write_text("LIMIT = 4\n")
    module_changed = mutation.fingerprint("pkg/rule.py", tmp_path).splitlines()

    assert tests_changed[0] == first[0] and tests_changed[1] != first[1]
    assert module_changed[0] != first[0] and module_changed[1] == tests_changed[1]


def test_changed_lines_ignore_the_file_headers_and_all_whitespace():
    assert mutation.changed_lines(diff("return a + b", "return a - b")) == ("returna+b", "returna-b")
    removed_decorator = "--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,1 @@\n-\n-\n-@functools.lru_cache(maxsize=64)\n def f():\n"
    assert mutation.changed_lines(removed_decorator) == ("@functools.lru_cache(maxsize=64)", "")
    assert mutation.listed(
        {"removed": "@functools.lru_cache(maxsize=64)", "added": ""}, "@functools.lru_cache(maxsize=64)", ""
    )
    assert mutation.listed(
        {"removed": "x(maxsize=65)", "added": ""}, *mutation.changed_lines(diff("x(maxsize= 65)", ""))
    )


def test_every_module_and_test_named_exists():
    for module, tests in mutation.MODULES.items():
        assert (ROOT / module).is_file(), module
        assert all((ROOT / test).is_file() for test in tests), tests


def test_a_copy_of_the_tree_imports_its_own_sources(tmp_path):
    copy = mutation.fresh_copy(tmp_path / "work")
    probe = "import gap_replay.mix, gap_replay.sources.pubmed as p; print(gap_replay.mix.__file__, p.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(copy)}, check=True)  # fmt: skip
    mix, pubmed = done.stdout.split()
    assert Path(mix).is_relative_to(copy) and Path(pubmed).parent.resolve() == (copy / "sources").resolve()


SOURCE = """from __future__ import annotations


def pick(a: int | None, *rest: str | bytes, **named: float | None) -> str | None:
    table: dict[str, int | None] = {"x": a}
    return None if a is None else str(a | 1)
"""


def spec_at(line: int, start: int, end: int) -> MutationSpec:
    return MutationSpec("m.py", "core/ReplaceBinaryOperator_BitOr_Add", 0, (line, start), (line, end))


def test_mutants_inside_annotations_are_told_from_those_in_code():
    spans = mutation.annotation_spans(SOURCE)
    line4, line5, line6 = SOURCE.splitlines()[3:6]
    assert len(spans) == 5  # a, *rest, **named, the return, and the annotated assignment
    for line, text, needle in ((4, line4, "int | None"), (4, line4, "str | bytes"), (4, line4, "float | None"),
                               (4, line4, "-> str | None"), (5, line5, "int | None]")):  # fmt: skip
        bar = text.index("|", text.index(needle))
        assert mutation.in_annotation(spec_at(line, bar, bar + 1), spans), needle
    code_bar = line6.index("a | 1") + 2
    assert not mutation.in_annotation(spec_at(6, code_bar, code_bar + 1), spans)


def test_without_the_future_import_annotations_are_evaluated_and_mutated_like_code():
    assert mutation.annotation_spans(SOURCE.replace("from __future__ import annotations\n", "")) == []


def test_a_star_names_every_change_of_the_line_and_nothing_else():
    entry = {"removed": "@functools.lru_cache(maxsize=64)", "added": "*"}
    assert mutation.listed(entry, "@functools.lru_cache(maxsize=64)", "@functools.lru_cache(maxsize=65)")
    assert mutation.listed(entry, "@functools.lru_cache(maxsize=64)", "")
    assert not mutation.listed(entry, "@functools.lru_cache(maxsize=2)", "")


def test_stopping_the_runner_kills_the_runs_it_started_and_their_children(tmp_path):
    # A stand-in runner: `_run` a shell that starts a child sleeping a minute, then SIGTERM the runner.
    script = tmp_path / "runner.py"
    script.write_text(
        "import signal, sys, threading, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
        "import mutation\n"
        "signal.signal(signal.SIGTERM, mutation._stop)\n"
        "threading.Thread(target=mutation._run, args=(['sh', '-c', 'sleep 60 & echo $! > child; wait'], "
        f"{str(tmp_path)!r}, {{}}), daemon=True).start()\n"
        "time.sleep(60)\n"
    )
    runner = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    child = tmp_path / "child"
    for _ in range(100):
        if child.exists() and child.read_text().strip():
            break
        time.sleep(0.05)
    pid = int(child.read_text())
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=10) == 130
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_annotations_are_read_from_the_module_as_its_session_mutated_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    assert mutation.mutated_source("gap_replay/mix.py") == mutation.ROOT / "gap_replay/mix.py"

    copied = tmp_path / "copies" / "gap_replay_mix" / "gap_replay" / "mix.py"
    copied.parent.mkdir(parents=True)
    copied.write_text("from __future__ import annotations\n\ndef share(a: int) -> float: ...\n")

    assert mutation.mutated_source("gap_replay/mix.py") == copied

    snapshot = tmp_path / "gap_replay_mix.source"
    snapshot.write_text("from __future__ import annotations\n\ndef share(a: int) -> float: ...\n")
    copied.write_text("from __future__ import annotations\n\ndef share(a: int) -> float: ... if False else  -1\n")
    assert mutation.mutated_source("gap_replay/mix.py") == snapshot, "the copy holds a mutant while its run goes on"


def test_a_failed_run_is_pending_and_runs_again_and_a_mutant_cosmic_ray_cannot_make_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    monkeypatch.setattr(mutation, "EQUIVALENT", tmp_path / "none.toml")
    path = tmp_path / "gap_replay_mix.sqlite"
    session(path, [(Outcome.KILLED, diff("return a + b", "return a - b")), (None, ""), (None, "")])
    trace = 'File ".../site-packages/cosmic_ray/operators/exception_replacer.py", line 25, in mutate\nAttributeError'
    with use_db(str(path), WorkDB.Mode.open) as db:
        db.set_result("1", WorkResult(WorkerOutcome.EXCEPTION, trace, Outcome.INCOMPETENT, None))
        db.set_result("2", WorkResult(WorkerOutcome.EXCEPTION, "FileNotFoundError: mix.py", Outcome.INCOMPETENT, None))

    found = mutation.score("gap_replay/mix.py")
    assert (found.killed, found.equivalent, found.pending) == (1, 1, 1)
    assert mutation.forget_failed_runs(path) == 1
    with use_db(str(path), WorkDB.Mode.open) as db:
        assert [item.job_id for item in db.pending_work_items] == ["2"]


def test_a_run_keeps_the_module_as_it_was_before_any_mutant_for_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    copy = tmp_path / "copies" / "gap_replay_mix"
    (copy / "gap_replay").mkdir(parents=True)
    (copy / "tests").mkdir()
    (copy / "gap_replay" / "mix.py").write_text("def share(a: int) -> float:\n    return a / 2\n")
    (copy / "tests" / "test_mix.py").write_text("def test_share(): ...\n")
    commands = []

    def cosmic_ray(command, cwd, env, quiet=False):
        commands.append(command[1])
        if command[1] == "init":
            session(Path(command[3]), [(None, "")])
        else:  # the run mutates the copy in place
            (copy / "gap_replay" / "mix.py").write_text("def share(a: int) -> float:\n    return a / 3\n")

    monkeypatch.setattr(mutation, "_run", cosmic_ray)
    mutation.run_module("gap_replay/mix.py", copy)
    assert commands == ["init", "exec"]
    assert (tmp_path / "gap_replay_mix.source").read_text().endswith("return a / 2\n")
    assert mutation.mutated_source("gap_replay/mix.py") == tmp_path / "gap_replay_mix.source"
