"""Benchmark decontamination, the text side: an index of benchmark items' word n-grams, the items a text holds
(candidates by shared n-gram, then verified by coverage), the matched spans cut with a margin, and the report.

Words are those of `normalize_for_exact` (NFKC, case-folded, punctuation and whitespace collapsed, digits kept),
taken whitespace token by token so that every word keeps the character span of the token it came from: a cut then
removes whole tokens of the original text.

What is indexed of a benchmark row (`item_texts`), with n the n-gram length:
- its question, and each option, when it has at least n words (shorter ones are phrases ordinary text shares);
- its options in order, plain and with their letters ("A ... B ..."), when that has at least n words, so a text
  that lists the options without the question is found;
- a question shorter than n words is never indexed alone (a stock phrase); it is indexed followed by its options
  (plain and lettered) instead. When one of those is shorter than n words, it is one "whole" gram of all its
  words: present only when a text holds that exact run. An item whose question and options have fewer than
  `MIN_WHOLE_WORDS` words (letters not counted) is not indexed.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gap_replay.dedup.exact import normalize_for_exact
from gap_replay.recipe import DecontaminationConfig

# A short item (below one n-gram, question and options together) with fewer words than this is not indexed: a run
# of a few words ("is it yes no") is not evidence that a text holds a benchmark item.
MIN_WHOLE_WORDS = 6
# The index's prefilter: a bit per value of a gram hash's low FILTER_BITS bits, set for the grams indexed. Most of a
# clean text's grams miss it, so only the few that hit are looked up among the sorted keys (1 MiB at 23 bits).
FILTER_BITS = 23
# Odd 64-bit multiplier folding word hashes into an n-gram hash (arithmetic wraps modulo 2**64).
_MIX = np.uint64(0x9E3779B97F4A7C15)
_TOKEN = re.compile(r"\S+")
# What is left either side of a cut is joined by a blank line: a cut is a paragraph break, never a spliced sentence.
_SEPARATOR = "\n\n"
# Removals, counted as `<source>/decontamination/[<benchmark>/]<action>/<unit>`: a document dropped for an item
# (`drop`), an item cut out of a kept document (`cut`), a document dropped by an id blocklist (`id`); units are
# documents and tokens, the latter meaning the removed text's whitespace-separated words, not a tokenizer's tokens.
KIND = "decontamination"
# A source's action when the recipe's `action` does not name it: dropping is the safe side.
DEFAULT_ACTION = "drop"
ACTIONS = ("drop", "cut", "id")
UNITS = ("documents", "tokens")
TOKEN_UNIT = "whitespace-separated words"


@functools.lru_cache(maxsize=1 << 18)
def _token_words(token: str) -> tuple[int, ...]:
    """Stable 64-bit hashes of the normalised words of one whitespace token (usually one, none for punctuation)."""
    return tuple(
        int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        for word in normalize_for_exact(token).split()
    )


def word_hashes(text: str) -> np.ndarray:
    """The hashes of the text's normalised words, in order."""
    return np.fromiter(itertools.chain.from_iterable(map(_token_words, text.split())), dtype=np.uint64)


def word_spans(text: str) -> list[tuple[int, int]]:
    """The character span of each normalised word of the text: that of the whitespace token it came from
    (`str.split` and `\\S+` agree on what whitespace is)."""
    spans: list[tuple[int, int]] = []
    for token in _TOKEN.finditer(text):
        spans += [token.span()] * len(_token_words(token.group()))
    return spans


def word_count(text: str) -> int:
    """How many normalised words the text has."""
    return sum(len(_token_words(token)) for token in text.split())


def gram_hashes(words: np.ndarray, lengths: Iterable[int]) -> dict[int, np.ndarray]:
    """Hashes of every run of `length` consecutive words, for each length (none when the text is shorter). Runs of
    k + 1 words extend those of k, so all lengths up to the longest take one pass."""
    wanted = set(lengths)
    grams: dict[int, np.ndarray] = {}
    combined = np.zeros(len(words), dtype=np.uint64)
    for length in range(1, min(max(wanted, default=0), len(words)) + 1):
        combined = combined[: len(words) - length + 1] * _MIX + words[length - 1 :]
        if length in wanted:
            grams[length] = combined
    return grams


