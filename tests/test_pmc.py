"""PMC source: packages and file lists, bare articles, damaged input, real samples, and fetch from the mirror."""

from __future__ import annotations

import csv
import io
import random
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import PmcConfig
from gap_replay.sources import pmc
from gap_replay.sources.base import ParseError
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import pmc as mirror_pmc
from gap_replay.sources.mirror.server import serve

FIXTURES = Path(__file__).parent / "fixtures" / "pmc"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pmc"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="real PMC samples not available (../shared/samples/pmc is absent)"
)
STUDY = (FIXTURES / "study.nxml").read_bytes()  # PMC9900001, licence CC BY 3.0 in its XML
RETRACTION = (FIXTURES / "retraction.nxml").read_bytes()  # PMC9900002, article-type "retraction"
PACKAGE = "oa_comm_xml.PMC009xxxxxx.baseline.2026-06-18.tar.gz"
FILELIST_HEADER = "Article File,Article Citation,AccessionID,LastUpdated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted"


def collect(documents: Iterator[Document]) -> tuple[list[Document], ParseError | None]:
    """The documents yielded before a ParseError, and the error (None when the input was clean)."""
    yielded = []
    try:
        for document in documents:
            yielded.append(document)
    except ParseError as error:
        return yielded, error
    return yielded, None


