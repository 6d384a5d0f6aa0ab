"""Documents in Parquet (DESIGN section 3): the curated corpus's schema and its row, file writer and reader.

`meta` is stored as a JSON string column because its keys differ per source; readers decode it back. Kept apart
from `gap_replay.documents` so that what reads and writes JSONL only does not import pyarrow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gap_replay.documents import JSON_OPTIONS, Document
from gap_replay.files import atomic_path

# Curated files of each of build's splits (`train`, `valid`) start with the name Hugging Face gives that split.
SPLIT_FILES = {"train": "train", "valid": "validation"}

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
    row["meta"] = orjson.dumps(doc.meta, option=JSON_OPTIONS).decode()
    return row


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
