"""RCH clinical practice guidelines: the offline mirror, discovery through the A-Z letter pages, polite download,
and parsing the guideline pages (key points, sections, dose tables, "Last updated" dates, stubs)."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from gap_replay.documents import Document
from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import rch
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import rch as rch_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

INDEX = "https://www.rch.org.au/clinicalguide/guideline_index"
DOWNLOADED = {"Anaphylaxis", "Bronchiolitis", "Croup_laryngotracheobronchitis", "Laryngotracheobronchitis"}
GUIDELINES = DOWNLOADED - {"Laryngotracheobronchitis"}  # the stub gives no document
DRAFT = f"{INDEX}/Draft_Limping_child/"


class RecordingHandler(MirrorHandler):
    """The mirror's handler, noting each requested path (`/www.rch.org.au/...`)."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def body(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    rch_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def server(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    """The mirror's base URL and the paths requested from it."""
    handler = type("Recording", (RecordingHandler,), {"requests": []})
    with serve(mirror, handler=handler) as url:
        yield url, handler.requests


@pytest.fixture(scope="module")
def fetched(server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The RCH raw folder after a fetch, and the two fetch summaries (first, repeat)."""
    base, _ = server
    raw = tmp_path_factory.mktemp("raw") / "rch"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [rch.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def requested(server: tuple[str, list[str]], fetched: tuple[Path, list]) -> list[str]:
    """The paths the two fetches requested from the mirror."""
    _, requests = server
    return list(requests)


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list]) -> dict[str, Document]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            for document in rch.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


def test_module_declares_licence_and_collection() -> None:
    assert (rch.KEY, rch.NAME) == ("rch", "The Royal Children's Hospital Melbourne")
    assert (rch.LICENSE, rch.REDISTRIBUTABLE, rch.COLLECTABLE) == ("RCH-terms", False, True)


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    rch_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_serves_letter_pages_as_stored_query_answers(mirror: Path) -> None:
    root = mirror / "www.rch.org.au" / "clinicalguide"
    assert sorted(path.name for path in root.glob("guideline_index?letter=*")) == [
        f"guideline_index?letter={letter}" for letter in "ABCL"
    ]
    assert "Disallow: /clinicalguide/guideline_index/Draft_" in (mirror / "www.rch.org.au" / "robots.txt").read_text()


# --- discovery and download ----------------------------------------------------------------------------------------


def test_fetch_walks_the_letter_pages_to_every_guideline(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert {path.stem for path in raw.glob("*.html")} == DOWNLOADED
    assert (first.source, first.downloaded, first.failed) == ("guidelines/rch", 4, 0)


def test_letter_pages_are_each_read_once_per_fetch(requested: list) -> None:
    letters = sorted(path for path in requested if "?letter=" in path)
    assert letters == sorted(f"/www.rch.org.au/clinicalguide/guideline_index/?letter={x}" for x in "ABCL" * 2)


def test_alias_entry_does_not_fetch_a_guideline_twice(requested: list) -> None:
    anaphylaxis = [path for path in requested if path.endswith("/Anaphylaxis/")]
    assert len(anaphylaxis) == 2, "once per fetch: downloaded, then revalidated"


def test_pages_among_the_guidelines_that_are_not_guidelines_are_not_fetched(
    fetched: tuple[Path, list], requested: list
) -> None:
    raw, _ = fetched
    assert not (raw / "Citing_our_guidelines.html").exists()
    assert not any("Citing_our_guidelines" in path or "CPG_feedback" in path for path in requested)


def test_draft_disallowed_by_robots_is_counted_not_fetched(fetched: tuple[Path, list], requested: list) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1, "obeying robots.txt is no failure"
    refused = FetchLog(raw / "fetch_log.jsonl").latest(DRAFT)
    assert refused is not None and (refused.ok, refused.status) == (False, None)
    assert not any("Draft_" in path for path in requested)


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.disallowed) == (0, 4, 1)


