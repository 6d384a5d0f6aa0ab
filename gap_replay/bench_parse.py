"""`python -m gap_replay.bench_parse`: throughput and peak memory of the PubMed and PMC parsers, and of guideline
page and PDF extraction, on their own.

The PubMed input is one gzipped file shaped like an NLM baseline file (by default 30,000 records in about 170 MB
of XML): the records of the real sample slice (`../shared/samples/pubmed/`) repeated with fresh PMIDs, some without
their reference list, affiliations or history to reach that density, or synthetic records when the samples are not
there. The PMC input is the real JATS samples repeated to about 200 articles. Guideline extraction reads the real
HTML pages and PDFs of `../shared/samples/guidelines/` (or, without them, the mirror's), repeated to about 100 pages
and 300 PDF pages. Each timed parse runs in a fresh process, so its peak RSS is its own; the median of `--repeat`
runs is reported.

The real NLM files of the samples (the current-format slice and the legacy 2016 file), unmodified, are also read
four ways, to say how far the parser is from the floor: a bare lxml `iterparse` that only decompresses, parses and
frees each record; the parser alone, in-process; and a whole `gap-replay parse` process (interpreter start, imports,
JSONL writing), on one worker and on every core. Each run reads its file as many times as makes about `--megabytes`
of XML; the four alternate, so a load that drifts on a shared machine hits them alike; ratios are of median
records/s (and of median CPU time, summed over a command's workers).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import multiprocessing
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from gap_replay.parse_files import available_cores

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
PUBMED_SAMPLE = Path("pubmed") / "pubmed21n1298_slice1023.xml.gz"
# The real NLM files read against a bare lxml scan, each with its record element (top-level in the legacy format).
REAL_PUBMED = ((PUBMED_SAMPLE, "PubmedArticle"), (Path("pubmed") / "medline16n0902.xml.gz", "MedlineCitation"))
GZIP_MAGIC = b"\x1f\x8b"
PMC_SAMPLES = "pmc/*.nxml"
GUIDELINE_PAGES = ("guidelines/html/*.html", "www.who.int/**/*.html")
GUIDELINE_PDFS = ("guidelines/pdf/*.pdf", "www.who.int/**/*.pdf")
FIRST_PMID = 40_000_000
PROLOG = b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n'
EPILOG = b"</PubmedArticleSet>\n"

RECORD = re.compile(rb"[ \t]*<PubmedArticle>.*?</PubmedArticle>\s*", re.DOTALL)
DELETE_BLOCK = re.compile(rb"[ \t]*<DeleteCitation>.*?</DeleteCitation>\s*", re.DOTALL)
OWN_PMID = re.compile(rb'(<PMID Version="\d+">)\d+(</PMID>)')
OWN_ARTICLE_ID = re.compile(rb'(<ArticleId IdType="pubmed">)\d+(</ArticleId>)')
# Bulky optional parts that many baseline records lack, dropped in this order to reach a baseline file's density.
# The ReferenceList pattern is greedy: it is the last child of PubmedData and may nest.
OPTIONAL_PARTS = (
    re.compile(rb"\s*<ReferenceList>.*</ReferenceList>", re.DOTALL),
    re.compile(rb"\s*<AffiliationInfo>.*?</AffiliationInfo>", re.DOTALL),
    re.compile(rb"\s*<History>.*?</History>", re.DOTALL),
)

WORDS = (
    "patients", "treatment", "clinical", "risk", "disease", "therapy", "outcomes", "mortality", "infection", "dose",
    "trial", "cohort", "hospital", "blood", "pressure", "diabetes", "insulin", "cancer", "tumour", "vaccine", "fever",
    "children", "adults", "women", "pregnancy", "cardiac", "stroke", "renal", "hepatic", "pulmonary", "asthma",
    "tuberculosis", "antibiotic", "resistance", "screening", "diagnosis", "imaging", "survival", "relapse", "adverse",
    "events", "placebo", "randomised", "controlled", "follow-up", "months", "years", "significant", "reduced",
)  # fmt: skip
SYNTHETIC = """  <PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">
      <PMID Version="1">{pmid}</PMID>
      <DateRevised><Year>2025</Year><Month>0{month}</Month><Day>1{month}</Day></DateRevised>
      <Article PubModel="Print">
        <Journal>
          <JournalIssue CitedMedium="Print"><PubDate><Year>2024</Year><Month>Mar</Month></PubDate></JournalIssue>
          <Title>Synthetic Journal of Medicine</Title>
        </Journal>
        <ArticleTitle>{title}</ArticleTitle>
        <Abstract>
{abstract}
        </Abstract>
        <AuthorList CompleteYN="Y">
{authors}
        </AuthorList>
        <Language>eng</Language>
        <PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
      </Article>
      <MeshHeadingList>
{mesh}
      </MeshHeadingList>
    </MedlineCitation>
    <PubmedData>
      <ArticleIdList>
        <ArticleId IdType="pubmed">{pmid}</ArticleId>
        <ArticleId IdType="doi">10.5555/synthetic.{pmid}</ArticleId>
      </ArticleIdList>
    </PubmedData>
  </PubmedArticle>
