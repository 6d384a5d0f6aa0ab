"""The scoring methods, each turning a task's items into predictions.

- `top_token`: the log-probability of each option's letter as the next token after the question and its options
  (the Meditron evaluation's "top token selection"); every letter must be one token of the model's tokenizer.
- `loglik`: the log-likelihood of each option's text after the question, raw and divided by the text's length in
  characters (lm-evaluation-harness's `acc` and `acc_norm`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gap_replay.eval.models import EvalModel
from gap_replay.eval.prompts import Template, draw_shots
from gap_replay.eval.scoring import continuation_logprobs, next_token_logprobs
from gap_replay.eval.tasks import Item

METHODS = ("top_token", "loglik")


@dataclass(frozen=True)
class Prediction:
    """What the model chose for one item, and why: each option's score (and, for loglik, its normalised score)."""

    task: str
    id: str
    subject: str | None
    answer: str
    chosen: str | None
    scores: dict[str, float]
    chosen_norm: str | None = None
    scores_norm: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.chosen == self.answer

    @property
    def correct_norm(self) -> bool:
        return self.chosen_norm == self.answer

    def to_dict(self) -> dict[str, Any]:
        row = {
            "task": self.task,
            "id": self.id,
            "subject": self.subject,
            "answer": self.answer,
            "chosen": self.chosen,
            "correct": self.correct,
            "scores": self.scores,
        }
        if self.scores_norm is not None:
            row.update(chosen_norm=self.chosen_norm, correct_norm=self.correct_norm, scores_norm=self.scores_norm)
        return row | self.extra


def best(scores: dict[str, float]) -> str:
    """The highest-scoring letter; a tie goes to the earliest letter, so a choice never depends on dict order."""
    return max(sorted(scores), key=lambda letter: (scores[letter], -ord(letter)))


def split_tokens(model: EvalModel, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids): the whole text's tokens split where the context's own tokens end, so the
    continuation is tokenized as it would be in running text; encoded apart when a token spans the boundary."""
    whole = model.tokenizer.encode(context + continuation)
    head = model.tokenizer.encode(context)
    if whole[: len(head)] == head and len(whole) > len(head):
        return head, whole[len(head) :]
    return head, model.tokenizer.encode(continuation)


@dataclass(frozen=True)
class Run:
    """What every method needs besides the items: the model, the prompt template, shots and their pool, the seed."""

    model: EvalModel
    template: Template
    shots: int
    seed: int
    batch_size: int
    progress: Callable[[int], None] | None = None


def top_token(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item]) -> list[Prediction]:
    prompts = [run.template.multiple_choice(item, draw_shots(item, pool, run.shots, run.seed, task)) for item in items]
    letter_ids: dict[str, int] = {}
    contexts = []
    for item, prompt in zip(items, prompts, strict=True):
        context = []
        for letter in item.letters:
            context, letter_tokens = split_tokens(run.model, prompt, run.template.choice_of(letter))
            if len(letter_tokens) != 1:
                raise ValueError(
                    f"top_token needs each answer letter to be one token: {run.template.choice_of(letter)!r} is "
                    f"{len(letter_tokens)} tokens for this tokenizer (use --method loglik)"
                )
            if letter_ids.setdefault(letter, letter_tokens[0]) != letter_tokens[0]:
                raise ValueError(f"top_token: letter {letter} is not always the same token after a prompt")
        contexts.append(context)
    if len(set(letter_ids.values())) != len(letter_ids):
        raise ValueError("top_token: two answer letters are the same token for this tokenizer (use --method loglik)")
    letters = sorted(letter_ids)
    rows = next_token_logprobs(
        run.model, contexts, [letter_ids[letter] for letter in letters], run.batch_size, run.progress
    )
    predictions = []
    for item, row in zip(items, rows, strict=True):
        by_letter = dict(zip(letters, row, strict=True))
        scores = {letter: by_letter[letter] for letter in item.letters}
        predictions.append(Prediction(task, item.id, item.subject, item.answer, best(scores), scores))
    return predictions


def loglik(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item]) -> list[Prediction]:
    requests = []
    lengths = []
    for item in items:
        prompt = run.template.cloze_prompt(item, draw_shots(item, pool, run.shots, run.seed, task))
        for _, text in item.options:
            continuation = run.template.continuation_of(text)
            requests.append(split_tokens(run.model, prompt, continuation))
            lengths.append(len(continuation))
    flat = continuation_logprobs(run.model, requests, run.batch_size, run.progress)
    predictions = []
    position = 0
    for item in items:
        count = len(item.options)
        scores = dict(zip(item.letters, flat[position : position + count], strict=True))
        norm = {
            letter: score / length
            for letter, score, length in zip(
                item.letters, scores.values(), lengths[position : position + count], strict=True
            )
        }
        position += count
        predictions.append(Prediction(task, item.id, item.subject, item.answer, best(scores), scores, best(norm), norm))
    return predictions


def requests_of(method: str, items: Sequence[Item]) -> int:
    """How many model requests a method makes for `items` (for the progress total)."""
    return sum(len(item.options) for item in items) if method == "loglik" else len(items)


SCORERS: dict[str, Callable[[Run, str, Sequence[Item], Sequence[Item]], list[Prediction]]] = {
    "top_token": top_token,
    "loglik": loglik,
}
