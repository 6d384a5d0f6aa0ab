"""`python -m gap_replay.bench_build`: how close build comes to the tokenizer alone, in time and in memory.

A synthetic PubMed corpus (`bench_corpora`, 20,000 abstracts by default) is fetched from a loopback mirror and
curated once. The build trains its tokenizer on that corpus: training is timed on its own, and the tokenizer it
makes is then given to the build through the recipe (`tokenizer.path`, loaded instead of trained), so the build rows
time what follows training (read, tokenize, mix, shard, write, manifest) against the floor: that same tokenizer's
`encode_batch_fast` (what build calls) over the same texts read from the same curated Parquet, in one process on
`--threads` threads; `encode_batch` (which also computes offsets, as datatrove's tokenizer calls it) is shown too.
The builds run with the same RAYON_NUM_THREADS, which Beam's worker processes inherit.

Each row runs `--repeat` times in fresh processes, the rows alternating so that a load that drifts on a shared
machine hits them alike; times are medians, memory the highest peak of the driver and of the driver with its Beam
workers summed (`benchmarking.measure`). `--baseline MODULE` adds the builds of another module's `run_build` (a
copy of an earlier `pipelines/build.py` on PYTHONPATH) to the same alternation, to compare old and new as ratios.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gap_replay.bench_corpora import pubmed_recipe, write_synthetic_pubmed
from gap_replay.benchmarking import Run, measure, runner_args
from gap_replay.recipe import Recipe

BUILD = "gap_replay.pipelines.build"
BATCH_DOCUMENTS = 256  # texts per encode call of the batched floor: build's own (not imported: no Beam here)


def with_tokenizer(recipe: Recipe, path: Path) -> Recipe:
    """The recipe with its tokenizer given (loaded from `path`) instead of trained."""
    return recipe.model_copy(update={"tokenizer": recipe.tokenizer.model_copy(update={"path": str(path)})})


def curated_paths(recipe: Recipe) -> list[str]:
    return sorted(str(path) for path in (recipe.output_dir / "curated").rglob("*.parquet"))


def _threads(threads: int) -> None:
    """Set before the first encode of the process: the tokenizer's thread pool reads it once."""
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"


def encode_stage(tokenizer_path: str, paths: list[str], threads: int, fast: bool, batch: int = 0) -> int:
    """The floor: the curated texts read from Parquet and encoded as build encodes them (no special tokens added,
    special-token text kept as text), in one call or `batch` texts a call; returns the tokens with one EOS per
    document, as shards hold them."""
    _threads(threads)
    import pyarrow.parquet as pq
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(tokenizer_path)
    tokenizer.encode_special_tokens = True
    texts = [text for path in paths for text in pq.read_table(path, columns=["text"]).column("text").to_pylist()]
    encode = tokenizer.encode_batch_fast if fast else tokenizer.encode_batch
    step = batch or len(texts) or 1
    return sum(
        len(encoding.ids) + 1
        for start in range(0, len(texts), step)
        for encoding in encode(texts[start : start + step], add_special_tokens=False)
    )


def train_stage(recipe: Recipe, folder: str, threads: int) -> int:
    """Build's tokenizer training alone (reading its texts from the curated Parquet included); returns the vocabulary
    size and leaves `folder/tokenizer.json`."""
    _threads(threads)
    from gap_replay.pipelines.build import prepare_tokenizer

    return prepare_tokenizer(recipe, curated_paths(recipe), Path(folder)).vocab_size


def build_stage(recipe: Recipe, beam_args: list[str], threads: int, module: str = BUILD) -> int:
    """The whole build stage, `module.run_build`; returns the tokens written (train + valid)."""
    _threads(threads)
    totals = importlib.import_module(module).run_build(recipe, "bench", beam_args)["totals"]
    return totals["train"]["tokens"] + totals["valid"]["tokens"]


