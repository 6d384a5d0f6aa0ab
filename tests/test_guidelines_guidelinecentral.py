"""GuidelineCentral summaries: the offline stand-in, discovery through a society's paginated list, the sign-in
wall of members-only summaries, polite download, and parsing a summary page into a Document."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.documents import Document
from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import guidelinecentral, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import guidelinecentral as guidelinecentral_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

HOST = "https://www.guidelinecentral.com"
FREE = {"24101", "24117", "24135"}  # 24135 is only on the second page of the society's list
WALLED = "24088"  # members only; it sorts first, so a crawl meets it before any free summary


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def page(main: str, chrome: str = "") -> bytes:
    """A minimal summary-like page: `chrome` outside `<main>`, `main` inside it."""
    return f"<html><body><header>{chrome}</header><main>{main}</main></body></html>".encode()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    guidelinecentral_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def served(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    """The mirror's base URL and the paths requested from it, in order."""
    requested: list[str] = []

    class Recording(MirrorHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

    with serve(mirror, handler=Recording) as url:
        yield url, requested


@pytest.fixture(scope="module")
def fetched(served: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, list[str]]:
    """The raw folder after two fetches, the two summaries, and the paths the first fetch requested."""
    base, requested = served
    raw = tmp_path_factory.mktemp("raw") / "guidelinecentral"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        first = guidelinecentral.fetch(OrganisationConfig(), raw, client)
        during_first = list(requested)
        second = guidelinecentral.fetch(OrganisationConfig(), raw, client)
    return raw, [first, second], during_first


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list[str]]) -> dict[str, Document]:
    raw, _, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            for document in guidelinecentral.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the module's declarations -------------------------------------------------------------------------------------


def test_module_declares_licence_and_why_it_is_not_collected() -> None:
    assert (guidelinecentral.KEY, guidelinecentral.LICENSE) == ("guidelinecentral", "GuidelineCentral-terms")
    assert guidelinecentral.REDISTRIBUTABLE is False
    assert guidelinecentral.COLLECTABLE is False
    assert "terms of use" in guidelinecentral.NOT_COLLECTED and "permission" in guidelinecentral.NOT_COLLECTED


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    guidelinecentral_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_serves_a_paginated_society_list_and_the_summaries(mirror: Path) -> None:
    root = mirror / "www.guidelinecentral.com"
    assert (root / "guidelines" / "idsa" / "page" / "2" / "index.html").is_file()
    assert {path.parent.name for path in (root / "guideline").glob("*/index.html")} == FREE | {WALLED}
    assert "Disallow: /guidelines/?" in (root / "robots.txt").read_text()


# --- the keep/stop rules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (f"{HOST}/guideline/24101/", True),
        (f"{HOST}/guideline/24101", False),  # not the site's form of the URL
        (f"{HOST}/guidelines/idsa/", False),  # a society list
        (f"{HOST}/shop/community-acquired-pneumonia-pocket-guide/", False),  # a product for sale
        (f"{HOST}/summaries/community-acquired-pneumonia/", False),
    ],
)
def test_only_summary_pages_are_documents(url: str, kept: bool) -> None:
    assert any(re.search(pattern, url) for pattern in guidelinecentral.LISTING.documents) is kept


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        (f"{HOST}/guidelines/idsa/", True),
        (f"{HOST}/guidelines/idsa/page/2/", True),
        (f"{HOST}/guideline/24101/", False),
        (f"{HOST}/shop/", False),
        (f"{HOST}/search/?q=pneumonia", False),
    ],
)
def test_only_guideline_lists_are_walked(url: str, followed: bool) -> None:
    assert any(re.search(pattern, url) for pattern in guidelinecentral.LISTING.follow) is followed


@pytest.mark.parametrize(
    ("html", "wall"),
    [
        (page("<h1>Sepsis</h1><p>Sign in to read the full summary.</p>"), True),
        (page("<h1>Sepsis</h1><p>Log in to view this summary.</p>"), True),
        (page("<h1>Sepsis</h1><p>Subscribe to read every summary.</p>"), True),
        (page("<h1>Sepsis</h1><p>Give antibiotics within one hour.</p>", chrome="<a>Sign In</a>"), False),
        (page("<h1>Sepsis</h1><p>Give antibiotics within one hour.</p>", chrome="Subscribe to read more"), False),
        (page("<h1>Sepsis</h1><p>Patients sign in to the portal to see results.</p>"), False),
        (page("<h1>Sepsis</h1><h2>Subscribe to our newsletter</h2>"), False),
    ],
)
def test_a_wall_is_recognised_by_its_message_inside_the_main_content(html: bytes, wall: bool) -> None:
    assert guidelinecentral.walled(html) is wall


# --- discovery and fetch -------------------------------------------------------------------------------------------


def test_discovery_finds_every_summary_in_the_society_list(served: tuple[str, list[str]]) -> None:
    """Discovery cannot tell a members-only summary from a free one: that takes its page."""
    base, _ = served
    summary = FetchSummary("guidelines/guidelinecentral")
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        urls = site.listing_urls(client, guidelinecentral.LISTING, summary)
    assert urls == [f"{HOST}/guideline/{identifier}/" for identifier in sorted(FREE | {WALLED})]
    assert (summary.failed, summary.disallowed) == (0, 1), "the quick search is disallowed"


