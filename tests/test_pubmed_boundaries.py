"""The PubMed source's rules on both sides: month and year bounds, which ids and corrections count, which listing
failures are failures, and the parser's guarantees (entities never read from files, earlier records freed).
Expected values are worked out by hand from the NLM DTD's meaning of each element."""

from __future__ import annotations

import gzip
import io
import json
import random
import string
from http import HTTPStatus
from pathlib import Path

import pytest
from lxml import etree

from gap_replay.http import PoliteClient
from gap_replay.recipe import PubMedConfig
from gap_replay.sources import pubmed
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import pubmed as pubmed_mirror
from gap_replay.sources.mirror.server import REQUIRED_HEADERS, MirrorHandler, serve

NCBI = "ftp.ncbi.nlm.nih.gov"


def citation(article: str = "", extra: str = "", pmid: str = "<PMID Version='1'>7</PMID>") -> str:
    """A MedlineCitation with an abstract, `article` parts added inside its Article and `extra` parts after it."""
    return (
        f"<MedlineCitation>{pmid}<Article><ArticleTitle>Title</ArticleTitle>{article}"
        "<Abstract><AbstractText>Findings.</AbstractText></Abstract></Article>"
        f"{extra}</MedlineCitation>"
    )


def document(record: str, name: str = "pubmed26n0001.xml"):
    """The one document a PubmedArticleSet holding `record` gives (None when it gives none)."""
    xml = f"<?xml version='1.0'?><PubmedArticleSet><PubmedArticle>{record}</PubmedArticle></PubmedArticleSet>"
    found = list(pubmed.parse(io.BytesIO(xml.encode()), name))
    return found[0] if found else None


# --- dates ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "month"), [("0", None), ("1", 1), ("01", 1), ("12", 12), ("13", None)])
def test_numeric_months_run_from_1_to_12(value, month):
    assert pubmed.month_number(value) == month


@pytest.mark.parametrize(("year", "date"), [("202", None), ("2020", "2020"), ("20201", None)])
def test_a_year_has_exactly_four_digits(year, date):
    assert pubmed.pub_date(etree.fromstring(f"<PubDate><Year>{year}</Year></PubDate>")) == date


# --- abstracts -----------------------------------------------------------------------------------------------------


def test_an_abstract_of_labels_without_any_text_gives_no_document():
    record = (
        "<MedlineCitation><PMID>7</PMID><Article><ArticleTitle>Title</ArticleTitle><Abstract>"
        "<AbstractText Label='LEVEL OF EVIDENCE'/><AbstractText Label='CONCLUSIONS'></AbstractText>"
        "</Abstract></Article></MedlineCitation>"
    )

    assert document(record) is None


def test_a_label_beside_text_elsewhere_in_the_abstract_is_kept_as_its_own_paragraph():
    record = (
        "<MedlineCitation><PMID>7</PMID><Article><ArticleTitle>Title</ArticleTitle><Abstract>"
        "<AbstractText Label='METHODS'>We looked.</AbstractText><AbstractText Label='LEVEL OF EVIDENCE'/>"
        "</Abstract></Article></MedlineCitation>"
    )

    assert document(record).text == "Title\n\nMETHODS: We looked.\n\nLEVEL OF EVIDENCE"


# --- identifiers and flags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "number"), [("2", 2), ("1", 1), (" ", 1)])
def test_a_blank_pmid_version_counts_as_version_1(version, number):
    assert document(citation(pmid=f"<PMID Version='{version}'>7</PMID>")).meta["version"] == number


def test_a_record_read_on_its_own_has_revision_0():
    record = etree.fromstring(citation())

    assert pubmed.record_document(record, "articles.xml").meta["revision"] == 0


def test_the_doi_location_is_taken_whichever_order_the_locations_come_in():
    locations = "<ELocationID EIdType='pii' ValidYN='Y'>S0140-6736(20)30001-1</ELocationID>"
    locations += "<ELocationID EIdType='doi' ValidYN='Y'>10.1016/S0140-6736(20)30001-1</ELocationID>"

    assert document(citation(article=locations)).meta["doi"] == "10.1016/S0140-6736(20)30001-1"


@pytest.mark.parametrize(
    ("other_ids", "pmcid"),
    [
        ("<OtherID Source='NLM'>PMC4688250 [Available on 12/21/16]</OtherID>", "PMC4688250"),
        ("<OtherID Source='NLM'>NIHMS732461</OtherID><OtherID Source='NLM'>PMC4688250</OtherID>", "PMC4688250"),
        ("<OtherID Source='NLM'>NIHMS732461</OtherID>", None),
        ("<OtherID Source='KIE'>PMC4688250</OtherID>", None),
        ("<OtherID Source='PIP'>PMC4688250</OtherID>", None),
    ],
)
def test_only_an_nlm_other_id_naming_a_pmc_article_gives_the_pmcid(other_ids, pmcid):
    assert document(citation(extra=other_ids)).meta["pmcid"] == pmcid


