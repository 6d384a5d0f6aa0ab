"""PubMed source: streaming parse of NLM XML (own fixtures and real samples), update semantics, the mirror, fetch."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import zlib
from pathlib import Path

import pytest
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import PubMedConfig
from gap_replay.sources import pubmed
from gap_replay.sources.base import Deletion, ParseError
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import pubmed as pubmed_mirror
from gap_replay.sources.mirror.server import serve

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pubmed"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="real PubMed sample files (../shared/samples/pubmed) are not present"
)

HIP_TITLE = "Early mobilisation after hip fracture surgery in older adults: a prospective cohort study"
HIP_ABSTRACT = (
    "Hip fracture in older adults carries a high risk of functional decline, delirium and death within a year. We "
    "followed 412 patients aged 65 years or older who underwent surgical repair at three teaching hospitals and "
    "compared those who first stood with assistance within 24 hours of surgery with those mobilised later. Early "
    "mobilisation was associated with a shorter hospital stay (median 9 versus 13 days), fewer cases of "
    "postoperative pneumonia (4.1% versus 9.8%) and better walking independence at 30 days. Rates of wound "
    "complications and falls on the ward did not differ between groups. After adjustment for age, cognitive status, "
    "fracture type and American Society of Anesthesiologists grade, mobilisation within 24 hours remained associated "
    "with lower 30-day mortality (adjusted odds ratio 0.58, 95% confidence interval 0.36 to 0.94). These findings "
    "support protocols that prioritise physiotherapy on the first postoperative day, including at weekends."
)


def documents_only(items: list[Document | Deletion]) -> list[Document]:
    return [item for item in items if isinstance(item, Document)]


def parse_bytes(data: bytes, name: str) -> list[Document]:
    return documents_only(list(pubmed.parse(io.BytesIO(data), name)))


def parse_all(path: Path) -> list[Document | Deletion]:
    with open(path, "rb") as stream:
        return list(pubmed.parse(stream, str(path)))


def parse_file(path: Path) -> list[Document]:
    return documents_only(parse_all(path))


def parse_until_error(data: bytes, name: str) -> tuple[list[Document], ParseError]:
    """The documents yielded before the ParseError that must follow them."""
    documents = []
    with pytest.raises(ParseError) as raised:
        for document in pubmed.parse(io.BytesIO(data), name):
            documents.append(document)
    return documents, raised.value


def many_articles(count: int) -> bytes:
    """A PubmedArticleSet of `count` small articles with PMIDs 1..count."""
    article = (
        "<PubmedArticle><MedlineCitation><PMID Version='1'>{0}</PMID><Article><ArticleTitle>Trial {0}</ArticleTitle>"
        "<Abstract><AbstractText>Outcome {0} improved in {1} of {2} patients.</AbstractText></Abstract>"
        "</Article></MedlineCitation></PubmedArticle>\n"
    )
    body = "".join(article.format(pmid, pmid * 7 % 101, pmid * 13 % 997 + 101) for pmid in range(1, count + 1))
    return f"<?xml version='1.0'?>\n<PubmedArticleSet>\n{body}</PubmedArticleSet>\n".encode()


def pub_date_of(xml: str) -> str | None:
    return pubmed.pub_date(etree.fromstring(f"<PubDate>{xml}</PubDate>"))


@pytest.fixture(scope="module")
def articles() -> dict[str, Document]:
    return {document.meta["pmid"]: document for document in parse_file(FIXTURES / "articles.xml")}


# --- own fixtures ---------------------------------------------------------------------------------------------------


def test_structured_abstract_keeps_labels_in_order(articles):
    paragraphs = articles["101"].text.split("\n\n")[1:]
    assert [paragraph.split(":")[0] for paragraph in paragraphs] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert paragraphs[3] == "CONCLUSIONS: Screening is worthwhile."


def test_inline_markup_is_flattened_with_all_text_kept(articles):
    document = articles["101"]
    assert document.title == "Staphylococcus aureus carriage and CD4+ counts: a cohort with n=120"
    assert "BACKGROUND: Nasal carriage of S. aureus is common." in document.text
    assert "CD4+ counts below 200 cells/mm3." in document.text
    assert "(HbA1c unrelated)" in document.text


def test_text_is_title_then_abstract_paragraphs(articles):
    document = articles["104"]
    assert document.text == (
        "Statin loading before angioplasty.\n\nHigh-dose atorvastatin before angioplasty reduced troponin release."
    )


def test_articles_without_abstract_yield_no_document(articles):
    assert list(articles) == ["101", "103", "104", "105"]


def test_delete_citation_pmids_follow_the_documents_as_deletions_in_order():
    items = list(pubmed.parse(io.BytesIO((FIXTURES / "articles.xml").read_bytes()), "pubmed26n0042.xml"))
    kinds = ["deletion" if isinstance(item, Deletion) else "document" for item in items]
    assert kinds == ["document"] * 4 + ["deletion"] * 2
    assert items[4:] == [Deletion(id="pubmed:99", revision=260042), Deletion(id="pubmed:98", revision=260042)]


def test_documents_carry_the_file_year_and_number_as_their_revision():
    documents = parse_bytes((FIXTURES / "articles.xml").read_bytes(), "raw/pubmed/updatefiles/pubmed26n1335.xml.gz")
    assert {d.meta["revision"] for d in documents} == {261335}


def test_legacy_delete_citation_is_read_too():
    items = list(pubmed.parse(io.BytesIO((FIXTURES / "legacy.xml").read_bytes()), "medline16n0902.xml"))
    assert items[-1] == Deletion(id="pubmed:199", revision=160902)


@pytest.mark.parametrize(
    ("name", "revision"),
    [
        ("pubmed26n0001.xml.gz", 260001),
        ("raw/pubmed/updatefiles/pubmed26n1335.xml.gz", 261335),
        ("gs://bucket/raw/pubmed/baseline/pubmed25n1274.xml", 251274),
        ("C:\\raw\\pubmed\\pubmed26n0009.xml.gz", 260009),
        ("medline16n0902.xml.gz", 160902),
        ("pubmed21n1298_slice1023.xml.gz", 211298),
        ("articles.xml", 0),
        ("baseline_pubmed26n0001.xml.gz", 0),
        ("pubmed26n01.xml.gz", 0),
        ("pubmed26n00012.xml.gz", 0),
    ],
)
def test_revision_is_the_year_and_number_of_an_nlm_file_name_else_zero(name, revision):
    assert pubmed.revision_of(name) == revision


def test_date_revised_becomes_an_iso_date_when_present(articles):
    assert {pmid: d.meta["date_revised"] for pmid, d in articles.items()} == {
        "101": "2025-01-09",
        "103": None,
        "104": None,
        "105": None,
    }


def test_record_fields_follow_the_document_contract(articles):
    document = articles["101"]
    assert (document.id, document.source, document.subsource) == ("pubmed:101", "pubmed", "pubmed")
    assert document.url == "https://pubmed.ncbi.nlm.nih.gov/101/"
    assert document.license == "NLM-PubMed-terms"
    assert (document.date, document.lang) == ("2024-03-07", None)
    assert document.meta == {
        "pmid": "101",
        "version": 2,
        "revision": 0,
        "date_revised": "2025-01-09",
        "journal": "Journal of Clinical Microbiology",
        "publication_types": ["Journal Article"],
        "mesh": ["Staphylococcal Infections", "HIV Infections"],
        "keywords": ["nasal carriage", "screening"],
        "doi": "10.1000/jcm.2024.101",
        "pmcid": "PMC9000101",
        "languages": ["eng"],
        "article_language": "en",
        "retracted": False,
        "file": "articles.xml",
    }


def test_non_english_article_keeps_its_own_abstract_not_the_other_abstract(articles):
    document = articles["103"]
    assert document.title == "[Management of community-acquired pneumonia in general practice]."
    assert "La pneumonie communautaire" in document.text
    assert "Community-acquired pneumonia remains" not in document.text
    assert (document.meta["article_language"], document.meta["languages"]) == ("fr", ["fre", "eng"])
    assert document.meta["doi"] == "10.1000/revmed.103"
    assert document.date == "2023-12"


def test_retraction_notices_and_retracted_publications_are_flagged(articles):
    assert {pmid: document.meta["retracted"] for pmid, document in articles.items()} == {
        "101": False,
        "103": False,
        "104": True,
        "105": True,
    }


def test_legacy_medline_citation_set_is_parsed():
    [document] = parse_file(FIXTURES / "legacy.xml")
    assert document.id == "pubmed:201"
    assert document.text == (
        "Vitamin D status in elderly hospital inpatients.\n\n"
        "Deficiency was found in 64% of 310 inpatients older than 75 years."
    )
    assert (document.date, document.meta["article_language"]) == ("2015-10", "it")
    assert (document.meta["doi"], document.meta["pmcid"]) == ("10.1000/ami.201", "PMC4600201")


def test_each_record_takes_its_journal_pub_date(articles):
    dates = {pmid: document.date for pmid, document in articles.items()}
    assert dates == {"101": "2024-03-07", "103": "2023-12", "104": "2022", "105": "2023-09"}


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("<Year>2024</Year><Month>03</Month><Day>07</Day>", "2024-03-07"),
        ("<Year>2024</Year><Month>3</Month><Day>7</Day>", "2024-03-07"),
        ("<Year>2024</Year><Month>Feb</Month>", "2024-02"),
        ("<Year>2024</Year><Month>September</Month><Day>30</Day>", "2024-09-30"),
        ("<Year>2023</Year><Month>Feb</Month><Day>30</Day>", "2023-02"),
        ("<Year>2023</Year><Month>Feb</Month><Day> </Day>", "2023-02"),
        ("<Year>2022</Year><Season>Winter</Season>", "2022"),
        ("<Year>2021</Year>", "2021"),
        ("<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", "1998-12"),
        ("<MedlineDate>2015 Oct-Dec</MedlineDate>", "2015-10"),
        ("<MedlineDate>2000 Spring</MedlineDate>", "2000"),
        ("<MedlineDate>1998-1999</MedlineDate>", "1998"),
        ("<MedlineDate>Winter 2010</MedlineDate>", "2010"),
        ("", None),
    ],
)
def test_pub_date_variants_become_iso_dates(pub_date, expected):
    assert pub_date_of(pub_date) == expected


def test_whitespace_is_collapsed_exactly_as_split_and_join_would_in_short_and_long_texts():
    sentence = "Outcome improved in 12 of 40 patients (p = 0.03) after six weeks of treatment with the new drug."
    spaces = [chr(code) for code in range(0x110000) if chr(code).isspace()]
    texts = [sentence, f" {sentence}\n", sentence.replace(" ", "  ", 1), "\n  ".join([sentence] * 3), f"é {sentence}"]
    texts += [sentence.replace(" ", space, 1) for space in spaces] + [space * 100 for space in spaces]
    texts += ["", " ", "a\tb", "Trial 7", " x "]
    assert all(pubmed.collapsed(text) == " ".join(text.split()) for text in texts)
    assert pubmed.collapsed(sentence) is sentence, "a long text with nothing to collapse is not split and joined"


def with_language(*codes: str) -> bytes:
    """One article with an English abstract whose `<Language>` elements hold `codes`."""
    languages = "".join(f"<Language>{code}</Language>" for code in codes)
    return (
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID Version='1'>7</PMID><Article>"
        "<ArticleTitle>Trial</ArticleTitle><Abstract><AbstractText>Outcome improved.</AbstractText></Abstract>"
        f"{languages}</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()


@pytest.mark.parametrize(
    ("code", "expected"),
    [("eng", "en"), ("fre", "fr"), ("ger", "de"), ("spa", "es"), ("chi", "zh"), ("jpn", "ja"), ("dut", "nl")],
)
def test_stated_language_is_kept_as_the_article_language_in_iso_639_1(code, expected):
    [document] = parse_bytes(with_language(code), "articles.xml")
    assert (document.meta["article_language"], document.meta["languages"]) == (expected, [code])


@pytest.mark.parametrize(("codes", "expected"), [(("ENG",), "en"), (("und",), None), (("xyz",), None), ((), None)])
def test_article_language_ignores_case_and_is_none_when_unknown_or_absent(codes, expected):
    [document] = parse_bytes(with_language(*codes), "articles.xml")
    assert document.meta["article_language"] == expected


def test_the_first_stated_language_is_the_article_language():
    [document] = parse_bytes(with_language("chi", "eng"), "articles.xml")
    assert document.meta["article_language"] == "zh"


def test_pubmed_leaves_lang_to_the_text_whatever_the_article_language(articles):
    assert {pmid: (d.lang, d.meta["article_language"]) for pmid, d in articles.items()} == {
        "101": (None, "en"),
        "103": (None, "fr"),
        "104": (None, "en"),
        "105": (None, "en"),
    }


def test_gzip_is_detected_by_content_not_by_name():
    plain = (FIXTURES / "legacy.xml").read_bytes()
    assert [d.id for d in parse_bytes(gzip.compress(plain), "legacy.xml")] == ["pubmed:201"]
    assert [d.id for d in parse_bytes(plain, "legacy.xml.gz")] == ["pubmed:201"]


def test_gzip_file_of_several_members_is_read_to_the_end():
    plain = many_articles(50)
    packed = gzip.compress(plain[:1000], mtime=0) + gzip.compress(plain[1000:], mtime=0)
    assert [d.id for d in parse_bytes(packed, "pubmed26n0006.xml.gz")] == [f"pubmed:{n}" for n in range(1, 51)]


def test_parse_streams_instead_of_reading_the_whole_file():
    stream = io.BytesIO(many_articles(3000))
    first = next(pubmed.parse(stream, "big.xml"))
    assert first.id == "pubmed:1"
    assert stream.tell() < len(stream.getvalue()) // 2


def test_records_before_the_current_one_are_freed_so_memory_stays_flat():
    for record in pubmed.records(io.BytesIO(many_articles(2000)), "big.xml"):
        earlier = list(record.itersiblings(preceding=True))
        assert len(earlier) <= 1 and all(len(element) == 0 for element in earlier)


def test_truncated_gzip_yields_every_complete_record_then_raises():
    packed = gzip.compress(many_articles(400), mtime=0)
    cut = packed[: len(packed) // 2]
    complete = zlib.decompressobj(wbits=31).decompress(cut).count(b"</PubmedArticle>")
    documents, error = parse_until_error(cut, "raw/pubmed/baseline/pubmed26n0007.xml.gz")
    assert complete > 0
    assert [d.id for d in documents] == [f"pubmed:{pmid}" for pmid in range(1, complete + 1)]
    assert str(error).startswith("raw/pubmed/baseline/pubmed26n0007.xml.gz: ")
    assert "gzip" in str(error)


def test_malformed_xml_yields_the_records_before_the_break_then_raises():
    documents, error = parse_until_error((FIXTURES / "malformed.xml").read_bytes(), "malformed.xml")
    assert [d.id for d in documents] == ["pubmed:301", "pubmed:302"]
    assert str(error).startswith("malformed.xml: malformed XML")


@pytest.mark.parametrize("packed", [True, False], ids=["gzipped", "plain"])
def test_html_error_page_saved_as_xml_gz_is_a_parse_error(packed):
    page = (FIXTURES / "error_page.html").read_bytes()
    documents, error = parse_until_error(gzip.compress(page) if packed else page, "pubmed26n0003.xml.gz")
    assert documents == []
    assert str(error).startswith("pubmed26n0003.xml.gz: ")


def test_well_formed_xml_that_is_not_pubmed_is_a_parse_error():
    documents, error = parse_until_error(b"<html><body><p>Not found</p></body></html>", "pubmed26n0004.xml")
    assert documents == []
    assert "pubmed26n0004.xml: not PubMed XML" in str(error)


def test_empty_file_is_a_parse_error():
    _, error = parse_until_error(b"", "pubmed26n0005.xml.gz")
    assert str(error).startswith("pubmed26n0005.xml.gz: ")


# --- real samples ----------------------------------------------------------------------------------------------------


def sample_tree(path: Path) -> etree._Element:
    with open(path, "rb") as raw:
        data = raw.read()
    return etree.fromstring(gzip.decompress(data) if path.suffix == ".gz" else data)


def sample_citations(root: etree._Element) -> list[etree._Element]:
    """Every article's MedlineCitation, in both layouts, found without the parser under test."""
    return root.findall("PubmedArticle/MedlineCitation") + root.findall("MedlineCitation")


