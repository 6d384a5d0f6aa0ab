"""Replay: a general-domain sample from RedPajama-v1 (wikipedia, arxiv, book, stackexchange, ...), mixed in by curate.

Fetch reads RedPajama's `urls.txt` listing and downloads the files of the recipe's subsets into
`raw/replay/<subset>/`. Parse reads RedPajama records, `{"text": str, "meta": {...}}`, from JSONL, JSONL.gz or
Parquet, one batch at a time; `meta` may be an object or a JSON string (as in Hugging Face exports, which also add
`red_pajama_subset`). Bad records are skipped and reported together, with line numbers, after the good ones.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient
from gap_replay.progress import bar
from gap_replay.sources.base import FetchSummary, fetch_log
from gap_replay.sources.rows import parse_rows, read_rows

if TYPE_CHECKING:  # the recipe's models are for annotations here; parsing needs none
    from gap_replay.recipe import ReplayConfig

NAME = "replay"
RAW_PATTERNS = ("**/*.jsonl", "**/*.jsonl.gz", "**/*.parquet")

# Licence of each RedPajama subset's sources; other subsets take `meta["license"]` when the record names one.
LICENSES = {
    "wikipedia": "CC-BY-SA-3.0",
    "arxiv": "arxiv-various",
    "stackexchange": "CC-BY-SA-4.0",
    "c4": "ODC-BY-1.0",
}
SUBSETS = ("arxiv", "book", "c4", "common_crawl", "github", "stackexchange", "wikipedia")  # RedPajama-v1's seven
COLUMNS = ("text", "meta", "red_pajama_subset")
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
ISO_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


# --- fetch -------------------------------------------------------------------------------------------------------


def listed_files(listing: str, subsets: list[str], limit: int | None) -> list[tuple[str, str, str]]:
    """(subset, file name, URL) of each listed file of the wanted subsets, in listing order, `limit` per subset."""
    taken: dict[str, int] = {}
    files = []
    for line in listing.splitlines():
        url = line.strip()
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        path = PurePosixPath(unquote(urlsplit(url).path))
        subset, name = path.parent.name, path.name
        if subset not in subsets or (limit is not None and taken.get(subset, 0) >= limit):
            continue
        taken[subset] = taken.get(subset, 0) + 1
        files.append((subset, name, url))
    return files


def fetch(config: ReplayConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the recipe's subsets, `limit` files each, into `raw_dir/<subset>/<file>`."""
    summary = FetchSummary(NAME)
    try:
        files = listed_files(client.get_text(config.url), config.subsets, config.limit)
    except HttpError as error:
        summary.fail(config.url, f"listing failed: {error.reason}")
        return summary
    for subset in sorted(set(config.subsets) - {subset for subset, _, _ in files}):
        summary.fail(config.url, f"lists no file of subset {subset!r}")
    log = fetch_log(raw_dir)
    for subset, name, url in bar(files, desc=NAME, unit="files"):
        if SAFE_FILE_NAME.fullmatch(name) is None:
            summary.fail(url, f"unsafe file name {name!r}")
            continue
        summary.download(client, url, raw_dir / subset / name, log)
    return summary


# --- parse -------------------------------------------------------------------------------------------------------


def folder_subset(name: str) -> str | None:
    """The subset a file's folder names: `raw/replay/<subset>/file.jsonl`, or any `.../<known subset>/file`."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if NAME in parts[:-1]:
        index = len(parts) - 1 - parts[::-1].index(NAME)
        if index + 2 < len(parts):
            return parts[index + 1]
    return parts[-2] if len(parts) > 1 and parts[-2] in SUBSETS else None


def record_date(meta: dict[str, Any]) -> str | None:
    """ISO date of `meta["timestamp"]`: ISO strings ("2023-03-20T..."), compact ones ("20230320") or epoch seconds."""
    value = meta.get("timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.datetime.fromtimestamp(value, tz=datetime.UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        match = ISO_DATE.match(value.strip())
        if match:
            try:
                return datetime.date(*map(int, match.groups())).isoformat()
            except ValueError:
                return None
    return None


def _text_field(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) and value else None


def to_document(row: dict[str, Any], folder: str | None) -> Document | None:
    """One RedPajama record as a Document (None when its text is empty); ValueError says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError(f"a record is a JSON object, got {type(row).__name__}")
    text = row.get("text")
    if not isinstance(text, str):
        raise ValueError("no 'text' string")
    meta = row.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta.strip() else {}
        except ValueError as error:
            raise ValueError(f"'meta' is a string but not JSON ({error})") from None
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise ValueError(f"'meta' is neither an object nor a JSON object string ({type(meta).__name__})")
    if not text.strip():
        return None
    subset = row.get("red_pajama_subset") or folder or meta.get("source") or "unknown"
    if not isinstance(subset, str):
        raise ValueError(f"subset is not a string ({subset!r})")
    return Document(
        id=f"{NAME}/{subset}:{hashlib.sha1(text.encode('utf-8')).hexdigest()}",
        source=NAME,
        subsource=subset,
        text=text,
        title=_text_field(meta, "title"),
        url=_text_field(meta, "url"),
        license=LICENSES.get(subset) or _text_field(meta, "license"),
        date=record_date(meta),
        lang=_text_field(meta, "language"),
        meta=meta,
    )


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """Documents of one RedPajama file (`.jsonl`, `.jsonl.gz`, `.parquet`); bad records are reported at the end."""
    folder = folder_subset(name)
    return parse_rows(read_rows(stream, name, COLUMNS), name, lambda row: to_document(row, folder))
