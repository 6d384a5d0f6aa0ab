"""Mixing rules as pure functions: stable hashes for split and shuffle, epochs, and replay by token share.

Everything is a function of (seed, id), so a rerun, on any runner and any number of workers, makes the same choices.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable


def stable_unit(seed: int, purpose: str, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, purpose, key): the project's only source of randomness.

    It is the BLAKE2b-64 of `<seed>\\0<purpose>\\0<key>` over 2**64; the hash of the first two parts is kept and
    copied for each key (build draws three numbers a document)."""
    digest = _hashed_prefix(seed, purpose).copy()
    digest.update(key.encode())
    return int.from_bytes(digest.digest(), "big") / 2**64


@functools.lru_cache(maxsize=64)
def _hashed_prefix(seed: int, purpose: str) -> hashlib.blake2b:
    return hashlib.blake2b(f"{seed}\x00{purpose}\x00".encode(), digest_size=8)


def split_of(doc_id: str, seed: int, valid_fraction: float) -> str:
    """`valid` for a stable `valid_fraction` of ids, else `train`; the same id always lands in the same split."""
    return "valid" if stable_unit(seed, "split", doc_id) < valid_fraction else "train"


def epoch_copies(doc_id: str, epochs: float, seed: int) -> int:
    """How many times a document is repeated: the whole part of `epochs`, plus one more for a stable fraction."""
    whole = math.floor(epochs)
    if whole == epochs:  # no fraction to draw against: every document gets the same copies
        return whole
    return whole + (1 if stable_unit(seed, "epoch", doc_id) < epochs - whole else 0)


def replay_target(medical_tokens: int, share: float) -> int:
    """Replay tokens so that replay is `share` of all tokens: r / (1 - r) times the medical tokens."""
    return math.ceil(medical_tokens * share / (1.0 - share)) if share > 0 else 0


def replay_threshold(candidates: Iterable[tuple[float, int]], target_tokens: int) -> float:
    """Replay documents are taken in order of their stable draw until `target_tokens` are reached.

    `candidates` are (draw, tokens) pairs; the result is the largest draw taken (-1 when none is), so selection is
    `draw <= threshold`: a token share, not a document share (the reference sampled documents, and missed it).
    """
    if target_tokens <= 0:
        return -1.0
    total = 0
    threshold = -1.0
    for draw, tokens in sorted(candidates):
        threshold = draw
        total += tokens
        if total >= target_tokens:
            break
    return threshold


def shard_count(total_tokens: int, tokens_per_shard: int) -> int:
    return max(1, math.ceil(total_tokens / tokens_per_shard))