"""


# --- inputs --------------------------------------------------------------------------------------------------------


def sample_records(sample: Path) -> tuple[list[bytes], bytes]:
    """The PubmedArticle elements of a PubMed sample file, and its DeleteCitation block (empty when it has none)."""
    data = gzip.decompress(sample.read_bytes())
    block = DELETE_BLOCK.search(data)
    return RECORD.findall(data), block.group() if block else b""


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 500)} mg")
    return " ".join(words).capitalize() + "."


def synthetic_records(count: int, seed: int = 0) -> list[bytes]:
    """PubmedArticle elements shaped like a current baseline record (structured abstract, authors, MeSH)."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        abstract = "\n".join(
            f'          <AbstractText Label="{label}">{" ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))}'
            "</AbstractText>"
            for label in ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
        )
        authors = "\n".join(
            f"          <Author><LastName>{rng.choice(WORDS).title()}</LastName><Initials>{chr(65 + n)}</Initials>"
            "</Author>"
            for n in range(rng.randint(2, 9))
        )
        mesh = "\n".join(
            f"        <MeshHeading><DescriptorName>{rng.choice(WORDS).title()}</DescriptorName></MeshHeading>"
            for _ in range(rng.randint(3, 10))
        )
        record = SYNTHETIC.format(
            pmid=index, month=index % 9 + 1, title=_sentence(rng), abstract=abstract, authors=authors, mesh=mesh
        )
        records.append(record.encode())
    return records


def renumbered(record: bytes, pmid: int) -> bytes:
    """A record with its own PMID (and the matching ArticleId) set to `pmid`; cited PMIDs come later and stay."""
    record = OWN_PMID.sub(rb"\g<1>%d\g<2>" % pmid, record, count=1)
    return OWN_ARTICLE_ID.sub(rb"\g<1>%d\g<2>" % pmid, record, count=1)


def variants(record: bytes) -> list[bytes]:
    """The record whole, then with each optional part dropped in turn (fullest first)."""
    shapes = [record]
    for part in OPTIONAL_PARTS:
        shapes.append(part.sub(b"", shapes[-1]))
    return shapes


def write_pubmed_file(path: Path, records: list[bytes], tail: bytes, megabytes: float, count: int) -> int:
    """Write `count` records (cycling through `records`, renumbered) in about `megabytes` of XML; its XML bytes.

    Each copy is the fullest variant of its record that keeps the running mean size at or under the target mean,
    so the file has a baseline file's size and record count whatever the density of the source records.
    """
    shapes = [variants(record) for record in records]
    mean = (megabytes * 1e6 - len(PROLOG) - len(tail) - len(EPILOG)) / count
    body = 0
    with gzip.GzipFile(path, "wb", compresslevel=6, mtime=0) as out:
        out.write(PROLOG)
        for index in range(count):
            options = shapes[index % len(shapes)]
            chosen = next((shape for shape in options if body + len(shape) <= mean * (index + 1)), options[-1])
            record = renumbered(chosen, FIRST_PMID + index)
            out.write(record)
            body += len(record)
        out.write(tail + EPILOG)
    return len(PROLOG) + body + len(tail) + len(EPILOG)


