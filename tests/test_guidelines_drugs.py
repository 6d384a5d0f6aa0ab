"""Drugs.com dosage pages: the offline stand-in, discovery through the A to Z dosage index, polite download, and
parsing a dosage page into a Document with its indications as headings."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import drugs, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import drugs as drugs_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

HOST = "https://www.drugs.com"
DOSAGE_PAGES = {"amoxicillin", "lisinopril", "metformin", "montelukast"}
INDEX_PAGES = {"a1", "l1", "m1", "m2"}  # letter pages of the A to Z index; M runs over two pages


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    drugs_mirror.build(DATA, root)
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
    raw = tmp_path_factory.mktemp("raw") / "drugs"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        first = drugs.fetch(OrganisationConfig(), raw, client)
        during_first = list(requested)
        second = drugs.fetch(OrganisationConfig(), raw, client)
    return raw, [first, second], during_first


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list[str]]) -> dict[str, Document]:
    raw, _, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            for document in drugs.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the module's declarations -------------------------------------------------------------------------------------


def test_module_declares_licence_and_that_the_terms_forbid_collection() -> None:
    assert (drugs.KEY, drugs.NAME, drugs.LICENSE) == ("drugs", "Drugs.com", "Drugs.com-terms")
    assert drugs.REDISTRIBUTABLE is False
    assert drugs.COLLECTABLE is False
    assert "terms of use" in drugs.NOT_COLLECTED and "permission" in drugs.NOT_COLLECTED


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    drugs_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_serves_the_index_and_the_dosage_pages_at_the_real_paths(mirror: Path) -> None:
    root = mirror / "www.drugs.com"
    assert {path.stem.removeprefix("dosage-") for path in root.glob("dosage-*.html")} == INDEX_PAGES
    assert {path.stem for path in (root / "dosage").glob("*.html")} == DOSAGE_PAGES | {"index"}
    robots = (root / "robots.txt").read_text()
    assert "Disallow: /*?sort=" in robots


# --- the keep/stop rules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (f"{HOST}/dosage/amoxicillin.html", True),
        (f"{HOST}/dosage/co-trimoxazole.html", True),
        (f"{HOST}/dosage/", False),  # the landing page
        (f"{HOST}/dosage/amoxicillin.html?sort=popular", False),
        (f"{HOST}/amoxicillin.html", False),  # the drug monograph
        (f"{HOST}/drug-interactions/amoxicillin.html", False),  # the interaction page
        (f"{HOST}/imprints.php?drugname=amoxicillin", False),  # the pill identifier
        (f"{HOST}/drug_interactions.html", False),  # the interaction checker
    ],
)
def test_only_dosage_pages_are_documents(url: str, kept: bool) -> None:
    assert any(re.search(pattern, url) for pattern in drugs.LISTING.documents) is kept


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        (f"{HOST}/dosage-a1.html", True),
        (f"{HOST}/dosage-m2.html", True),  # the second page of a letter
        (f"{HOST}/dosage/", False),
        (f"{HOST}/alpha/a1.html", False),  # the drug A to Z, not the dosage index
        (f"{HOST}/pregnancy-a1.html", False),
    ],
)
def test_only_letter_pages_of_the_dosage_index_are_walked(url: str, followed: bool) -> None:
    assert any(re.search(pattern, url) for pattern in drugs.LISTING.follow) is followed


@pytest.mark.parametrize(
    ("heading", "dosage"),
    [
        ("Usual Adult Dose for Hypertension", True),
        ("Usual Pediatric Dose for Asthma - Maintenance", True),
        ("Usual Geriatric Dose for Insomnia", True),
        ("Renal Dose Adjustments", False),
        ("Usual Adult Dose", False),
        ("Adult dose for hypertension", False),
    ],
)
def test_a_page_is_a_dosage_page_by_its_usual_dose_headings(heading: str, dosage: bool) -> None:
    assert bool(drugs.DOSE_HEADING.match(heading)) is dosage


# --- discovery and fetch -------------------------------------------------------------------------------------------


def test_discovery_finds_exactly_the_dosage_pages(served: tuple[str, list[str]]) -> None:
    base, _ = served
    summary = FetchSummary("guidelines/drugs")
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        urls = site.listing_urls(client, drugs.LISTING, summary)
    assert urls == [f"{HOST}/dosage/{slug}.html" for slug in sorted(DOSAGE_PAGES)]
    assert (summary.failed, summary.disallowed) == (0, len(INDEX_PAGES)), "one sorted variant per index page"


def test_fetch_saves_each_dosage_page_as_its_drug_name(fetched: tuple[Path, list, list[str]]) -> None:
    raw, (first, _), _ = fetched
    assert (first.downloaded, first.failed) == (len(DOSAGE_PAGES), 0)
    assert {path.name for path in raw.glob("*.html")} == {f"{slug}.html" for slug in DOSAGE_PAGES}
    assert (raw / "fetch_log.jsonl").is_file()


def test_fetch_walks_the_second_page_of_a_letter(fetched: tuple[Path, list, list[str]]) -> None:
    raw, _, requested = fetched
    assert "/www.drugs.com/dosage-m2.html" in requested
    assert (raw / "montelukast.html").is_file()


def test_robots_disallowed_sort_links_are_counted_not_requested(fetched: tuple[Path, list, list[str]]) -> None:
    _, (first, _), requested = fetched
    assert first.disallowed == len(INDEX_PAGES)
    assert not [path for path in requested if "sort=" in path]


def test_tools_linked_from_the_index_are_never_requested(fetched: tuple[Path, list, list[str]]) -> None:
    _, _, requested = fetched
    assert not [path for path in requested if "interaction" in path or "imprints" in path or "pill" in path]


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list[str]]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, len(DOSAGE_PAGES), 0)


def test_limit_caps_the_dosage_pages(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = drugs.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert {path.name for path in tmp_path.glob("*.html")} == {"amoxicillin.html", "lisinopril.html"}


def test_configured_url_replaces_the_landing_page(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = drugs.fetch(OrganisationConfig(url=f"{HOST}/dosage-m2.html"), tmp_path, client)
    assert summary.downloaded == len(DOSAGE_PAGES), "the page's letter navigation leads to the other letters"


def test_a_start_page_that_links_no_dosage_page_is_a_failure(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = drugs.fetch(OrganisationConfig(url=f"{HOST}/dosage/metformin.html"), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "link to no document" in summary.errors[0]


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_fetched_page_gives_one_document(documents: dict[str, Document]) -> None:
    assert set(documents) == {f"guidelines/drugs:{slug}" for slug in DOSAGE_PAGES}


def test_parsed_page_has_headline_url_date_and_licence(documents: dict[str, Document]) -> None:
    document = documents["guidelines/drugs:amoxicillin"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "drugs", "Drugs.com-terms")
    assert document.title == "Amoxicillin Dosage"
    assert document.url == "https://www.drugs.com/dosage/amoxicillin.html"
    assert document.date == "2025-03-04"
    assert document.meta == {
        "organisation": "drugs",
        "redistributable": False,
        "file": "amoxicillin.html",
        "format": "html",
    }
    assert [documents[f"guidelines/drugs:{slug}"].date for slug in sorted(DOSAGE_PAGES)] == [
        "2025-03-04",
        "2024-11-18",
        "2025-01-27",
        "2024-08-09",
    ]


def test_indications_are_headings_and_doses_are_text(documents: dict[str, Document]) -> None:
    text = documents["guidelines/drugs:amoxicillin"].text
    assert text.startswith("# Amoxicillin Dosage\n")
    assert "\n## Usual Adult Dose for Otitis Media\n\nMild to moderate infection: 500 mg orally every 12 hours" in text
    assert "\n## Usual Pediatric Dose for Otitis Media\n\n3 months and older, weighing less than 40 kg" in text
    assert "\n## Renal Dose Adjustments\n\nCrCl 30 mL/min or more: no adjustment recommended." in text
    assert "\n## Liver Dose Adjustments\n" in text
    assert "\n## Precautions\n\nAmoxicillin is contraindicated in patients" in text
    assert "\n## Dialysis\n\nHaemodialysis: 250 to 500 mg orally every 24 hours" in text


def test_other_dose_adjustments_are_kept(documents: dict[str, Document]) -> None:
    text = documents["guidelines/drugs:metformin"].text
    assert "\n## Dose Adjustments\n\nIodinated contrast: stop metformin" in text
    assert "eGFR less than 30 mL/min/1.73 m2: contraindicated." in text


@pytest.mark.parametrize(
    "chrome",
    [
        "cookies",
        "Cookie settings",
        "Subscribe to our newsletter",
        "Advertisement",
        "Pill Identifier",
        "Interaction Checker",
        "Check interactions",
        "Print page",
        "All rights reserved",
        "does not give medical advice",
    ],
)
def test_text_has_no_site_chrome(documents: dict[str, Document], chrome: str) -> None:
    for document in documents.values():
        assert chrome not in document.text


def test_truncated_download_raises_parse_error_naming_the_file(mirror: Path) -> None:
    page = (mirror / "www.drugs.com" / "dosage" / "lisinopril.html").read_bytes()
    truncated = page[: page.index(b"Usual Adult Dose for")]
    with pytest.raises(ParseError, match=r"lisinopril\.html: not a Drugs\.com dosage page"):
        list(drugs.parse(io.BytesIO(truncated), "raw/guidelines/drugs/lisinopril.html"))


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>Access denied</title></head>"
        b"<body><h1>Access denied</h1><p>Please enable cookies.</p></body></html>",
        b'{"error": "not found"}',
        b"",
    ],
)
def test_a_page_that_is_no_dosage_page_raises_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^raw/guidelines/drugs/metformin\.html: not a"):
        list(drugs.parse(io.BytesIO(body), "raw/guidelines/drugs/metformin.html"))
