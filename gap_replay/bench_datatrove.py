"""Our near dedup and quality rules against datatrove's MinHash pipeline and Gopher quality filter, on the same
synthetic JSONL (`bench_corpora.write_synthetic_jsonl`) in the same run, as ratios; `make bench` prints the table
when datatrove (the optional `bench` extra) is installed.

Near dedup: ours is `NearDedup` alone on Beam (the `local` parser, a reshuffle over the workers, then MinHash LSH with
the recipe's default `MinHashConfig`); datatrove's is its four MinHash steps under `LocalPipelineExecutor`, with
the closest `MinhashConfig` (`datatrove_config`). Each run happens in a fresh process, the two alternating, and is
timed from after its imports to its removed ids; the median wall time is reported, with precision and recall
against the duplicates the generator planted (`dedup_scores`). Quality: `build_rules(FilterConfig())` against
`GopherQualityFilter()` with its defaults, each over every document in this process, CPU time, alternating; how many
navigation-junk rows each drops, and how many English rows that are not junk (false drops).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gap_replay.bench_corpora import jsonl_recipe, planted_duplicates, row_kinds, synthetic_rows, write_synthetic_jsonl
from gap_replay.benchmarking import Run, measure, runner_args
from gap_replay.dedup.minhash import connected_components

# Reject reasons of near dedup: a member of a cluster that is not its survivor.
DUPLICATE_REASONS = ("near_duplicate", "exact_duplicate")


def datatrove_missing() -> str | None:
    """Why the comparison cannot run (datatrove, spaCy for its English word tokenizer or xxhash for its MinHash
    shingles is not importable), or None when it can."""
    try:
        import datatrove  # noqa: F401
        import spacy  # noqa: F401
        import xxhash  # noqa: F401
    except ImportError as error:
        return f"{error.name or 'datatrove'} is not installed (the optional `bench` extra)"
    return None


# --- ground truth and scores ------------------------------------------------------------------------------------


def duplicate_clusters(pairs: Iterable[tuple[str, str]]) -> list[set[str]]:
    """The connected components of (duplicate, original) pairs: each is one text, of which one copy should stay."""
    clusters: dict[str, set[str]] = {}
    for member, root in connected_components(pairs).items():
        clusters.setdefault(root, set()).add(member)
    return list(clusters.values())


@dataclass(frozen=True)
class Scores:
    """How a dedup's removals match the planted duplicates: `expected` = the sum over clusters of (size - 1),
    `correct` = the sum over clusters of min(members removed, size - 1); every other removal is wrong (a document in
    no cluster, or the last copy of a cluster). Precision = correct / removed, recall = correct / expected (1.0 when
    the denominator is 0)."""

    removed: int
    correct: int
    expected: int

    @property
    def precision(self) -> float:
        return self.correct / self.removed if self.removed else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0


def dedup_scores(removed: Iterable[str], clusters: Iterable[set[str]]) -> Scores:
    """Removed ids scored against duplicate clusters (`Scores`): a removal is right when its document is in a
    cluster and at least one other member of the cluster is kept."""
    removed = set(removed)
    expected = correct = 0
    for cluster in clusters:
        expected += len(cluster) - 1
        correct += min(len(cluster & removed), len(cluster) - 1)
    return Scores(len(removed), correct, expected)


# --- near dedup, both sides (each runs in a fresh process) -----------------------------------------------------


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[None]:
    """Sends this process's stderr (and its workers', which inherit it) to `log`; on an error, shows its end."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    except BaseException:
        os.dup2(saved, 2)
        sys.stderr.write(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def ours_near_dedup(collection: str, work: str, workers: int | None) -> tuple[float, list[str]]:
    """(seconds, removed row ids) of `NearDedup` on Beam over the collection's JSONL files, read as curate reads a
    `local` source, on the runner curate picks for them (`workers` None) or on `workers` worker processes (spread
    over them by a reshuffle first); the seconds start after the imports."""
    import apache_beam as beam

    from gap_replay.beam.dedup import NearDedup
    from gap_replay.beam.parse import DELETIONS, ParseFiles
    from gap_replay.beam.rejects import REJECTS
    from gap_replay.pipelines.curate import components_mode, input_bytes
    from gap_replay.pipelines.options import pipeline_options, run_to_completion
    from gap_replay.sources import local

    start = time.perf_counter()
    recipe = jsonl_recipe(Path(work) / "out", Path(collection))
    source = recipe.sources.local
    options = {
        local.NAME: {
            "collection": source.name,
            "fields": source.fields.model_dump(),
            "license": source.license,
            "redistributable": source.redistributable,
        }
    }
    inputs = [(local.NAME, path) for path, _ in local.input_files(source)]
    # Near dedup as curate runs it: `auto` components settled by the size of the input (the driver under 1 GB).
    minhash = recipe.dedup.minhash
    minhash = minhash.model_copy(update={"components": components_mode(minhash, input_bytes(inputs))})
    prefix = f"{local.NAME}/{source.name}:"
    removed = Path(work) / "removed"

    class RecordIds(beam.DoFn):
        """Writes each bundle's ids to a file of its own, as `record_ids` does on datatrove's side (Beam's text sink
        would add finalising stages of its own to what is timed)."""

        def start_bundle(self) -> None:
            self._ids: list[str] = []

        def process(self, row_id: str) -> None:
            self._ids.append(row_id)

        def finish_bundle(self) -> None:
            if self._ids:
                removed.mkdir(parents=True, exist_ok=True)
                text = "".join(f"{row_id}\n" for row_id in self._ids)
                (removed / f"{uuid.uuid4().hex}.txt").write_text(text, encoding="utf-8")

    with _quiet(Path(work) / "beam.log"):
        chosen = [] if workers is None else runner_args(workers if workers > 1 else 0)
        pipeline = beam.Pipeline(options=pipeline_options(chosen, input_bytes(inputs)))
        files = pipeline | "Files" >> beam.Create(inputs)
        parsed = files | "Parse" >> beam.ParDo(ParseFiles({}, options)).with_outputs(REJECTS, DELETIONS, main="docs")
        docs = parsed.docs
        if workers is not None and workers > 1:
            docs = docs | "Spread" >> beam.Reshuffle()
        near = docs | "NearDedup" >> NearDedup(minhash, recipe.dedup.source_priority)
        _ = (
            near[REJECTS]
            | "Dropped" >> beam.Filter(lambda record: record["reason"] in DUPLICATE_REASONS)
            | "Ids" >> beam.Map(lambda record: record["id"].removeprefix(prefix))
            | "Write" >> beam.ParDo(RecordIds())
        )
        run_to_completion(pipeline, "near dedup bench")
    ids = [line for path in sorted(removed.glob("*.txt")) for line in path.read_text().splitlines()]
    return time.perf_counter() - start, ids


def datatrove_config() -> Any:
    """datatrove's `MinhashConfig` closest to our default `MinHashConfig`: 5-gram words, 16 buckets x 8 hashes,
    64-bit hashes, seed 1, and its text normalisation made ours where it has a switch (numbers kept, diacritics
    kept). What stays different: its words are spaCy's English tokens of the simplified text (ours: the
    whitespace-split words of `normalize_for_exact`), its shingle hash is xxhash64 and its permutations are mod the
    Mersenne prime 2**61-1 (ours: blake2b word hashes folded into 64-bit n-gram hashes, datasketch's permutations)."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.text import TextNormConfig

    return MinhashConfig(
        n_grams=5,
        num_buckets=16,
        hashes_per_bucket=8,
        seed=1,
        norm_config=TextNormConfig(norm_numbers=False, norm_unicode_diacritics=False),
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )


def read_jsonl(data: Any, rank: int, world_size: int, *, folder: str) -> Iterator[Any]:
    """A datatrove pipeline step that reads the folder's JSONL files as `JsonlReader` does (files `rank::world_size`
    of the sorted list; `id` and `text`, the other fields as metadata), with the standard library's json: the
    stand-in for `JsonlReader` when orjson (which it needs) is not installed."""
    from datatrove.data import Document

    for path in sorted(Path(folder).glob("*.jsonl"))[rank::world_size]:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                yield Document(text=row.pop("text"), id=str(row.pop("id")), metadata=row)


def record_ids(data: Iterable[Any], rank: int, world_size: int, *, folder: str) -> Iterator[Any]:
    """A datatrove pipeline step that writes the id of every document passing through to `<folder>/<rank>.txt`."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    with open(Path(folder) / f"{rank:05d}.txt", "w", encoding="utf-8") as out:
        for doc in data:
            out.write(doc.id + "\n")
            yield doc