def xml_size(path: Path) -> int:
    """Bytes of XML in a file, gunzipped when it starts with the gzip magic."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    if not gzipped:
        return path.stat().st_size
    size = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
    return size


def pmc_inputs(samples: Path, articles: int) -> list[Path]:
    """The PMC sample files, repeated to `articles` entries."""
    files = sorted(samples.glob(PMC_SAMPLES))
    return [files[n % len(files)] for n in range(articles)] if files else []


# --- timed runs ----------------------------------------------------------------------------------------------------


def timed_parse(source: str, paths: list[Path]) -> tuple[float, float, int]:
    """(seconds, peak RSS of this process in MB, items yielded) of parsing `paths` with one source's parser."""
    parse = importlib.import_module(f"gap_replay.sources.{source}").parse  # importing is not what is measured
    start = time.perf_counter()
    items = 0
    for path in paths:
        with open(path, "rb") as stream:
            items += sum(1 for _ in parse(stream, str(path)))
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, items


def timed_extract(kind: str, paths: list[Path]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, pages) of guideline extraction: `html` pages, or `pdf` files counted in pages."""
    from gap_replay.sources.guidelines.extract import html_to_markdown, pdf_to_markdown

    start = time.perf_counter()
    pages = 0
    for path in paths:
        data = path.read_bytes()
        pages += 1 if kind == "html" else pdf_to_markdown(data).pages
        if kind == "html":
            html_to_markdown(data)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, pages


def bare_scan(path: Path, tag: str) -> int:
    """The `tag` records of an XML file (gzipped or not) as a bare lxml `iterparse` reads them, each counted and
    freed: decompress and parse, nothing else; the floor for any lxml parser of the same file."""
    from lxml import etree

    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    records = 0
    with (gzip.open if gzipped else open)(path, "rb") as stream:
        for _, element in etree.iterparse(stream, tag=tag):
            records += 1
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    return records


def timed_scan(tag: str, paths: list[Path]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, records) of a bare lxml scan of `paths`."""
    start, cpu = time.perf_counter(), time.process_time()
    records = sum(bare_scan(path, tag) for path in paths)
    return time.perf_counter() - start, time.process_time() - cpu, records


def timed_parser(source: str, paths: list[Path]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, items yielded) of one source's parser on `paths`, in this process."""
    parse = importlib.import_module(f"gap_replay.sources.{source}").parse  # importing is not what is measured
    start, cpu = time.perf_counter(), time.process_time()
    items = 0
    for path in paths:
        with open(path, "rb") as stream:
            items += sum(1 for _ in parse(stream, str(path)))
    return time.perf_counter() - start, time.process_time() - cpu, items


def parse_command() -> list[str]:
    """The `gap-replay` console script of this interpreter's environment, else the same CLI through `-m`."""
    script = Path(sys.executable).with_name("gap-replay")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gap_replay.cli"]


def timed_command(source: str, paths: list[Path], workers: int = 1) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds summed over its workers, documents written) of a whole `gap-replay parse SOURCE
    PATHS... --out --workers N` process: interpreter start, imports, parsing and JSONL writing."""
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-parse-") as tmp:
        out = Path(tmp) / "parsed.jsonl"
        options = ["--out", str(out), "--workers", str(workers)]
        command = [*parse_command(), "parse", source, *map(str, paths), *options]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:3])} ... exited {done.returncode}: {done.stderr[-2000:]}")
        with open(out, "rb") as lines:
            documents = sum(1 for _ in lines)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, documents


Timed = Callable[[str, list[Path]], tuple[float, float, int]]


def measure(timed: Timed, kind: str, paths: list[Path]) -> tuple[float, float, int]:
    """A timed run in a fresh process, so the peak RSS is that run's own; its errors are raised here."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(timed, kind, paths).result()


