"""Batched generation with a key-value cache, greedy or sampled, for chain-of-thought answers.

Prompts are left-padded to one width, so every row's next token comes from the same last column; positions count
real tokens only, and padding is never attended to. A row stops at EOS, at a stop string, or after
`max_new_tokens`. Sampling draws each row from its own seeded generator on the CPU, so a row's text does not depend
on its batch-mates or on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gap_replay.eval.models import EvalModel


def _left_padded(prompts: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, prompts))
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    real = torch.zeros(len(prompts), width, dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        real[row, width - len(prompt) :] = True
    return ids, real


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """The text up to the first stop string, and whether one was there."""
    ends = [text.find(stop) for stop in stops if stop and stop in text]
    return (text[: min(ends)], True) if ends else (text, False)


def generate(
    model: EvalModel,
    prompts: Sequence[list[int]],
    max_new_tokens: int,
    stops: Sequence[str] = (),
    temperature: float = 0.0,
    generators: Sequence[torch.Generator] | None = None,
) -> list[str]:
    """The text each prompt's continuation decodes to (cut before any stop string). `temperature` 0 is greedy;
    above it, `generators` (one per prompt) draw the tokens."""
    if temperature > 0 and (generators is None or len(generators) != len(prompts)):
        raise ValueError("sampling needs one generator per prompt")
    room = model.max_length - max_new_tokens
    if room < 2:
        raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for a prompt in {model.max_length} tokens")
    bos = [model.bos_id] if model.bos_id is not None else []
    prompts = [(bos + list(prompt))[-room:] for prompt in prompts]
    ids, real = _left_padded(prompts)
    state = model.start(len(prompts), ids.shape[1] + max_new_tokens)
    positions = (real.long().cumsum(dim=1) - 1).clamp(min=0)
    logits = model.extend(state, ids, positions, real)[:, -1]
    next_position = positions[:, -1] + 1
    produced: list[list[int]] = [[] for _ in prompts]
    texts = [""] * len(prompts)  # with stop strings: each row's text so far, cut at the first stop
    done = [False] * len(prompts)
    for _ in range(max_new_tokens):
        if temperature > 0:
            probabilities = torch.softmax(logits.double().cpu() / temperature, dim=-1)
            chosen = [
                int(torch.multinomial(probabilities[row], 1, generator=generators[row])) for row in range(len(prompts))
            ]
        else:
            chosen = logits.argmax(dim=-1).tolist()
        for row, token in enumerate(chosen):
            if done[row]:
                continue
            if token == model.eos_id:
                done[row] = True
                continue
            produced[row].append(token)
            if stops:  # only a stop string needs the text at every step
                texts[row], done[row] = _cut_at_stop(model.tokenizer.decode(produced[row]), stops)
        if all(done):
            break
        step = torch.tensor(chosen, dtype=torch.long)[:, None]
        logits = model.extend(state, step, next_position[:, None], torch.ones_like(step, dtype=torch.bool))[:, -1]
        next_position = next_position + 1
    return texts if stops else [model.tokenizer.decode(tokens) for tokens in produced]