def beam_stage(beam_args: list[str]) -> int:
    """Beam's fixed cost, which the floor does not pay: its import, and a runner (and its workers) started for a
    three-step pipeline of a few elements; returns the elements grouped."""
    import apache_beam as beam

    from gap_replay.pipelines.options import pipeline_options, run_to_completion

    pipeline = beam.Pipeline(options=pipeline_options(beam_args))
    _ = pipeline | beam.Create(range(8)) | beam.Map(lambda n: (n % 2, n)) | beam.GroupByKey()
    run_to_completion(pipeline, "beam alone")
    return 8


def profile_stage(recipe: Recipe, threads: int, top: int) -> str:
    """cProfile of one in-process build (that runner executes every bundle on the calling thread): top functions."""
    _threads(threads)
    from gap_replay.pipelines.build import run_build

    profile = cProfile.Profile()
    profile.runcall(run_build, recipe, "bench", runner_args(0))
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


@dataclass(frozen=True)
class Plan:
    """One row to time: its label, the stage and its arguments, whether it tokenizes the whole corpus (so that it
    has a tokens/s and a ratio to the floor), and whether it is a floor (the tokenizer alone)."""

    name: str
    stage: Callable[..., Any]
    args: tuple
    tokenizes: bool = True
    floor: bool = False


def plans(recipe: Recipe, tokenizer: Path, workers: int, threads: int, baseline: str | None = None) -> list[Plan]:
    """The rows: the floors (encode rows) first, training, then each build module in-process and on `workers`
    workers with the tokenizer given, and the recipe's own build (training included) on workers."""
    given = with_tokenizer(recipe, tokenizer)
    paths = curated_paths(recipe)
    rows = [
        Plan(
            f"{call}, {threads} threads, {per}", encode_stage, (str(tokenizer), paths, threads, fast, batch), floor=True
        )
        for call, fast, per, batch in (
            ("encode_batch_fast", True, "one call", 0),
            ("encode_batch_fast", True, f"{BATCH_DOCUMENTS} a call", BATCH_DOCUMENTS),
            ("encode_batch", False, "one call", 0),
        )
    ]
    rows.append(
        Plan(
            "tokenizer training (build, before the rest)", train_stage, (recipe, str(tokenizer.parent), threads), False
        )
    )
    for module in (BUILD, *([baseline] if baseline else [])):
        label = "build" if module == BUILD else f"{module}"
        rows += [
            Plan(f"{label}, in-process runner", build_stage, (given, runner_args(0), threads, module)),
            Plan(f"{label}, {workers} worker processes", build_stage, (given, runner_args(workers), threads, module)),
        ]
    rows += [
        Plan(f"build, {workers} workers, training included", build_stage, (recipe, runner_args(workers), threads)),
        Plan("Beam alone, in-process runner", beam_stage, (runner_args(0),), False),
        Plan(f"Beam alone, {workers} worker processes", beam_stage, (runner_args(workers),), False),
    ]
    return rows


def net_of_beam(rows: Sequence[Row], floor: Row, workers: int) -> list[str]:
    """The builds' ratios to the floor once Beam's own fixed cost (its row's median) is taken off their time: what
    the build's own code costs, which a larger corpus approaches."""
    by_name = {row.name: row for row in rows}
    lines = []
    for runner in ("in-process runner", f"{workers} worker processes"):
        build, beam = by_name[f"build, {runner}"], by_name[f"Beam alone, {runner}"]
        net = build.seconds - beam.seconds
        rate = build.tokens / net / floor.tokens_per_second if net > 0 else float("inf")
        lines.append(f"build, {runner}, less Beam alone: {net:.2f} s, {rate:.2f}x floor")
    return lines


@dataclass(frozen=True)
class Row:
    """One line of the table: its runs, the tokens it handled (0: not a tokenizing row), whether it is a floor."""

    name: str
    runs: list[Run]
    tokens: int = 0
    floor: bool = False

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.tokens and self.seconds else 0.0


def fastest_floor(rows: Sequence[Row]) -> Row:
    """The fastest encode row (by median): the floor every ratio is taken to."""
    return min((row for row in rows if row.floor), key=lambda row: row.seconds)