def median_run(
    repeat: int,
    kind: str,
    paths: list[Path],
    timed: Callable[[str, list[Path]], tuple[float, float, int]] = timed_parse,
) -> tuple[float, float, int]:
    """(median seconds, highest peak RSS in MB, items of the first run) over `repeat` fresh-process runs."""
    runs = [measure(timed, kind, paths) for _ in range(repeat)]
    return statistics.median(run[0] for run in runs), max(run[1] for run in runs), runs[0][2]


# --- report --------------------------------------------------------------------------------------------------------


def bench_pubmed(folder: Path, samples: Path, megabytes: float, count: int, repeat: int) -> str:
    sample = samples / PUBMED_SAMPLE
    if sample.is_file():
        records, tail = sample_records(sample)
        origin = f"{sample.name}'s {len(records)} records, renumbered, thinned to size"
    else:
        records, tail = synthetic_records(1000), b""
        origin = "synthetic records: no samples found"
    path = folder / "pubmed26n0001.xml.gz"
    xml_bytes = write_pubmed_file(path, records, tail, megabytes, count)
    seconds, peak, _ = median_run(repeat, "pubmed", [path])
    return (
        f"pubmed  {xml_bytes / 1e6:.0f} MB XML ({path.stat().st_size / 1e6:.0f} MB gzipped), {count:,} records "
        f"({origin})\n        median {seconds:.2f} s: {count / seconds:,.0f} records/s, "
        f"{xml_bytes / 1e6 / seconds:.1f} MB/s; peak RSS {peak:.0f} MB"
    )


def real_pubmed_files(samples: Path) -> list[tuple[Path, str]]:
    """The real NLM sample files present, each with its record tag."""
    return [(samples / name, tag) for name, tag in REAL_PUBMED if (samples / name).is_file()]


def floor_rows(path: Path, tag: str, copies: int, repeat: int) -> list[str]:
    """A bare lxml scan, the parser alone and a whole `gap-replay parse` on one worker and on every core, on
    `copies` times `path`, alternated `repeat` times: one line each with median records/s and MB/s, and the ratio
    to the bare scan (CPU time is summed over a command's workers)."""
    paths, cores = [path] * copies, available_cores()
    kinds = (
        ("bare lxml iterparse", lambda: measure(timed_scan, tag, paths)),
        ("parser alone", lambda: measure(timed_parser, "pubmed", paths)),
        ("parse, 1 worker", lambda: timed_command("pubmed", paths)),
        (f"parse, {cores} workers", lambda: timed_command("pubmed", paths, cores)),
    )
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in kinds}
    for _ in range(repeat):  # alternating: load that drifts on a shared machine hits every kind alike
        for label, run in kinds:
            runs[label].append(run())
    records = runs["bare lxml iterparse"][0][2]  # the records read; the parser yields fewer (no abstract)
    megabytes = xml_size(path) * copies / 1e6
    floor = statistics.median(run[0] for run in runs["bare lxml iterparse"])
    floor_cpu = statistics.median(run[1] for run in runs["bare lxml iterparse"])
    lines = []
    for label, _ in kinds:
        seconds = statistics.median(run[0] for run in runs[label])
        cpu = statistics.median(run[1] for run in runs[label])
        ratio = "" if label.startswith("bare") else f"  {floor / seconds:.2f}x bare (CPU {floor_cpu / cpu:.2f}x)"
        lines.append(
            f"        {label:<20} {seconds:5.2f} s {records / seconds:8,.0f} records/s {megabytes / seconds:6.1f} MB/s"
            f"  CPU {cpu:5.2f} s{ratio}"
        )
    return lines


def bench_pubmed_floor(folder: Path, samples: Path, megabytes: float, count: int, repeat: int) -> str:
    """The parser against the bare lxml floor on the real NLM files (the synthetic baseline-like file without them)."""
    inputs = real_pubmed_files(samples)
    origin = "real NLM file, unmodified"
    if not inputs:
        path = folder / "pubmed26n0001.xml.gz"
        if not path.is_file():
            write_pubmed_file(path, synthetic_records(1000), b"", megabytes, count)
        inputs, origin = [(path, "PubmedArticle")], f"synthetic records: no samples found under {samples}"
    lines = []
    for path, tag in inputs:
        size = xml_size(path)
        copies = max(1, round(megabytes * 1e6 / size))
        records = bare_scan(path, tag)
        lines.append(
            f"pubmed  {path.name} ({origin}): {records:,} {tag} records, {size / 1e6:.1f} MB XML, read {copies} times "
            f"a run ({records * copies:,} records, {size * copies / 1e6:.0f} MB); median of {repeat} runs"
        )
        lines.extend(floor_rows(path, tag, copies, repeat))
    return "\n".join(lines)