def test_a_retraction_cross_reference_counts_after_the_lists_that_precede_it():
    extra = (
        "<ChemicalList><Chemical><RegistryNumber>0</RegistryNumber><NameOfSubstance>Water</NameOfSubstance>"
        "</Chemical></ChemicalList><CitationSubset>IM</CitationSubset><CoiStatement>None declared.</CoiStatement>"
        "<CommentsCorrectionsList><CommentsCorrections RefType='RetractionIn'><RefSource>Lancet. 2021</RefSource>"
        "</CommentsCorrections></CommentsCorrectionsList>"
    )

    assert document(citation(extra=extra)).meta["retracted"] is True


def test_a_comment_that_is_not_a_retraction_does_not_flag_the_article():
    extra = (
        "<CommentsCorrectionsList><CommentsCorrections RefType='CommentIn'><RefSource>Lancet. 2021</RefSource>"
        "</CommentsCorrections></CommentsCorrectionsList>"
    )

    assert document(citation(extra=extra)).meta["retracted"] is False


@pytest.mark.parametrize(
    ("types", "retracted"),
    [
        ("<PublicationTypeList><PublicationType>Retracted Publication</PublicationType></PublicationTypeList>", True),
        ("<PublicationTypeList><PublicationType>Journal Article</PublicationType></PublicationTypeList>", False),
        ("", False),
    ],
)
def test_is_retracted_reads_the_publication_types_when_there_are_any(types, retracted):
    assert pubmed.is_retracted(etree.fromstring(citation(article=types))) is retracted


def test_a_vernacular_title_with_markup_is_not_a_publication_type():
    article = (
        "<PublicationTypeList><PublicationType>Journal Article</PublicationType></PublicationTypeList>"
        "<VernacularTitle>Mobilisation <i>précoce</i> après fracture</VernacularTitle>"
    )

    assert document(citation(article=article)).meta["publication_types"] == ["Journal Article"]


# --- the stream ----------------------------------------------------------------------------------------------------


def test_a_later_gzip_member_that_refers_back_the_full_32_kb_window_is_read():
    # 20 KB of seeded random words, twice: the second copy refers back 20 KB, past a 16 KB window.
    rng = random.Random(7)
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(4000))[:20_000]
    first = "<?xml version='1.0'?><PubmedArticleSet><PubmedArticle>" + citation() + "</PubmedArticle>"
    second = (
        "<PubmedArticle><MedlineCitation><PMID>8</PMID><Article><ArticleTitle>Long</ArticleTitle><Abstract>"
        f"<AbstractText>{words} {words}</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>"
    )
    packed = gzip.compress(first.encode(), mtime=0) + gzip.compress(second.encode(), mtime=0)

    found = list(pubmed.parse(io.BytesIO(packed), "pubmed26n0001.xml.gz"))

    assert [document.id for document in found] == ["pubmed:7", "pubmed:8"]
    assert found[1].text == f"Long\n\n{words} {words}"


