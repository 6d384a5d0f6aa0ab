"""Per-source modules (fetch: network; parse: raw bytes -> Documents) and the registry that finds them.

Modules are imported on first use, so asking for PubMed's parser does not load the PDF stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import BinaryIO

from gap_replay.documents import Document
from gap_replay.sources.base import Deletion

MODULES = {
    "guidelines": "gap_replay.sources.guidelines",
    "pubmed": "gap_replay.sources.pubmed",
    "pmc": "gap_replay.sources.pmc",
    "local": "gap_replay.sources.local",
    "replay": "gap_replay.sources.replay",
}

Parser = Callable[..., Iterator[Document | Deletion]]


def source_module(source: str) -> ModuleType:
    """The module of a top-level source (`pubmed`, `pmc`, `guidelines`, `local`, `replay`)."""
    if source not in MODULES:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(MODULES))}")
    return importlib.import_module(MODULES[source])


def source_of(key: str) -> str:
    """`guidelines/who` -> `guidelines`; other keys are sources themselves."""
    return key.split("/", 1)[0]


def parser_for(key: str) -> Parser:
    """The parse function for a key: `pubmed`, `pmc`, `replay`, `guidelines` or `guidelines/<organisation>`."""
    source, _, organisation = key.partition("/")
    module = source_module(source)
    if source != "guidelines" or not organisation:
        return module.parse
    if organisation not in module.ORGANISATIONS:
        known = ", ".join(sorted(module.ORGANISATIONS))
        raise KeyError(f"unknown guideline organisation {organisation!r}; known: {known}")
    return module.ORGANISATIONS[organisation].parse


def batcher_for(key: str) -> Callable[[BinaryIO], Iterator[bytes]] | None:
    """The function that cuts a source's raw files into batches of whole records, each parsed on its own, when the
    source has one (PubMed); None for the others."""
    return getattr(source_module(source_of(key)), "batches", None)


def parser_key(source: str, relative_path: str) -> str:
    """Which parser reads a raw file: guidelines files are read by their organisation (`<org>/<file>`)."""
    if source == "guidelines":
        return f"guidelines/{relative_path.split('/', 1)[0]}"
    return source
