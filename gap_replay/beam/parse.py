"""Raw files -> Documents on Beam: the same parsers `gap-replay parse` runs, behind a DoFn that never crashes a run.

A damaged file (truncated gzip, broken PDF, ...) becomes a counted `parse_error` reject naming the file and the
reason; the records its parser yielded before the damage are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from gap_replay.beam import counters
from gap_replay.beam.rejects import REJECTS, reject_record
from gap_replay.documents import Document
from gap_replay.progress import Progress, Whole
from gap_replay.sources import Parser, parser_for, source_of
from gap_replay.sources.base import Deletion, failure_detail

DELETIONS = "deletions"

log = logging.getLogger(__name__)


class ParseFiles(beam.DoFn):
    """(parser key, path) -> the file's Documents, at most `limits[source]` of them per file.

    `options[source]` are keyword arguments of that source's parser (PMC's `max_table_cells`).
    """

    def __init__(
        self,
        limits: dict[str, int | None] | None = None,
        options: dict[str, dict[str, Any]] | None = None,
        whole: Whole | None = None,
    ) -> None:
        self._limits = dict(limits or {})
        self._options = dict(options or {})
        self._whole = whole
        self._parsers: dict[str, Parser] = {}

    def setup(self) -> None:
        self._progress = Progress("curate: parsing", "files", whole=self._whole)

    def _parser(self, key: str) -> Parser:
        if key not in self._parsers:
            self._parsers[key] = parser_for(key)
        return self._parsers[key]

    def process(self, item: tuple[str, str]) -> Iterator[Document | TaggedOutput]:
        """Documents on the main output, `Deletion`s on DELETIONS, a damaged file's reject on REJECTS."""
        key, path = item
        source = source_of(key)
        limit = self._limits.get(source)
        parse = self._parser(key)
        counters.count(source, "files")
        parsed = 0
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
                for doc in parse(stream, path, **self._options.get(source, {})):
                    if isinstance(doc, Deletion):
                        counters.count(source, "deletions")
                        yield TaggedOutput(DELETIONS, doc)
                        continue
                    parsed += 1
                    yield doc
                    if limit is not None and parsed >= limit:
                        break
        except Exception as error:  # any parser failure is a reject of this file, never the end of the run
            detail = failure_detail(error, path)
            log.warning("parse error in %s: %s", path, detail)
            counters.dropped(source, "parse_error")
            yield TaggedOutput(REJECTS, reject_record("parse_error", detail, source=source, file=path))
        counters.count(source, "parsed", parsed)
        self._progress.add(files=1)


def parse_file(key: str, path: str) -> Iterator[Document | Deletion | dict[str, Any]]:
    """Run ParseFiles outside Beam (for `gap-replay parse`): Documents, Deletions, and reject records as dicts."""
    parsing = ParseFiles()
    parsing.setup()
    for output in parsing.process((key, path)):
        yield output.value if isinstance(output, TaggedOutput) else output