def normalised(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[list[Document], etree._Element]]:
    """Each sample file's documents and its parsed tree, keyed by file name."""
    paths = sorted(SAMPLES.glob("*.xml*"))
    return {path.name: (parse_file(path), sample_tree(path)) for path in paths}


@needs_samples
def test_every_sample_file_gives_one_document_per_article_with_abstract_text(samples):
    assert len(samples) == 4
    for name, (documents, root) in samples.items():
        expected = [
            citation.findtext("PMID")
            for citation in sample_citations(root)
            if any("".join(part.itertext()).strip() for part in citation.iterfind("Article/Abstract/AbstractText"))
        ]
        assert [d.meta["pmid"] for d in documents] == expected, name
        assert {d.meta["file"] for d in documents} == {name}


@needs_samples
def test_sample_titles_and_abstract_texts_are_all_in_the_document_text(samples):
    for name, (documents, root) in samples.items():
        by_pmid = {d.meta["pmid"]: d for d in documents}
        for citation in sample_citations(root):
            document = by_pmid.get(citation.findtext("PMID"))
            if document is None:
                continue
            text = normalised(document.text)
            assert normalised("".join(citation.find("Article/ArticleTitle").itertext())) in text, name
            for part in citation.iterfind("Article/Abstract/AbstractText"):
                assert normalised("".join(part.itertext())) in text, (name, document.id)


