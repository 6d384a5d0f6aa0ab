"""Benchmark decontamination on Beam: benchmark files read into one index, and a step that drops the documents
holding a benchmark item (or cuts the item out, per source) and the documents an id blocklist names.

The index is built once in the pipeline and reaches the workers as a side input; the driver builds the same index
(`load_index` is deterministic) to describe the benchmarks in the decontamination report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from gap_replay import benchmarks
from gap_replay.beam import counters
from gap_replay.beam.io import match_paths
from gap_replay.beam.rejects import REJECTS, reject_record
from gap_replay.benchmarks import Storage
from gap_replay.documents import Document
from gap_replay.recipe import BenchmarkConfig, DecontaminationConfig
from gap_replay.text.decontaminate import (
    DEFAULT_ACTION,
    Benchmark,
    Index,
    Match,
    build_index,
    cut,
    event,
    find_matches,
    word_count,
)

REASON = "decontaminated"
CUT_REASON = "decontaminated_cut"


def _read(path: str) -> bytes:
    """A file's bytes as stored (never decompressed: its sha256 is the file's)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


# Benchmark files as the workers reach them: local, gs:// or s3://.
BEAM_STORAGE = Storage(read=_read, files=lambda root: match_paths(f"{root}**"), exists=FileSystems.exists)


def read_ids(path: str) -> tuple[list[str], str]:
    """The ids of a blocklist file and its sha256 (see `gap_replay.benchmarks.read_ids`)."""
    return benchmarks.read_ids(path, BEAM_STORAGE)


def load_benchmark(config: BenchmarkConfig) -> Benchmark:
    """One benchmark's rows and ids, read from the files the recipe names (JSONL or a dataset folder)."""
    rows, sha256 = benchmarks.benchmark_rows(config.path, BEAM_STORAGE)
    ids, ids_sha256 = read_ids(config.ids) if config.ids else ([], None)
    return Benchmark(config.name, config.path, sha256, rows, ids, config.ids, ids_sha256, config.id_prefix)


def load_index(config: DecontaminationConfig) -> Index:
    """The index of every benchmark the recipe names."""
    return build_index([load_benchmark(benchmark) for benchmark in config.benchmarks], config.ngram)


def _found(match: Match) -> dict[str, Any]:
    part = match.part
    return {
        "benchmark": part.benchmark,
        "item": part.item,
        "part": part.label,
        "coverage": round(match.coverage, 4),
        "text": match.text,
    }


class _Decontaminate(beam.DoFn):
    """Drops a document an id blocklist names or that holds a benchmark item; or, where its source's action is
    `cut`, cuts the items out and keeps what is left (a document left without a word is dropped). Every removal is
    counted per benchmark and source, and becomes a reject record naming the items and the matched text."""

    def __init__(self, config: DecontaminationConfig) -> None:
        self._config = config

    def _removal(
        self, doc: Document, action: str, found: list[dict[str, Any]], detail: str, tokens: int, **fields: Any
    ) -> TaggedOutput:
        """Counts a removal (in the totals once, and under each benchmark found) and makes its reject record."""
        for benchmark in [None, *dict.fromkeys(entry["benchmark"] for entry in found)]:
            counters.count(doc.source, event(action, "documents", benchmark))
            counters.count(doc.source, event(action, "tokens", benchmark), tokens)
        reason = CUT_REASON if action == "cut" else REASON
        if reason == REASON:
            counters.dropped(doc.source, REASON)
        first = found[0]
        record = reject_record(
            reason,
            detail,
            document=doc,
            action=action,
            benchmark=first["benchmark"],
            item=first["item"],
            text=first["text"],
            matches=found,
            **fields,
        )
        return TaggedOutput(REJECTS, record)

    def process(self, doc: Document, index: Index) -> Iterator[Document | TaggedOutput]:
        words = len(doc.text.split())
        blocked = index.blocked.get(doc.id)
        if blocked is not None:
            benchmark, item = blocked
            found = [{"benchmark": benchmark, "item": item, "part": "id", "coverage": 1.0, "text": None}]
            yield self._removal(doc, "id", found, f"{benchmark} id {item}", words)
            return
        matches = find_matches(index, doc.text, self._config.min_coverage)
        if not matches:
            yield doc
            return
        found = [_found(match) for match in matches]
        detail = ", ".join(f"{entry['benchmark']} {entry['item']} {entry['part']}" for entry in found)
        if self._config.action.get(doc.source, DEFAULT_ACTION) == "drop":
            yield self._removal(doc, "drop", found, detail, words)
            return
        text, removed = cut(doc.text, matches, self._config.margin_words)
        if not word_count(text):
            yield self._removal(doc, "drop", found, f"nothing left after cutting {detail}", words)
            return
        yield self._removal(doc, "cut", found, detail, words - len(text.split()), removed=removed)
        yield doc.replace(text=text)


class Decontaminate(beam.PTransform):
    """Documents -> {"documents": those kept (cut where their source's action says so), REJECTS: the removals}.

    The index is built once in the pipeline, from the files the recipe names, and reaches every worker as a side
    input: the job graph carries the recipe, not megabytes of n-grams, and workers build nothing.
    """

    def __init__(self, config: DecontaminationConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        index = docs.pipeline | "Benchmarks" >> beam.Create([self._config]) | "BuildIndex" >> beam.Map(load_index)
        return docs | "Remove" >> beam.ParDo(
            _Decontaminate(self._config), index=beam.pvalue.AsSingleton(index)
        ).with_outputs(REJECTS, main="documents")
