"""CMA guidelines: the CPG Infobase stand-in with a developer's host, specialty-page discovery with its pager, the
entry rules (status, Choosing Wisely), off-site downloads under each host's robots.txt, and parsing."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import cma
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import cma as cma_mirror
from gap_replay.sources.mirror.server import serve

INFOBASE = "https://joulecma.ca/cpg/homepage/browse-by/category/specialties"
CANADA = "https://www.canada.ca"
LATENT_TB = (
    f"{CANADA}/en/public-health/services/publications/diseases-conditions/treatment-latent-tuberculosis-infection.html"
)
LYME = (
    f"{CANADA}/content/dam/phac-aspc/documents/services/publications/diseases-conditions/"
    "early-lyme-disease-guidance/early-lyme-disease-guidance-en.pdf"
)
PREGNANCY = (
    f"{CANADA}/en/public-health/services/publications/healthy-living/"
    "canadian-immunization-guide-part-3-vaccination-specific-populations/page-4-immunization-pregnancy-breastfeeding.html"
)
MIGRATED = (
    f"{CANADA}/content/dam/hc-sc/migration/hc-sc/fn-an/alt_formats/pdf/nutrition/infant-nourisson/recom/"
    "recom-6-months-6-mois-eng.pdf"
)
ARCHIVED = f"{CANADA}/en/public-health/services/publications/diseases-conditions/clinical-care-pandemic-influenza.html"
CHOOSING_WISELY = "https://choosingwiselycanada.org/recommendation/infectious-disease/"
FILES = {
    "treatment-latent-tuberculosis-infection.html",
    "early-lyme-disease-guidance-en.pdf",
    "page-4-immunization-pregnancy-breastfeeding.html",
}


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def client_for(base: str) -> PoliteClient:
    return PoliteClient(user_agent="test", delay=0, mirror=base)


def entry(href: str, status: str = "Current", title: str = "A guideline") -> str:
    return (
        f'<div class="views-row cpg-result"><h5><a href="{href}" title="View fulltext guideline">{title}</a></h5>'
        f'<div class="cpg-meta">Year: <span class="cpg-year">2024</span> | '
        f'Status: <span class="cpg-status">{status}</span></div></div>'
    )


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    cma_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after a fetch, and the summaries of the first and a repeated fetch."""
    raw = tmp_path_factory.mktemp("raw") / "cma"
    with client_for(base) as client:
        summaries = [cma.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list[FetchSummary]]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted([*raw.glob("*.html"), *raw.glob("*.pdf")]):
        with open(path, "rb") as stream:
            parsed.update((document.id, document) for document in cma.parse(stream, str(path)))
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    cma_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_has_two_hosts_each_with_its_own_robots(mirror: Path) -> None:
    assert "Disallow: /user/" in (mirror / "joulecma.ca" / "robots.txt").read_text()
    assert "Disallow: /content/dam/hc-sc/migration/" in (mirror / "www.canada.ca" / "robots.txt").read_text()


def test_mirror_pages_the_infectious_disease_specialty(mirror: Path) -> None:
    folder = mirror / "joulecma.ca" / "cpg" / "homepage" / "browse-by" / "category" / "specialties" / "id"
    assert (folder / "1012?page=1").is_file()
    assert '<div class="pagination">' in (folder / "1012" / "index.html").read_text()


# --- discovery -----------------------------------------------------------------------------------------------------