@needs_samples
def test_sample_structured_abstract_has_its_labels_in_order(samples):
    documents, root = samples["pubmed21n1298_slice1023.xml.gz"]
    [document] = [d for d in documents if d.meta["pmid"] == "28624045"]
    [citation] = [c for c in sample_citations(root) if c.findtext("PMID") == "28624045"]
    labels = [part.get("Label") for part in citation.iterfind("Article/Abstract/AbstractText")]
    assert len(labels) > 1
    paragraphs = document.text.split("\n\n")[1:]
    assert all(paragraph.startswith(f"{label}: ") for paragraph, label in zip(paragraphs, labels, strict=True))


@needs_samples
def test_sample_article_without_abstract_yields_nothing(samples):
    documents, _ = samples["pubmed21n1298_slice1023.xml.gz"]
    assert "25205585" not in {d.meta["pmid"] for d in documents}


@needs_samples
def test_sample_retractions_are_flagged(samples):
    documents, root = samples["pubmed21n1298_slice1023.xml.gz"]
    retracted_publications = {"27602157", "31031480", "32743968", "33104149"}
    notices = {"34082697", "34086808", "34086810", "34086832"}
    assert {d.meta["pmid"] for d in documents if d.meta["retracted"]} == retracted_publications
    assert notices.isdisjoint(d.meta["pmid"] for d in documents)  # the notices have no abstract
    citations = {c.findtext("PMID"): c for c in sample_citations(root)}
    assert all(pubmed.is_retracted(citations[pmid]) for pmid in notices | retracted_publications)
    assert sum(pubmed.is_retracted(citation) for citation in citations.values()) == 8


