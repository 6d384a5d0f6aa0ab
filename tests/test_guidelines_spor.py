"""SPOR guidelines: the CPG database stand-in, discovery of developers' PDFs, polite download and parsing."""

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import site, spor
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import spor as spor_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

PDFS = {
    "https://www.atlantic-paediatric-network.example/wp-content/uploads/2017/03/acute-otitis-media-guideline-2017.pdf",
    "http://guidelines.prairie-primary-care.example/docs/hypertension-screening-adults-2016.pdf",
    "https://guidelines.prairie-primary-care.example/members/opioid-tapering-2017.pdf",
    "https://www.northern-ltc-quality.example/files/Falls-Prevention-LTC-2015.PDF",
}
REFUSED = "https://guidelines.prairie-primary-care.example/members/opioid-tapering-2017.pdf"
SLUGS = {"acute-otitis-media-guideline-2017", "hypertension-screening-adults-2016", "Falls-Prevention-LTC-2015"}
DATABASE = "sporevidencealliance.ca/key-activities/cpg-asset-map/cpg-database"


class Recorder(MirrorHandler):
    """The mirror's handler, noting every path asked for (`/<host>/<path>?<query>`)."""

    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        super().do_GET()


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def client_for(base: str) -> PoliteClient:
    return PoliteClient(user_agent="test", delay=0, mirror=base)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    spor_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror, handler=Recorder) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary], list[str]]:
    """The raw folder after two fetches, their summaries, and the paths the first fetch asked the server for."""
    raw = tmp_path_factory.mktemp("raw") / "spor"
    Recorder.paths.clear()
    with client_for(base) as client:
        first = spor.fetch(OrganisationConfig(), raw, client)
        asked = list(Recorder.paths)
        second = spor.fetch(OrganisationConfig(), raw, client)
    return raw, [first, second], asked


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list]) -> dict[str, object]:
    raw, _, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.pdf")):
        with open(path, "rb") as stream:
            for document in spor.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the stand-in ------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    spor_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_are_wordpress_and_a_developer_closes_its_members_area(mirror: Path) -> None:
    assert "Disallow: /wp-admin/\n" in (mirror / "sporevidencealliance.ca" / "robots.txt").read_text()
    developer = (mirror / "guidelines.prairie-primary-care.example" / "robots.txt").read_text()
    assert "Disallow: /members/\n" in developer


def test_the_database_is_split_in_two_page_parts(mirror: Path) -> None:
    first = (mirror / DATABASE / "index.html").read_text()
    assert f'<a href="https://{DATABASE}/2/" class="post-page-numbers">2</a>' in first
    assert (mirror / DATABASE / "2" / "index.html").is_file()


# --- discovery -----------------------------------------------------------------------------------------------------


def test_discovery_finds_the_developers_pdfs_on_both_page_parts(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        urls = site.listing_urls(client, spor.LISTING, summary)
    assert set(urls) == PDFS
    assert (summary.failed, summary.disallowed) == (0, 0)


@pytest.mark.parametrize(
    ("url", "collected"),
    [
        ("https://www.developer.example/docs/guideline.pdf", True),
        ("http://www.developer.example/docs/guideline.pdf", True),
        ("https://www.developer.example/files/GUIDELINE.PDF", True),
        ("https://sporevidencealliance.ca.example/docs/guideline.pdf", True),
        ("https://www.developer.example/resources/asthma-action-plan/", False),
        ("https://www.developer.example/download.php?file=guideline.pdf", False),
        ("https://www.developer.example/docs/guideline.pdf.html", False),
        ("https://sporevidencealliance.ca/wp-content/uploads/2018/04/SPOR-EA_CPG-Asset-Map_Report.pdf", False),
        ("https://www.sporevidencealliance.ca/wp-content/uploads/2018/04/report.pdf", False),
    ],
)
def test_document_rule_takes_pdfs_on_developers_sites(url: str, collected: bool) -> None:
    assert any(re.search(pattern, url) for pattern in spor.LISTING.documents) is collected


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        (f"https://{DATABASE}/2/", True),
        (f"https://{DATABASE}/12/", True),
        (f"https://{DATABASE}/", False),
        ("https://sporevidencealliance.ca/key-activities/cpg-asset-map/", False),
        ("https://sporevidencealliance.ca/resources/", False),
    ],
)
def test_follow_rule_walks_the_database_page_parts_only(url: str, followed: bool) -> None:
    assert any(re.search(pattern, url) for pattern in spor.LISTING.follow) is followed


