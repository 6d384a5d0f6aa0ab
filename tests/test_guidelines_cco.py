"""CCO guidelines: the Cancer Care Ontario stand-in, listing discovery with its pager and cancer-type pages, the
Document Status and Full Report rules, polite download of the reports, and parsing them."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import cco, site
from gap_replay.sources.guidelines.extract import pdf_to_markdown
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import cco as cco_mirror
from gap_replay.sources.mirror.kit import read_pdf_source, render_pdf
from gap_replay.sources.mirror.server import serve

HOST = "https://www.cancercareontario.ca"
PAGES = f"{HOST}/en/guidelines-advice/types-of-cancer"
CURRENT = {"61571", "63104", "58822"}  # current guidelines with a Full Report on the Drupal file route
ARCHIVED = "2116"
LEGACY = "2320"  # current, but its Full Report is on the legacy handler robots.txt disallows
LEGACY_REPORT = f"{HOST}/common/pages/UserFile.aspx?fileId=34397"
ARCHIVED_REPORT = f"{HOST}/en/file/3376/download?token=h7TsQe5D"
PATIENT_SUMMARY = f"{HOST}/en/file/70213/download?token=Yc2kR9vd"


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def client_for(base: str) -> PoliteClient:
    return PoliteClient(user_agent="test", delay=0, mirror=base)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    cco_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after a fetch, and the summaries of the first and a repeated fetch."""
    raw = tmp_path_factory.mktemp("raw") / "cco"
    with client_for(base) as client:
        summaries = [cco.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list[FetchSummary]]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.pdf")):
        with open(path, "rb") as stream:
            parsed.update((document.id, document) for document in cco.parse(stream, str(path)))
    return parsed


def guideline_page(status: str, *links: tuple[str, str]) -> bytes:
    files = "".join(
        f'<div class="guideline-file"><span class="file"><a href="{href}">{label}</a></span></div>'
        for href, label in links
    )
    return (
        '<html><body><div class="ts-breaker"><h1>A guideline</h1>'
        f'<div class="ts-p"><strong>Document Status: </strong><span>{status}</span></div></div>'
        f'<div id="content">{files}</div></body></html>'
    ).encode()


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    cco_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_serves_reports_on_the_drupal_file_route_with_fixed_metadata(mirror: Path) -> None:
    data = (mirror / "www.cancercareontario.ca" / "en" / "file" / "70212" / "download?token=Q3kTzP0a").read_bytes()
    assert data.startswith(b"%PDF-") and b"/ID" not in data
    assert pdf_to_markdown(data).date == "2023-06-14"


def test_mirror_robots_disallows_the_legacy_file_handler(mirror: Path) -> None:
    robots = (mirror / "www.cancercareontario.ca" / "robots.txt").read_text()
    assert "Disallow: /common/" in robots and "Crawl-delay" not in robots


# --- discovery -----------------------------------------------------------------------------------------------------


