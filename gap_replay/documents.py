"""The document record (DESIGN section 3) and its JSONL(.gz) / Parquet I/O.

One record shape flows through every stage: sources emit it, curate cleans and filters it, build tokenizes it.
In Parquet, `meta` is stored as a JSON string column because its keys differ per source; readers decode it back.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from gap_replay.files import atomic_path

SOURCES = ("guidelines", "pubmed", "pmc", "local", "replay")


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

PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("subsource", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("license", pa.string()),
        ("date", pa.string()),
        ("lang", pa.string()),
        ("meta", pa.string()),
    ]
)


def to_parquet_row(doc: Document) -> dict[str, Any]:
    """Row for `PARQUET_SCHEMA`: `meta` as sorted-key JSON so equal records give equal bytes."""
    row = doc.to_dict()
    row["meta"] = json.dumps(doc.meta, sort_keys=True, ensure_ascii=False)
    return row


def _open_text(path: str | os.PathLike[str], mode: str, gzipped: bool) -> IO[str]:
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, mode.replace("t", "") + "b"), encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def write_jsonl(docs: Iterable[Document], path: str | os.PathLike[str]) -> int:
    """Write documents as JSON lines (gzip when the name ends in .gz), atomically; returns the count."""
    count = 0
    with atomic_path(path) as tmp, _open_text(tmp, "wt", gzipped=str(path).endswith(".gz")) as out:
        for doc in docs:
            out.write(json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Stream documents from a JSONL(.gz) file; a bad line is an error naming the file and line."""
    with _open_text(path, "rt", gzipped=str(path).endswith(".gz")) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Document.from_dict(json.loads(line))
            except (ValueError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a document record: {error}") from error


def write_parquet(docs: Iterable[Document], path: str | os.PathLike[str], batch_size: int = 1024) -> int:
    """Write documents to one Parquet file, atomically; returns the count."""
    count = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, PARQUET_SCHEMA) as writer:
        batch: list[dict[str, Any]] = []
        for doc in docs:
            batch.append(to_parquet_row(doc))
            if len(batch) == batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=PARQUET_SCHEMA))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=PARQUET_SCHEMA))
            count += len(batch)
    return count


def read_parquet(path: str | os.PathLike[str] | IO[bytes], columns: list[str] | None = None) -> Iterator[Document]:
    """Stream documents from a Parquet file (a path or an open binary file) batch by batch."""
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(columns=columns):
        for row in batch.to_pylist():
            yield Document.from_dict(row)


def read_documents(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Read JSONL, JSONL.gz or Parquet by extension."""
    name = str(path)
    if name.endswith(".parquet"):
        return read_parquet(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
        return read_jsonl(path)
    raise ValueError(f"{path}: unknown document file type (expected .jsonl, .jsonl.gz or .parquet)")
