"""`make bench`: throughput and peak memory of every stage, on the sample corpus and on a synthetic PubMed corpus.

Each timed run happens in a fresh process, so its peak RSS (with any Beam workers it starts) is its own; each stage
runs `--repeat` times and the median is reported.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gap_replay.recipe import Recipe, load_recipe, parse_recipe

WORDS = (
    "patients",
    "treatment",
    "clinical",
    "risk",
    "disease",
    "therapy",
    "outcomes",
    "mortality",
    "infection",
    "dose",
    "trial",
    "cohort",
    "hospital",
    "blood",
    "pressure",
    "diabetes",
    "insulin",
    "cancer",
    "tumour",
    "chemotherapy",
    "vaccine",
    "antibody",
    "fever",
    "children",
    "adults",
    "women",
    "pregnancy",
    "cardiac",
    "stroke",
    "renal",
    "hepatic",
    "pulmonary",
    "asthma",
    "tuberculosis",
    "malaria",
    "antibiotic",
    "resistance",
    "screening",
    "diagnosis",
    "imaging",
    "biopsy",
    "survival",
    "relapse",
    "remission",
    "adverse",
    "events",
    "placebo",
    "randomised",
    "controlled",
    "follow-up",
    "months",
    "years",
    "significant",
    "reduced",
    "increased",
    "associated",
    "compared",
    "baseline",
    "incidence",
    "prevalence",
    "guideline",
    "recommendation",
    "evidence",
    "quality",
    "moderate",
    "high",
    "low",
    "surgery",
    "anaesthesia",
    "pain",
    "analgesia",
    "opioid",
    "dementia",
)

ARTICLE = """<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>
<Article PubModel="Print"><Journal><Title>Synthetic Journal of Medicine</Title><JournalIssue><PubDate><Year>2025</Year>
<Month>Mar</Month></PubDate></JournalIssue></Journal><ArticleTitle>{title}</ArticleTitle><Abstract>
<AbstractText Label="BACKGROUND">{background}</AbstractText><AbstractText Label="RESULTS">{results}</AbstractText>
</Abstract><Language>eng</Language><PublicationTypeList><PublicationType>Journal Article</PublicationType>
</PublicationTypeList></Article></MedlineCitation></PubmedArticle>
"""


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 500)} mg")
    return " ".join(words).capitalize() + "."


def write_synthetic_pubmed(raw_dir: Path, documents: int, files: int = 4, seed: int = 0) -> int:
    """PubMed-style .xml.gz files of `documents` articles (2% exact and 2% near duplicates), each with NCBI's `.md5`
    beside it; returns bytes written."""
    rng = random.Random(seed)
    raw_dir.mkdir(parents=True, exist_ok=True)
    abstracts: list[tuple[str, str, str]] = []
    per_file = -(-documents // files)
    written = 0
    for number in range(files):
        path = raw_dir / f"pubmed26n{number + 1:04d}.xml.gz"
        with gzip.GzipFile(path, "wb", mtime=0) as out:
            out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n')
            for index in range(number * per_file, min(documents, (number + 1) * per_file)):
                roll = rng.random()
                if abstracts and roll < 0.02:
                    title, background, results = rng.choice(abstracts)
                elif abstracts and roll < 0.04:
                    title, background, results = rng.choice(abstracts)
                    results = results.replace(" the ", " a ", 1) + " Findings were consistent."
                else:
                    title = _sentence(rng)[:-1]
                    background = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
                    results = " ".join(_sentence(rng) for _ in range(rng.randint(4, 9)))
                    abstracts.append((title, background, results))
                article = ARTICLE.format(pmid=30_000_000 + index, title=title, background=background, results=results)
                out.write(article.encode())
            out.write(b"</PubmedArticleSet>\n")
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".md5").write_text(f"MD5({path.name})= {md5}\n")
        written += path.stat().st_size
    return written


def synthetic_recipe(output: Path) -> Recipe:
    """PubMed only, fetched from a loopback mirror of NCBI's baseline folder (see `synthetic_site`)."""
    return parse_recipe(
        {
            "name": "bench-synthetic",
            "output": str(output),
            "mirror": True,
            "http": {"delay_seconds": 0},
            "curated_shards": 1,
            "write_rejects": False,
            "sources": {
                "pubmed": {"filters": {"min_words": 40}, "update_url": None},
                "pmc": {"enabled": False},
                "guidelines": {"enabled": False},
                "replay": {"enabled": False},
            },
            "split": {"valid_fraction": 0.01},
            "tokenizer": {"vocab_size": 8192},
            "shards": {"tokens_per_shard": 2_000_000},
        }
    )


