"""Prompts from a template file: the instruction, the shots and the item, in one layout per scoring method.

The template is a small YAML file (`templates/multiple_choice.yaml` is the default); its sha256 is recorded with
the results. Shots come from a separate file when given, else from the task's own items without the item itself,
drawn by a seed and the item's id, so an item's prompt does not depend on which other items are evaluated.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from gap_replay.eval.tasks import Item

DEFAULT_TEMPLATE = "multiple_choice.yaml"
# Each part of a template and the fields it may use.
FIELDS = {
    "instruction": set(),
    "separator": set(),
    "question": {"question", "options"},
    "option": {"letter", "text"},
    "choice": {"letter"},
    "cloze": {"question"},
    "continuation": {"text"},
    "reasoning": set(),
}


@dataclass(frozen=True)
class Template:
    """The parts of a prompt (see FIELDS), where they were read from and the sha256 of that file."""

    instruction: str
    separator: str
    question: str
    option: str
    choice: str
    cloze: str
    continuation: str
    reasoning: str
    path: str
    sha256: str

    def options(self, item: Item) -> str:
        return "\n".join(self.option.format(letter=letter, text=text) for letter, text in item.options)

    def question_of(self, item: Item) -> str:
        return self.question.format(question=item.question, options=self.options(item))

    def choice_of(self, letter: str) -> str:
        return self.choice.format(letter=letter)

    def continuation_of(self, text: str) -> str:
        return self.continuation.format(text=text)

    def multiple_choice(self, item: Item, shots: Sequence[Item]) -> str:
        """The prompt whose next token is the answer letter (top_token) or the reasoning (cot)."""
        parts = [self.question_of(shot) + self.choice_of(shot.answer) for shot in shots]
        return self._joined([*parts, self.question_of(item)])

    def cloze_prompt(self, item: Item, shots: Sequence[Item]) -> str:
        """The prompt after which each option's continuation is scored (loglik)."""
        answer = {shot.id: dict(shot.options)[shot.answer] for shot in shots}
        parts = [self.cloze.format(question=shot.question) + self.continuation_of(answer[shot.id]) for shot in shots]
        return self._joined([*parts, self.cloze.format(question=item.question)])

    def _joined(self, parts: list[str]) -> str:
        return self.separator.join([self.instruction, *parts] if self.instruction else parts)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def parse_template(data: bytes, path: str) -> Template:
    """A Template from a YAML file's bytes; an error naming the file and the part that is wrong."""
    try:
        parts = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not YAML: {error}") from error
    if not isinstance(parts, dict):
        raise ValueError(f"{path}: a template is a mapping of its parts ({', '.join(FIELDS)})")
    unknown = sorted(set(parts) - set(FIELDS))
    missing = sorted(set(FIELDS) - set(parts))
    problems = [f"{label} part(s) {names}" for label, names in (("missing", missing), ("unknown", unknown)) if names]
    if problems:
        raise ValueError(f"{path}: {', '.join(problems)}")
    for name, allowed in FIELDS.items():
        if not isinstance(parts[name], str):
            raise ValueError(f"{path}: {name} must be text")
        try:
            used = _fields(parts[name])
        except ValueError as error:
            raise ValueError(f"{path}: {name}: {error}") from error
        if used - allowed:
            raise ValueError(f"{path}: {name} uses {sorted(used - allowed)}; it may use {sorted(allowed) or 'none'}")
    return Template(**parts, path=path, sha256=hashlib.sha256(data).hexdigest())


def load_template(path: str | None = None) -> Template:
    """The template file at `path`, else the bundled default."""
    if path is None:
        data = resources.files("gap_replay.eval").joinpath("templates", DEFAULT_TEMPLATE).read_bytes()
        return parse_template(data, f"(bundled) {DEFAULT_TEMPLATE}")
    return parse_template(Path(path).read_bytes(), path)


def draw_shots(item: Item, pool: Sequence[Item], shots: int, seed: int, task: str) -> list[Item]:
    """`shots` items of `pool` other than `item` (by id), drawn by `seed`, the task and the item's id."""
    if shots == 0:
        return []
    candidates = [candidate for candidate in pool if candidate.id != item.id]
    if len(candidates) < shots:
        raise ValueError(f"{task}: {shots} shots asked, but only {len(candidates)} other items to draw them from")
    return random.Random(f"{seed}:{task}:{item.id}").sample(candidates, shots)
