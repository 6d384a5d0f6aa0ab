"""The benchmark tasks and their items: multiple-choice rows read from JSONL or a Hugging Face dataset folder.

A row is as in the local copies (`question`, `options` as {"A": text, ...} or a list, `answer_idx` the correct
letter, `realidx` the benchmark's id, `subject` for MMLU). A row that cannot be scored is an error naming the file,
the row and the reason: a benchmark silently shrunk would change every score computed from it.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gap_replay.benchmarks import Row, benchmark_rows

TASKS = ("medqa", "medmcqa", "pubmedqa", "mmlu_medical")
LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class Item:
    """One question: its id, text, options in order as (letter, text), the correct letter, and its subject."""

    id: str
    question: str
    options: tuple[tuple[str, str], ...]
    answer: str
    subject: str | None = None

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(letter for letter, _ in self.options)


@dataclass(frozen=True)
class TaskData:
    """A task's items as read from one file, and that file's path and sha256."""

    name: str
    path: str
    sha256: str
    items: tuple[Item, ...]


def _options(value: Any) -> tuple[tuple[str, str], ...]:
    """Options as (letter, text): a mapping keeps its letters in letter order; a list is lettered A, B, ..."""
    if isinstance(value, Mapping):
        pairs = sorted((str(letter).strip(), str(text)) for letter, text in value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) > len(LETTERS):
            raise ValueError(f"{len(value)} options: at most {len(LETTERS)} can be lettered")
        pairs = [(LETTERS[index], str(text)) for index, text in enumerate(value)]
    else:
        raise ValueError(f"options must be a mapping of letters to texts or a list, not {type(value).__name__}")
    if len(pairs) < 2:
        raise ValueError(f"{len(pairs)} option(s): a question needs at least two")
    for letter, text in pairs:
        if len(letter) != 1 or letter not in LETTERS:
            raise ValueError(f"option key {letter!r} is not one capital letter")
        if not text.strip():
            raise ValueError(f"option {letter} is empty")
    return tuple(pairs)


def item_from_row(item_id: str, row: Mapping[str, Any]) -> Item:
    """The Item of one benchmark row; ValueError saying what is wrong with it."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question text")
    options = _options(row.get("options"))
    answer = str(row.get("answer_idx", "")).strip()
    letters = [letter for letter, _ in options]
    if answer not in letters:
        raise ValueError(f"answer_idx {row.get('answer_idx')!r} is not one of the options {letters}")
    subject = row.get("subject")
    return Item(item_id, question.strip(), options, answer, str(subject) if subject is not None else None)


def items_from_rows(rows: Sequence[Row], where: str) -> tuple[Item, ...]:
    """Items of every row; the first bad row is an error naming `where` and the row's id."""
    items = []
    for item_id, row in rows:
        try:
            items.append(item_from_row(item_id, row))
        except ValueError as error:
            raise ValueError(f"{where}: item {item_id}: {error}") from error
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"{where}: item id {item.id} appears twice; predictions are keyed by it")
        seen.add(item.id)
    return tuple(items)


def load_task(name: str, path: str) -> TaskData:
    """A task's items from a JSONL file or dataset folder."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: one of {', '.join(TASKS)}")
    rows, sha256 = benchmark_rows(path)
    items = items_from_rows(rows, path)
    if not items:
        raise ValueError(f"{path}: no items")
    return TaskData(name, path, sha256, items)


def sample_items(items: Sequence[Item], count: int | None, seed: int, task: str) -> tuple[Item, ...]:
    """`count` of the items drawn by the seed and the task, in file order; all of them when `count` is None or
    covers them. A benchmark file is often ordered (by answer, by subject), so its first items are no sample."""
    if count is None or count >= len(items):
        return tuple(items)
    chosen = sorted(random.Random(f"{seed}:{task}:sample").sample(range(len(items)), count))
    return tuple(items[index] for index in chosen)
