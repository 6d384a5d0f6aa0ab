"""Near duplicates: MinHash signatures of word n-gram shingles, LSH band keys, and connected components.

Two texts whose signatures agree on every row of some band become candidates (the Beam shuffle groups them by
band key); candidate pairs are edges, and each connected component is one cluster of near duplicates. Shingles
are taken from `normalize_for_exact`, so case and punctuation do not matter but numbers do ("5 mg" != "50 mg").
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

import numpy as np
from datasketch import MinHash

from gap_replay.dedup.exact import normalize_for_exact
from gap_replay.recipe import MinHashConfig

# 64-bit affine permutations: hash values are uint64 and do not saturate on very long documents.
SCHEME = "affine64"
# Shingles permuted at once: bounds the (shingles x num_perm) uint64 matrix to a few MB on long texts.
BATCH = 4096
# Odd 64-bit multiplier that folds the word hashes of an n-gram into one value (arithmetic wraps modulo 2**64).
_MIX = np.uint64(0x9E3779B97F4A7C15)
# MurmurHash3 fmix64 constants.
_SHIFT = np.uint64(33)
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)


def shingles(text: str, ngram: int) -> list[bytes]:
    """Word n-grams of the normalised text as UTF-8; a text shorter than n words is one shingle of all its words."""
    words = normalize_for_exact(text).split()
    if len(words) <= ngram:
        return [" ".join(words).encode("utf-8")] if words else []
    return [" ".join(words[start : start + ngram]).encode("utf-8") for start in range(len(words) - ngram + 1)]


@functools.lru_cache(maxsize=1 << 20)
def _word_hash(word: str) -> int:
    """A stable 64-bit hash of one word (Python's own `hash` changes with every process)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """64-bit hashes of the word n-grams of `shingles`, computed from per-word hashes in numpy rather than by
    hashing every shingle's bytes: the same shingles give the same values, at a fraction of the cost."""
    return normalized_shingle_hashes(normalize_for_exact(text), ngram)


def normalized_shingle_hashes(normalized: str, ngram: int) -> np.ndarray:
    """`shingle_hashes` of a text already normalised (`normalize_for_exact`)."""
    return word_shingle_hashes(normalized.split(), ngram)


def word_shingle_hashes(words: list[str], ngram: int) -> np.ndarray:
    """`shingle_hashes` of the words of a normalised text (`normalized_words`)."""
    if not words:
        return np.empty(0, dtype=np.uint64)
    hashes = np.array(list(map(_word_hash, words)), dtype=np.uint64)
    span = min(ngram, len(words))
    count = len(words) - span + 1
    combined = hashes[:count].copy()
    for offset in range(1, span):
        combined *= _MIX
        combined += hashes[offset : offset + count]
    return combined


@functools.lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> np.ndarray:
    """The (a, b) permutation parameters of MinHash(num_perm, seed), generated once per process, not per document."""
    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations


@functools.lru_cache(maxsize=8)
def _columns(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutation parameters as (num_perm, 1) columns: a permutation's values over the shingles lie in a row,
    whose minimum numpy takes along contiguous memory."""
    multipliers, offsets = _permutations(num_perm, seed)
    return multipliers[:, np.newaxis].copy(), offsets[:, np.newaxis].copy()


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, the bijection datasketch's `affine64` scheme mixes each input hash with."""
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX_1
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX_2
    return values ^ (values >> _SHIFT)


def signature(text: str, config: MinHashConfig) -> np.ndarray:
    """The MinHash signature of the text's shingles: `num_perm` uint64 values; an empty text gives all-max values."""
    return hashes_signature(shingle_hashes(text, config.ngram), config)


def hashes_signature(hashes: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """The MinHash signature of shingles already hashed (`shingle_hashes`), as datasketch's `affine64` MinHash gives
    it (its permutations; each hash mixed once, then `a * h + b` wrapping modulo 2**64, the minimum per
    permutation), computed in numpy on the array: a caller that needs the shingles too hashes the text once."""
    multipliers, offsets = _columns(config.num_perm, config.seed)
    minimum = np.full(config.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    mixed = _fmix64(hashes.astype(np.uint64, copy=False))
    for start in range(0, len(mixed), BATCH):
        values = multipliers * mixed[np.newaxis, start : start + BATCH]
        values += offsets
        np.minimum(minimum, values.min(axis=1), out=minimum)
    return minimum


def shingle_set(hashes: np.ndarray) -> np.ndarray:
    """The distinct shingle hashes, sorted: the set whose Jaccard similarity MinHash estimates."""
    return np.unique(hashes)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The exact Jaccard similarity of two shingle sets (`shingle_set`): shared over all; two empty sets are equal.
    Shingles are compared by 64-bit hash, so two different shingles count as one with odds of about 2**-64."""
    both = len(a) + len(b)
    if both == 0:
        return 1.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (both - shared)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[tuple[int, bytes]]:
    """(band index, 16-byte digest of the band's rows) for each band: equal keys make two texts LSH candidates."""
    if len(sig) != bands * rows:
        raise ValueError(f"signature has {len(sig)} values, but {bands} bands x {rows} rows need {bands * rows}")
    data = np.ascontiguousarray(sig, dtype="<u8").tobytes()
    width = rows * 8
    return [
        (band, hashlib.blake2b(data[band * width : (band + 1) * width], digest_size=16).digest())
        for band in range(bands)
    ]


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of signature rows on which two texts agree: an estimate of their shingles' Jaccard similarity."""
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"signatures must be non-empty and of equal length, got {len(a)} and {len(b)}")
    return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


def connected_components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every node of the edges mapped to its component's smallest id (union-find with path compression)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    for left, right in edges:
        parent.setdefault(left, left)
        parent.setdefault(right, right)
        left_root, right_root = find(left), find(right)
        if left_root != right_root:
            # The smaller root wins, so every root stays the smallest id of its component.
            small, large = sorted((left_root, right_root))
            parent[large] = small
    return {node: find(node) for node in parent}