def _child(queue: Any, stage: Callable[..., Any], args: tuple) -> None:
    start = time.perf_counter()
    result = stage(*args)
    seconds = time.perf_counter() - start
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    queue.put((seconds, peak_kb / 1024, result))


def measure(stage: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """(seconds, peak RSS in MB, result) of `stage(*args)` run in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, stage, args))
    process.start()
    outcome = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark stage {stage.__name__} failed with exit code {process.exitcode}")
    return outcome


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


def curate_stage(recipe: Recipe, beam_args: list[str]) -> tuple[int, int]:
    """(documents parsed, uncompressed raw bytes read)."""
    from gap_replay import stages
    from gap_replay.pipelines.curate import raw_inputs, run_curate

    fetched, _ = stages.require(recipe.output_dir, "fetch", needed_by="the curate benchmark")
    raw_bytes = sum(uncompressed_size(Path(path)) for _, path in raw_inputs(recipe, fetched))
    stats = run_curate(recipe, "bench", beam_args)
    return sum(entry.get("parsed", 0) for entry in stats["sources"].values()), raw_bytes


def build_stage(recipe: Recipe, beam_args: list[str]) -> int:
    """Tokens written (train + valid)."""
    from gap_replay.pipelines.build import run_build

    totals = run_build(recipe, "bench", beam_args)["totals"]
    return totals["train"]["tokens"] + totals["valid"]["tokens"]


def _row(corpus: str, stage: str, runs: list[tuple[float, float, Any]], amounts: dict[str, float]) -> str:
    seconds = statistics.median(run[0] for run in runs)
    peak = max(run[1] for run in runs)
    rates = "  ".join(f"{value / seconds:>10,.2f} {unit}/s" for unit, value in amounts.items())
    return f"{corpus:<18} {stage:<8} {seconds:>8.2f} s  {peak:>8.0f} MB  {rates}"


def bench_corpus(name: str, recipe: Recipe, repeat: int, beam_args: list[str]) -> list[str]:
    rows = []
    curate_runs = [measure(curate_stage, recipe, beam_args) for _ in range(repeat)]
    documents, raw_bytes = curate_runs[0][2]
    rows.append(_row(name, "curate", curate_runs, {"docs": documents, "MB": raw_bytes / 1e6}))
    build_runs = [measure(build_stage, recipe, beam_args) for _ in range(repeat)]
    rows.append(_row(name, "build", build_runs, {"tokens": build_runs[0][2]}))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is reported")
    parser.add_argument("--documents", type=int, default=20_000, help="size of the synthetic corpus")
    parser.add_argument("--workers", type=int, default=1, help=">1: the multi-process runner with this many workers")
    args = parser.parse_args(argv)
    beam_args = ["--runner=FnApiRunner"]
    if args.workers > 1:
        beam_args += ["--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"]
    header = f"{'corpus':<18} {'stage':<8} {'median':>10}  {'peak RSS':>11}  throughput"
    rows = [header, "-" * 90]
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-") as tmp:
        sample, _ = load_recipe(None)
        sample = sample.model_copy(update={"output": str(Path(tmp) / "sample")})
        fetch_seconds, fetch_peak, fetched = measure(fetch_stage, sample)
        rows.append(
            f"{'sample':<18} {'fetch':<8} {fetch_seconds:>8.2f} s  {fetch_peak:>8.0f} MB  "
            f"{fetched / 1e6 / fetch_seconds:>10,.2f} MB/s (loopback mirror)"
        )
        rows += bench_corpus("sample", sample, args.repeat, beam_args)
        synthetic = synthetic_recipe(Path(tmp) / "synthetic")
        site = Path(tmp) / "site"
        write_synthetic_pubmed(site / "ftp.ncbi.nlm.nih.gov" / "pubmed" / "baseline", args.documents)
        fetch_stage(synthetic, site)
        rows += bench_corpus(f"synthetic {args.documents // 1000}k", synthetic, args.repeat, beam_args)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