@needs_samples
def test_sample_delete_citation_yields_its_20_pmids_as_deletions_with_the_file_revision():
    path = SAMPLES / "pubmed21n1298_slice1023.xml.gz"
    items = parse_all(path)
    listed = [pmid.text for pmid in sample_tree(path).iterfind("DeleteCitation/PMID")]
    deletions = [item for item in items if isinstance(item, Deletion)]
    assert len(listed) == 20
    assert deletions == [Deletion(id=f"pubmed:{pmid}", revision=211298) for pmid in listed]
    assert items[-20:] == deletions, "the block ends the file, so its deletions come last"
    assert {item.meta["revision"] for item in items[:-20]} == {211298}


@needs_samples
def test_sample_date_revised_is_taken_from_each_citation(samples):
    documents, root = samples["pubmed21n1298_slice1023.xml.gz"]
    revised = {
        citation.findtext("PMID"): "-".join(
            citation.findtext(f"DateRevised/{part}") for part in ("Year", "Month", "Day")
        )
        for citation in sample_citations(root)
    }
    assert all(d.meta["date_revised"] == revised[d.meta["pmid"]] for d in documents)
    assert documents[0].meta["date_revised"] == "2021-06-07"


@needs_samples
def test_legacy_sample_reads_all_604_records(samples):
    documents, root = samples["medline16n0902.xml.gz"]
    assert root.tag == "MedlineCitationSet"
    assert len(sample_citations(root)) == 604
    assert len(documents) == 526
    assert {d.meta["article_language"] for d in documents} == {"en", "it"}
    assert parse_all(SAMPLES / "medline16n0902.xml.gz")[-1] == Deletion(id="pubmed:26432306", revision=160902)