def write_package(folder: Path, members: list[tuple[str, bytes]], filelist: list[str] | None = None) -> Path:
    """A package (and, when rows are given, its file list) in `folder`, named like an NCBI baseline package."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PACKAGE
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    if filelist is not None:
        (folder / pmc.filelist_name(PACKAGE)).write_text("\n".join([FILELIST_HEADER, *filelist]) + "\n")
    return path


def parse_path(path: Path) -> tuple[list[Document], ParseError | None]:
    with open(path, "rb") as stream:
        return collect(pmc.parse(stream, str(path)))


# --- bare articles -------------------------------------------------------------------------------------------------


def test_bare_article_is_one_document_with_pmc_identity() -> None:
    [document] = pmc.parse(io.BytesIO(STUDY), "raw/pmc/PMC9900001.nxml")
    assert (document.id, document.source, document.subsource) == ("pmc:PMC9900001", "pmc", "pmc")
    assert document.url == "https://pmc.ncbi.nlm.nih.gov/articles/PMC9900001/"
    assert document.title == "Tracer uptake in treated lymph nodes"
    assert document.text.startswith("Tracer uptake in treated lymph nodes\n\n# Abstract")
    assert (document.license, document.date, document.lang) == ("CC-BY-3.0", "2026-01-14", "en")
    assert document.meta == {
        "pmcid": "PMC9900001",
        "pmid": "39000999",
        "doi": "10.0000/tjm.2026.001",
        "article_type": "research-article",
        "journal": "Test Journal of Medicine",
        "subset": None,
        "last_updated": None,
        "retracted": False,
        "file": "PMC9900001.nxml",
    }


def test_retraction_notice_is_flagged_as_retracted() -> None:
    [document] = pmc.parse(io.BytesIO(RETRACTION), "PMC9900002.nxml")
    assert document.meta["retracted"] is True
    assert document.meta["notice_type"] == "retraction"


def test_bare_empty_article_is_a_parse_error_at_once() -> None:
    empty = (
        b'<article><front><article-meta><article-id pub-id-type="pmc">1</article-id></article-meta></front></article>'
    )
    with pytest.raises(ParseError, match=r"PMC1\.nxml: empty article"):
        list(pmc.parse(io.BytesIO(empty), "PMC1.nxml"))


def test_bare_malformed_article_error_names_the_file() -> None:
    with pytest.raises(ParseError, match=r"^broken\.nxml: malformed XML"):
        list(pmc.parse(io.BytesIO(b"<article><body>"), "broken.nxml"))


def test_table_cell_limit_reaches_the_conversion() -> None:
    [document] = pmc.parse(io.BytesIO(STUDY), "PMC9900001.nxml", max_table_cells=4)
    assert "Table 1. Uptake by node group." in document.text
    assert "| --- |" not in document.text


def test_pmcid_comes_from_the_file_name_when_the_xml_has_none() -> None:
    xml = b"<article><body><p>Text.</p></body></article>"
    [document] = pmc.parse(io.BytesIO(xml), "PMC4242.xml")
    assert document.id == "pmc:PMC4242"


# --- packages ------------------------------------------------------------------------------------------------------


def test_package_articles_take_licence_pmid_update_and_retraction_from_the_file_list(tmp_path: Path) -> None:
    path = write_package(
        tmp_path / "oa_comm",
        [("PMC009xxxxxx/PMC9900001.xml", STUDY), ("PMC009xxxxxx/PMC9900002.xml", RETRACTION)],
        [
            'PMC009xxxxxx/PMC9900001.xml,"Test J Med. 2026 Jan 14; 1:1",PMC9900001,2026-02-01 10:20:30,39000111,'
            "CC BY-NC,yes",
            'PMC009xxxxxx/PMC9900002.xml,"Test J Med. 2026 Feb 2; 1:2",PMC9900002,2026-02-03 08:00:00,0,CC0,no',
        ],
    )
    documents, error = parse_path(path)
    assert error is None
    study, notice = documents
    assert study.license == "CC-BY-NC"  # the list's term wins over the XML's CC BY 3.0, and it states no version
    assert study.meta["pmid"] == "39000111"
    assert study.meta["last_updated"] == "2026-02-01 10:20:30"
    assert study.meta["retracted"] is True
    assert (study.meta["subset"], study.meta["file"]) == ("oa_comm", "PMC009xxxxxx/PMC9900001.xml")
    assert notice.license == "CC0-1.0"
    assert notice.meta["pmid"] == "39000998"  # PMID 0 in the list means none: the XML's is kept


def test_file_list_term_takes_its_version_from_a_matching_xml_licence(tmp_path: Path) -> None:
    path = write_package(
        tmp_path,
        [("PMC009xxxxxx/PMC9900001.xml", STUDY)],
        ["PMC009xxxxxx/PMC9900001.xml,x,PMC9900001,2026-02-01 10:20:30,39000999,CC BY,no"],
    )
    [document], _ = parse_path(path)
    assert document.license == "CC-BY-3.0"


def test_package_without_file_list_uses_the_xml_licence(tmp_path: Path) -> None:
    path = write_package(tmp_path, [("PMC009xxxxxx/PMC9900001.xml", STUDY)])
    [document], error = parse_path(path)
    assert error is None
    assert document.license == "CC-BY-3.0"
    assert document.meta["last_updated"] is None


def test_non_xml_and_broken_members_are_skipped_and_named_after_the_good_articles(tmp_path: Path) -> None:
    path = write_package(
        tmp_path,
        [
            ("PMC009xxxxxx/PMC9900001.xml", STUDY),
            ("PMC009xxxxxx/readme.pdf", b"%PDF-1.4"),
            ("PMC009xxxxxx/PMC9900003.xml", b"<article><body><p>cut"),
            ("PMC009xxxxxx/PMC9900004.xml", b"<article><front/></article>"),
            ("PMC009xxxxxx/PMC9900002.xml", RETRACTION),
        ],
    )
    documents, error = parse_path(path)
    assert [document.id for document in documents] == ["pmc:PMC9900001", "pmc:PMC9900002"]
    assert error is not None
    message = str(error)
    assert message.startswith(f"{path}: 3 member(s) skipped: PMC009xxxxxx/readme.pdf: not an XML file; ")
    assert "PMC009xxxxxx/PMC9900003.xml: malformed XML" in message
    assert "PMC009xxxxxx/PMC9900004.xml: empty article" in message


def test_truncated_package_yields_the_complete_articles_then_a_parse_error(tmp_path: Path) -> None:
    noise = random.Random(0).randbytes(300_000).hex()  # incompressible, so the cut lands inside this member
    large = STUDY.replace(b"</article>", f"<!-- {noise} --></article>".encode())
    path = write_package(
        tmp_path,
        [("PMC009xxxxxx/PMC9900001.xml", STUDY), ("PMC009xxxxxx/PMC9900002.xml", RETRACTION), ("big.xml", large)],
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    documents, error = parse_path(path)
    assert [document.id for document in documents] == ["pmc:PMC9900001", "pmc:PMC9900002"]
    assert error is not None and "truncated or damaged archive" in str(error)


def test_package_cut_at_a_member_boundary_is_still_reported(tmp_path: Path) -> None:
    path = write_package(tmp_path, [("PMC009xxxxxx/PMC9900001.xml", STUDY)])
    data = path.read_bytes()
    path.write_bytes(data[:-8])  # the gzip trailer is gone, the tar itself is whole
    documents, error = parse_path(path)
    assert len(documents) == 1
    assert error is not None and "truncated or damaged archive" in str(error)


# --- file lists, licences and listings -----------------------------------------------------------------------------


def test_file_list_columns_are_found_by_name() -> None:
    text = (
        "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License\n"
        "a.tar.gz,c,PMC7,2020-01-01 00:00:00,77,CC BY\n"
    )
    entry = pmc.read_filelist(text, "old.csv")["PMC7"]
    assert (entry.pmid, entry.license, entry.last_updated, entry.retracted) == (
        "77",
        "CC BY",
        "2020-01-01 00:00:00",
        False,
    )


def test_file_without_accession_column_is_not_a_file_list() -> None:
    with pytest.raises(ParseError, match=r"bad\.csv: not a PMC file list"):
        pmc.read_filelist("a,b\n1,2\n", "bad.csv")


@pytest.mark.parametrize(
    ("term", "xml_license", "expected"),
    [
        ("CC BY", None, "CC-BY"),
        ("CC BY", "CC-BY", "CC-BY"),
        ("CC BY", "CC-BY-3.0", "CC-BY-3.0"),
        ("CC BY-NC", "CC-BY-NC-3.0", "CC-BY-NC-3.0"),
        ("CC BY-NC", "CC-BY-3.0", "CC-BY-NC"),
        ("CC BY-NC-ND", None, "CC-BY-NC-ND"),
        ("CC0", None, "CC0-1.0"),
        ("NO-CC CODE", "CC-BY-4.0", "NO-CC CODE"),
        ("", "CC-BY-4.0", "CC-BY-4.0"),
    ],
)
def test_file_list_licence_terms_map_to_spdx_like_ids(term: str, xml_license: str | None, expected: str) -> None:
    assert pmc.filelist_license(term, xml_license) == expected


def test_listing_gives_baseline_packages_then_incrementals_for_the_subset() -> None:
    names = [
        "oa_comm_xml.incr.2026-06-20.tar.gz",
        "oa_comm_xml.PMC001xxxxxx.baseline.2026-06-18.tar.gz",
        "oa_comm_xml.incr.2026-06-19.tar.gz",
        "oa_comm_xml.PMC000xxxxxx.baseline.2026-06-18.tar.gz",
        "oa_comm_xml.PMC000xxxxxx.baseline.2026-06-18.filelist.csv",
        "oa_noncomm_xml.PMC000xxxxxx.baseline.2026-06-18.tar.gz",
    ]
    listing = "".join(f'<a href="{name}">{name}</a>\n' for name in names)
    assert pmc.listed_packages(listing, "oa_comm") == [
        "oa_comm_xml.PMC000xxxxxx.baseline.2026-06-18.tar.gz",
        "oa_comm_xml.PMC001xxxxxx.baseline.2026-06-18.tar.gz",
        "oa_comm_xml.incr.2026-06-19.tar.gz",
        "oa_comm_xml.incr.2026-06-20.tar.gz",
    ]


# --- real samples --------------------------------------------------------------------------------------------------

SAMPLE_LICENSES = {
    "mds526.nxml": "CC-BY-NC-3.0",
    "ehp-116-1694.nxml": "public-domain",
    "PMC6398430.nxml": "CC-BY-4.0",
    "PMC5828200.nxml": "CC-BY-3.0",
    "PMC7417471.nxml": "CC-BY-4.0",
    "pntd.0002065.nxml": "CC-BY",  # 2013: "Creative Commons Attribution License", no version
    "pone.0000217.nxml": "CC-BY",  # 2007: stated only in the copyright statement, without a version
}
DROPPED_TITLES = re.compile(r"funding|disclosure|competing|conflict|supplementary", re.IGNORECASE)
OPAQUE = {"inline-formula", "disp-formula", "list", "table-wrap", "fig", "boxed-text", "def-list"}
RESIDUE = re.compile(
    r"\[\s*\]|\(\s*\)|\[[\s,;–-]+\]|\(\s*[,;–-][\s,;–-]*\)"  # emptied brackets
    r"|\[\d+(?:\s*[,;–-]\s*\d+)*\]"  # numbers left in square brackets: [1], [1, 2]
    r"|\(\d{1,3}(?:\s*(?:[;–-]|,(?!\d{3}\b))\s*\d{1,3})+\)"  # (3,4) or (3–5), not (10,000) or (2006–2010)
)
LEAD_WORDS = re.compile(r"\b(?:e\.g\.|cf\.|see also|see|i\.e\.)[,\s]*$")  # "(cf. Smith 2001)" goes as a whole


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[etree._Element, str]]:
    """Each sample's XML root and the one document's text."""
    parsed = {}
    for path in sorted(SAMPLES.glob("*.nxml")):
        with open(path, "rb") as stream:
            documents = list(pmc.parse(stream, str(path)))
        assert len(documents) == 1, path.name
        parsed[path.name] = (etree.parse(str(path)).getroot(), documents[0])
    return parsed


def alphanumeric(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def segments(p: etree._Element) -> list[str]:
    """A paragraph's text split where citations, footnote markers, formulas and nested blocks interrupt it."""
    pieces, current = [], [p.text or ""]
    for child in p:
        if not isinstance(child.tag, str):
            current.append(child.tail or "")
            continue
        name = etree.QName(child).localname
        if (name == "xref" and child.get("ref-type") in ("bibr", "fn")) or name in OPAQUE:
            pieces.append(LEAD_WORDS.sub("", "".join(current)))
            current = [child.tail or ""]
        else:
            current += [*segments_text(child), child.tail or ""]
    pieces.append("".join(current))
    return [alphanumeric(piece) for piece in pieces if alphanumeric(piece)]


