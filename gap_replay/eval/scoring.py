"""Log-likelihood scoring in padded batches: the log-probability of a continuation after a context, and the
next-token log-probabilities after a context.

A request is (context ids, continuation ids); the model's BOS (when it has one) starts every sequence, and a
sequence longer than the model's context keeps its last tokens, as lm-evaluation-harness does. Requests are
batched longest first, so a batch pads little, and answers come back in request order. The log-softmax and the
sums are taken in float64 over the positions scored, so a long continuation's sum keeps its digits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

from gap_replay.eval.models import EvalModel

Request = tuple[list[int], list[int]]


def _sequence(model: EvalModel, context: list[int], continuation: list[int]) -> list[int]:
    """BOS + context + continuation, cut from the left to the model's length (keeping at least the continuation)."""
    ids = ([model.bos_id] if model.bos_id is not None else []) + context + continuation
    if len(continuation) >= model.max_length:
        raise ValueError(f"a continuation of {len(continuation)} tokens does not fit the model's {model.max_length}")
    if len(ids) == len(continuation):
        raise ValueError("nothing to predict from: the context is empty and the model has no BOS token")
    return ids[-model.max_length :]


def _batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Request indexes in batches of `batch_size`, longest first (ties in request order)."""
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _padded(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (padding id 0) and the mask of real tokens."""
    width = max(map(len, sequences))
    ids = torch.zeros(len(sequences), width, dtype=torch.long)
    mask = torch.zeros(len(sequences), width, dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = True
    return ids, mask


def continuation_logprobs(
    model: EvalModel,
    requests: Sequence[Request],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """The summed log-probability of each request's continuation given its context."""
    sequences = [_sequence(model, context, continuation) for context, continuation in requests]
    scores = [0.0] * len(requests)
    for batch in _batches([len(sequence) for sequence in sequences], batch_size):
        ids, mask = _padded([sequences[index] for index in batch])
        logits = model.logits(ids, mask)
        for row, index in enumerate(batch):
            length, taken = len(sequences[index]), len(requests[index][1])
            targets = ids[row, length - taken : length].to(logits.device)
            predicted = torch.log_softmax(logits[row, length - taken - 1 : length - 1].double(), dim=-1)
            scores[index] = float(predicted.gather(1, targets[:, None]).sum())
        if progress is not None:
            progress(len(batch))
    return scores


def next_token_logprobs(
    model: EvalModel,
    contexts: Sequence[list[int]],
    token_ids: Sequence[int],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """For each context, the log-probability (over the whole vocabulary) of each of `token_ids` coming next."""
    sequences = [_sequence(model, context, []) for context in contexts]
    wanted = torch.tensor(list(token_ids), dtype=torch.long)
    scores: list[list[float]] = [[] for _ in contexts]
    for batch in _batches([len(sequence) for sequence in sequences], batch_size):
        ids, mask = _padded([sequences[index] for index in batch])
        logits = model.logits(ids, mask)
        last = torch.tensor([len(sequences[index]) - 1 for index in batch], device=logits.device)
        predicted = torch.log_softmax(logits[torch.arange(len(batch), device=logits.device), last].double(), dim=-1)
        chosen = predicted[:, wanted.to(logits.device)].cpu()
        for row, index in enumerate(batch):
            scores[index] = [float(value) for value in chosen[row]]
        if progress is not None:
            progress(len(batch))
    return scores
