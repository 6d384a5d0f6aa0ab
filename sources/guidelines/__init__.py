"""Guidelines: clinical guidance published by health organisations, one module per organisation.

Raw files live under `raw/guidelines/<organisation>/`; the organisation of a file is taken from that folder.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import BinaryIO

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import GuidelinesConfig
from gap_replay.sources.base import FetchSummary, ParseError

NAME = "guidelines"
# The sixteen organisations of the reference corpus, each a module of this package named by its key.
KEYS = (
    "aafp", "cco", "cdc", "cma", "cps", "drugs", "guidelinecentral", "icrc", "idsa", "magic", "mayo", "nice", "rch",
    "spor", "who", "wikidoc",
)  # fmt: skip


class _Organisations(Mapping[str, ModuleType]):
    """The organisation modules by key, each imported when first asked for: the extraction modules and a parse of
    one organisation's files start without the other fifteen (and the Beam I/O their fetching needs)."""

    def __getitem__(self, key: str) -> ModuleType:
        if key not in KEYS:
            raise KeyError(key)
        return importlib.import_module(f"{__name__}.{key}")

    def __contains__(self, key: object) -> bool:
        return key in KEYS

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def __len__(self) -> int:
        return len(KEYS)


ORGANISATIONS: Mapping[str, ModuleType] = _Organisations()
RAW_PATTERNS = ("*/*.html", "*/*.pdf", "*/*.json")


def fetch(config: GuidelinesConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Fetch every enabled organisation into `raw_dir/<organisation>/`; an unknown organisation is a failure."""
    summary = FetchSummary(NAME)
    for key, organisation in sorted(config.organisations.items()):
        if not organisation.enabled:
            continue
        module = ORGANISATIONS.get(key)
        if module is None:
            summary.fail(key, f"unknown guideline organisation (known: {', '.join(sorted(ORGANISATIONS))})")
            continue
        summary.add(module.fetch(organisation, raw_dir / key, client))
    return summary


def parse(stream: BinaryIO, name: str, organisation: str | None = None) -> Iterator[Document]:
    """Documents of one raw file; the organisation defaults to the file's folder (`raw/guidelines/<org>/file`)."""
    key = organisation or PurePosixPath(name.replace("\\", "/")).parent.name
    module = ORGANISATIONS.get(key)
    if module is None:
        known = ", ".join(sorted(ORGANISATIONS))
        raise ParseError(f"{name}: unknown guideline organisation {key!r} (known: {known})")
    return module.parse(stream, name)