@needs_samples
def test_sample_languages_and_other_abstracts(samples):
    documents, _ = samples["pubmed21n1298_slice1023.xml.gz"]
    by_pmid = {d.meta["pmid"]: d for d in documents}
    chinese = [by_pmid[str(pmid)] for pmid in range(34096016, 34096034)]
    assert [(d.meta["article_language"], d.lang) for d in chinese] == [("zh", None)] * 18
    assert by_pmid["30600808"].meta["article_language"] == "es"
    assert by_pmid["32436023"].meta["article_language"] == "de"
    assert sum(d.meta["pmcid"] is not None for d in documents) > 0
    assert all(d.date and d.date[:4].isdigit() for d in documents)


# --- mirror and fetch ------------------------------------------------------------------------------------------------

MIRROR_FILES = {
    "baseline": ("pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz"),
    "updatefiles": ("pubmed26n0003.xml.gz",),
}
UPDATE_XML = DATA / "pubmed" / "updatefiles" / "pubmed26n0003.xml"
PMC_TWIN = DATA / "pmc" / "oa_comm" / "PMC11000001.nxml"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    pubmed_mirror.build(DATA, tmp_path / "site")
    return tmp_path / "site"


def folder(site: Path, name: str = "baseline") -> Path:
    return site / "ftp.ncbi.nlm.nih.gov" / "pubmed" / name


