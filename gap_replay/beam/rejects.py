"""Reject records: what was dropped, at which step, and why, written to `rejects/` for auditing."""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam

from gap_replay.documents import Document

REJECTS = "rejects"


def reject_record(
    reason: str, detail: str | None = None, *, document: Document | None = None, **fields: Any
) -> dict[str, Any]:
    """A JSON-ready record; `document` (when given) is kept whole so a rejected text can be read back."""
    record: dict[str, Any] = {"reason": reason, "detail": detail, **fields}
    if document is not None:
        record.setdefault("source", document.source)
        record["id"] = document.id
        record["document"] = document.to_dict()
    return record


class WriteRejects(beam.PTransform):
    """Reject records as JSON lines `<directory>/<name>-SSSSS-of-NNNNN.jsonl`."""

    def __init__(self, directory: str, name: str = "rejects") -> None:
        super().__init__()
        self._directory = directory
        self._name = name

    def expand(self, rejects: beam.PCollection) -> beam.PCollection:
        return (
            rejects
            | "ToJson" >> beam.Map(lambda record: json.dumps(record, ensure_ascii=False, sort_keys=True))
            | "Write" >> beam.io.WriteToText(f"{self._directory.rstrip('/')}/{self._name}", file_name_suffix=".jsonl")
        )