def test_the_report_and_the_developers_web_page_are_never_requested(fetched: tuple[Path, list, list]) -> None:
    _, _, asked = fetched
    assert not [path for path in asked if "Asset-Map_Report" in path or "asthma-action-plan" in path]
    assert f"/{DATABASE}/2/" in asked


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_the_pdfs_and_respects_the_developers_robots(fetched: tuple[Path, list, list]) -> None:
    raw, (first, _), asked = fetched
    assert (first.downloaded, first.failed, first.disallowed) == (3, 0, 1)
    assert {path.stem for path in raw.glob("*.pdf")} == SLUGS
    assert not [path for path in asked if "/members/" in path]
    refused = FetchLog(raw / "fetch_log.jsonl").latest(REFUSED)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, 3, 0)


def test_limit_caps_the_documents(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = spor.fetch(OrganisationConfig(limit=1), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (1, 0)
    assert len(list(tmp_path.glob("*.pdf"))) == 1


def test_config_url_replaces_the_database_page(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = spor.fetch(OrganisationConfig(url=f"https://{DATABASE}/2/"), tmp_path, client)
    assert summary.downloaded == 1
    assert [path.name for path in tmp_path.glob("*.pdf")] == ["Falls-Prevention-LTC-2015.pdf"]


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_pdf_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/spor:{slug}" for slug in SLUGS}


def test_a_document_has_its_title_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/spor:hypertension-screening-adults-2016"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "spor", "developer-terms")
    assert document.title == "Screening for hypertension in adults in primary care"
    assert document.date == "2016-09-05"
    assert (
        document.url == "http://guidelines.prairie-primary-care.example/docs/hypertension-screening-adults-2016.pdf"
    ), "the URL the fetch log records for the file"
    assert document.meta == {
        "organisation": "spor",
        "redistributable": True,
        "file": "hypertension-screening-adults-2016.pdf",
        "format": "pdf",
        "pages": 4,
    }
    assert "Hypertension is confirmed by a daytime ambulatory or home mean of 135/85 mmHg or higher." in document.text
    assert "- Use a cuff whose bladder covers at least 80% of the arm circumference." in document.text
    assert "Prairie Primary Care Collaborative | Hypertension screening" not in document.text


def test_an_uppercase_pdf_name_is_read_as_a_pdf(documents: dict) -> None:
    document = documents["guidelines/spor:Falls-Prevention-LTC-2015"]
    assert document.date == "2015-06-22"
    assert "\n## After a fall\n" in document.text


def test_a_damaged_pdf_raises_parse_error_naming_the_file(fetched: tuple[Path, list, list]) -> None:
    raw, _, _ = fetched
    data = (raw / "acute-otitis-media-guideline-2017.pdf").read_bytes()
    with pytest.raises(ParseError, match=r"acute-otitis-media-guideline-2017\.pdf: truncated PDF"):
        list(spor.parse(io.BytesIO(data[:1500]), "raw/guidelines/spor/acute-otitis-media-guideline-2017.pdf"))


def test_an_html_error_page_saved_as_pdf_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"gone\.pdf: not a PDF"):
        list(spor.parse(io.BytesIO(b"<!DOCTYPE html><title>404 Not Found</title>"), "raw/guidelines/spor/gone.pdf"))