def segments_text(element: etree._Element) -> list[str]:
    """Inline text of an element, leaving out citations and footnote markers inside it."""
    out = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and not (child.tag == "xref" and child.get("ref-type") in ("bibr", "fn")):
            out += segments_text(child)
        out.append(child.tail or "")
    return out


def kept_paragraphs(root: etree._Element) -> Iterator[etree._Element]:
    """Body and floats paragraphs that the text must contain: not in supplements, footnotes, tables or dropped secs."""
    for container in (root.find("body"), root.find("floats-group")):
        if container is None:
            continue
        for p in container.iter("p"):
            ancestors = [etree.QName(a).localname for a in p.iterancestors()]
            if {"supplementary-material", "media", "table"} & set(ancestors):
                continue
            if "fn" in ancestors and "table-wrap-foot" not in ancestors:
                continue
            titles = [a.findtext("title") or "" for a in p.iterancestors("sec")]
            if any(DROPPED_TITLES.search(title) for title in titles):
                continue
            yield p


@needs_samples
def test_every_sample_body_paragraph_appears_in_the_text(samples: dict) -> None:
    for name, (root, document) in samples.items():
        text = alphanumeric(document.text)
        checked = 0
        for p in kept_paragraphs(root):
            position = 0
            for piece in segments(p):
                found = text.find(piece, position)
                assert found >= 0, f"{name}: paragraph text missing: {piece[:80]}"
                position = found + len(piece)
            checked += 1
        assert checked >= 20, name