def table(rows: Sequence[Row], floor: Row) -> list[str]:
    """The rows as text: median seconds and CPU seconds (all processes), tokens/s and its ratio to the floor's,
    the highest peak RSS of the driver and of the driver with its workers."""
    lines = [
        f"{'':<46} {'median s':>9} {'CPU s':>7} {'tokens/s':>11} {'x floor':>8} {'driver MB':>10} {'summed MB':>10}",
        "-" * 106,
    ]
    for row in rows:
        cpu = statistics.median(run.cpu_seconds for run in row.runs)
        rate = f"{row.tokens_per_second:>11,.0f}" if row.tokens else f"{'':>11}"
        ratio = f"{row.tokens_per_second / floor.tokens_per_second:>7.2f}x" if row.tokens else f"{'':>8}"
        driver, summed = max(run.driver_mb for run in row.runs), max(run.total_mb for run in row.runs)
        lines.append(f"{row.name:<46} {row.seconds:>9.2f} {cpu:>7.1f} {rate} {ratio} {driver:>10.0f} {summed:>10.0f}")
    return lines


def prepare_corpus(folder: Path, documents: int) -> Recipe:
    """The synthetic corpus, fetched and curated under `folder` (a later run given the same folder reuses it)."""
    from gap_replay.bench import curate_stage, fetch_stage  # imports Beam: not in the floor's processes

    recipe = pubmed_recipe(folder / "pubmed")
    if (recipe.output_dir / ".gap-replay" / "curate.json").is_file():
        return recipe
    site = folder / "site"
    write_synthetic_pubmed(site / "ftp.ncbi.nlm.nih.gov" / "pubmed" / "baseline", documents)
    measure(fetch_stage, recipe, site)
    measure(curate_stage, recipe, runner_args(0))
    return recipe


def bench(folder: Path, documents: int, repeat: int, workers: int, threads: int, baseline: str | None) -> list[str]:
    recipe = prepare_corpus(folder, documents)
    tokenizer = folder / "tokenizer" / "tokenizer.json"
    tokenizer.parent.mkdir(exist_ok=True)
    if not tokenizer.is_file():
        measure(train_stage, recipe, str(tokenizer.parent), threads)
    rows = plans(recipe, tokenizer, workers, threads, baseline)
    runs: dict[str, list[Run]] = {plan.name: [] for plan in rows}
    for _ in range(repeat):
        for plan in rows:
            runs[plan.name].append(measure(plan.stage, *plan.args))
    tokens = runs[rows[0].name][0].result
    for plan in rows:
        if plan.stage is build_stage and runs[plan.name][0].result != tokens:
            raise RuntimeError(f"{plan.name} wrote {runs[plan.name][0].result:,} tokens, the floor encoded {tokens:,}")
    table_rows = [Row(plan.name, runs[plan.name], tokens if plan.tokenizes else 0, plan.floor) for plan in rows]
    fastest = fastest_floor(table_rows)
    return [
        f"{sum(_rows(path) for path in curated_paths(recipe)):,} curated documents, {tokens:,} tokens; "
        f"medians of {repeat} runs, rows alternating; x floor: tokens/s over the fastest encode row's "
        f"({fastest.name.strip()})",
        *table(table_rows, fastest),
        "",
        *net_of_beam(table_rows, fastest, workers),
    ]


def _rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench_build", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; medians are reported")
    parser.add_argument("--documents", type=int, default=20_000, help="size of the synthetic corpus")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the multi-process runner")
    parser.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS of the floor and of the builds")
    parser.add_argument("--corpus", type=Path, help="keep the curated corpus in this folder, and reuse it next time")
    parser.add_argument("--baseline", metavar="MODULE", help="also time this module's run_build, alternating")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile one build: top N functions")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-build-") as tmp:
        folder = args.corpus or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        lines = bench(folder, args.documents, args.repeat, args.workers, args.threads, args.baseline)
        if args.profile:
            recipe = with_tokenizer(pubmed_recipe(folder / "pubmed"), folder / "tokenizer" / "tokenizer.json")
            lines += [
                "",
                "cProfile of one in-process build:",
                measure(profile_stage, recipe, args.threads, args.profile).result,
            ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
