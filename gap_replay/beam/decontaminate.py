"""Benchmark decontamination on Beam: benchmark files read into one index, and a step that drops the documents
holding a benchmark item (or cuts the item out, per source) and the documents an id blocklist names.

The index is built once in the pipeline and reaches the workers as a side input; the driver builds the same index
(`load_index` is deterministic) to describe the benchmarks in the decontamination report.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from gap_replay.beam import counters
from gap_replay.beam.io import match_paths
from gap_replay.beam.rejects import REJECTS, reject_record
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

# A benchmark path with one of these endings is a JSONL file; any other path is a Hugging Face dataset folder.
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
# A folder holding one of these was written by `save_to_disk`; another folder holds data files for `load_dataset`.
SAVED_DATASET_FILES = ("dataset_dict.json", "state.json")
REASON = "decontaminated"
CUT_REASON = "decontaminated_cut"


def _read(path: str) -> bytes:
    """A file's bytes as stored (never decompressed: its sha256 is the file's)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


def _item_id(row: Mapping[str, Any], fallback: str) -> str:
    """The benchmark's own id of a row (`realidx`, else `id`), else where the row is."""
    for key in ("realidx", "id"):
        if row.get(key) is not None:
            return str(row[key])
    return fallback


def _jsonl_rows(path: str) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """(item id, row) of a JSONL file (gzipped when its name ends in .gz), ids falling back to line numbers, and
    the file's sha256."""
    data = _read(path)
    lines = (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8").split("\n")
    rows = [(number, json.loads(line)) for number, line in enumerate(lines, start=1) if line.strip()]
    return [(_item_id(row, f"line {number}"), row) for number, row in rows], hashlib.sha256(data).hexdigest()


def _folder_sha256(path: str) -> str:
    """sha256 of a folder: of each file's path (relative to the folder) and sha256, one line each, sorted."""
    root = path.rstrip("/") + "/"
    lines = [f"{file[len(root) :]}\t{hashlib.sha256(_read(file)).hexdigest()}\n" for file in match_paths(f"{root}**")]
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _dataset_rows(path: str) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """(item id, row) of every split of a Hugging Face dataset folder (splits in name order, ids falling back to
    `<split> row <n>`), and the folder's sha256."""
    import datasets

    root = path.rstrip("/")
    saved = any(FileSystems.exists(f"{root}/{name}") for name in SAVED_DATASET_FILES)
    loaded = datasets.load_from_disk(root) if saved else datasets.load_dataset(root)
    splits = loaded if isinstance(loaded, datasets.DatasetDict) else {"": loaded}
    rows = [
        (_item_id(row, f"{split} row {number}".strip()), row)
        for split in sorted(splits)
        for number, row in enumerate(splits[split])
    ]
    return rows, _folder_sha256(root)


def read_ids(path: str) -> tuple[list[str], str]:
    """The ids of a blocklist file and its sha256: a JSON object's keys (PubMedQA's PMID -> answer), a JSON list's
    items, or else one id a line."""
    data = _read(path)
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8").split()
    ids = list(parsed) if isinstance(parsed, (dict, list)) else [parsed]
    return [str(value).strip() for value in ids if str(value).strip()], hashlib.sha256(data).hexdigest()


def load_benchmark(config: BenchmarkConfig) -> Benchmark:
    """One benchmark's rows and ids, read from the files the recipe names (JSONL or a dataset folder)."""
    rows, sha256 = _jsonl_rows(config.path) if config.path.endswith(JSONL_SUFFIXES) else _dataset_rows(config.path)
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