def test_infobase_walk_finds_every_guideline_link_once_across_specialties_and_pages(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        urls = cma.guideline_urls(client, cma.START_URL, summary)
    assert urls == sorted([LATENT_TB, LYME, PREGNANCY, MIGRATED])
    assert (summary.failed, summary.disallowed) == (0, 0)


def test_current_entry_gives_its_fulltext_link_made_absolute() -> None:
    html = f"<html><body>{entry('/guidelines/asthma.pdf')}</body></html>".encode()
    assert cma.entry_links(html, INFOBASE) == ["https://joulecma.ca/guidelines/asthma.pdf"]


def test_archived_and_withdrawn_entries_are_skipped() -> None:
    html = "".join(entry(f"https://example.org/{status}", status) for status in ("Archived", "Withdrawn", "Current"))
    assert cma.entry_links(f"<html><body>{html}</body></html>".encode(), INFOBASE) == ["https://example.org/Current"]


def test_choosing_wisely_lists_are_skipped() -> None:
    html = entry(CHOOSING_WISELY) + entry("https://choisiravecsoin.org/recommandations/") + entry(LATENT_TB)
    assert cma.entry_links(f"<html><body>{html}</body></html>".encode(), INFOBASE) == [LATENT_TB]


def test_links_outside_entries_are_not_guidelines() -> None:
    html = b'<html><body><a href="https://www.cma.ca/" title="View fulltext guideline">CMA</a></body></html>'
    assert cma.entry_links(html, INFOBASE) == []


def test_raw_names_drop_web_suffixes_and_keep_pdf() -> None:
    names = cma.raw_names([LATENT_TB, LYME, "https://example.org/cpg/index.aspx?id=7", "https://example.org/x/"])
    assert list(names.values()) == [
        "treatment-latent-tuberculosis-infection.html",
        "early-lyme-disease-guidance-en.pdf",
        "index.html",
        "x.html",
    ]


def test_raw_names_tell_apart_links_that_differ_only_in_their_query() -> None:
    first, second = "https://example.org/GetFile.aspx?id=1", "https://example.org/GetFile.aspx?id=2"
    names = cma.raw_names([first, second])
    assert names[first] == "GetFile.html"
    assert names[second].startswith("GetFile-") and names[second].endswith(".html")


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_guidelines_from_the_developer_host(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.downloaded == len(FILES)
    assert {path.name for path in [*raw.glob("*.html"), *raw.glob("*.pdf")]} == FILES


def test_off_site_link_that_its_host_disallows_is_counted_not_fetched(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert (first.disallowed, first.failed) == (1, 0)
    refused = FetchLog(raw / "fetch_log.jsonl").latest(MIGRATED)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)


def test_archived_entries_and_choosing_wisely_are_never_requested(fetched: tuple) -> None:
    raw, _ = fetched
    log = FetchLog(raw / "fetch_log.jsonl")
    assert log.latest(ARCHIVED) is None
    assert log.latest(CHOOSING_WISELY) is None


def test_second_fetch_downloads_nothing(fetched: tuple) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(FILES), 0)


def test_limit_caps_the_documents_in_place(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cma.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.html"))) + len(list(tmp_path.glob("*.pdf"))) == 2


def test_a_specialty_page_given_as_url_limits_discovery_to_it(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cma.fetch(OrganisationConfig(url=f"{INFOBASE}/id/1021"), tmp_path, client)
    assert (summary.downloaded, summary.disallowed) == (1, 1)
    assert [path.name for path in tmp_path.glob("*.html")] == ["page-4-immunization-pregnancy-breastfeeding.html"]


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_downloaded_file_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/cma:{name.rsplit('.', 1)[0]}" for name in FILES}


def test_parsed_page_has_title_canonical_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/cma:treatment-latent-tuberculosis-infection"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "cma", cma.LICENSE)
    assert document.title == "Treatment of latent tuberculosis infection in adults"
    assert document.url == LATENT_TB
    assert document.date == "2023-03-24"
    assert document.meta == {
        "organisation": "cma",
        "redistributable": True,
        "file": "treatment-latent-tuberculosis-infection.html",
        "format": "html",
    }


def test_parsed_page_keeps_guideline_text_and_drops_site_chrome(documents: dict) -> None:
    text = documents["guidelines/cma:treatment-latent-tuberculosis-infection"].text
    assert text.startswith("# Treatment of latent tuberculosis infection in adults\n")
    assert "Treatment of LTBI lowers the risk of progression to active disease by 60% to 90%." in text
    assert "| Rifampin daily | 4 months |" in text
    for chrome in ("Report a problem", "Share this page", "Skip to main content", "Search Canada.ca", "Terms and"):
        assert chrome not in text


def test_parsed_page_drops_the_page_details_box(documents: dict) -> None:
    text = documents["guidelines/cma:treatment-latent-tuberculosis-infection"].text
    assert "Page details" not in text and "Date modified" not in text


def test_parsed_pdf_has_its_title_and_text(documents: dict) -> None:
    document = documents["guidelines/cma:early-lyme-disease-guidance-en"]
    assert document.title == "Early Lyme disease: diagnosis and treatment of erythema migrans"
    assert document.meta["format"] == "pdf" and document.meta["redistributable"] is True
    assert "Adults with erythema migrans should receive doxycycline 100 mg twice daily for 10 days." in document.text


def test_truncated_pdf_raises_parse_error_naming_the_file(fetched: tuple) -> None:
    raw, _ = fetched
    data = (raw / "early-lyme-disease-guidance-en.pdf").read_bytes()
    with pytest.raises(ParseError, match=r"early-lyme-disease-guidance-en\.pdf: truncated PDF"):
        list(cma.parse(io.BytesIO(data[:2000]), "raw/guidelines/cma/early-lyme-disease-guidance-en.pdf"))


def test_html_error_page_saved_as_a_pdf_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"guide\.pdf: not a PDF"):
        list(cma.parse(io.BytesIO(b"<html><body>403 Forbidden</body></html>"), "raw/guidelines/cma/guide.pdf"))
