"""`make bench`: throughput and peak memory of every stage, on the sample corpus and on two synthetic corpora.

The corpora (`bench_corpora`): the sample recipe's offline mirror; 20,000 PubMed abstracts served from a loopback
mirror of NCBI's baseline folder; 20,000 JSONL documents of 1-2 KB that state no language, curated as a `local`
collection, so every document needs language ID. For the synthetic corpora each curate step is timed on its own
(`bench_steps`: the pure function behind the step, one core, no Beam), then the whole curate and build run on the
runner given (by default the multi-process runner on 2 workers, as `make corpus` runs them). Each timed run happens
in a fresh process (`benchmarking.measure`): wall time, and peak RSS of the driver and of the driver with its
workers summed; each runs `--repeat` times and the median is reported. Last, when datatrove (the `bench` extra) is
installed, its MinHash and Gopher filter against ours on the same JSONL corpus, as ratios (`bench_datatrove`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from gap_replay.bench_corpora import jsonl_recipe, pubmed_recipe, write_synthetic_jsonl, write_synthetic_pubmed
from gap_replay.bench_datatrove import comparison_rows
from gap_replay.bench_steps import StepTime, step_rows, step_times
from gap_replay.benchmarking import Run, measure, median_seconds, peak, runner_args
from gap_replay.recipe import Recipe, load_recipe


def fetch_stage(recipe: Recipe, site: Path | None = None) -> int:
    from gap_replay.pipelines.fetch import run_fetch

    run_fetch(recipe, mirror_site=site)
    return sum(path.stat().st_size for path in (recipe.output_dir / "raw").rglob("*") if path.is_file())


def uncompressed_size(path: Path) -> int:
    """Bytes a parser reads from a raw file: a gzip member's recorded size (ISIZE, modulo 4 GiB), else the file's."""
    if path.name.endswith((".gz", ".tgz")):
        with open(path, "rb") as stream:
            stream.seek(-4, 2)
            return int.from_bytes(stream.read(4), "little")
    return path.stat().st_size


def curate_stage(recipe: Recipe, beam_args: list[str]) -> tuple[int, int, int]:
    """(documents parsed, uncompressed raw bytes read, near-dedup star rounds run)."""
    from gap_replay import stages
    from gap_replay.pipelines.curate import fetched_sources, raw_inputs, run_curate

    fetched: dict[str, Any] = {"files": []}
    if fetched_sources(recipe):
        fetched, _ = stages.require(recipe.output_dir, "fetch", needed_by="the curate benchmark")
    raw_bytes = sum(uncompressed_size(Path(path)) for _, path in raw_inputs(recipe, fetched))
    summary = run_curate(recipe, "bench", beam_args, force=True)
    documents = sum(entry.get("parsed", 0) for entry in summary["sources"].values())
    return documents, raw_bytes, summary.get("near_dedup", {}).get("rounds", 0)


def steps_stage(recipe: Recipe) -> list[StepTime]:
    """Each curate step's pure function over the corpus's raw files, in one process (`bench_steps`)."""
    from gap_replay import stages
    from gap_replay.pipelines.curate import fetched_sources, raw_inputs

    fetched: dict[str, Any] = {"files": []}
    if fetched_sources(recipe):
        fetched, _ = stages.require(recipe.output_dir, "fetch", needed_by="the step benchmark")
    return step_times(recipe, raw_inputs(recipe, fetched))


def build_stage(recipe: Recipe, beam_args: list[str]) -> int:
    """Tokens written (train + valid)."""
    from gap_replay.pipelines.build import run_build

    totals = run_build(recipe, "bench", beam_args, force=True)["totals"]
    return totals["train"]["tokens"] + totals["valid"]["tokens"]


def _figure(value: float) -> str:
    """Whole numbers from 100 up, three significant digits below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


HEADER = f"{'corpus':<18} {'stage':<14} {'median':>10}  {'driver':>8}  {'+workers':>8}  throughput"