def test_limit_caps_the_guidelines_in_place(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = rch.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.html"))) == 2


def test_configured_url_starts_the_walk_at_that_letter(server: tuple[str, list[str]], tmp_path: Path) -> None:
    """The walk still follows the letter bar from there, so every letter is reached."""
    base, _ = server
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = rch.fetch(OrganisationConfig(url=f"{INDEX}/?letter=C"), tmp_path, client)
    assert summary.downloaded == 4


# --- keep/stop rules -----------------------------------------------------------------------------------------------


def test_letter_rule_follows_letter_pages_only() -> None:
    assert re.search(rch.LETTER, f"{INDEX}/?letter=B")
    assert not re.search(rch.LETTER, f"{INDEX}/?letter=B&print=1")
    assert not re.search(rch.LETTER, "https://www.rch.org.au/clinicalguide/Guideline_development/")


def test_guideline_rule_takes_one_folder_under_the_index() -> None:
    assert re.search(rch.GUIDELINE, f"{INDEX}/Croup_laryngotracheobronchitis/")
    assert not re.search(rch.GUIDELINE, f"{INDEX}/?letter=C")
    assert not re.search(rch.GUIDELINE, f"{INDEX}/Croup_laryngotracheobronchitis/flowchart/")
    assert not re.search(rch.GUIDELINE, "https://www.rch.org.au/kidsinfo/fact_sheets/Croup/")


def test_non_guideline_pages_are_excluded_and_guidelines_are_not() -> None:
    def excluded(url: str) -> bool:
        return any(re.search(pattern, url) for pattern in rch.NOT_GUIDELINES)

    assert excluded(f"{INDEX}/Citing_our_guidelines/")
    assert excluded(f"{INDEX}/CPG_feedback/")
    assert not excluded(f"{INDEX}/Croup_laryngotracheobronchitis/")
    assert not excluded(f"{INDEX}/Citing_our_guidelines_on_sepsis/")


def test_short_page_pointing_to_another_guideline_is_a_stub() -> None:
    url = f"{INDEX}/Laryngotracheobronchitis/"
    stub = body(f'<h1>Old title</h1><p>Merged. See <a href="{INDEX}/Croup_laryngotracheobronchitis/">Croup</a>.</p>')
    assert rch.is_stub(stub, url)


def test_short_page_without_a_link_to_another_guideline_is_not_a_stub() -> None:
    url = f"{INDEX}/Laryngotracheobronchitis/"
    own = body(f'<h1>Title</h1><p>Short guideline text. <a href="{url}">This page</a>.</p>')
    outside = body('<h1>Title</h1><p>See the <a href="/kidsinfo/fact_sheets/Croup/">fact sheet</a>.</p>')
    assert not rch.is_stub(own, url)
    assert not rch.is_stub(outside, url)


def test_long_page_linking_another_guideline_is_not_a_stub() -> None:
    url = f"{INDEX}/Stridor/"
    words = " ".join(["word"] * rch.STUB_MAX_WORDS)
    long_page = body(f'<h1>Stridor</h1><p>{words} <a href="{INDEX}/Croup_laryngotracheobronchitis/">Croup</a></p>')
    assert not rch.is_stub(long_page, url)


# --- parse ---------------------------------------------------------------------------------------------------------


def test_guidelines_give_one_document_each_and_the_stub_none(documents: dict) -> None:
    assert set(documents) == {f"guidelines/rch:{name}" for name in GUIDELINES}


def test_parsed_guideline_has_its_own_title_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/rch:Croup_laryngotracheobronchitis"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "rch", "RCH-terms")
    assert document.title == "Croup (laryngotracheobronchitis)"
    assert document.url == f"{INDEX}/Croup_laryngotracheobronchitis/"
    assert document.date == "2023-06-14"
    assert document.meta == {
        "organisation": "rch",
        "redistributable": False,
        "file": "Croup_laryngotracheobronchitis.html",
        "format": "html",
    }


def test_parsed_text_keeps_key_points_sections_and_dose_tables(documents: dict) -> None:
    text = documents["guidelines/rch:Croup_laryngotracheobronchitis"].text
    assert text.startswith("# Croup (laryngotracheobronchitis)\n\n## Key points\n\n- Croup is a clinical diagnosis")
    assert "\n## Consider discharge when\n" in text
    assert "| Severity | Features | Treatment |" in text
    assert "| Mild | Stridor only when upset, no recession | Dexamethasone 0.15 mg/kg oral" in text


def test_parsed_text_has_no_site_chrome(documents: dict) -> None:
    for document in documents.values():
        text = document.text
        assert "Clinical Practice Guidelines" not in text, "the site's own heading is not the guideline's"
        assert "cookies" not in text and "Patients and visitors" not in text and "Guideline development" not in text
        assert "not a substitute for the judgement" not in text
        assert "Flemington Road" not in text


def test_visible_last_updated_month_dates_the_guideline_over_its_metadata(documents: dict) -> None:
    """Anaphylaxis shows "Last updated March 2023"; its DCTERMS.modified says 2024-05-02 (a web edit)."""
    document = documents["guidelines/rch:Anaphylaxis"]
    assert document.date == "2023-03"
    assert "Last updated" not in document.text


def test_metadata_dates_a_guideline_without_a_last_updated_line(documents: dict) -> None:
    assert documents["guidelines/rch:Bronchiolitis"].date == "2024-02-07"


def test_parent_information_ends_the_guideline(documents: dict) -> None:
    text = documents["guidelines/rch:Anaphylaxis"].text
    assert text.rstrip().endswith("the family have been shown how to use the device.")
    assert "Parent information" not in text and "Allergic and anaphylactic reactions" not in text


def test_references_end_the_guideline_and_sections_before_them_stay(documents: dict) -> None:
    text = documents["guidelines/rch:Bronchiolitis"].text
    assert "\n## Consider transfer when\n" in text
    assert "References" not in text and "Paediatric Research in Emergency" not in text


def test_stub_page_parses_to_nothing(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    path = raw / "Laryngotracheobronchitis.html"
    with open(path, "rb") as stream:
        assert list(rch.parse(stream, str(path))) == []


def test_error_page_saved_as_a_guideline_raises_parse_error_naming_the_file() -> None:
    page = b"<html><head><title>Service unavailable</title></head><body><h1>503</h1></body></html>"
    with pytest.raises(ParseError, match=r"Asthma_acute\.html: not an RCH guideline page"):
        list(rch.parse(io.BytesIO(page), "raw/guidelines/rch/Asthma_acute.html"))


def test_empty_raw_file_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"Asthma_acute\.html: not an HTML page"):
        list(rch.parse(io.BytesIO(b""), "raw/guidelines/rch/Asthma_acute.html"))