def _options(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(letter, text) of a row's options: a {"A": ...} mapping, a list of texts, or a list of {key, value}."""
    options = row.get("options") or {}
    if isinstance(options, Mapping):
        pairs = sorted((str(key), value) for key, value in options.items())
    else:
        pairs = [
            (str(option["key"]), option["value"]) if isinstance(option, Mapping) else (chr(ord("A") + number), option)
            for number, option in enumerate(options)
        ]
    return [(letter, str(text)) for letter, text in pairs if text is not None and str(text).strip()]


def item_texts(row: Mapping[str, Any], ngram: int) -> list[tuple[str, str]]:
    """(label, text) of what is indexed of one benchmark row, by the rule in the module docstring."""
    question = str(row.get("question") or "").strip()
    options = _options(row)
    plain = " ".join(text for _, text in options)
    lettered = " ".join(f"{letter} {text}" for letter, text in options)
    texts = [(f"option {letter}", text) for letter, text in options if word_count(text) >= ngram]
    if word_count(question) >= ngram:
        blocks = [("options", plain), ("lettered options", lettered)]
        texts = [
            ("question", question),
            *texts,
            *((label, text) for label, text in blocks if word_count(text) >= ngram),
        ]
    else:
        blocks = [
            ("question and options", f"{question} {plain}"),
            ("question and lettered options", f"{question} {lettered}"),
        ]
        if word_count(blocks[0][1]) >= MIN_WHOLE_WORDS:
            texts += [(label, text.strip()) for label, text in blocks]
    unique: dict[str, tuple[str, str]] = {}
    for label, text in texts:
        unique.setdefault(normalize_for_exact(text), (label, text))
    return list(unique.values())


@dataclass(frozen=True)
class Benchmark:
    """One benchmark as read: its rows as (item id, row) and the file they came from, and the ids whose documents
    (`id_prefix` + id) must not enter the corpus, with the file they came from."""

    name: str
    path: str
    sha256: str
    rows: Sequence[tuple[str, Mapping[str, Any]]]
    ids: Sequence[str] = ()
    ids_path: str | None = None
    ids_sha256: str | None = None
    id_prefix: str = "pubmed:"


@dataclass(frozen=True)
class Part:
    """One indexed text of a benchmark item, and how many distinct grams it has."""

    benchmark: str
    item: str
    label: str
    grams: int


@dataclass(frozen=True)
class Match:
    """A part a text holds: the share of its grams the text holds, the text's word runs [start, end) that hold
    them (runs of one part closer than one n-gram are one run) and the text of those runs."""

    part: Part
    coverage: float
    runs: tuple[tuple[int, int], ...]
    text: str


@dataclass(frozen=True, eq=False)
class Index:
    """Every indexed part's grams: `keys` (sorted, distinct) map to parts `owners[starts[k]:starts[k + 1]]`, and
    `prefilter` has the bits of their low FILTER_BITS bits set. `lengths` are the gram lengths in use (n, and the
    lengths of short whole items); `blocked` maps a blocked document id to (benchmark, id); `benchmarks` describe
    what was indexed, for the report."""

    ngram: int
    parts: tuple[Part, ...]
    keys: np.ndarray
    starts: np.ndarray
    owners: np.ndarray
    prefilter: np.ndarray
    lengths: tuple[int, ...]
    blocked: Mapping[str, tuple[str, str]]
    benchmarks: tuple[dict[str, Any], ...]

    def candidates(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `hashes`, positions in `keys`) of the hashes that are indexed keys."""
        low = hashes & np.uint64((1 << FILTER_BITS) - 1)
        maybe = np.flatnonzero((self.prefilter[low >> np.uint64(3)] >> (low & np.uint64(7)).astype(np.uint8)) & 1)
        found = np.minimum(np.searchsorted(self.keys, hashes[maybe]), len(self.keys) - 1)
        hit = self.keys[found] == hashes[maybe]
        return maybe[hit], found[hit]


def _part_grams(text: str, ngram: int) -> np.ndarray:
    """The distinct grams of one indexed text: its n-grams, or one gram of all its words when it is shorter."""
    words = word_hashes(text)
    length = min(ngram, len(words))
    return np.unique(gram_hashes(words, [length])[length])


def build_index(benchmarks: Sequence[Benchmark], ngram: int) -> Index:
    """The index of every benchmark's items (by `item_texts`) and id blocklists; the same input gives the same
    index, whatever the process."""
    parts: list[Part] = []
    keys: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    lengths = {ngram}
    blocked: dict[str, tuple[str, str]] = {}
    described = []
    for benchmark in benchmarks:
        first_part, items = len(parts), 0
        for item, row in benchmark.rows:
            texts = item_texts(row, ngram)
            items += bool(texts)
            for label, text in texts:
                grams = _part_grams(text, ngram)
                lengths.add(min(ngram, word_count(text)))
                keys.append(grams)
                owners.append(np.full(len(grams), len(parts), dtype=np.int32))
                parts.append(Part(benchmark.name, item, label, len(grams)))
        for document_id in benchmark.ids:
            blocked.setdefault(benchmark.id_prefix + document_id, (benchmark.name, document_id))
        own = np.concatenate(keys[first_part:]) if len(parts) > first_part else np.empty(0, dtype=np.uint64)
        described.append(
            {
                "name": benchmark.name,
                "path": benchmark.path,
                "sha256": benchmark.sha256,
                "rows": len(benchmark.rows),
                "items": items,
                "parts": len(parts) - first_part,
                "ngrams": len(np.unique(own)),
                "ids": None
                if benchmark.ids_path is None
                else {"path": benchmark.ids_path, "sha256": benchmark.ids_sha256, "count": len(set(benchmark.ids))},
            }
        )
    all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
    all_owners = np.concatenate(owners) if owners else np.empty(0, dtype=np.int32)
    order = np.lexsort((all_owners, all_keys))
    distinct, starts = np.unique(all_keys[order], return_index=True)
    low = distinct & np.uint64((1 << FILTER_BITS) - 1)
    bits = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
    np.bitwise_or.at(bits, low >> np.uint64(3), np.left_shift(1, low & np.uint64(7)).astype(np.uint8))
    return Index(
        ngram=ngram,
        parts=tuple(parts),
        keys=distinct,
        starts=np.append(starts, len(order)).astype(np.int64),
        owners=all_owners[order],
        prefilter=bits,
        lengths=tuple(sorted(lengths)),
        blocked=blocked,
        benchmarks=tuple(described),
    )


def _runs(windows: list[tuple[int, int]], ngram: int) -> tuple[tuple[int, int], ...]:
    """Word windows [start, end) merged into runs where fewer than `ngram` words part them."""
    runs: list[list[int]] = []
    for start, end in sorted(windows):
        if runs and start - runs[-1][1] < ngram:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return tuple((start, end) for start, end in runs)


def find_matches(index: Index, text: str, min_coverage: float) -> list[Match]:
    """The parts the text holds (at least `min_coverage` of a part's grams), in index order."""
    grams = gram_hashes(word_hashes(text), index.lengths)
    if not grams or not len(index.keys):
        return []
    hashes = np.concatenate(list(grams.values()))
    hits, keys = index.candidates(hashes)
    if not len(hits):
        return []
    positions = np.concatenate([np.arange(len(values)) for values in grams.values()])
    lengths = np.concatenate([np.full(len(values), length) for length, values in grams.items()])
    held: dict[int, set[int]] = {}
    windows: dict[int, list[tuple[int, int]]] = {}
    for hit, key in zip(hits.tolist(), keys.tolist(), strict=True):
        window = (int(positions[hit]), int(positions[hit] + lengths[hit]))
        for owner in index.owners[index.starts[key] : index.starts[key + 1]].tolist():
            held.setdefault(owner, set()).add(key)
            windows.setdefault(owner, []).append(window)
    spans = word_spans(text)
    matches = []
    for owner in sorted(held):
        part = index.parts[owner]
        coverage = len(held[owner]) / part.grams
        if coverage >= min_coverage:
            runs = _runs(windows[owner], index.ngram)
            matched = " … ".join(text[spans[start][0] : spans[end - 1][1]] for start, end in runs)
            matches.append(Match(part, coverage, runs, matched))
    return matches


def cut(text: str, matches: Iterable[Match], margin_words: int) -> tuple[str, list[tuple[int, int]]]:
    """The text without its matched runs, each widened by `margin_words` words on either side (up to the text's
    edges), and the character ranges removed. What is left either side of a cut is joined by a blank line."""
    spans = word_spans(text)
    regions = sorted(
        (spans[max(0, start - margin_words)][0], spans[min(len(spans), end + margin_words) - 1][1])
        for match in matches
        for start, end in match.runs
    )
    removed: list[list[int]] = []
    for start, end in regions:
        if removed and start <= removed[-1][1]:
            removed[-1][1] = max(removed[-1][1], end)
        else:
            removed.append([start, end])
    pieces, previous = [], 0
    for start, end in removed:
        pieces.append(text[previous:start])
        previous = end
    pieces.append(text[previous:])
    kept = [piece.strip() for piece in pieces]
    return _SEPARATOR.join(piece for piece in kept if piece), [(start, end) for start, end in removed]


def event(action: str, unit: str, benchmark: str | None = None) -> str:
    """The counter event of a removal: per benchmark, or (without one) the total that counts each document once."""
    return "/".join((KIND, *([benchmark] if benchmark else []), action, unit))


def _removed() -> dict[str, dict[str, int]]:
    return {unit: dict.fromkeys(ACTIONS, 0) for unit in UNITS}


def decontamination_report(
    benchmarks: Sequence[Mapping[str, Any]], config: DecontaminationConfig, sources: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """What decontamination removed: the settings, each benchmark (its files with their sha256, the items indexed)
    with the documents and tokens removed per action and source, and the totals, in which a document that holds
    items of several benchmarks counts once. `benchmarks` is `Index.benchmarks`; `sources` is `counters.collect`."""
    names = [str(benchmark["name"]) for benchmark in benchmarks]
    removed = {name: {**_removed(), "sources": {source: _removed() for source in sorted(sources)}} for name in names}
    total = {**_removed(), "sources": {source: _removed() for source in sorted(sources)}}
    for source, entry in sorted(sources.items()):
        for key, value in sorted(entry.get(KIND, {}).items()):
            *benchmark, action, unit = key.split("/")
            target = removed[benchmark[0]] if benchmark else total
            target[unit][action] += value
            target["sources"][source][unit][action] += value
    return {
        "ngram": config.ngram,
        "min_coverage": config.min_coverage,
        "margin_words": config.margin_words,
        "action": {source: config.action.get(source, DEFAULT_ACTION) for source in sorted({*sources, *config.action})},
        "tokens": TOKEN_UNIT,
        "benchmarks": [{**benchmark, "removed": removed[str(benchmark["name"])]} for benchmark in benchmarks],
        "removed": total,
    }
