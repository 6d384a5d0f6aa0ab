"""Exact duplicates: texts equal after normalisation share a key, whatever their case, markup or punctuation.

Digits are kept, so "5 mg" and "50 mg" stay different texts; punctuation becomes a space rather than vanishing,
so "1.5 mg" does not collapse into "15 mg".
"""

from __future__ import annotations

import hashlib
import unicodedata


class _PunctuationToSpace(dict[int, str]):
    """A `str.translate` table mapping punctuation and symbols (Unicode P* and S*) to a space, filled on demand."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = " " if unicodedata.category(char)[0] in "PS" else char
        self[code] = value
        return value


_PUNCTUATION_TO_SPACE = _PunctuationToSpace()


def normalize_for_exact(text: str) -> str:
    """NFKC, case-folded, punctuation and Markdown markup removed, whitespace collapsed; letters and digits kept."""
    return " ".join(normalized_words(text))


def normalized_words(text: str) -> list[str]:
    """The words of `normalize_for_exact(text)`, for a caller that needs them as well as the text (split once)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.translate(_PUNCTUATION_TO_SPACE).split()


def exact_key(text: str) -> str:
    """Hex SHA-1 of the normalised text: equal keys mean duplicate texts."""
    return normalized_key(normalize_for_exact(text))


def normalized_key(normalized: str) -> str:
    """`exact_key` of a text already normalised (`normalize_for_exact`), for a caller that needs both."""
    return hashlib.sha1(normalized.encode("utf-8")).hexdigest()