def test_an_external_entity_is_never_read_from_the_disk(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("PATIENT-NAME")
    xml = (
        f"<?xml version='1.0'?><!DOCTYPE PubmedArticleSet [<!ENTITY leak SYSTEM '{secret.as_uri()}'>]>"
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>7</PMID><Article><ArticleTitle>Title</ArticleTitle>"
        "<Abstract><AbstractText>Before &leak; after.</AbstractText></Abstract></Article></MedlineCitation>"
        "</PubmedArticle></PubmedArticleSet>"
    )

    [found] = pubmed.parse(io.BytesIO(xml.encode()), "pubmed26n0001.xml")

    assert "PATIENT-NAME" not in found.text and found.text.startswith("Title\n\nBefore")


def test_when_a_record_is_read_only_the_one_before_it_is_still_held_and_it_is_emptied():
    xml = "<?xml version='1.0'?><PubmedArticleSet>" + "".join(
        f"<PubmedArticle>{citation(pmid=f'<PMID>{pmid}</PMID>')}</PubmedArticle>" for pmid in range(1, 6)
    )
    xml += "</PubmedArticleSet>"
    held = []

    for record in pubmed.records(io.BytesIO(xml.encode()), "pubmed26n0001.xml"):
        assert list(record.itersiblings(preceding=True)) == held[-1:]
        assert all(len(earlier) == 0 for earlier in held)
        held.append(record)
    assert len(held) == 5


# --- fetch ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    pubmed_mirror.build(DATA, tmp_path / "site")
    return tmp_path / "site"


def fetch_from(site: Path, raw_dir: Path, config: PubMedConfig):
    with serve(site) as base, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        return pubmed.fetch(config, raw_dir, client)


@pytest.mark.parametrize(
    ("named", "asked"),
    [("pubmed26n0001.xml.gz", "pubmed26n0009.xml.gz"), ("pubmed26n0009.xml.gz", "pubmed26n0001.xml.gz")],
)
def test_an_md5_file_naming_a_file_before_or_after_the_one_asked_for_is_refused(named, asked):
    with pytest.raises(ValueError, match=f"md5 file is not 'MD5\\({asked}\\)= <hex digest>'"):
        pubmed.md5_of(f"MD5({named})= 0123456789abcdef0123456789abcdef\n", asked)


def test_a_refused_md5_file_is_quoted_up_to_80_characters():
    text = "<html>" + "x" * 100

    with pytest.raises(ValueError) as error:
        pubmed.md5_of(text, "pubmed26n0001.xml.gz")

    assert str(error.value).endswith(repr(text[:80]))


def test_a_missing_md5_file_fails_its_file_and_the_files_after_it_are_still_fetched(site, tmp_path):
    (site / NCBI / "pubmed" / "baseline" / "pubmed26n0001.xml.gz.md5").unlink()

    summary = fetch_from(site, tmp_path / "raw", PubMedConfig(update_url=None))

    assert (summary.downloaded, summary.failed) == (1, 1)
    assert (tmp_path / "raw" / "baseline" / "pubmed26n0002.xml.gz").is_file()


def test_a_listing_url_without_its_trailing_slash_is_read_as_the_folder(site, tmp_path):
    config = PubMedConfig(baseline_url=f"https://{NCBI}/pubmed/baseline", update_url=None)

    summary = fetch_from(site, tmp_path / "raw", config)

    assert (summary.downloaded, summary.failed) == (2, 0)


def test_an_update_folder_that_lists_no_file_is_nothing_to_fetch(site, tmp_path):
    for file in (site / NCBI / "pubmed" / "updatefiles").iterdir():
        file.unlink()

    summary = fetch_from(site, tmp_path / "raw", PubMedConfig())

    assert (summary.downloaded, summary.failed) == (2, 0)


def test_an_error_page_in_place_of_the_update_listing_is_a_failure(site, tmp_path):
    updates = site / NCBI / "pubmed" / "updatefiles"
    (updates / "index.html").write_text("<html><head><title>Service unavailable</title></head></html>")

    summary = fetch_from(site, tmp_path / "raw", PubMedConfig())

    assert (summary.downloaded, summary.failed) == (2, 1)
    assert summary.errors == [
        f"https://{NCBI}/pubmed/updatefiles/: listing names no pubmedYYnNNNN.xml.gz file "
        "(an error page, or not an NCBI folder)"
    ]


def test_a_baseline_folder_that_lists_no_file_is_a_failure(site, tmp_path):
    for file in (site / NCBI / "pubmed" / "baseline").iterdir():
        file.unlink()

    summary = fetch_from(site, tmp_path / "raw", PubMedConfig(update_url=None))

    assert (summary.downloaded, summary.failed) == (0, 1)


class GoneUpdates(MirrorHandler):
    """The mirror, with the update folder answering 410 Gone: a failure past 404, not retried."""

    def do_GET(self) -> None:
        if self.path.endswith("/updatefiles/"):
            self._reply(HTTPStatus.GONE, b"Gone\n", "text/plain", send_body=True)
            return
        super().do_GET()


def test_an_update_listing_answering_past_404_is_a_failure(site, tmp_path):
    with serve(site, handler=GoneUpdates) as base, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = pubmed.fetch(PubMedConfig(), tmp_path / "raw", client)

    assert (summary.downloaded, summary.failed) == (2, 1)
    [error] = summary.errors
    assert error.startswith(f"https://{NCBI}/pubmed/updatefiles/: listing failed: HTTP 410")


def test_an_update_listing_refused_rather_than_missing_is_a_failure(site, tmp_path):
    (site / "refusing.example").mkdir()
    (site / "refusing.example" / REQUIRED_HEADERS).write_text(json.dumps({"X-Api-Key": "secret"}))
    config = PubMedConfig(update_url="https://refusing.example/pubmed/updatefiles/")

    summary = fetch_from(site, tmp_path / "raw", config)

    assert (summary.downloaded, summary.failed) == (2, 1)
    [error] = summary.errors
    assert error.startswith("https://refusing.example/pubmed/updatefiles/: listing failed: HTTP 401")
