"""Text clean-up shared by every source: Unicode and whitespace normalisation, and per-source line removal.

Pure functions on strings; the Markdown structure that parsers emit (`#` headings, `- ` bullets, `|` table rows,
indented sub-items) survives, everything invisible or inconsistent (odd spaces, zero-width characters, CRLF,
control characters, runs of blank lines) is made uniform so later stages (quality rules, dedup keys, tokenizer)
see one spelling of the same text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from gap_replay.documents import Document
from gap_replay.recipe import CleanConfig

# Invisible characters removed outright: zero-width space/joiners, direction marks, word joiner and invisible
# operators, byte-order mark, soft hyphen (a hyphenation hint that splits words for every later stage).
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
# Spaces of other widths (no-break, en/em, thin, narrow no-break, ideographic...) and tabs become one space.
_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Characters that break a line elsewhere (vertical tab, form feed as PDF page break, NEL, line/paragraph
# separators) become a newline rather than vanishing, so the words on either side stay apart.
_LINE_BREAKS = "\v\f\x85\u2028\u2029"


def _translation_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
    table[ord("\n")] = "\n"
    table.update({ord(char): None for char in _INVISIBLE})
    table.update({ord(char): " " for char in _SPACES})
    table.update({ord(char): "\n" for char in _LINE_BREAKS})
    return table


_TABLE = _translation_table()
_NEWLINES = re.compile(r"\r\n?")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}")
_TRAILING_SPACES = re.compile(r"(?<! ) +$", re.MULTILINE)


def _limit_blank_lines(text: str, max_blank_lines: int) -> str:
    """Keep at most `max_blank_lines` empty lines in a row; assumes lines carry no trailing spaces."""
    return re.sub("\n" * (max_blank_lines + 2) + "+", "\n" * (max_blank_lines + 1), text)


def normalize_text(text: str, max_blank_lines: int = 1) -> str:
    """Normalise Unicode (NFC), line ends, spaces and blank lines, keeping Markdown headings, bullets and tables.

    Leading indentation is kept (nested list items); runs of spaces inside a line collapse to one.
    """
    text = unicodedata.normalize("NFC", _NEWLINES.sub("\n", text).translate(_TABLE))
    text = _TRAILING_SPACES.sub("", _INNER_SPACES.sub(" ", text))
    return _limit_blank_lines(text, max_blank_lines).strip()


def compile_patterns(patterns: list[str]) -> list[re.Pattern[str]]:
    """Compile a source's line patterns once; a pattern that does not compile is an error naming it."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise ValueError(f"drop_line_patterns: bad regular expression {pattern!r}: {error}") from None
    return compiled


def drop_lines(text: str, patterns: list[re.Pattern[str]]) -> tuple[str, int]:
    """Remove lines that a pattern matches in full (ignoring surrounding spaces); returns the text and the count."""
    if not patterns:
        return text, 0
    kept = []
    dropped = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and any(pattern.fullmatch(stripped) for pattern in patterns):
            dropped += 1
        else:
            kept.append(line)
    return "\n".join(kept), dropped


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    return compile_patterns(list(patterns))


def clean_document(doc: Document, config: CleanConfig) -> Document:
    """The document with normalised text (minus the source's boilerplate lines) and a one-line normalised title."""
    patterns = _compiled(tuple(config.drop_line_patterns))
    text, dropped = drop_lines(normalize_text(doc.text, config.max_blank_lines), patterns)
    if dropped:
        text = _limit_blank_lines(text, config.max_blank_lines).strip()
    title = " ".join(normalize_text(doc.title).split()) if doc.title else None
    return doc.replace(text=text, title=title or None)
