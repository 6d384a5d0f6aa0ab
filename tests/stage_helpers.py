"""Stage outputs made by hand for tests of a later stage, published with a completion record as the stage would."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from gap_replay import stages
from gap_replay.documents import Document
from gap_replay.parquet import write_parquet
from gap_replay.pipelines.fetch import run_fetch
from gap_replay.recipe import HttpConfig, Recipe


def publish_curated(recipe: Recipe, documents: dict[str, Sequence[Document]]) -> None:
    """One Parquet file per source of these documents, published under the recipe's output with curate's record."""
    output = recipe.output_dir
    stages.adopt(output)
    publisher = stages.Publisher(output, "curate")
    for source, docs in documents.items():
        write_parquet(docs, publisher.path(f"curated/{source}/part-00000-of-00001.parquet"))
    summary = {
        "raw_files": 0,
        "sources": {source: {"kept": len(docs)} for source, docs in documents.items()},
        "parse_errors": [],
    }
    publisher.publish(settings=recipe.curate_settings(), summary=summary, recipe={"name": recipe.name})


def fetch_pubmed(recipe: Recipe, site: Path, baseline: dict[str, bytes], updates: dict[str, bytes]) -> None:
    """Serve these PubMed files (`pubmedYYnNNNN.xml.gz` name -> gzip bytes) from an NCBI-like folder on loopback, each
    with its `.md5`, and fetch them with the recipe's own fetch (PubMed only, no delay)."""
    for folder, files in (("baseline", baseline), ("updatefiles", updates)):
        root = site / "ftp.ncbi.nlm.nih.gov" / "pubmed" / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (root / name).write_bytes(data)
            (root / f"{name}.md5").write_text(f"MD5({name})= {hashlib.md5(data).hexdigest()}\n")
    fetching = recipe.model_copy(update={"mirror": True, "http": HttpConfig(delay_seconds=0)})
    summaries = run_fetch(fetching, ["pubmed"], mirror_site=site)
    assert summaries["pubmed"].failed == 0, summaries["pubmed"].errors


SAMPLE = Path(__file__).resolve().parents[1] / "pipelines" / "recipes" / "sample.yaml"


def small_sample_recipe() -> str:
    """The sample recipe's YAML with one guideline organisation (WHO) instead of sixteen: the same stages and code
    paths, in a fraction of the time, for tests about the stages rather than the organisations. Its relative
    benchmark paths are made absolute, so the copy can live in any folder."""
    text = SAMPLE.read_text(encoding="utf-8").replace("path: ../../", f"path: {SAMPLE.parent.parent.parent}/")
    text = text.replace("ids: ../../", f"ids: {SAMPLE.parent.parent.parent}/")
    start = text.index("    organisations:\n")
    end = text.index("  replay:\n", start)
    return text[:start] + "    organisations:\n      who: {}\n" + text[end:]
