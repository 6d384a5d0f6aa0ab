"""ICRC guidelines: the www.icrc.org stand-in, listing discovery with keep rules, polite download and parsing."""

import io
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import icrc
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import icrc as icrc_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

START_PAGE = "www.icrc.org/en/publications?f%5B0%5D=topic%3Ahealth"
COLLECTED = {
    "4405-initial-management-of-penetrating-limb-wounds",
    "4512-first-aid-for-burns-field-guide",
    "4630-physical-rehabilitation-after-lower-limb-amputation",
}
PUBLICATION = "https://www.icrc.org/en/publication/"


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
    icrc_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror, handler=Recorder) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary], list[str]]:
    """The raw folder after two fetches, their summaries, and the paths the first fetch asked the server for."""
    raw = tmp_path_factory.mktemp("raw") / "icrc"
    Recorder.paths.clear()
    with client_for(base) as client:
        first = icrc.fetch(OrganisationConfig(), raw, client)
        asked = list(Recorder.paths)
        second = icrc.fetch(OrganisationConfig(), raw, client)
    return raw, [first, second], asked


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list]) -> dict[str, object]:
    raw, _, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.pdf")):
        with open(path, "rb") as stream:
            for document in icrc.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


def card(kind: str = "Manual", topics: tuple[str, ...] = ("Health", "Surgery"), slug: str = "1-x") -> icrc.Card:
    return icrc.Card(f"{PUBLICATION}{slug}", kind, topics)


# --- the stand-in ------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    icrc_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_follow_drupal_and_disallow_counted_downloads(mirror: Path) -> None:
    robots = (mirror / "www.icrc.org" / "robots.txt").read_text()
    for rule in ("Disallow: /admin/", "Disallow: /user/login", "Disallow: /*/download/file/"):
        assert f"{rule}\n" in robots


# --- discovery -----------------------------------------------------------------------------------------------------


def test_a_listing_page_gives_its_cards_and_the_next_page(mirror: Path) -> None:
    html = (mirror / START_PAGE).read_bytes()
    cards, following = icrc.parse_listing(html, f"https://{START_PAGE}")
    assert [(item.url.removeprefix(PUBLICATION), item.type) for item in cards] == [
        ("4405-initial-management-of-penetrating-limb-wounds", "Manual"),
        ("4390-protecting-health-care-in-armed-conflict-legal-fact-sheet", "Legal fact sheet"),
        ("4512-first-aid-for-burns-field-guide", "Field guide"),
        ("4211-ketamine-anaesthesia-in-field-hospitals", "Manual"),
    ]
    assert cards[0].topics == ("Health", "Surgery")
    assert following == "https://www.icrc.org/en/publications?f%5B0%5D=topic%3Ahealth&page=1"


def test_the_last_listing_page_has_no_next_page(mirror: Path) -> None:
    html = (mirror / f"{START_PAGE}&page=1").read_bytes()
    cards, following = icrc.parse_listing(html, f"https://{START_PAGE}&page=1")
    assert [item.type for item in cards] == ["Guidelines"]
    assert following is None