def stage_row(corpus: str, stage: str, runs: list[Run], amounts: dict[str, float]) -> str:
    """One stage: median wall seconds, the highest peak RSS of the driver and of the driver with its workers."""
    seconds = median_seconds(runs)
    driver, total = peak(runs)
    rates = "  ".join(f"{_figure(value / seconds):>10} {unit}/s" for unit, value in amounts.items())
    return f"{corpus:<18} {stage:<14} {seconds:>8.2f} s  {driver:>5.0f} MB  {total:>5.0f} MB  {rates}"


def bench_corpus(name: str, recipe: Recipe, repeat: int, beam_args: list[str], steps: bool) -> list[str]:
    """The corpus's step rows (when `steps`), then its whole curate and build."""
    rows = step_rows(name, measure(steps_stage, recipe).result) if steps else []
    curate_runs = [measure(curate_stage, recipe, beam_args) for _ in range(repeat)]
    documents, raw_bytes, rounds = curate_runs[0].result
    rows.append(stage_row(name, "curate", curate_runs, {"docs": documents, "MB": raw_bytes / 1e6}))
    rows[-1] += f"  (near dedup: {rounds} star rounds)" if rounds else "  (near dedup: components on the driver)"
    build_runs = [measure(build_stage, recipe, beam_args) for _ in range(repeat)]
    rows.append(stage_row(name, "build", build_runs, {"tokens": build_runs[0].result}))
    return rows


def components_row(corpus: str, recipe: Recipe, repeat: int, beam_args: list[str]) -> str:
    """The whole curate again with near dedup's components resolved in Beam rounds (`components: beam`, what a
    corpus over 1 GB gets by default) rather than on the driver: its time and the rounds it used."""
    minhash = recipe.dedup.minhash.model_copy(update={"components": "beam"})
    beam_recipe = recipe.model_copy(update={"dedup": recipe.dedup.model_copy(update={"minhash": minhash})})
    runs = [measure(curate_stage, beam_recipe, beam_args) for _ in range(repeat)]
    documents, raw_bytes, rounds = runs[0].result
    row = stage_row(corpus, "curate (beam)", runs, {"docs": documents, "MB": raw_bytes / 1e6})
    return f"{row}  (near dedup: {rounds} star rounds)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is reported")
    parser.add_argument("--documents", type=int, default=20_000, help="size of each synthetic corpus")
    parser.add_argument("--workers", type=int, default=2, help="Beam workers (multi-process); 0: in-process runner")
    args = parser.parse_args(argv)
    beam_args = runner_args(args.workers)
    rows = [HEADER, "-" * 100]
    size = f"{args.documents // 1000}k" if args.documents >= 1000 else str(args.documents)
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-") as tmp:
        sample, _ = load_recipe(None)
        sample = sample.model_copy(update={"output": str(Path(tmp) / "sample")})
        fetch = measure(fetch_stage, sample)
        rows.append(stage_row("sample", "fetch", [fetch], {"MB": fetch.result / 1e6}) + "  (loopback mirror)")
        rows += bench_corpus("sample", sample, args.repeat, beam_args, steps=False)

        pubmed = pubmed_recipe(Path(tmp) / "pubmed")
        site = Path(tmp) / "site"
        write_synthetic_pubmed(site / "ftp.ncbi.nlm.nih.gov" / "pubmed" / "baseline", args.documents)
        fetch_stage(pubmed, site)
        rows += bench_corpus(f"pubmed {size}", pubmed, args.repeat, beam_args, steps=True)

        collection = Path(tmp) / "collection"
        write_synthetic_jsonl(collection, args.documents)
        jsonl = jsonl_recipe(Path(tmp) / "jsonl", collection)
        rows += bench_corpus(f"jsonl {size}", jsonl, args.repeat, beam_args, steps=True)
        rows.append(components_row(f"jsonl {size}", jsonl, args.repeat, beam_args))
    print("\n".join(rows))
    print("\n" + "\n".join(comparison_rows(args.documents, args.repeat, args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
