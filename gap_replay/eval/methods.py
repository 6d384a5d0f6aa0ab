"""The scoring methods, each turning a task's items into predictions.

- `top_token`: the log-probability of each option's letter as the next token after the question and its options
  (the Meditron evaluation's "top token selection"); every letter must be one token of the model's tokenizer.
- `loglik`: the log-likelihood of each option's text after the question, raw and divided by the text's length in
  characters (lm-evaluation-harness's `acc` and `acc_norm`).
- `cot`: a greedy chain of thought after the question and the template's `reasoning` cue, its answer read by the
  rule of `answers.extract_answer`;
- `sc_cot`: self-consistency, `samples` chains drawn at `temperature`, each from a generator seeded by the run's
  seed, the task, the item and the chain's number; the majority answer wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from gap_replay.eval.answers import extract_answer, majority
from gap_replay.eval.generate import generate
from gap_replay.eval.models import EvalModel
from gap_replay.eval.prompts import Template, draw_shots
from gap_replay.eval.scoring import continuation_logprobs, next_token_logprobs
from gap_replay.eval.tasks import Item

METHODS = ("top_token", "loglik", "cot", "sc_cot")


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


def continuation_tokens(model: EvalModel, context: str, head: list[int], continuation: str) -> list[int]:
    """The continuation's ids after `context` (whose own ids are `head`): the whole text's tokens past the context's,
    so the continuation is tokenized as in running text; encoded apart when a token spans the boundary."""
    whole = model.tokenizer.encode(context + continuation)
    if whole[: len(head)] == head and len(whole) > len(head):
        return whole[len(head) :]
    return model.tokenizer.encode(continuation)


@dataclass(frozen=True)
class Run:
    """What every method needs besides the items: the model, the prompt template, shots and their pool, the seed."""

    model: EvalModel
    template: Template
    shots: int
    seed: int
    batch_size: int
    progress: Callable[[int], None] | None = None
    max_new_tokens: int = 256
    samples: int = 5
    temperature: float = 0.7


def top_token(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item]) -> list[Prediction]:
    prompts = [run.template.multiple_choice(item, draw_shots(item, pool, run.shots, run.seed, task)) for item in items]
    letter_ids: dict[str, int] = {}
    contexts = []
    for prompt, item in zip(prompts, items, strict=True):
        context = run.model.tokenizer.encode(prompt)
        for letter in item.letters:
            letter_tokens = continuation_tokens(run.model, prompt, context, run.template.choice_of(letter))
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
        head = run.model.tokenizer.encode(prompt)  # once per item, not once per option
        for _, text in item.options:
            continuation = run.template.continuation_of(text)
            requests.append((head, continuation_tokens(run.model, prompt, head, continuation)))
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


def _chains(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item], copies: int) -> list[list[str]]:
    """`copies` generated chains per item (greedy when one, else sampled), in batches of `run.batch_size` rows."""
    template = run.template
    stops = [template.separator + template.question.split("{", 1)[0]] if template.separator else []
    rows = []
    for item in items:
        prompt = template.multiple_choice(item, draw_shots(item, pool, run.shots, run.seed, task)) + template.reasoning
        ids = run.model.tokenizer.encode(prompt)
        for copy in range(copies):
            digest = hashlib.sha256(f"{run.seed}:{task}:{item.id}:{copy}".encode()).digest()
            rows.append((ids, int.from_bytes(digest[:8], "little")))
    temperature = run.temperature if copies > 1 else 0.0
    texts: list[str] = []
    for start in range(0, len(rows), run.batch_size):
        batch = rows[start : start + run.batch_size]
        generators = [torch.Generator().manual_seed(seed) for _, seed in batch] if temperature > 0 else None
        prompts = [ids for ids, _ in batch]
        texts += generate(run.model, prompts, run.max_new_tokens, stops, temperature, generators)
        if run.progress is not None:
            run.progress(len(batch))
    return [texts[index * copies : (index + 1) * copies] for index in range(len(items))]


def cot(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item]) -> list[Prediction]:
    predictions = []
    for item, [text] in zip(items, _chains(run, task, items, pool, 1), strict=True):
        chosen, rule = extract_answer(text, item.letters)
        extra = {"generated": text, "rule": rule}
        predictions.append(Prediction(task, item.id, item.subject, item.answer, chosen, {}, extra=extra))
    return predictions


def sc_cot(run: Run, task: str, items: Sequence[Item], pool: Sequence[Item]) -> list[Prediction]:
    predictions = []
    for item, texts in zip(items, _chains(run, task, items, pool, run.samples), strict=True):
        answers = [extract_answer(text, item.letters)[0] for text in texts]
        chosen, votes = majority(answers)
        extra = {"generated": texts, "answers": answers}
        scores = {letter: float(count) for letter, count in votes.items()}
        predictions.append(Prediction(task, item.id, item.subject, item.answer, chosen, scores, extra=extra))
    return predictions


def requests_of(method: str, items: Sequence[Item], samples: int = 1) -> int:
    """How many model requests (sequences) a method makes for `items`, for the progress total."""
    if method == "loglik":
        return sum(len(item.options) for item in items)
    return len(items) * (samples if method == "sc_cot" else 1)


SCORERS: dict[str, Callable[[Run, str, Sequence[Item], Sequence[Item]], list[Prediction]]] = {
    "top_token": top_token,
    "loglik": loglik,
    "cot": cot,
    "sc_cot": sc_cot,
}