def bench_pmc(samples: Path, articles: int, repeat: int) -> str:
    inputs = pmc_inputs(samples, articles)
    if not inputs:
        return f"pmc     skipped: no JATS samples under {samples}"
    seconds, peak, _ = median_run(repeat, "pmc", inputs)
    megabytes = sum(path.stat().st_size for path in inputs) / 1e6
    return (
        f"pmc     {len(inputs)} articles ({megabytes:.0f} MB JATS, the samples repeated)\n"
        f"        median {seconds:.2f} s: {len(inputs) / seconds:,.0f} articles/s, {megabytes / seconds:.1f} MB/s; "
        f"peak RSS {peak:.0f} MB"
    )


def guideline_inputs(roots: list[Path], patterns: tuple[str, ...], wanted: int, pdf: bool) -> list[Path]:
    """The first root's files matching a pattern (samples, else the mirror), repeated to `wanted` pages."""
    for root in roots:
        files = sorted(path for pattern in patterns for path in root.glob(pattern))
        if files:
            break
    else:
        return []
    import pymupdf

    sizes = [pymupdf.open(path).page_count if pdf else 1 for path in files]
    chosen: list[Path] = []
    while sum(sizes[files.index(path)] for path in chosen) < wanted:
        chosen.append(files[len(chosen) % len(files)])
    return chosen


def bench_guidelines(samples: Path, mirror: Path, repeat: int) -> str:
    lines = []
    for kind, patterns, wanted in (("html", GUIDELINE_PAGES, 100), ("pdf", GUIDELINE_PDFS, 300)):
        inputs = guideline_inputs([samples, mirror], patterns, wanted, kind == "pdf")
        seconds, peak, pages = median_run(repeat, kind, inputs, timed_extract)
        megabytes = sum(path.stat().st_size for path in inputs) / 1e6
        origin = "samples" if inputs[0].is_relative_to(samples) else "mirror"
        lines.append(
            f"{'guideline pages' if kind == 'html' else 'guideline PDFs'} {len(inputs)} files, {pages} pages "
            f"({megabytes:.0f} MB, the {origin} repeated)\n        median {seconds:.2f} s: "
            f"{pages / seconds:,.0f} pages/s, {megabytes / seconds:.1f} MB/s; peak RSS {peak:.0f} MB"
        )
    return "\n".join(lines)


BENCHES = ("pubmed", "pubmed-floor", "pmc", "guidelines")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench_parse", description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=170, help="uncompressed size of the PubMed file")
    parser.add_argument("--records", type=int, default=30_000, help="records in the PubMed file")
    parser.add_argument("--articles", type=int, default=200, help="PMC articles to parse")
    parser.add_argument("--repeat", type=int, default=3, help="runs per parser; the median is reported")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the real sample files, when present")
    parser.add_argument(
        "--only", nargs="+", choices=BENCHES, default=BENCHES, metavar="BENCH", help=f"some of {', '.join(BENCHES)}"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-parse-") as tmp:
        if "pubmed" in args.only:
            print(bench_pubmed(Path(tmp), args.samples, args.megabytes, args.records, args.repeat), flush=True)
        if "pubmed-floor" in args.only:
            floor = bench_pubmed_floor(Path(tmp), args.samples, args.megabytes, args.records, args.repeat)
            print(floor, flush=True)
        if "pmc" in args.only:
            print(bench_pmc(args.samples, args.articles, args.repeat), flush=True)
        if "guidelines" in args.only:
            from gap_replay.sources.mirror import materialize

            mirror = materialize(Path(tmp) / "mirror")
            print(bench_guidelines(args.samples, mirror, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
