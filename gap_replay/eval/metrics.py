"""Accuracy with a bootstrap 95% interval, per task and per subject (MMLU-medical's six).

The interval is the 2.5th and 97.5th percentiles of the accuracy over `resamples` resamplings of the items with
replacement, drawn by a seed, so it is the same on every rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gap_replay.eval.methods import Prediction

RESAMPLES = 1000
DIGITS = 6  # figures are rounded so results.json reads the same wherever the float sums ran


def accuracy(correct: Sequence[bool]) -> float:
    if not correct:
        raise ValueError("accuracy of no items")
    return sum(correct) / len(correct)


def bootstrap_interval(correct: Sequence[bool], resamples: int, seed: int) -> tuple[float, float]:
    """The percentile bootstrap 95% interval of the accuracy of `correct`."""
    if resamples < 1:
        raise ValueError("the bootstrap needs at least one resample")
    outcomes = np.asarray(correct, dtype=np.float64)
    draws = np.random.default_rng(seed).integers(0, len(outcomes), size=(resamples, len(outcomes)))
    means = outcomes[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(low), DIGITS), round(float(high), DIGITS)


def _figures(correct: Sequence[bool], resamples: int, seed: int) -> dict[str, Any]:
    low, high = bootstrap_interval(correct, resamples, seed)
    return {
        "items": len(correct),
        "correct": sum(correct),
        "accuracy": round(accuracy(correct), DIGITS),
        "ci95": [low, high],
    }


def _group(predictions: Sequence[Prediction], resamples: int, seed: int) -> dict[str, Any]:
    """Accuracy and its interval, and the length-normalised ones when the method has them."""
    figures = _figures([p.correct for p in predictions], resamples, seed)
    if all(p.scores_norm is not None for p in predictions):
        figures["norm"] = _figures([p.correct_norm for p in predictions], resamples, seed)
    unanswered = sum(p.chosen is None for p in predictions)
    if unanswered:
        figures["unanswered"] = unanswered
    return figures


def summarize(predictions: Sequence[Prediction], resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """One task's figures over all its items, and the same by subject when items have one."""
    summary = _group(predictions, resamples, seed)
    subjects = sorted({p.subject for p in predictions if p.subject is not None})
    if subjects:
        summary["subjects"] = {
            subject: _group([p for p in predictions if p.subject == subject], resamples, seed) for subject in subjects
        }
    return summary
