"""The parse benchmark's PubMed inputs and floor: the file it writes has the asked size and count and parses cleanly,
and the bare lxml scan it compares the parser with counts every record."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gap_replay import bench_parse
from gap_replay.documents import Document
from gap_replay.sources import pubmed
from gap_replay.sources.base import Deletion

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
needs_samples = pytest.mark.skipif(
    not (SAMPLES / bench_parse.PUBMED_SAMPLE).is_file(), reason="the real PubMed slice (../shared/samples) is absent"
)


def parse_all(path: Path) -> list[Document | Deletion]:
    with open(path, "rb") as stream:
        return list(pubmed.parse(stream, path.name))


def test_renumbering_changes_the_own_pmid_and_article_id_but_not_cited_ones():
    record = (
        b'<PubmedArticle><MedlineCitation><PMID Version="1">11</PMID><CommentsCorrectionsList><CommentsCorrections>'
        b'<PMID Version="1">22</PMID></CommentsCorrections></CommentsCorrectionsList></MedlineCitation><PubmedData>'
        b'<ArticleIdList><ArticleId IdType="pubmed">11</ArticleId></ArticleIdList></PubmedData></PubmedArticle>'
    )
    assert bench_parse.renumbered(record, 40_000_007) == record.replace(b">11<", b">40000007<")


def test_variants_drop_references_then_affiliations_then_history():
    record = (
        b"<PubmedArticle><MedlineCitation><AffiliationInfo><Affiliation>A</Affiliation></AffiliationInfo>"
        b"</MedlineCitation><PubmedData><History><PubMedPubDate/></History>\n  <ReferenceList><ReferenceList>"
        b"<Reference/></ReferenceList></ReferenceList></PubmedData></PubmedArticle>"
    )
    whole, no_references, no_affiliations, no_history = bench_parse.variants(record)
    assert whole == record
    assert b"Reference" not in no_references and b"AffiliationInfo" in no_references
    assert b"AffiliationInfo" not in no_affiliations and b"History" in no_affiliations
    assert no_history == b"<PubmedArticle><MedlineCitation></MedlineCitation><PubmedData></PubmedData></PubmedArticle>"


def test_synthetic_file_has_the_asked_record_count_each_with_its_own_pmid(tmp_path):
    path = tmp_path / "pubmed26n0001.xml.gz"
    size = bench_parse.write_pubmed_file(path, bench_parse.synthetic_records(50), b"", megabytes=1, count=120)
    documents = parse_all(path)
    assert size <= 1_000_000
    assert [d.meta["pmid"] for d in documents] == [str(bench_parse.FIRST_PMID + n) for n in range(120)]
    assert all(d.text.count("\n\n") == 4 for d in documents), "title and four labelled abstract paragraphs"


@needs_samples
def test_file_from_the_sample_slice_reaches_the_asked_size_and_count_and_keeps_its_deletions(tmp_path):
    records, tail = bench_parse.sample_records(SAMPLES / bench_parse.PUBMED_SAMPLE)
    path = tmp_path / "pubmed26n0001.xml.gz"
    size = bench_parse.write_pubmed_file(path, records, tail, megabytes=12, count=2000)
    items = parse_all(path)
    documents = [item for item in items if isinstance(item, Document)]
    assert len(records) == 1023
    assert 11_500_000 <= size <= 12_000_000
    assert len({d.id for d in documents}) == len(documents) > 1500
    assert sum(isinstance(item, Deletion) for item in items) == 20


def test_guideline_inputs_repeat_the_files_until_the_pages_asked_for(tmp_path):
    import pymupdf

    for name, pages in (("a.pdf", 3), ("b.pdf", 2)):
        document = pymupdf.open()
        for _ in range(pages):
            document.new_page()
        document.save(tmp_path / name)
    chosen = bench_parse.guideline_inputs([tmp_path / "absent", tmp_path], ("*.pdf",), 9, pdf=True)
    assert [path.name for path in chosen] == ["a.pdf", "b.pdf", "a.pdf", "b.pdf"], "3 + 2 + 3 + 2 >= 9 pages"


def test_bare_scan_counts_every_record_of_a_file_gzipped_or_not(tmp_path):
    packed = tmp_path / "pubmed26n0001.xml.gz"
    bench_parse.write_pubmed_file(packed, bench_parse.synthetic_records(20), b"", megabytes=1, count=75)
    plain = tmp_path / "pubmed26n0001.xml"
    plain.write_bytes(gzip.decompress(packed.read_bytes()))
    assert bench_parse.bare_scan(packed, "PubmedArticle") == bench_parse.bare_scan(plain, "PubmedArticle") == 75
    assert bench_parse.xml_size(packed) == bench_parse.xml_size(plain) == plain.stat().st_size


def test_bare_scan_of_a_legacy_file_counts_its_top_level_citations():
    legacy = FIXTURES / "legacy.xml"
    assert bench_parse.bare_scan(legacy, "MedlineCitation") == legacy.read_text().count("<MedlineCitation ") == 2


def test_only_the_real_files_present_are_compared(tmp_path):
    (tmp_path / "pubmed").mkdir()
    assert bench_parse.real_pubmed_files(tmp_path) == []
    legacy = tmp_path / "pubmed" / "medline16n0902.xml.gz"
    legacy.write_bytes(b"")
    assert bench_parse.real_pubmed_files(tmp_path) == [(legacy, "MedlineCitation")]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_whole_process_timing_runs_gap_replay_parse_and_counts_what_it_wrote(workers):
    seconds, cpu, documents = bench_parse.timed_command("pubmed", [FIXTURES / "articles.xml"] * 2, workers)
    assert documents == 8, "four documents, twice"
    assert seconds > 0 and cpu > 0