def mirror_documents(site: Path, name: str = "baseline") -> dict[str, Document]:
    return {d.meta["pmid"]: d for path in sorted(folder(site, name).glob("*.xml.gz")) for d in parse_file(path)}


def update_header() -> dict[str, str]:
    """The update file's header comment as {"Revised": pmid, "New": pmid, "Deleted": pmid}."""
    comment = re.search(r"<!--(.*?)-->", UPDATE_XML.read_text(), re.DOTALL).group(1)
    return dict(re.findall(r"^\s*(Revised|New|Deleted): (\d+)", comment, re.MULTILINE))


def test_mirror_writes_every_file_with_matching_md5(site):
    for name, files in MIRROR_FILES.items():
        listing = folder(site, name)
        assert sorted(path.name for path in listing.iterdir()) == sorted(files + tuple(f"{f}.md5" for f in files))
        for file in files:
            packed = (listing / file).read_bytes()
            digest = hashlib.md5(packed).hexdigest()
            assert (listing / f"{file}.md5").read_text() == f"MD5({file})= {digest}\n"
            assert pubmed.md5_of((listing / f"{file}.md5").read_text(), file) == digest
            assert gzip.decompress(packed) == (DATA / "pubmed" / name / file.removesuffix(".gz")).read_bytes()


def test_mirror_build_is_byte_reproducible(site, tmp_path):
    again = tmp_path / "again"
    pubmed_mirror.build(DATA, again)
    built = sorted(path for path in site.rglob("*") if path.is_file())
    assert len(built) == 6
    for path in built:
        assert (again / path.relative_to(site)).read_bytes() == path.read_bytes()