@needs_samples
def test_sample_reference_titles_are_absent(samples: dict) -> None:
    for name, (root, document) in samples.items():
        titles = [" ".join("".join(t.itertext()).split()) for t in root.iterfind("back/ref-list//article-title")]
        long_titles = [title for title in titles if len(title) > 40][:5]
        assert long_titles, name
        for title in long_titles:
            assert title not in document.text, f"{name}: reference title in text: {title}"


@needs_samples
def test_samples_have_no_citation_residue(samples: dict) -> None:
    for name, (_, document) in samples.items():
        prose = "\n".join(line for line in document.text.splitlines() if not line.startswith("|"))
        assert RESIDUE.findall(prose) == [], name
        assert "  " not in prose and " ." not in prose.replace(" .0", "").replace(" .5", ""), name


@needs_samples
def test_samples_with_small_tables_render_markdown_tables(samples: dict) -> None:
    with_tables = {name for name, (_, document) in samples.items() if "\n| --- |" in document.text}
    assert with_tables == {"mds526.nxml", "pntd.0002065.nxml", "PMC5828200.nxml", "PMC6398430.nxml", "PMC7417471.nxml"}


@needs_samples
def test_sample_licences_match_what_the_articles_state(samples: dict) -> None:
    assert {name: document.license for name, (_, document) in samples.items()} == SAMPLE_LICENSES


@needs_samples
def test_sample_author_summary_kept_and_teaser_dropped(samples: dict) -> None:
    assert (
        "\n\n# Author summary\n\nRift Valley fever (RVF) is a mosquito-borne disease"
        in samples["pntd.0002065.nxml"][1].text
    )
    crows = samples["PMC6398430.nxml"]
    teaser = " ".join("".join(crows[0].find(".//abstract[@abstract-type='teaser']").itertext()).split())
    assert teaser[:60] not in crows[1].text


# --- the offline mirror --------------------------------------------------------------------------------------------


def files(site: Path) -> dict[str, bytes]:
    return {str(path.relative_to(site)): path.read_bytes() for path in sorted(site.rglob("*")) if path.is_file()}


