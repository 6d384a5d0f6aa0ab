"""Which member of a duplicate cluster survives: a rule, not the order in which a runner happened to see them.

The rule, most important first: the preferred source (full text over abstract), the newest revision (a later
update file), the newest version, the latest update (PMC's `last_updated`), then the newest date, the most
permissive licence, the longer text, and finally the smaller id. `survivor_key` turns a document into a sort key of
plain ints and strings, so a Beam shuffle can carry keys instead of whole documents.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from gap_replay.documents import Document

# Components of a version kept for comparison ("2.3" -> (2, 3, 0, 0)).
VERSION_PARTS = 4

# Licence families from most to least permissive; anything else (proprietary, unknown, None) ranks after them.
_CC_RANKS = {
    frozenset(): 1,
    frozenset({"SA"}): 2,
    frozenset({"NC"}): 3,
    frozenset({"NC", "SA"}): 4,
    frozenset({"ND"}): 5,
    frozenset({"NC", "ND"}): 6,
}
UNKNOWN_LICENCE_RANK = 7
_PUBLIC_DOMAIN = ("CC0", "PUBLIC-DOMAIN", "PUBLICDOMAIN", "PDDL", "ODC-PDDL", "PDM")
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)", re.IGNORECASE)
_CC = re.compile(r"CC-?BY((?:-(?:NC|SA|ND))*)(?![A-Z])")
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_NUMBER = re.compile(r"\d+")


@functools.lru_cache(maxsize=1024)
def licence_rank(license: str | None) -> int:
    """0 public domain / CC0, 1 CC-BY, 2 CC-BY-SA, 3 CC-BY-NC, 4 CC-BY-NC-SA, 5 CC-BY-ND, 6 CC-BY-NC-ND, 7 other."""
    if not license:
        return UNKNOWN_LICENCE_RANK
    url = _CC_URL.search(license)
    if url:
        kind, name = url.group(1).lower(), url.group(2).upper()
        license = "CC0" if kind == "publicdomain" else f"CC-{name}"
    name = re.sub(r"[\s_]+", "-", license.strip().upper())
    if name == "PD" or name.startswith(_PUBLIC_DOMAIN):
        return 0
    match = _CC.match(name)
    if not match:
        return UNKNOWN_LICENCE_RANK
    return _CC_RANKS.get(frozenset(part for part in match.group(1).split("-") if part), UNKNOWN_LICENCE_RANK)


def _version_order(version: object) -> tuple[int, ...]:
    """(0, -major, -minor, ...) for a stated version, so higher versions sort first; (1, 0, ...) when unknown."""
    numbers = [int(number) for number in _NUMBER.findall(str(version))] if version is not None else []
    if not numbers:
        return (1,) + (0,) * VERSION_PARTS
    padded = (numbers + [0] * VERSION_PARTS)[:VERSION_PARTS]
    return (0, *(-number for number in padded))


def _date_order(date: str | None) -> tuple[int, int]:
    """(0, -YYYYMMDD) for an ISO date (missing month/day count as 0), so later dates sort first; (1, 0) when none."""
    match = _DATE.match(date.strip()) if date else None
    if not match:
        return (1, 0)
    year, month, day = (int(part) if part else 0 for part in match.groups())
    return (0, -(year * 10_000 + month * 100 + day))


def survivor_key(doc: Document, source_priority: Sequence[str]) -> tuple:
    """Sort key of a document in its duplicate cluster: the smallest key survives."""
    source_rank = source_priority.index(doc.source) if doc.source in source_priority else len(source_priority)
    revision = doc.meta.get("revision")
    return (
        source_rank,
        -revision if isinstance(revision, int) else 0,
        *_version_order(doc.meta.get("version")),
        *_date_order(doc.meta.get("last_updated")),
        *_date_order(doc.date),
        licence_rank(doc.license),
        -len(doc.text),
        doc.id,
    )


def choose_survivor(keys: dict[str, tuple]) -> str:
    """The id with the smallest survivor key (ids break ties, so the choice never depends on order)."""
    if not keys:
        raise ValueError("choose_survivor: no candidates")
    return min(keys.items(), key=lambda item: (item[1], item[0]))[0]
