"""What every source module answers: how to get its raw bytes, and how to turn them into Documents.

A source module exposes `NAME`, `RAW_PATTERNS` (globs under `raw/<source>/` that its parser reads),
`fetch(config, raw_dir, client) -> FetchSummary` (network) and `parse(stream, name) -> Iterator[Document]` (pure;
a source with update files may also yield `Deletion`s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the HTTP client (requests) is imported by fetching only: parsing starts without it
    from gap_replay.http import FetchLog, PoliteClient

logger = logging.getLogger(__name__)

FETCH_LOG = "fetch_log.jsonl"


def fetch_log(raw_dir: Path) -> FetchLog:
    """The fetch log of one source's raw folder (`raw/<source>/fetch_log.jsonl`)."""
    from gap_replay.http import FetchLog

    return FetchLog(raw_dir / FETCH_LOG)


@dataclass(frozen=True)
class Deletion:
    """A source's statement that a record is withdrawn as of `revision` (PubMed's DeleteCitation).

    `revision` is on the scale of `Document.meta["revision"]`: a document of that id with a lower revision goes.
    """

    id: str
    revision: int


class ParseError(Exception):
    """A raw file is damaged or not what it claims to be; records before the damage were already yielded."""


def failure_detail(error: Exception, path: str) -> str:
    """Why a parser failed on a file, for a message that names the file already: the error's own text without a
    leading `<path>: `, or its repr when the text does not name the file (a bare library error)."""
    text = str(error)
    return text.removeprefix(f"{path}: ") if text.startswith(path) else repr(error)


@dataclass
class FetchSummary:
    """What one source's fetch did: files downloaded, already present (no request), left alone because robots.txt
    disallows them (not a failure: obeying it is the rule), and failed with why."""

    source: str
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    disallowed: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, what: str, reason: str) -> None:
        """Count a failure of a file or listing, naming it and why."""
        self.failed += 1
        self.errors.append(f"{what}: {reason}")

    def download(
        self,
        client: PoliteClient,
        url: str,
        dest: Path,
        log: FetchLog,
        md5: str | None = None,
        kind: str | None = None,
        revalidate: bool = False,
    ) -> bool:
        """Download one file and count it: downloaded, already present, disallowed, or failed with the URL and why.

        `kind` is what the file must be (`sniff`); by default what its name promises. `revalidate`: see
        `PoliteClient.download`."""
        from gap_replay.http import HttpError, RobotsDisallowed

        try:
            record, downloaded_now = client.download(url, dest, log, md5=md5, kind=kind, revalidate=revalidate)
        except RobotsDisallowed as error:
            logger.info("%s: not fetched, %s", url, error.reason)
            self.disallowed += 1
            return False
        except HttpError as error:
            self.fail(url, error.reason)
            return False
        if downloaded_now:
            self.downloaded += 1
            self.bytes += record.bytes
        else:
            self.skipped += 1
        return True

    def add(self, other: FetchSummary) -> None:
        self.downloaded += other.downloaded
        self.skipped += other.skipped
        self.failed += other.failed
        self.disallowed += other.disallowed
        self.bytes += other.bytes
        self.errors.extend(other.errors)