def test_mirror_build_is_byte_reproducible(tmp_path: Path) -> None:
    mirror_pmc.build(DATA, tmp_path / "one")
    mirror_pmc.build(DATA, tmp_path / "two")
    first = files(tmp_path / "one")
    assert first == files(tmp_path / "two")
    assert sorted(first) == [
        f"ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/{subset}/xml/{subset}_xml.PMC011xxxxxx.baseline.2026-06-18.{suffix}"
        for subset in ("oa_comm", "oa_noncomm")
        for suffix in ("filelist.csv", "filelist.txt", "tar.gz")
    ]


@pytest.mark.parametrize("path", sorted((DATA / "pmc").glob("*/*.nxml")), ids=lambda path: path.stem)
def test_mirror_articles_lose_references_acknowledgements_and_citation_markers(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    [document] = pmc.parse(io.BytesIO(path.read_bytes()), str(path))
    dropped = [" ".join("".join(ref.itertext()).split()) for ref in root.iterfind("back/ref-list/ref/mixed-citation")]
    dropped += [" ".join("".join(ack.itertext()).split()) for ack in root.iterfind("back/ack")]
    assert not [text for text in dropped if text in document.text]
    prose = "\n".join(line for line in document.text.splitlines() if not line.startswith("|"))
    assert RESIDUE.findall(prose) == []
    assert "  " not in prose and " ." not in prose


def test_mirror_file_list_rows_describe_their_package(tmp_path: Path) -> None:
    mirror_pmc.build(DATA, tmp_path)
    folder = tmp_path / "ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/oa_comm/xml"
    rows = list(csv.DictReader((folder / "oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18.filelist.csv").open()))
    with tarfile.open(folder / "oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18.tar.gz") as archive:
        assert [row["Article File"] for row in rows] == archive.getnames()
    assert {row["License"] for row in rows} == {"CC BY"}
    assert [row["PMID"] for row in rows] == ["39000101", "39000102", "39000103", "39000104"]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The mirror served on loopback and fetched twice into one raw folder; returns the folder and both summaries."""
    site = tmp_path_factory.mktemp("site")
    raw = tmp_path_factory.mktemp("raw")
    mirror_pmc.build(DATA, site)
    config = PmcConfig(subsets=["oa_comm", "oa_noncomm"])
    with serve(site) as base, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [pmc.fetch(config, raw, client), pmc.fetch(config, raw, client)]
    return raw, summaries


def test_fetch_downloads_each_package_with_its_file_list(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert (first.downloaded, first.failed, first.errors) == (4, 0, [])
    assert sorted(str(path.relative_to(raw)) for path in raw.rglob("*.*") if path.name != "fetch_log.jsonl") == [
        f"{subset}/{subset}_xml.PMC011xxxxxx.baseline.2026-06-18.{suffix}"
        for subset in ("oa_comm", "oa_noncomm")
        for suffix in ("filelist.csv", "tar.gz")
    ]


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, 4, 0)


def test_fetched_packages_parse_with_licences_from_their_file_lists(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    documents = {}
    for path in sorted(raw.rglob("*.tar.gz")):
        parsed, error = parse_path(path)
        assert error is None
        documents.update({document.id: document for document in parsed})
    assert {key: document.license for key, document in documents.items()} == {
        "pmc:PMC11000001": "CC-BY-4.0",
        "pmc:PMC11000002": "CC-BY",  # its XML states no licence, and the file list's "CC BY" no version
        "pmc:PMC11000003": "CC-BY-4.0",
        "pmc:PMC11000004": "CC-BY-4.0",
        "pmc:PMC11000005": "CC-BY-NC-4.0",
        "pmc:PMC11000006": "CC-BY-NC-4.0",
    }
    assert all(document.meta["last_updated"] for document in documents.values())
    assert [key for key, document in documents.items() if document.meta["retracted"]] == ["pmc:PMC11000004"]
    assert documents["pmc:PMC11000005"].meta["subset"] == "oa_noncomm"
    assert "[18F]FDG PET/CT" in documents["pmc:PMC11000001"].text


def test_fetch_counts_a_missing_subset_and_goes_on(tmp_path: Path) -> None:
    site = tmp_path / "site"
    mirror_pmc.build(DATA, site)
    config = PmcConfig(subsets=["oa_other", "oa_noncomm"], limit=1)
    with serve(site) as base, PoliteClient(user_agent="test", delay=0, retries=0, mirror=base) as client:
        summary = pmc.fetch(config, tmp_path / "raw", client)
    assert (summary.downloaded, summary.failed) == (2, 1)
    assert summary.errors[0].startswith("https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/oa_other/xml/: listing failed")