def xxhash64_utf8(text: str) -> int:
    """datatrove's shingle hash (xxhash64, its default) of the text's UTF-8 bytes: its own `xxhash64` passes a str,
    which xxhash 4 refuses ("Strings must be encoded before hashing")."""
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def datatrove_reader(collection: str) -> Any:
    """datatrove's `JsonlReader` over the collection; `read_jsonl` when orjson is not installed."""
    if importlib.util.find_spec("orjson") is None:
        return functools.partial(read_jsonl, folder=collection)
    from datatrove.pipeline.readers import JsonlReader

    return JsonlReader(collection, glob_pattern="*.jsonl")


def datatrove_near_dedup(collection: str, work: str, workers: int) -> tuple[float, list[str]]:
    """(seconds, removed row ids) of datatrove's MinHash dedup (signatures, buckets, clusters, filter) under
    `LocalPipelineExecutor`, one task per JSONL file on `workers` workers; the seconds start after the imports. The
    removed ids are the input's ids that the filter did not pass on."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )

    start = time.perf_counter()
    folder, config = Path(work), datatrove_config()
    files = len(list(Path(collection).glob("*.jsonl")))

    def executor(name: str, steps: list, tasks: int) -> LocalPipelineExecutor:
        return LocalPipelineExecutor(
            steps, tasks=tasks, workers=min(workers, tasks), logging_dir=str(folder / "logs" / name)
        )

    signatures, buckets, remove, kept = (str(folder / name) for name in ("signatures", "buckets", "remove", "kept"))
    signature = MinhashDedupSignature(signatures, config)
    signature._hash_func = xxhash64_utf8
    with _quiet(folder / "datatrove.log"):
        for stage in (
            executor("signatures", [datatrove_reader(collection), signature], files),
            executor("buckets", [MinhashDedupBuckets(signatures, buckets, config=config)], config.num_buckets),
            executor("clusters", [MinhashDedupCluster(buckets, remove, config)], 1),
            executor(
                "filter",
                [
                    datatrove_reader(collection),
                    MinhashDedupFilter(remove),
                    functools.partial(record_ids, folder=kept),
                ],
                files,
            ),
        ):
            stage.run()
    seconds = time.perf_counter() - start
    passed = {line for path in Path(kept).glob("*.txt") for line in path.read_text(encoding="utf-8").splitlines()}
    every = [json.loads(line)["id"] for path in sorted(Path(collection).glob("*.jsonl")) for line in path.open()]
    return seconds, [row_id for row_id in every if row_id not in passed]


# --- quality rules, both sides (in this process, on one core) --------------------------------------------------


@dataclass(frozen=True)
class QualityRun:
    """One side of the quality comparison: median CPU seconds over every document, and the ids it drops."""

    cpu_seconds: float
    dropped: frozenset[str]


def _cpu_seconds(check: Callable[[Any], bool], docs: list) -> tuple[float, list[bool]]:
    start = time.process_time()
    verdicts = [check(doc) for doc in docs]
    return time.process_time() - start, verdicts


def compare_quality(collection: Path, repeat: int) -> tuple[QualityRun, QualityRun]:
    """(ours, datatrove's) over the collection's documents: ours as the `local` parser reads them, datatrove's as
    its Documents of the same rows; each first warmed up on one document (datatrove loads spaCy there)."""
    from datatrove.data import Document as DatatroveDocument
    from datatrove.pipeline.filters import GopherQualityFilter

    from gap_replay.beam.parse import parse_file
    from gap_replay.documents import Document
    from gap_replay.recipe import FilterConfig
    from gap_replay.sources import local
    from gap_replay.text.quality import build_rules, first_failure

    paths = sorted(collection.glob("*.jsonl"))
    ours = [doc for path in paths for doc in parse_file("local", str(path)) if isinstance(doc, Document)]
    rows = [json.loads(line) for path in paths for line in path.open(encoding="utf-8")]
    theirs = [DatatroveDocument(text=row["text"], id=row["id"], metadata={"title": row["title"]}) for row in rows]
    rules, gopher = build_rules(FilterConfig()), GopherQualityFilter()

    def our_drop(doc: Document) -> bool:
        return first_failure(doc, rules) is not None

    def their_drop(doc: DatatroveDocument) -> bool:
        verdict = gopher.filter(doc)
        return not (verdict[0] if isinstance(verdict, tuple) else verdict)

    our_drop(ours[0]), their_drop(theirs[0])
    our_times, their_times = [], []
    for _ in range(repeat):
        seconds, our_verdicts = _cpu_seconds(our_drop, ours)
        our_times.append(seconds)
        seconds, their_verdicts = _cpu_seconds(their_drop, theirs)
        their_times.append(seconds)
    prefix = f"{local.NAME}/{local.NAME}:"  # the parser's ids: the collection's ids behind `local/<name>:`
    return (
        QualityRun(
            statistics.median(our_times),
            frozenset(doc.id.removeprefix(prefix) for doc, drop in zip(ours, our_verdicts, strict=True) if drop),
        ),
        QualityRun(
            statistics.median(their_times),
            frozenset(doc.id for doc, drop in zip(theirs, their_verdicts, strict=True) if drop),
        ),
    )


# --- the table ----------------------------------------------------------------------------------------------------


NAME_WIDTH = 44
DATATROVE = "datatrove MinHash (4 steps)"


def _dedup_row(name: str, runs: list[Run], documents: int, scores: Scores) -> str:
    seconds = statistics.median(run.result[0] for run in runs)
    peak = max(run.total_mb for run in runs)
    return (
        f"  {name:<{NAME_WIDTH}} {seconds:>8.2f} s {documents / seconds:>9,.0f} {peak:>8,.0f} MB {scores.removed:>8,} "
        f"{scores.precision:>10.3f} {scores.recall:>7.3f}"
    )


def _quality_row(name: str, run: QualityRun, documents: int, kinds: dict[str, str]) -> str:
    def dropped(kind: str) -> str:
        ids = {row_id for row_id, row_kind in kinds.items() if row_kind == kind}
        return f"{len(run.dropped & ids):,}/{len(ids):,}"

    return (
        f"  {name:<{NAME_WIDTH}} {run.cpu_seconds:>8.2f} s {documents / run.cpu_seconds:>9,.0f} "
        f"{dropped('navigation'):>13} {dropped('english'):>16} {dropped('other_language'):>16}"
    )


def _ratio_row(ours_seconds: float, their_seconds: float, ours: str) -> str:
    """Throughput of ours over datatrove's: the inverse ratio of their times."""
    return f"  {f'{ours} / datatrove (docs/s)':<{NAME_WIDTH}} {their_seconds / ours_seconds:>20.1f}x"


def curate_runner(collection: Path) -> str:
    """The runner curate picks for the collection's files by default (`pipeline_options`): by their size."""
    from gap_replay.pipelines.options import MULTI_PROCESS_BYTES  # imports Beam: not in datatrove's processes

    size = sum(path.stat().st_size for path in collection.glob("*.jsonl"))
    return "multi-process" if size >= MULTI_PROCESS_BYTES else "in-process"


def comparison_rows(documents: int = 20_000, repeat: int = 3, workers: int = 2, seed: int = 0) -> list[str]:
    """The comparison table as lines; one line saying why when datatrove cannot run."""
    missing = datatrove_missing()
    if missing:
        return [f"datatrove comparison skipped: {missing}"]
    rows = synthetic_rows(documents, seed)
    planted = planted_duplicates(rows)
    clusters = duplicate_clusters((duplicate, original) for duplicate, original, _ in planted)
    kinds = row_kinds(rows)
    counts = collections.Counter(kind for *_, kind in planted)
    reader = "JsonlReader" if importlib.util.find_spec("orjson") else "a stdlib-json JsonlReader (no orjson)"
    lines = [
        f"datatrove {importlib.metadata.version('datatrove')} against gap-replay, {documents:,} synthetic JSONL "
        f"documents in {max(workers, 1)} file(s), median of {repeat}",
        f"near dedup: wall time in a fresh process, after imports; datatrove on {workers} worker(s), reading with "
        f"{reader}",
        f"  {'':<{NAME_WIDTH}} {'median':>10} {'docs/s':>9} {'peak RSS':>11} {'removed':>8} {'precision':>10} "
        f"{'recall':>7}",
    ]
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-datatrove-") as tmp:
        collection = Path(tmp) / "collection"
        write_synthetic_jsonl(collection, documents, files=max(workers, 1), seed=seed)
        picked = curate_runner(collection)
        # Ours on the runner curate picks for this input, and (when that is not it) on the workers datatrove has.
        ours_sides = {f"gap-replay, {picked} (curate's)": None}
        if workers > 1 and picked == "in-process":
            ours_sides[f"gap-replay, {workers} Beam workers"] = workers
        stages = [(name, ours_near_dedup, side) for name, side in ours_sides.items()]
        stages.append((DATATROVE, datatrove_near_dedup, workers))
        sides: dict[str, list[Run]] = {name: [] for name, _, _ in stages}
        for number in range(repeat):
            for index, (name, stage, side) in enumerate(stages):
                work = Path(tmp) / f"{index}-{number}"
                work.mkdir()
                sides[name].append(measure(stage, str(collection), str(work), side))
        ours, theirs = compare_quality(collection, repeat)
    scores = {name: dedup_scores(runs[0].result[1], clusters) for name, runs in sides.items()}
    medians = {name: statistics.median(run.result[0] for run in runs) for name, runs in sides.items()}
    lines += [_dedup_row(name, runs, documents, scores[name]) for name, runs in sides.items()]
    lines += [_ratio_row(medians[name], medians[DATATROVE], name.split(", ")[1]) for name in ours_sides]
    lines += [
        f"  expected removals {scores[DATATROVE].expected:,}: one kept per cluster of {counts['exact']:,} exact "
        f"copies, {counts['near']:,} near copies, {counts['navigation']:,} repeats of the navigation row",
        "quality: one core, CPU time, in this process; rows dropped of each kind",
        f"  {'':<{NAME_WIDTH}} {'median':>10} {'docs/s':>9} {'nav. junk':>13} {'English':>16} {'other lang.':>16}",
        _quality_row("gap-replay build_rules", ours, documents, kinds),
        _quality_row("datatrove GopherQualityFilter", theirs, documents, kinds),
        _ratio_row(ours.cpu_seconds, theirs.cpu_seconds, "ours"),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench_datatrove", description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000, help="size of the synthetic JSONL corpus")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median is reported")
    parser.add_argument("--workers", type=int, default=2, help="Beam workers and datatrove workers (and JSONL files)")
    args = parser.parse_args(argv)
    print("\n".join(comparison_rows(args.documents, args.repeat, args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