def test_mirror_holds_the_planted_cases(site):
    documents = list(mirror_documents(site).values())
    by_pmid = {d.meta["pmid"]: d for d in documents}
    assert 10 <= sum(d.meta["file"] == "pubmed26n0001.xml.gz" for d in documents) <= 14
    assert sum(d.meta["file"] == "pubmed26n0002.xml.gz" for d in documents) == 14
    assert by_pmid["39000021"].text == f"{HIP_TITLE}\n\n{HIP_ABSTRACT}"
    assert by_pmid["39000021"].meta["file"] == "pubmed26n0002.xml.gz"
    assert "39000007" not in by_pmid
    assert by_pmid["39000008"].meta["article_language"] == "fr"
    assert [d.meta["pmid"] for d in documents if d.meta["retracted"]] == ["39000018"]
    assert by_pmid["39000016"].text == by_pmid["39000010"].text
    near, original = by_pmid["39000020"].text.split(), by_pmid["39000012"].text.split()
    assert len(near) == len(original)
    assert 2 <= sum(a != b for a, b in zip(near, original, strict=True)) <= 3
    assert sum(any(p.startswith("METHODS: ") for p in d.text.split("\n\n")) for d in documents) >= 4
    assert {d.meta["revision"] for d in documents} == {260001, 260002}


def test_mirror_update_file_revises_and_deletes_what_its_header_says(site):
    header = update_header()
    baseline = mirror_documents(site)
    items = parse_all(folder(site, "updatefiles") / "pubmed26n0003.xml.gz")
    updates = {item.meta["pmid"]: item for item in items if isinstance(item, Document)}
    assert sorted(updates) == sorted([header["Revised"], header["New"]])
    assert [item for item in items if isinstance(item, Deletion)] == [
        Deletion(id=f"pubmed:{header['Deleted']}", revision=260003)
    ]
    assert header["New"] not in baseline
    assert baseline[header["Deleted"]].meta["revision"] == 260001, "the deleted article is a kept baseline article"
    revised, original = updates[header["Revised"]], baseline[header["Revised"]]
    assert (revised.meta["revision"], original.meta["revision"]) == (260003, 260001)
    assert revised.meta["date_revised"].startswith("2026-")
    changed = [(a, b) for a, b in zip(original.text.split(), revised.text.split(), strict=True) if a != b]
    assert len(changed) == 1 and all(word.isdigit() for word in changed[0]), "the erratum fixes one number"


def test_mirror_has_the_abstract_twin_of_a_pmc_article(site):
    twin = mirror_documents(site)["39000101"]
    article = etree.parse(str(PMC_TWIN)).getroot()
    assert article.findtext(".//article-id[@pub-id-type='pmid']") == "39000101"
    assert twin.meta["pmcid"] == article.findtext(".//article-id[@pub-id-type='pmc']") == "PMC11000001"
    assert twin.title == normalised("".join(article.find(".//article-title").itertext()))
    sections = [
        f"{sec.findtext('title').upper()}: {normalised(''.join(sec.find('p').itertext()))}"
        for sec in article.iterfind(".//abstract/sec")
    ]
    assert twin.text.split("\n\n")[1:] == sections


def test_listing_parser_picks_data_files_sorted():
    listing = (
        '<a href="pubmed26n0002.xml.gz">pubmed26n0002.xml.gz</a>\n'
        '<a href="pubmed26n0002.xml.gz.md5">pubmed26n0002.xml.gz.md5</a>\n'
        '<a href="pubmed26n0001.xml.gz">pubmed26n0001.xml.gz</a>\n'
        '<a href="README.txt">README.txt</a> <a href="stats.html">stats.html</a> <a href="../">Parent</a>\n'
    )
    assert pubmed.listed_files(listing) == ["pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz"]


