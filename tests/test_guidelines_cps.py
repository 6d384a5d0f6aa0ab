"""CPS guidelines: the Canadian Paediatric Society stand-in, index discovery with its offset pages, the retired-
statement rule, French versions kept with their language, legacy links left to robots.txt, and parsing."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import cps
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import cps as cps_mirror
from gap_replay.sources.mirror.server import serve

STATEMENTS = "https://cps.ca/en/documents/position"
KEPT = {"acute-otitis-media", "otite-moyenne-aigue", "iron-deficiency-infants-toddlers", "vitamin-d-breastfed-infants"}
RETIRED = f"{STATEMENTS}/antipyretics-febrile-seizures"
LEGACY = "https://cps.ca/documents/position/car-seat-safety"


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def client_for(base: str) -> PoliteClient:
    return PoliteClient(user_agent="test", delay=0, mirror=base)


def entry(href: str, status: str, french: str | None = None) -> str:
    link = f' | <a href="{french}" hreflang="fr">Français</a>' if french else ""
    return (
        f'<div class="stmt"><div class="stmt-title"><a href="{href}">A statement</a></div>'
        f'<div class="stmt-meta"><a href="/en/about-apropos/committees">Committee</a> | '
        f'<span class="stmt-status">{status}</span>{link}</div></div>'
    )


def index(*entries: str) -> bytes:
    return f"<html><body>{''.join(entries)}</body></html>".encode()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    cps_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after a fetch, and the summaries of the first and a repeated fetch."""
    raw = tmp_path_factory.mktemp("raw") / "cps"
    with client_for(base) as client:
        summaries = [cps.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list[FetchSummary]]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            parsed.update((document.id, document) for document in cps.parse(stream, str(path)))
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    cps_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_has_a_second_index_page_and_a_french_statement(mirror: Path) -> None:
    root = mirror / "cps.ca"
    assert (root / "en" / "documents" / "position-statements" / "P10" / "index.html").is_file()
    french = (root / "fr" / "documents" / "position" / "otite-moyenne-aigue" / "index.html").read_text()
    assert french.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert "Disallow: /documents/" in (root / "robots.txt").read_text()


# --- discovery -----------------------------------------------------------------------------------------------------


def test_index_walk_finds_every_listed_statement_across_offset_pages(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        urls = cps.statement_urls(client, cps.START_URL, summary)
    assert urls == sorted(
        [
            f"{STATEMENTS}/acute-otitis-media",
            "https://cps.ca/fr/documents/position/otite-moyenne-aigue",
            f"{STATEMENTS}/iron-deficiency-infants-toddlers",
            f"{STATEMENTS}/vitamin-d-breastfed-infants",
            LEGACY,
        ]
    )
    assert (summary.failed, summary.disallowed) == (0, 0)


def test_current_and_reaffirmed_entries_are_kept_with_their_french_version() -> None:
    html = index(
        entry("/en/documents/position/a", "Current"),
        entry("/en/documents/position/b", "Reaffirmed", "/fr/documents/position/b-fr"),
    )
    assert cps.entry_links(html, cps.START_URL) == [
        f"{STATEMENTS}/a",
        f"{STATEMENTS}/b",
        "https://cps.ca/fr/documents/position/b-fr",
    ]


def test_retired_entries_are_skipped_with_their_french_version() -> None:
    html = index(entry("/en/documents/position/old", "Retired", "/fr/documents/position/vieux"))
    assert cps.entry_links(html, cps.START_URL) == []


def test_links_in_an_entry_that_are_not_statements_are_ignored() -> None:
    html = index(entry("https://caringforkids.cps.ca/handouts/fever", "Current"))
    assert cps.entry_links(html, cps.START_URL) == []


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_english_and_french_statements(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.downloaded == len(KEPT)
    assert {path.stem for path in raw.glob("*.html")} == KEPT


def test_retired_statement_is_never_requested(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert FetchLog(raw / "fetch_log.jsonl").latest(RETIRED) is None
    assert first.failed == 0


def test_legacy_link_disallowed_by_robots_is_counted_not_fetched(fetched: tuple) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1
    refused = FetchLog(raw / "fetch_log.jsonl").latest(LEGACY)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)


def test_second_fetch_downloads_nothing(fetched: tuple) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(KEPT), 0)


def test_limit_caps_the_statements_in_place(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cps.fetch(OrganisationConfig(limit=1), tmp_path, client)
    assert summary.downloaded == 1
    assert len(list(tmp_path.glob("*.html"))) == 1


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_statement_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/cps:{slug}" for slug in KEPT}


def test_parsed_statement_has_title_url_updated_date_language_and_licence(documents: dict) -> None:
    document = documents["guidelines/cps:iron-deficiency-infants-toddlers"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "cps", cps.LICENSE)
    assert document.title == "Preventing iron deficiency in infants and toddlers"
    assert document.url == f"{STATEMENTS}/iron-deficiency-infants-toddlers"
    assert document.date == "2022-02-12"
    assert document.meta == {
        "organisation": "cps",
        "redistributable": False,
        "file": "iron-deficiency-infants-toddlers.html",
        "format": "html",
        "lang": "en",
    }


def test_statement_without_update_is_dated_by_its_posting(documents: dict) -> None:
    assert documents["guidelines/cps:acute-otitis-media"].date == "2023-02-09"


def test_parsed_statement_keeps_recommendations_and_drops_site_chrome(documents: dict) -> None:
    text = documents["guidelines/cps:vitamin-d-breastfed-infants"].text
    assert text.startswith("# Vitamin D supplementation for breastfed infants\n")
    assert "should receive a vitamin D supplement of 400 IU every day" in text
    for chrome in ("cookies", "Member centre", "Share this statement", "Caring for Kids", "Registered charity"):
        assert chrome not in text


def test_french_statement_is_kept_with_its_language_and_french_date(documents: dict) -> None:
    document = documents["guidelines/cps:otite-moyenne-aigue"]
    assert document.meta["lang"] == "fr"
    assert document.title == "La prise en charge de l'otite moyenne aiguë chez les enfants de six mois et plus"
    assert document.date == "2023-02-09"
    assert "Utiliser l'amoxicilline à forte dose" in document.text


def test_statement_date_prefers_the_update_in_either_language() -> None:
    assert cps.statement_date("Posted: Mar 4, 2019 | Updated: Feb 12, 2022") == "2022-02-12"
    assert cps.statement_date("Posted: Mar 4, 2019 | Reaffirmed: Jan 30, 2024") == "2019-03-04"
    assert cps.statement_date("Affiché : 4 mars 2019 | Mis à jour : 12 févr. 2022") == "2022-02-12"
    assert cps.statement_date("Posted: September 5, 2019") == "2019-09-05"
    assert cps.statement_date("No date line here") is None


def test_binary_file_saved_as_a_page_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"broken\.html: not a web page"):
        list(cps.parse(io.BytesIO(b"%PDF-1.7\n\x00\x01binary"), "raw/guidelines/cps/broken.html"))


def test_page_without_text_gives_no_document() -> None:
    assert list(cps.parse(io.BytesIO(b"<html><body></body></html>"), "raw/guidelines/cps/empty.html")) == []


def test_title_heading_appears_once(documents: dict) -> None:
    text = documents["guidelines/cps:vitamin-d-breastfed-infants"].text
    assert text.count("# Vitamin D supplementation for breastfed infants\n") == 1
