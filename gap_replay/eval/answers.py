"""The answer letter in generated text, by a stated rule, and the majority vote of several chains.

The rule, in order: (1) the last "answer is X", "answer: X" or "answer X" (any case, X in parentheses or
brackets or bare, not followed by a letter or digit); (2) else a text that is the letter alone or starts with it
and a closing mark, as in "B", "B.", "(B)", "B) amlodipine" or "B: amlodipine" (not "A patient ..."); (3) else
no answer, which is reported, never guessed. Only the item's own letters count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

ANSWER_IS = re.compile(r"answer\s*(?:is|:)?\s*[:\-]?\s*[\(\[]?\s*([A-Za-z])\s*[\)\]]?(?![A-Za-z0-9])", re.IGNORECASE)
LEADING = re.compile(r"[\(\[]?([A-Z])(?:[\)\]\.:](?:\s|$)|$)")


def extract_answer(text: str, letters: Sequence[str]) -> tuple[str | None, str]:
    """(letter, which rule found it: "answer is", "leading letter" or "none")."""
    found = [match.group(1).upper() for match in ANSWER_IS.finditer(text)]
    found = [letter for letter in found if letter in letters]
    if found:
        return found[-1], "answer is"
    match = LEADING.match(text.strip())
    if match and match.group(1) in letters:
        return match.group(1), "leading letter"
    return None, "none"


def majority(answers: Sequence[str | None]) -> tuple[str | None, dict[str, int]]:
    """The most frequent answer of several chains (a tie goes to the earliest letter), and the votes; chains
    without an answer do not vote, and none answering gives None."""
    votes = Counter(answer for answer in answers if answer is not None)
    if not votes:
        return None, {}
    top = max(votes.values())
    return min(letter for letter, count in votes.items() if count == top), dict(sorted(votes.items()))