def test_md5_file_for_another_name_is_rejected():
    with pytest.raises(ValueError, match=r"pubmed26n0001\.xml\.gz"):
        pubmed.md5_of("MD5(pubmed26n0009.xml.gz)= 0123456789abcdef0123456789abcdef\n", "pubmed26n0001.xml.gz")


def fetch_from(site: Path, raw_dir: Path, config: PubMedConfig | None = None):
    with serve(site) as base, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        return pubmed.fetch(config or PubMedConfig(), raw_dir, client)


def test_fetch_downloads_baseline_and_update_files_then_skips_them(site, tmp_path):
    raw_dir = tmp_path / "raw" / "pubmed"
    summary = fetch_from(site, raw_dir)
    assert (summary.downloaded, summary.skipped, summary.failed) == (3, 0, 0)
    fetched = [(name, file) for name, files in MIRROR_FILES.items() for file in files]
    for name, file in fetched:
        assert (raw_dir / name / file).read_bytes() == (folder(site, name) / file).read_bytes()
    assert summary.bytes == sum((folder(site, name) / file).stat().st_size for name, file in fetched)
    records = [json.loads(line) for line in (raw_dir / "fetch_log.jsonl").read_text().splitlines()]
    assert [(r["path"], r["ok"]) for r in records] == [
        ("baseline/pubmed26n0001.xml.gz", True),
        ("baseline/pubmed26n0002.xml.gz", True),
        ("updatefiles/pubmed26n0003.xml.gz", True),
    ]
    again = fetch_from(site, raw_dir)
    assert (again.downloaded, again.skipped, again.failed) == (0, 3, 0)


def test_fetch_without_an_update_folder_takes_the_baseline_and_reports_nothing(site, tmp_path):
    shutil.rmtree(folder(site, "updatefiles"))
    summary = fetch_from(site, tmp_path / "raw")
    assert (summary.downloaded, summary.failed, summary.errors) == (2, 0, [])


def test_fetch_counts_a_file_with_a_wrong_md5_and_goes_on(site, tmp_path):
    md5_file = folder(site) / "pubmed26n0001.xml.gz.md5"
    md5_file.write_text("MD5(pubmed26n0001.xml.gz)= 00000000000000000000000000000000\n")
    raw_dir = tmp_path / "raw"
    summary = fetch_from(site, raw_dir)
    assert (summary.downloaded, summary.failed) == (2, 1)
    [error] = summary.errors
    assert "pubmed26n0001.xml.gz" in error and "md5 mismatch" in error
    assert not (raw_dir / "baseline" / "pubmed26n0001.xml.gz").exists()
    assert (raw_dir / "baseline" / "pubmed26n0002.xml.gz").exists()


def test_fetch_counts_a_missing_md5_file_naming_it(site, tmp_path):
    (folder(site) / "pubmed26n0002.xml.gz.md5").unlink()
    summary = fetch_from(site, tmp_path / "raw")
    assert (summary.downloaded, summary.failed) == (2, 1)
    [error] = summary.errors
    assert error.startswith("https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/pubmed26n0002.xml.gz.md5: HTTP 404")


def test_fetch_takes_the_first_files_of_each_listing_up_to_the_limit(site, tmp_path):
    raw_dir = tmp_path / "raw"
    summary = fetch_from(site, raw_dir, PubMedConfig(limit=1))
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert sorted(p.relative_to(raw_dir).as_posix() for p in raw_dir.rglob("*.xml.gz")) == [
        "baseline/pubmed26n0001.xml.gz",
        "updatefiles/pubmed26n0003.xml.gz",
    ]


def test_fetch_reports_a_missing_baseline_listing(site, tmp_path):
    shutil.rmtree(folder(site))
    summary = fetch_from(site, tmp_path / "raw", PubMedConfig(update_url=None))
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/" in summary.errors[0]
