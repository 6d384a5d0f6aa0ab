"""WHO guidelines: the offline mirror, sitemap discovery, polite download, and parsing pages and PDFs."""

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import GuidelinesConfig, OrganisationConfig
from gap_replay.sources import guidelines
from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import site, who
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import who as who_mirror
from gap_replay.sources.mirror.server import serve

PAGES = {
    "guideline-on-safe-injection-practices",
    "hand-hygiene-in-outpatient-care",
    "hand-hygiene-in-outpatient-care-2025-update",
    "hygiene-des-mains-en-soins-ambulatoires",
    "management-of-severe-malaria-in-children",
    "oral-rehydration-and-zinc-for-acute-diarrhoea",
    "pharmacological-treatment-of-hypertension-in-adults",
    "tuberculosis-preventive-treatment-regimens",
}
PDFS = {"ipc-in-primary-care-clinics", "iron-and-folic-acid-supplementation-in-pregnancy"}


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    who_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The WHO raw folder after a fetch through `guidelines.fetch`, and the two fetch summaries (first, repeat)."""
    raw = tmp_path_factory.mktemp("raw") / "guidelines"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [guidelines.fetch(GuidelinesConfig(), raw, client) for _ in range(2)]
    return raw / "who", summaries


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted([*raw.glob("*.html"), *raw.glob("*.pdf")]):
        with open(path, "rb") as stream:
            for document in guidelines.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    who_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_pdfs_carry_fixed_metadata_and_no_file_id(mirror: Path) -> None:
    for slug in PDFS:
        data = (mirror / "www.who.int" / "publications" / "m" / "item" / f"{slug}.pdf").read_bytes()
        assert data.startswith(b"%PDF-")
        assert b"/ID" not in data


def test_mirror_has_robots_with_sitemap_and_a_windows_1252_page(mirror: Path) -> None:
    robots = (mirror / "www.who.int" / "robots.txt").read_text()
    assert "Disallow: /private/" in robots
    assert "Sitemap: https://www.who.int/sitemap.xml" in robots
    page = mirror / "www.who.int" / "publications" / "i" / "item" / "oral-rehydration-and-zinc-for-acute-diarrhoea"
    raw = (page / "index.html").read_bytes()
    assert b'<meta charset="windows-1252">' in raw
    assert "Jürgen Müller".encode("cp1252") in raw


# --- discovery -----------------------------------------------------------------------------------------------------


def test_sitemap_index_and_gzipped_sitemaps_are_read() -> None:
    namespace = b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    index = b"<sitemapindex " + namespace + b"><sitemap><loc>/a.xml</loc></sitemap></sitemapindex>"
    assert site.parse_sitemap(index, "https://example.org/sitemap.xml") == (["https://example.org/a.xml"], [])
    urlset = b"<urlset " + namespace + b"><url><loc> https://example.org/p </loc></url></urlset>"
    assert site.parse_sitemap(gzip.compress(urlset), "https://example.org/a.xml.gz") == ([], ["https://example.org/p"])
    with pytest.raises(ValueError, match="not a sitemap"):
        site.parse_sitemap(b"<html><body>Moved</body></html>", "https://example.org/sitemap.xml")


def test_selection_applies_include_exclude_sort_and_limit() -> None:
    urls = [
        "https://www.who.int/publications/i/item/b-guideline",
        "https://www.who.int/publications/i/item/a-guideline",
        "https://www.who.int/publications/i/item/hand-hygiene-poster-infographic",
        "https://www.who.int/news/item/01-01-2025-statement",
        "https://www.who.int/publications/m/item/c-guideline.pdf",
    ]
    assert site.select(urls, who.INCLUDE, who.EXCLUDE, None) == [
        "https://www.who.int/publications/i/item/a-guideline",
        "https://www.who.int/publications/i/item/b-guideline",
        "https://www.who.int/publications/m/item/c-guideline.pdf",
    ]
    assert len(site.select(urls, who.INCLUDE, who.EXCLUDE, 2)) == 2


def test_file_names_come_from_the_last_segment() -> None:
    names = site.file_names(
        [
            "https://www.who.int/publications/i/item/9789240012345",
            "https://www.who.int/publications/m/item/ipc%20guide.pdf",
            "https://iris.who.int/bitstream/handle/10665/1/9789240012345",
        ]
    )
    assert list(names.values())[:2] == ["9789240012345.html", "ipc-guide.pdf"]
    assert names["https://iris.who.int/bitstream/handle/10665/1/9789240012345"].startswith("9789240012345-")


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_pages_and_pdfs_from_the_sitemaps(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert first.downloaded == len(PAGES) + len(PDFS)
    assert {path.stem for path in raw.glob("*.html")} == PAGES
    assert {path.stem for path in raw.glob("*.pdf")} == PDFS
    assert (raw / "fetch_log.jsonl").is_file()
    assert first.bytes == sum(path.stat().st_size for path in [*raw.glob("*.html"), *raw.glob("*.pdf")])


def test_fetch_respects_robots_and_the_exclude_list(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert (first.failed, first.disallowed) == (0, 1), "obeying robots.txt is no failure"
    assert not list(raw.glob("draft-*")) and not list(raw.glob("*infographic*"))
    log = FetchLog(raw / "fetch_log.jsonl")
    refused = log.latest("https://www.who.int/private/publications/i/item/draft-guideline-on-antimicrobial-stewardship")
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)
    assert log.latest("https://www.who.int/publications/i/item/hand-hygiene-poster-infographic") is None


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped) == (0, len(PAGES) + len(PDFS))


def test_limit_caps_the_documents_in_place(base: str, tmp_path: Path) -> None:
    """The first URL in order is refused by robots.txt; the crawl goes on until three documents are in."""
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = who.fetch(OrganisationConfig(limit=3), tmp_path, client)
    assert (summary.downloaded, summary.disallowed, summary.failed) == (3, 1, 0)
    assert len(list(tmp_path.glob("*.*ml"))) + len(list(tmp_path.glob("*.pdf"))) == 3


def test_unknown_organisation_is_a_counted_failure(base: str, tmp_path: Path) -> None:
    config = GuidelinesConfig(organisations={"nowhere": OrganisationConfig()})
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = guidelines.fetch(config, tmp_path, client)
    assert summary.failed == 1
    assert "nowhere: unknown guideline organisation" in summary.errors[0]


# --- parse ---------------------------------------------------------------------------------------------------------


def test_parsed_pages_have_ids_licence_and_canonical_urls(documents: dict) -> None:
    document = documents["guidelines/who:management-of-severe-malaria-in-children"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "who", "CC-BY-NC-SA-3.0-IGO")
    assert document.url == "https://www.who.int/publications/i/item/management-of-severe-malaria-in-children"
    assert document.title == "Management of severe malaria in children"
    assert document.date == "2022-09-12"
    assert document.lang is None
    assert document.meta == {
        "organisation": "who",
        "format": "html",
        "redistributable": True,
        "file": "management-of-severe-malaria-in-children.html",
    }
    assert document.text.startswith("# Management of severe malaria in children\n")
    assert "| Below 20 kg | 3 mg/kg |" in document.text
    assert "cookie" not in document.text.lower()
    assert "Share on" not in document.text


def test_every_fetched_file_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/who:{slug}" for slug in PAGES | PDFS}


def test_parsed_pdfs_have_pages_and_no_running_header(documents: dict) -> None:
    document = documents["guidelines/who:ipc-in-primary-care-clinics"]
    assert document.meta["format"] == "pdf" and document.meta["pages"] == 5
    assert document.title == "Infection prevention and control in primary care clinics"
    assert document.url is None
    assert "clinics – interim guidance" not in document.text
    assert "\n## 2. Standard precautions\n" in document.text
    assert "- Wear gloves when touching blood" in document.text


def test_windows_1252_page_keeps_its_accents(documents: dict) -> None:
    text = documents["guidelines/who:oral-rehydration-and-zinc-for-acute-diarrhoea"].text
    assert "Dr Hélène Dubé and Prof. Jürgen Müller" in text
    assert "aged 1–59 months" in text


def test_planted_junk_and_french_pages_reach_curate(documents: dict) -> None:
    junk = documents["guidelines/who:guideline-on-safe-injection-practices"]
    assert len(junk.text.split()) < 25
    french = documents["guidelines/who:hygiene-des-mains-en-soins-ambulatoires"]
    assert "Les mains des soignants" in french.text


def test_pdf_is_recognised_by_its_bytes_whatever_the_name(mirror: Path) -> None:
    data = (mirror / "www.who.int" / "publications" / "m" / "item" / "ipc-in-primary-care-clinics.pdf").read_bytes()
    (document,) = who.parse(io.BytesIO(data), "raw/guidelines/who/ipc-in-primary-care-clinics.html")
    assert document.meta["format"] == "pdf"


def test_damaged_pdf_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"broken\.pdf: not a PDF"):
        list(who.parse(io.BytesIO(b"<html>Not found</html>"), "raw/guidelines/who/broken.pdf"))


def test_organisation_is_taken_from_the_folder() -> None:
    with pytest.raises(ParseError, match="unknown guideline organisation 'nice'"):
        guidelines.parse(io.BytesIO(b"<html></html>"), "raw/guidelines/nice/ng136.html")
    (document,) = guidelines.parse(
        io.BytesIO(
            b"<html><body><article><p>" + b"Drink clean water every day. " * 20 + b"</p></article></body></html>"
        ),
        "page.html",
        organisation="who",
    )
    assert document.id == "guidelines/who:page"