def test_listing_reaches_every_guideline_page_through_the_pager_and_cancer_types(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        pages = site.listing_urls(client, cco.LISTING, summary)
    assert pages == sorted(f"{PAGES}/{node}" for node in [*CURRENT, ARCHIVED, LEGACY])
    assert (summary.failed, summary.disallowed) == (0, 0)


def test_a_cancer_type_page_given_as_url_limits_discovery_to_that_type(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cco.fetch(OrganisationConfig(url=f"{PAGES}/lung"), tmp_path, client)
    assert summary.downloaded == 1
    assert [path.name for path in tmp_path.glob("*.pdf")] == ["63104.pdf"]


def test_full_report_of_a_current_guideline_is_its_link_made_absolute() -> None:
    html = guideline_page("Current", ("/en/file/1/download?token=a", "Full Report (PDF) (12 KB)"))
    assert cco.report_link(html, f"{PAGES}/1/") == f"{HOST}/en/file/1/download?token=a"


def test_guideline_in_review_still_gives_its_full_report() -> None:
    html = guideline_page("In Review", ("/en/file/1/download?token=a", "Full Report (PDF)"))
    assert cco.report_link(html, PAGES) == f"{HOST}/en/file/1/download?token=a"


def test_archived_guideline_gives_no_report_even_with_a_link() -> None:
    html = guideline_page("Archived", ("/en/file/1/download?token=a", "Full Report (PDF)"))
    assert cco.report_link(html, PAGES) is None


def test_only_the_full_report_counts_not_other_files() -> None:
    assert cco.report_link(guideline_page("Current", ("/x.pdf", "Patient Summary (PDF)")), PAGES) is None
    both = guideline_page("Current", ("/summary.pdf", "Patient Summary (PDF)"), ("/report.pdf", "Full Report (PDF)"))
    assert cco.report_link(both, PAGES) == f"{HOST}/report.pdf"


def test_node_is_the_last_segment_of_a_guideline_page_url() -> None:
    assert cco.node_of(f"{PAGES}/61571") == "61571"
    assert cco.node_of(f"{PAGES}/61571/") == "61571"


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_the_full_reports_of_current_guidelines_named_by_node(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.downloaded == len(CURRENT)
    assert {path.stem for path in raw.glob("*.pdf")} == CURRENT
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.pdf"))


def test_archived_reports_and_patient_summaries_are_never_requested(fetched: tuple) -> None:
    raw, (first, _) = fetched
    log = FetchLog(raw / "fetch_log.jsonl")
    assert log.latest(ARCHIVED_REPORT) is None
    assert log.latest(PATIENT_SUMMARY) is None
    assert first.failed == 0


def test_report_on_a_disallowed_path_is_counted_not_fetched(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1
    refused = FetchLog(raw / "fetch_log.jsonl").latest(LEGACY_REPORT)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)
    assert not (raw / f"{LEGACY}.pdf").exists()


def test_second_fetch_downloads_nothing(fetched: tuple) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(CURRENT), 0)


def test_limit_caps_the_reports_in_place(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cco.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.pdf"))) == 2


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_report_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/cco:{node}" for node in CURRENT}


def test_parsed_report_has_title_guideline_page_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/cco:61571"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "cco", cco.LICENSE)
    assert document.title == "Adjuvant Radiotherapy after Breast-Conserving Surgery for Early-Stage Breast Cancer"
    assert document.url == f"{PAGES}/61571"
    assert document.date == "2023-06-14"
    assert document.meta == {
        "organisation": "cco",
        "redistributable": False,
        "file": "61571.pdf",
        "format": "pdf",
        "pages": 4,
    }


def test_parsed_report_keeps_recommendations_and_drops_running_headers(documents: dict) -> None:
    text = documents["guidelines/cco:63104"].text
    assert text.startswith("# Stereotactic Body Radiotherapy for Early-Stage Non-Small Cell Lung Cancer\n")
    assert "\n## Section 1: Recommendations\n" in text
    assert "central tumours should be treated with 60 Gy in 8 fractions" in text
    assert "PEBC 7-27 – Stereotactic body radiotherapy" not in text


def test_report_not_named_by_node_has_no_url_but_keeps_its_date() -> None:
    source = read_pdf_source(DATA / "cco" / "pdfs" / "lung-sbrt.txt", "lung-sbrt", cco_mirror.PUBLISHER)
    (document,) = cco.parse(io.BytesIO(render_pdf(source)), "raw/guidelines/cco/lung-sbrt.pdf")
    assert (document.id, document.url, document.date) == ("guidelines/cco:lung-sbrt", None, "2022-11-02")


def test_html_error_page_saved_as_a_report_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"61571\.pdf: not a PDF"):
        list(cco.parse(io.BytesIO(b"<html><body>Access denied</body></html>"), "raw/guidelines/cco/61571.pdf"))


def test_truncated_report_raises_parse_error_naming_the_file(fetched: tuple) -> None:
    raw, _ = fetched
    data = (raw / "58822.pdf").read_bytes()
    with pytest.raises(ParseError, match=r"58822\.pdf: truncated PDF"):
        list(cco.parse(io.BytesIO(data[: len(data) // 2]), "raw/guidelines/cco/58822.pdf"))
