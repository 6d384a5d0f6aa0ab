"""Local: a collection of one's own (a lab's guideline dump, another medical corpus) as JSONL, JSONL.gz or Parquet
files, curated and built like any other source, with its own ids kept.

Nothing is fetched: the recipe names the files (`sources.local.paths`, paths or globs through Beam's FileSystems,
so local, gs:// or s3://), and curate reads them where they are, recording each one's size in its completion
record. `sources.local.fields` maps a row's fields onto the record; a row without its id or text is a malformed
record, reported with its line after the good ones.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from apache_beam.io.filesystems import FileSystems

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import LocalConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.rows import SUFFIXES, parse_rows, read_rows

NAME = "local"
RAW_PATTERNS = ()  # read where the recipe says, never from raw/
DEFAULT_FIELDS: dict[str, str | None] = LocalConfig().fields.model_dump()


class LocalInputError(ValueError):
    """A local path or glob that names no readable collection file."""


def fetch(config: LocalConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Nothing to download: a local collection is read where it is."""
    return FetchSummary(NAME)


def input_files(config: LocalConfig) -> list[tuple[str, int]]:
    """(path, bytes) of every file the recipe's paths and globs name, sorted; a pattern that matches nothing, or a
    file that is not JSONL, JSONL.gz or Parquet, is an error naming it."""
    files: dict[str, int] = {}
    for pattern in config.paths:
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched:
            raise LocalInputError(f"sources.local.paths: {pattern} matches no file")
        for metadata in matched:
            if not metadata.path.endswith(SUFFIXES):
                raise LocalInputError(f"{metadata.path}: not a JSONL, JSONL.gz or Parquet file")
            files[metadata.path] = metadata.size_in_bytes
    return sorted(files.items())


def parse(
    stream: BinaryIO,
    name: str,
    collection: str = NAME,
    fields: Mapping[str, str | None] | None = None,
    license: str | None = None,
    redistributable: bool = False,
) -> Iterator[Document]:
    """The Documents of one collection file; malformed rows are reported together at the end."""
    mapping = {**DEFAULT_FIELDS, **(fields or {})}
    return parse_rows(
        read_rows(stream, name),
        name,
        lambda row: to_document(row, collection, mapping, license, redistributable),
    )


def to_document(
    row: Any, collection: str, fields: Mapping[str, str | None], license: str | None, redistributable: bool
) -> Document | None:
    """One row as a Document (None when its text is empty); ValueError says what is wrong with the row."""
    if not isinstance(row, dict):
        raise ValueError(f"a record is a JSON object, got {type(row).__name__}")
    doc_id, text = row.get(fields["id"]), row.get(fields["text"])
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or str(doc_id).strip() == "":
        raise ValueError(f"no {fields['id']!r} id")
    if not isinstance(text, str):
        raise ValueError(f"no {fields['text']!r} text")
    if not text.strip():
        return None
    known = {fields[key] for key in DEFAULT_FIELDS if fields.get(key)}
    return Document(
        id=f"{NAME}/{collection}:{str(doc_id).strip()}",
        source=NAME,
        subsource=collection,
        text=text,
        title=_text(row, fields["title"]),
        url=_text(row, fields["url"]),
        license=_text(row, fields["license"]) or license,
        date=_date(row.get(fields["date"]) if fields["date"] else None),
        lang=_text(row, fields["lang"]),
        meta={
            "redistributable": redistributable,
            **{key: _json(value) for key, value in row.items() if key not in known},
        },
    )


def _json(value: Any) -> Any:
    """A row's other field as JSON can hold it in `meta` (Parquet dates and bytes as text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    return str(value)


def _text(row: Mapping[str, Any], field: str | None) -> str | None:
    value = row.get(field) if field else None
    return value.strip() or None if isinstance(value, str) else None


def _date(value: Any) -> str | None:
    """An ISO date (`YYYY-MM-DD`) from a date string or a date; None otherwise."""
    if isinstance(value, datetime.date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None
