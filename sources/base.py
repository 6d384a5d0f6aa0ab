"""What every source module answers: how to get its raw bytes, and how to turn them into Documents.

A source module exposes `NAME`, `RAW_PATTERNS` (globs under `raw/<source>/` that its parser reads),
`fetch(config, raw_dir, client) -> FetchSummary` (network) and `parse(stream, name) -> Iterator[Document]` (pure).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ParseError(Exception):
    """A raw file is damaged or not what it claims to be; records before the damage were already yielded."""


@dataclass
class FetchSummary:
    """What one source's fetch did: files downloaded, already present (no request), and failed with why."""

    source: str
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: FetchSummary) -> None:
        self.downloaded += other.downloaded
        self.skipped += other.skipped
        self.failed += other.failed
        self.bytes += other.bytes
        self.errors.extend(other.errors)
