"""Quality rules (Gopher / C4 / FineWeb style) calibrated so that medical text is not mistaken for junk.

A rule is a callable `(Document) -> str | None`: None keeps the document, a short snake_case string is the reason
to drop it. Rules are small frozen dataclasses (picklable, comparable, printable) built from a source's
`FilterConfig`; `first_failure` applies them in order, so the reason counted is the first that fails.

Words are whitespace-separated tokens with at least one letter or digit: Markdown markup (`|`, `-`, `#`, `---`)
and operators (`=`, `/`) are not words, so a dosing table or a formula is judged on its content, not its markup.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gap_replay.documents import Document
from gap_replay.recipe import FilterConfig

Rule = Callable[[Document], str | None]

# Below this many paragraphs and list items the punctuation rule abstains: one abstract ending in a trial
# registration number is not a link list.
MIN_PUNCTUATION_UNITS = 5
# Lines shorter than this ("- Yes", "- N/A") repeat legitimately and are ignored by the duplicate-line rule.
MIN_DUPLICATE_LINE_CHARS = 10

# Anchored at a token's start and never backtracking over a whole token, so a 100 kB run of "=" stays linear.
_WORD_START = re.compile(r"(?<!\S)(?:[^\w\s]|_)*[^\W_]")
_ALPHA_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])*[^\W\d_]\S*")
_HEADING_MARK = re.compile(r"^ {0,3}#{1,6}(?=\s|$)", re.MULTILINE)
_ALPHANUMERIC = re.compile(r"[^\W_]")
_LIST_ITEM = re.compile(r"(?:[-*+•]|\d{1,3}[.)])(?=\s|$)")
# A field: a label of letters (no digits: "Session 1:" is a heading), a colon, a value. "Adult dose: 500 mg every
# 8 hours", "- Pregnancy: compatible".
_FIELD = re.compile(r"(?:[-*+•]\s+)?[^\W\d_](?:[^\W\d_]|[ '’/()-]){0,40}:\s+\S")
_ELLIPSES = ("...", "…")
_TERMINAL_PUNCTUATION = tuple(".!?:;…")
_CLOSERS = "\"')]”’»*_"


# The functions below are memoised on the text (a str caches its hash, so a hit is cheap): the rules of one
# document share one word scan and one line split instead of redoing them per rule.
@functools.lru_cache(maxsize=2)
def _word_stats(text: str) -> tuple[int, int, int]:
    """(words, words with a letter, total length of the words with a letter)."""
    alpha_words = _ALPHA_WORD.findall(text)
    return len(_WORD_START.findall(text)), len(alpha_words), sum(map(len, alpha_words))


@functools.lru_cache(maxsize=2)
def _lines(text: str) -> list[str]:
    return [stripped for line in text.split("\n") if (stripped := line.strip())]


@functools.lru_cache(maxsize=2)
def _units(text: str) -> list[tuple[str, bool]]:
    """(first line, whether a line of it ends like a sentence) of every paragraph and list item, as Markdown reads
    them (wrapped lines join their unit), except that a line starting with a capital letter starts a unit of its own.

    A hard-wrapped paragraph's lines mostly continue in lower case and still join; a page of one item per line
    (a menu, an index, RedPajama's unmarked lists) is judged item by item. Headings and table rows are structure,
    not prose, and end the unit before them; a table row is a line with two pipes or more (GFM lets a table drop
    its outer pipes).
    """
    units = []
    first = None
    ends_sentence = False
    for line in text.split("\n"):
        line = line.strip()
        structure = not line or line.count("|") >= 2 or _HEADING_MARK.match(line)
        if first is not None and (structure or _LIST_ITEM.match(line) or line[0].isupper()):
            units.append((first, ends_sentence))
            first = None
        if not structure:
            if first is None:
                first, ends_sentence = line, False
            ends_sentence = ends_sentence or line.rstrip(_CLOSERS).endswith(_TERMINAL_PUNCTUATION)
    if first is not None:
        units.append((first, ends_sentence))
    return units


@dataclass(frozen=True)
class Retracted:
    """Retracted publications and retraction notices are not medical knowledge to learn from."""

    def __call__(self, doc: Document) -> str | None:
        return "retracted" if doc.meta.get("retracted") is True else None


@dataclass(frozen=True)
class ErrorPage:
    """A page a site served instead of the document (not found, access denied, a soft 404 with status 200), as the
    source's parser recognised it (`meta["error_page"]` holds what it saw)."""

    def __call__(self, doc: Document) -> str | None:
        return "error_page" if doc.meta.get("error_page") else None


@dataclass(frozen=True)
class License:
    """A recipe that keeps only some licences (an open corpus) drops the others, and, when it asks for
    redistributable documents only, those their source does not mark as redistributable."""

    allowed: tuple[str, ...] | None
    redistributable_only: bool

    def __call__(self, doc: Document) -> str | None:
        if self.redistributable_only and doc.meta.get("redistributable") is not True:
            return "not_redistributable"
        if self.allowed is not None and not any(fnmatch.fnmatchcase(doc.license or "", p) for p in self.allowed):
            return "license_not_allowed"
        return None


@dataclass(frozen=True)
class WordCount:
    """Too short to carry content (a banner, a stub), or too long to be one document (a dump)."""

    min_words: int
    max_words: int

    def __call__(self, doc: Document) -> str | None:
        count = _word_stats(doc.text)[0]
        if count < self.min_words:
            return "too_few_words"
        if count > self.max_words:
            return "too_many_words"
        return None


@dataclass(frozen=True)
class MeanWordLength:
    """Mean length of words with letters outside a range: tokenizer debris, or run-together text and hashes."""

    minimum: float
    maximum: float

    def __call__(self, doc: Document) -> str | None:
        _, alpha_words, length = _word_stats(doc.text)
        if not alpha_words:
            return None
        mean = length / alpha_words
        return None if self.minimum <= mean <= self.maximum else "mean_word_length"


@dataclass(frozen=True)
class SymbolRatio:
    """Hashes or ellipses per word above the limit (each, as in Gopher); Markdown heading marks do not count."""

    maximum: float

    def __call__(self, doc: Document) -> str | None:
        words = _word_stats(doc.text)[0]
        body = _HEADING_MARK.sub("", doc.text)
        hashes = body.count("#")
        ellipses = sum(body.count(ellipsis) for ellipsis in _ELLIPSES)
        if max(hashes, ellipses) > self.maximum * words:
            return "symbol_ratio"
        return None


@dataclass(frozen=True)
class AlphaWordRatio:
    """Too few words with a letter: number dumps, codes, identifiers."""

    minimum: float

    def __call__(self, doc: Document) -> str | None:
        words, alpha_words, _ = _word_stats(doc.text)
        if words and alpha_words < self.minimum * words:
            return "alpha_word_ratio"
        return None


@dataclass(frozen=True)
class EllipsisLines:
    """Too many lines ending in an ellipsis: teaser lists, truncated snippets."""

    maximum: float

    def __call__(self, doc: Document) -> str | None:
        lines = _lines(doc.text)
        ending = sum(line.endswith(_ELLIPSES) for line in lines)
        return "ellipsis_lines" if lines and ending > self.maximum * len(lines) else None


@dataclass(frozen=True)
class DuplicateLines:
    """Too many lines repeating an earlier line: navigation, footers, spam; headings and short lines ignored."""

    maximum: float

    def __call__(self, doc: Document) -> str | None:
        lines = [
            line
            for line in _lines(doc.text)
            if len(line) >= MIN_DUPLICATE_LINE_CHARS and _ALPHANUMERIC.search(line) and not _HEADING_MARK.match(line)
        ]
        repeats = len(lines) - len(set(lines))
        return "duplicate_lines" if lines and repeats > self.maximum * len(lines) else None


@dataclass(frozen=True)
class LinePunctuation:
    """Too few paragraphs and list items ending like a sentence (FineWeb's line rule): link lists, menus, tag clouds.

    Units rather than lines, so a hard-wrapped paragraph (books, PDFs) counts once. A unit ends like a sentence when
    any of its lines does, so a grade of evidence in brackets on the line below a recommendation does not hide the
    recommendation's full stop; a field ("Adult dose: 500 mg every 8 hours") states its fact as a sentence does, so
    a drug monograph's fields are not a menu.
    """

    minimum: float

    def __call__(self, doc: Document) -> str | None:
        units = _units(doc.text)
        if len(units) < MIN_PUNCTUATION_UNITS:
            return None
        ending = sum(ends_sentence or _FIELD.match(first) is not None for first, ends_sentence in units)
        return "line_punctuation" if ending < self.minimum * len(units) else None


def build_rules(config: FilterConfig) -> list[Rule]:
    """The rules a source's thresholds enable, cheapest and most decisive first; a ratio at its no-op bound is off."""
    rules: list[Rule] = [ErrorPage()]
    if config.redistributable_only or config.allowed_licenses is not None:
        rules.append(License(config.license_patterns(), config.redistributable_only))
    if config.drop_retracted:
        rules.append(Retracted())
    rules.append(WordCount(config.min_words, config.max_words))
    rules.append(MeanWordLength(config.min_mean_word_length, config.max_mean_word_length))
    rules.append(SymbolRatio(config.max_symbol_ratio))
    if config.min_alpha_word_ratio > 0:
        rules.append(AlphaWordRatio(config.min_alpha_word_ratio))
    if config.max_ellipsis_line_ratio < 1:
        rules.append(EllipsisLines(config.max_ellipsis_line_ratio))
    if config.max_duplicate_line_ratio < 1:
        rules.append(DuplicateLines(config.max_duplicate_line_ratio))
    if config.min_line_punctuation_ratio > 0:
        rules.append(LinePunctuation(config.min_line_punctuation_ratio))
    return rules


def first_failure(doc: Document, rules: Sequence[Rule]) -> str | None:
    """The reason of the first rule the document fails, or None when it passes them all."""
    for rule in rules:
        reason = rule(doc)
        if reason is not None:
            return reason
    return None
