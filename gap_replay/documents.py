"""The document record (DESIGN section 3) and its JSONL(.gz) I/O; Parquet is `gap_replay.parquet`'s.

One record shape flows through every stage: sources emit it, curate cleans and filters it, build tokenizes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from gap_replay.files import atomic_path

SOURCES = ("guidelines", "pubmed", "pmc", "local", "replay")
# Records are written as compact UTF-8 JSON with sorted keys, so equal records give equal bytes; orjson writes them
# about nine times faster than the standard library, which was a tenth of `gap-replay parse`.
JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


@dataclass
class Document:
    """One text with its provenance; `id` is stable and source-prefixed (`pubmed:12345678`)."""

    id: str
    source: str
    subsource: str
    text: str
    title: str | None = None
    url: str | None = None
    license: str | None = None
    date: str | None = None
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record's fields as a dict (shallow: `meta` is shared, not copied; no caller mutates it)."""
        return {field.name: getattr(self, field.name) for field in FIELDS}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Document:
        """Build from a JSONL or Parquet row; `meta` may be a dict or a JSON string."""
        meta = row.get("meta") or {}
        if isinstance(meta, str):
            meta = json.loads(meta)
        missing = [name for name in ("id", "source", "text") if row.get(name) is None]
        if missing:
            raise ValueError(f"document row lacks required field(s) {', '.join(missing)}")
        return cls(
            id=row["id"],
            source=row["source"],
            subsource=row.get("subsource") or row["source"],
            text=row["text"],
            title=row.get("title"),
            url=row.get("url"),
            license=row.get("license"),
            date=row.get("date"),
            lang=row.get("lang"),
            meta=dict(meta),
        )

    def replace(self, **changes: Any) -> Document:
        return dataclasses.replace(self, **changes)


FIELDS = dataclasses.fields(Document)


def _text_lines(path: str | os.PathLike[str]) -> IO[str]:
    """A JSONL file opened for reading as UTF-8 text, gunzipped when its name ends in .gz."""
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def json_line(doc: Document) -> bytes:
    """A document as one line of JSONL: compact, sorted-key UTF-8 JSON and a newline."""
    return orjson.dumps(doc.to_dict(), option=JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)


@contextlib.contextmanager
def jsonl_sink(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary stream for JSON lines at `path` (gzip when the name ends in .gz), renamed into place when the block
    ends without an error and removed otherwise."""
    with atomic_path(path) as tmp, (gzip.open if str(path).endswith(".gz") else open)(tmp, "wb") as out:
        yield out


def write_jsonl(docs: Iterable[Document], path: str | os.PathLike[str]) -> int:
    """Write documents as JSON lines (gzip when the name ends in .gz), atomically; returns the count."""
    count = 0
    with jsonl_sink(path) as out:
        for doc in docs:
            out.write(json_line(doc))
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Stream documents from a JSONL(.gz) file; a bad line is an error naming the file and line."""
    with _text_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Document.from_dict(json.loads(line))
            except (ValueError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a document record: {error}") from error


def read_documents(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Read JSONL, JSONL.gz or Parquet by extension."""
    name = str(path)
    if name.endswith(".parquet"):
        from gap_replay.parquet import read_parquet  # pyarrow: a fifth of a second to import, for Parquet only

        return read_parquet(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
        return read_jsonl(path)
    raise ValueError(f"{path}: unknown document file type (expected .jsonl, .jsonl.gz or .parquet)")
