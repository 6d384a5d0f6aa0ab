"""IDSA guidelines: the idsociety.org stand-in and its journal host, A-to-Z discovery, the rule that keeps the
guideline section's hub pages out, journal full texts left to the journal's robots.txt, and parsing."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import idsa, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import idsa as idsa_mirror
from gap_replay.sources.mirror.server import serve

SECTION = "https://www.idsociety.org/practice-guideline"
GUIDELINES = {"streptococcal-pharyngitis", "uncomplicated-cystitis-in-women", "diabetic-foot-infections"}
JOURNAL_PDF = "https://academic.oup.com/cid/article-pdf/62/4/e1/31228741/civ933.pdf"
HUBS = ["practice-guidelines", "alphabetical-guidelines", "guidelines-in-development"]


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def client_for(base: str) -> PoliteClient:
    return PoliteClient(user_agent="test", delay=0, mirror=base)


def excluded(url: str) -> bool:
    return any(re.search(pattern, url) for pattern in idsa.LISTING.exclude)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    idsa_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after a fetch, and the summaries of the first and a repeated fetch."""
    raw = tmp_path_factory.mktemp("raw") / "idsa"
    with client_for(base) as client:
        summaries = [idsa.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list[FetchSummary]]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            parsed.update((document.id, document) for document in idsa.parse(stream, str(path)))
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    idsa_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_journal_host_disallows_its_pdfs(mirror: Path) -> None:
    assert "Disallow: /*/article-pdf/" in (mirror / "academic.oup.com" / "robots.txt").read_text()
    summary_page = mirror / "www.idsociety.org" / "practice-guideline" / "diabetic-foot-infections" / "index.html"
    assert "https://academic.oup.com/cid/article-pdf/77/10/e1/52161044/ciad527.pdf" in summary_page.read_text()


# --- discovery -----------------------------------------------------------------------------------------------------


def test_listing_finds_guideline_pages_and_the_journal_link_but_no_hub_page(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        urls = site.listing_urls(client, idsa.LISTING, summary)
    assert urls == sorted([*(f"{SECTION}/{slug}/" for slug in GUIDELINES), JOURNAL_PDF])
    assert (summary.failed, summary.disallowed) == (0, 0)


@pytest.mark.parametrize("hub", HUBS)
def test_hub_pages_of_the_guideline_section_are_excluded(hub: str) -> None:
    assert excluded(f"{SECTION}/{hub}/")


@pytest.mark.parametrize("slug", [*sorted(GUIDELINES), "practice-guidelines-for-hiv"])
def test_guideline_pages_are_not_excluded(slug: str) -> None:
    assert not excluded(f"{SECTION}/{slug}/")


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_the_guideline_pages(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.downloaded == len(GUIDELINES)
    assert {path.stem for path in raw.glob("*.html")} == GUIDELINES
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.html"))


def test_journal_full_text_disallowed_by_its_host_is_counted_not_fetched(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert (first.disallowed, first.failed) == (1, 0)
    refused = FetchLog(raw / "fetch_log.jsonl").latest(JOURNAL_PDF)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)
    assert not list(raw.glob("*.pdf"))


def test_hub_pages_are_never_requested(fetched: tuple) -> None:
    raw, _ = fetched
    log = FetchLog(raw / "fetch_log.jsonl")
    assert all(log.latest(f"{SECTION}/{hub}/") is None for hub in HUBS)


def test_second_fetch_downloads_nothing(fetched: tuple) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(GUIDELINES), 0)


def test_limit_caps_the_pages_in_place(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = idsa.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.html"))) == 2


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_page_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/idsa:{slug}" for slug in GUIDELINES}


def test_parsed_page_has_title_canonical_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/idsa:streptococcal-pharyngitis"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "idsa", idsa.LICENSE)
    assert document.title == "Diagnosis and Management of Group A Streptococcal Pharyngitis"
    assert document.url == f"{SECTION}/streptococcal-pharyngitis/"
    assert document.date == "2023-03-14"
    assert document.meta == {
        "organisation": "idsa",
        "redistributable": False,
        "file": "streptococcal-pharyngitis.html",
        "format": "html",
    }


def test_parsed_page_keeps_recommendations_and_drops_site_chrome(documents: dict) -> None:
    text = documents["guidelines/idsa:uncomplicated-cystitis-in-women"].text
    assert text.startswith("# Treatment of Acute Uncomplicated Cystitis in Women\n")
    assert "Nitrofurantoin monohydrate macrocrystals, 100 mg twice daily for five days" in text
    for chrome in ("cookies", "Join IDSA", "MyIDSA", "Text size", "Guideline resources", "All rights reserved"):
        assert chrome not in text


def test_summary_page_is_kept_with_its_pointer_to_the_journal(documents: dict) -> None:
    text = documents["guidelines/idsa:diabetic-foot-infections"].text
    assert "a positive probe-to-bone test supports the diagnosis" in text
    assert "is published in *Clinical Infectious Diseases*" in text


def test_truncated_pdf_saved_as_a_page_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"civ933\.html: truncated PDF"):
        list(idsa.parse(io.BytesIO(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), "raw/guidelines/idsa/civ933.html"))


def test_visible_publication_date_stays_in_the_text(documents: dict) -> None:
    assert "Published: March 14, 2023" in documents["guidelines/idsa:streptococcal-pharyngitis"].text
