"""PubMed update semantics through curate, on NLM's real update slice: deletions remove, the newest version wins."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from stage_helpers import fetch_pubmed

from gap_replay.pipelines.curate import run_curate
from gap_replay.recipe import parse_recipe

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pubmed"
SLICE = SAMPLES / "pubmed21n1298_slice1023.xml.gz"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SLICE.exists(), reason="needs ../shared/samples/pubmed (the NLM update slice)"),
]

BASELINE_ARTICLE = """<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>
<Article><Journal><Title>Baseline Journal</Title><JournalIssue><PubDate><Year>2019</Year></PubDate></JournalIssue>
</Journal><ArticleTitle>Baseline record {pmid}</ArticleTitle><Abstract><AbstractText>{text}</AbstractText></Abstract>
<Language>eng</Language><PublicationTypeList><PublicationType>Journal Article</PublicationType></PublicationTypeList>
</Article></MedlineCitation></PubmedArticle>
"""


def test_a_later_update_file_deletes_baseline_records_and_versions_collapse(tmp_path):
    data = gzip.decompress(SLICE.read_bytes()).decode("utf-8")
    deleted = re.findall(
        r"<PMID[^>]*>(\d+)</PMID>", re.search(r"<DeleteCitation>(.*?)</DeleteCitation>", data, re.S)[1]
    )
    text = (
        "We studied a cohort of adults admitted with community-acquired pneumonia to compare early and late "
        "antibiotic switching from intravenous to oral therapy, measuring length of stay, readmission within thirty "
        "days and mortality; early switching shortened the stay without raising readmissions or deaths."
    )
    articles = "".join(BASELINE_ARTICLE.format(pmid=pmid, text=f"{text} {text} Record {pmid}.") for pmid in deleted[:2])
    baseline = f'<?xml version="1.0"?>\n<PubmedArticleSet>\n{articles}</PubmedArticleSet>\n'
    output = tmp_path / "out"
    recipe = parse_recipe(
        {
            "name": "updates",
            "output": str(output),
            "curated_shards": 1,
            "sources": {name: {"enabled": False} for name in ("pmc", "guidelines", "replay")},
            "dedup": {"exact": False, "minhash": {"enabled": False}},
        }
    )
    fetch_pubmed(
        recipe,
        tmp_path / "site",
        baseline={"pubmed21n0001.xml.gz": gzip.compress(baseline.encode())},
        updates={"pubmed21n1298.xml.gz": SLICE.read_bytes()},  # the slice, under its NLM file name
    )
    stats = run_curate(recipe, "sha")
    kept = pq.read_table(output / "curated" / "pubmed", columns=["id"]).column("id")  # both splits' files
    ids = kept.to_pylist()
    assert not {f"pubmed:{pmid}" for pmid in deleted} & set(ids), "the update file's DeleteCitation removed them"
    assert stats["sources"]["pubmed"]["dropped"]["deleted"] == 2
    assert stats["sources"]["pubmed"]["deletions"] == 20
    assert len(ids) == len(set(ids)), "one document per PMID"
    assert ids.count("pubmed:30271887") == 1, "the PMID listed twice in the slice is kept once"
    rejected = [json.loads(line) for path in (output / "rejects").glob("*.jsonl") for line in path.open()]
    assert any(
        r["id"] == "pubmed:30271887" and r["reason"] in ("superseded_version", "exact_duplicate") for r in rejected
    )
