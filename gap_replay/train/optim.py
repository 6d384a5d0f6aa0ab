"""AdamW with decoupled weight decay where it belongs, and the learning-rate schedules (warmup + cosine, WSD)."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from gap_replay.train.config import OptimConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: matrices decay; norm gains and biases (1-D) and a tied embedding do not.

    A tied embedding is also the output layer, and decaying rows of rare tokens toward zero hurts both uses.
    """
    tied = getattr(getattr(model, "args", None), "tie_embeddings", False)
    embedding = model.get_submodule("model.embed_tokens").weight if tied else None
    decay, no_decay = [], []
    for parameter in model.parameters():  # parameters() yields a tied weight once
        if not parameter.requires_grad:
            continue
        if parameter.ndim < 2 or parameter is embedding:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, config: OptimConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over `param_groups`; the fused kernel on CUDA."""
    return torch.optim.AdamW(
        param_groups(model, config.weight_decay),
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        fused=device.type == "cuda",
    )


def lr_at(step: int, config: OptimConfig, total_steps: int) -> float:
    """Learning rate of update `step` (0-based): linear warmup to `lr`, then the schedule down to `min_lr`.

    Warmup reaches the peak at its last step (step warmup_steps - 1). Cosine decays over the remaining steps and
    arrives at min_lr at total_steps; WSD holds the peak, then decays linearly over the last decay_fraction.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        span = max(total_steps - config.warmup_steps, 1)
        progress = min((step - config.warmup_steps) / span, 1.0)
        return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    decay_steps = max(round(config.decay_fraction * total_steps), 1)
    decay_start = max(total_steps - decay_steps, config.warmup_steps)
    if step < decay_start:
        return config.lr
    progress = min((step - decay_start) / max(total_steps - decay_start, 1), 1.0)
    return config.lr + (config.min_lr - config.lr) * progress


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR over `lr_at`, so the schedule's position is saved and restored with the optimizer."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(_factor, config=config, total_steps=total_steps))


def _factor(step: int, config: OptimConfig, total_steps: int) -> float:
    return lr_at(step, config, total_steps) / config.lr