def test_fetch_follows_the_next_page_of_results(fetched: tuple[Path, list, list[str]]) -> None:
    raw, _, requested = fetched
    assert "/www.guidelinecentral.com/guidelines/idsa/page/2/" in requested
    assert (raw / "24135.html").is_file()


def test_fetch_keeps_the_free_summaries_only(fetched: tuple[Path, list, list[str]]) -> None:
    raw, (first, _), _ = fetched
    assert (first.downloaded, first.skipped, first.failed) == (len(FREE), 0, 0)
    assert {path.stem for path in raw.glob("*.html")} == FREE


def test_a_members_only_summary_is_logged_as_not_collected(fetched: tuple[Path, list, list[str]]) -> None:
    raw, _, _ = fetched
    record = FetchLog(raw / "fetch_log.jsonl").latest(f"{HOST}/guideline/{WALLED}/")
    assert record is not None
    assert (record.ok, record.path, record.error) == (False, None, guidelinecentral.WALLED)
    assert not (raw / f"{WALLED}.html").exists()


def test_robots_disallowed_scripted_search_is_counted_not_requested(fetched: tuple[Path, list, list[str]]) -> None:
    _, (first, _), requested = fetched
    assert first.disallowed == 1
    assert not [path for path in requested if "?" in path]


def test_shop_products_in_the_list_are_never_requested(fetched: tuple[Path, list, list[str]]) -> None:
    _, _, requested = fetched
    assert not [path for path in requested if "/shop/" in path]


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list[str]]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(FREE), 0)


def test_limit_caps_the_summaries_kept(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = guidelinecentral.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert {path.stem for path in tmp_path.glob("*.html")} == {"24101", "24117"}


def test_a_wall_does_not_use_up_the_limit(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = guidelinecentral.fetch(OrganisationConfig(limit=3), tmp_path, client)
    assert summary.downloaded == 3
    assert {path.stem for path in tmp_path.glob("*.html")} == FREE


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_kept_summary_gives_one_document(documents: dict[str, Document]) -> None:
    assert set(documents) == {f"guidelines/guidelinecentral:{identifier}" for identifier in FREE}


def test_parsed_summary_has_headline_url_date_and_licence(documents: dict[str, Document]) -> None:
    document = documents["guidelines/guidelinecentral:24101"]
    assert (document.source, document.subsource) == ("guidelines", "guidelinecentral")
    assert document.license == "GuidelineCentral-terms"
    assert document.title == "Community-Acquired Pneumonia in Adults"
    assert document.url == "https://www.guidelinecentral.com/guideline/24101/"
    assert document.date == "2024-05-14"
    assert document.meta == {
        "organisation": "guidelinecentral",
        "redistributable": False,
        "file": "24101.html",
        "format": "html",
    }
    assert [documents[f"guidelines/guidelinecentral:{identifier}"].title for identifier in sorted(FREE)] == [
        "Community-Acquired Pneumonia in Adults",
        "Clostridioides difficile Infection in Adults",
        "Acute Uncomplicated Cystitis in Women",
    ]


def test_summary_text_keeps_sections_lists_and_tables(documents: dict[str, Document]) -> None:
    text = documents["guidelines/guidelinecentral:24101"].text
    assert text.startswith("# Community-Acquired Pneumonia in Adults\n")
    assert "\n## Outpatient Treatment\n\nAdults without comorbidities should receive amoxicillin 1 g" in text
    assert "- Treat for at least 5 days and until the patient has been clinically stable for 48 hours." in text
    assert "| Severe | Beta-lactam plus macrolide, or beta-lactam plus respiratory fluoroquinolone |" in text
    assert (
        "Give fidaxomicin 200 mg orally twice daily for 10 days." in documents["guidelines/guidelinecentral:24117"].text
    )


@pytest.mark.parametrize(
    "chrome",
    [
        "cookies",
        "Got it",
        "Sign In",
        "Pocket Guides",
        "Subscribe to our newsletter",
        "Take guidelines with you",
        "All rights reserved",
        "not a substitute for the full guideline",
    ],
)
def test_text_has_no_site_chrome(documents: dict[str, Document], chrome: str) -> None:
    for document in documents.values():
        assert chrome not in document.text


def test_a_members_only_page_parses_to_nothing(mirror: Path) -> None:
    data = (mirror / "www.guidelinecentral.com" / "guideline" / WALLED / "index.html").read_bytes()
    assert list(guidelinecentral.parse(io.BytesIO(data), f"raw/guidelines/guidelinecentral/{WALLED}.html")) == []


def test_truncated_download_raises_parse_error_naming_the_file(mirror: Path) -> None:
    data = (mirror / "www.guidelinecentral.com" / "guideline" / "24117" / "index.html").read_bytes()
    truncated = data[: data.index(b'<h1 class="entry-title">')]
    with pytest.raises(ParseError, match=r"24117\.html: not a GuidelineCentral summary page"):
        list(guidelinecentral.parse(io.BytesIO(truncated), "raw/guidelines/guidelinecentral/24117.html"))


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>Page not found</title></head><body><main id='main' class='site-main'>"
        b"<section class='error-404'><h1>Oops! That page can't be found.</h1></section></main></body></html>",
        b'{"code": "rest_no_route", "message": "No route was found"}',
        b"",
    ],
)
def test_a_page_that_is_no_summary_raises_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^raw/guidelines/guidelinecentral/24135\.html: not a"):
        list(guidelinecentral.parse(io.BytesIO(body), "raw/guidelines/guidelinecentral/24135.html"))
