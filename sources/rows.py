"""Record files shared by the sources that read rows of JSON or Parquet (replay, local): JSONL, JSONL.gz or Parquet
read one row at a time, and a parse that keeps going past malformed rows and reports them at the end.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from gap_replay.documents import Document
from gap_replay.sources.base import ParseError

BATCH_ROWS = 1024
REPORTED_ERRORS = 5
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet")


def read_rows(stream: BinaryIO, name: str, columns: Sequence[str] | None = None) -> Iterator[tuple[str, Any]]:
    """(line or row label, the decoded row or the exception that stopped it) for each row of a file, by its name's
    extension; `columns` limits a Parquet read to the columns that exist among them."""
    if name.endswith(".parquet"):
        return _parquet_rows(stream, columns)
    return _json_rows(gzip.GzipFile(fileobj=stream) if name.endswith(".gz") else stream)


def parse_rows(
    rows: Iterator[tuple[str, Any]], name: str, to_document: Callable[[Any], Document | None]
) -> Iterator[Document]:
    """The Documents of a file's rows. A malformed row (ValueError from `to_document`, or not JSON) is skipped and
    reported, with its line, in a ParseError raised after every good row; a damaged file is a ParseError too."""
    bad: list[str] = []
    count = 0
    try:
        for label, row in rows:
            try:
                if isinstance(row, Exception):
                    raise row
                document = to_document(row)
            except ValueError as error:
                count += 1
                if len(bad) < REPORTED_ERRORS:
                    bad.append(f"{label}: {error}")
                continue
            if document is not None:
                yield document
    except (OSError, EOFError, zlib.error, pa.ArrowException) as error:
        raise ParseError(f"{name}: damaged file ({type(error).__name__}: {error})") from None
    if count:
        more = f"; {count - len(bad)} more" if count > len(bad) else ""
        raise ParseError(f"{name}: skipped {count} malformed record(s): {'; '.join(bad)}{more}")


def _json_rows(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(line label, decoded JSON or the exception) for each non-blank line."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            yield f"line {number}", json.loads(raw)
        except ValueError as error:  # UnicodeDecodeError is a ValueError too
            yield f"line {number}", ValueError(f"not JSON ({error})")


def _parquet_rows(stream: BinaryIO, columns: Sequence[str] | None) -> Iterator[tuple[str, Any]]:
    source = stream if stream.seekable() else io.BytesIO(stream.read())
    parquet = pq.ParquetFile(source)
    wanted = None if columns is None else [name for name in columns if name in parquet.schema_arrow.names]
    number = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
        for row in batch.to_pylist():
            number += 1
            yield f"row {number}", row