def test_listing_walk_reads_both_pages(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        cards = icrc.listing_cards(client, icrc.START_URL, summary)
    assert len(cards) == 5 and summary.failed == 0


@pytest.mark.parametrize(
    ("publication", "kept"),
    [
        (card(), True),
        (card(kind="Guidelines", topics=("Physical rehabilitation",)), True),
        (card(kind="field guide", topics=("FIRST AID",)), True),
        (card(kind="Legal fact sheet", topics=("Health", "International humanitarian law")), False),
        (card(kind="Report", topics=("Health",)), False),
        (card(kind="Manual", topics=("Weapon contamination",)), False),
        (card(kind="Manual", topics=()), False),
        (icrc.Card("https://shop.icrc.org/war-surgery-pdf-en.html", "Manual", ("Surgery",)), False),
        (icrc.Card("https://www.icrc.org/en/publication/4405-x/comments", "Manual", ("Surgery",)), False),
        (icrc.Card("https://www.icrc.org/en/publication/%2E%2E", "Manual", ("Surgery",)), False),
    ],
)
def test_keep_rule_wants_a_guidance_type_and_a_medical_topic(publication: icrc.Card, kept: bool) -> None:
    assert icrc.wanted(publication) is kept


def test_the_english_pdf_is_chosen_over_other_languages(mirror: Path) -> None:
    slug = "4405-initial-management-of-penetrating-limb-wounds"
    html = (mirror / "www.icrc.org" / "en" / "publication" / slug / "index.html").read_bytes()
    assert icrc.pdf_link(html, f"{PUBLICATION}{slug}/") == (
        "https://www.icrc.org/sites/default/files/2023-06/4405_002_penetrating_limb_wounds.pdf"
    )


@pytest.mark.parametrize(
    ("link", "found"),
    [
        (
            '<a href="/sites/default/files/2020-01/a.pdf">PDF</a>',
            "https://www.icrc.org/sites/default/files/2020-01/a.pdf",
        ),
        (
            '<a href="/sites/default/files/2020-01/A.PDF" hreflang="en-GB">PDF</a>',
            "https://www.icrc.org/sites/default/files/2020-01/A.PDF",
        ),
        ('<a href="/sites/default/files/2020-01/a.pdf" hreflang="fr">PDF</a>', None),
        ('<a href="https://shop.icrc.org/war-surgery-pdf-en.html">Shop</a>', None),
        ('<a href="https://shop.icrc.org/media/war-surgery.pdf">Shop PDF</a>', None),
    ],
)
def test_pdf_link_rule(link: str, found: str | None) -> None:
    html = f'<html><body><div class="publication__download">{link}</div></body></html>'.encode()
    assert icrc.pdf_link(html, f"{PUBLICATION}1-x") == found


def test_an_empty_listing_is_a_counted_failure(base: str, tmp_path: Path) -> None:
    config = OrganisationConfig(url=f"{PUBLICATION}4405-initial-management-of-penetrating-limb-wounds")
    with client_for(base) as client:
        summary = icrc.fetch(config, tmp_path, client)
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "no medical guidance publication" in summary.errors[0]


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_the_guidance_pdfs_named_after_their_publications(fetched: tuple[Path, list, list]) -> None:
    raw, (first, _), _ = fetched
    assert (first.downloaded, first.failed) == (3, 0)
    assert {path.stem for path in raw.glob("*.pdf")} == COLLECTED
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.pdf"))


def test_a_pdf_behind_the_disallowed_download_route_is_refused(fetched: tuple[Path, list, list]) -> None:
    _, (first, _), asked = fetched
    assert first.disallowed == 1
    assert "/www.icrc.org/en/publication/4211-ketamine-anaesthesia-in-field-hospitals/" in asked
    assert not [path for path in asked if "/download/file/" in path]


def test_the_legal_fact_sheet_and_french_pdf_are_never_requested(fetched: tuple[Path, list, list]) -> None:
    _, _, asked = fetched
    assert not [path for path in asked if "4390" in path]
    assert not [path for path in asked if "plaies" in path]


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, 3, 0)


def test_limit_caps_the_documents(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = icrc.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert len(list(tmp_path.glob("*.pdf"))) == 2


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_pdf_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/icrc:{slug}" for slug in COLLECTED}


def test_a_document_has_its_publication_page_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/icrc:4512-first-aid-for-burns-field-guide"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "icrc", "ICRC-terms")
    assert document.title == "First aid for burns"
    assert document.url == f"{PUBLICATION}4512-first-aid-for-burns-field-guide"
    assert document.date == "2024-02-20"
    assert document.meta == {
        "organisation": "icrc",
        "redistributable": True,
        "file": "4512-first-aid-for-burns-field-guide.pdf",
        "format": "pdf",
        "pages": 4,
    }
    assert "- Cool the burn with clean running water for twenty minutes" in document.text
    assert "\n## When to arrange transfer\n" in document.text
    assert "ICRC First Aid | Burns" not in document.text, "the running header is removed"


def test_the_limb_wounds_manual_keeps_its_sections(documents: dict) -> None:
    document = documents["guidelines/icrc:4405-initial-management-of-penetrating-limb-wounds"]
    assert document.date == "2023-06-12"
    assert "\n## Delayed primary closure\n" in document.text
    assert "Dead muscle is recognised by its dark colour" in document.text


def test_a_damaged_pdf_raises_parse_error_naming_the_file(fetched: tuple[Path, list, list]) -> None:
    raw, _, _ = fetched
    data = (raw / "4512-first-aid-for-burns-field-guide.pdf").read_bytes()
    with pytest.raises(ParseError, match=r"4512-first-aid-for-burns-field-guide\.pdf: truncated PDF"):
        list(icrc.parse(io.BytesIO(data[:1500]), "raw/guidelines/icrc/4512-first-aid-for-burns-field-guide.pdf"))


def test_an_html_error_page_saved_as_pdf_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"1-x\.pdf: not a PDF"):
        list(icrc.parse(io.BytesIO(b"<html><h1>Access denied</h1></html>"), "raw/guidelines/icrc/1-x.pdf"))
