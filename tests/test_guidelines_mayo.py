"""Mayo Clinic conditions: the offline mirror, discovery through the A-Z letter pages, one bundle of section pages
per condition (downloaded, revalidated, refreshed), and parsing a bundle into one document."""

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import mayo, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import mayo as mayo_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

CONDITIONS = "https://www.mayoclinic.org/diseases-conditions"
ASTHMA = f"{CONDITIONS}/asthma/symptoms-causes/syc-20369653"
ASTHMA_TREATMENT = f"{CONDITIONS}/asthma/diagnosis-treatment/drc-20369660"
BUNDLES = {"asthma", "gout", "heat-exhaustion"}


class RecordingHandler(MirrorHandler):
    """The mirror's handler, noting each requested path (`/www.mayoclinic.org/...`)."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    mayo_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def server(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    """The mirror's base URL and the paths requested from it."""
    handler = type("Recording", (RecordingHandler,), {"requests": []})
    with serve(mirror, handler=handler) as url:
        yield url, handler.requests


@pytest.fixture(scope="module")
def fetched(server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The Mayo raw folder after a fetch, and the two fetch summaries (first, repeat)."""
    base, _ = server
    raw = tmp_path_factory.mktemp("raw") / "mayo"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [mayo.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
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
    for path in sorted(raw.glob("*.json")):
        with open(path, "rb") as stream:
            for document in mayo.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


def bundle(*responses: tuple[str, str]) -> bytes:
    """A raw bundle of (url, body) responses, named after the asthma page."""
    pages = [
        {"url": url, "content_type": "text/html", "etag": None, "last_modified": None, "body": body}
        for url, body in responses
    ]
    return json.dumps({"format": site.BUNDLE_FORMAT, "url": ASTHMA, "responses": pages}).encode()


def test_module_declares_licence_and_that_it_is_not_collected() -> None:
    assert (mayo.KEY, mayo.NAME, mayo.LICENSE, mayo.REDISTRIBUTABLE) == (
        "mayo",
        "Mayo Clinic",
        "Mayo-Clinic-terms",
        False,
    )
    assert mayo.COLLECTABLE is False
    assert "personal, noncommercial use" in mayo.NOT_COLLECTED and "permission" in mayo.NOT_COLLECTED


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    mayo_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_has_letter_pages_and_extension_less_condition_pages(mirror: Path) -> None:
    root = mirror / "www.mayoclinic.org" / "diseases-conditions"
    assert sorted(path.name for path in root.glob("index?letter=*")) == [f"index?letter={x}" for x in "AGH"]
    assert (root / "asthma" / "symptoms-causes" / "syc-20369653").read_bytes().startswith(b"<!DOCTYPE html>")
    assert not (root / "heat-exhaustion" / "diagnosis-treatment").exists()


# --- discovery and download ----------------------------------------------------------------------------------------


def test_fetch_keeps_one_bundle_per_condition(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert {path.stem for path in raw.glob("*.json")} == BUNDLES
    assert (first.source, first.downloaded, first.failed) == ("guidelines/mayo", 3, 0)
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.json"))


def test_bundle_holds_both_section_pages_in_order(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    responses = site.read_bundle((raw / "asthma.json").read_bytes(), "asthma.json")
    assert [response["url"] for response in responses] == [ASTHMA, ASTHMA_TREATMENT]
    assert all(response["etag"] for response in responses)


def test_condition_with_only_one_page_has_a_bundle_of_that_page(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    responses = site.read_bundle((raw / "heat-exhaustion.json").read_bytes(), "heat-exhaustion.json")
    assert [response["url"] for response in responses] == [f"{CONDITIONS}/heat-exhaustion/symptoms-causes/syc-20373250"]


def test_links_that_are_not_condition_sections_are_not_fetched(requested: list) -> None:
    assert not any("/symptoms/" in path for path in requested), "a symptom page listed under A"
    assert not any("doctors-departments" in path or "care-at-mayo-clinic" in path for path in requested)
    assert not any("/appointments" in path for path in requested)


def test_condition_disallowed_by_robots_is_counted_not_fetched(fetched: tuple[Path, list], requested: list) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1, "obeying robots.txt is no failure"
    assert not (raw / "acute-flaccid-myelitis.json").exists()
    assert not any("acute-flaccid-myelitis" in path for path in requested)


def test_alias_entries_do_not_fetch_a_condition_twice(requested: list) -> None:
    asthma = [path for path in requested if path.endswith("/asthma/symptoms-causes/syc-20369653")]
    assert len(asthma) == 2, "once per fetch: downloaded, then revalidated"


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.disallowed) == (0, 3, 1)


def test_changed_section_page_refreshes_its_bundle(tmp_path: Path) -> None:
    site_root = tmp_path / "site"
    mayo_mirror.build(DATA, site_root)
    raw = tmp_path / "raw"
    page = site_root / "www.mayoclinic.org" / "diseases-conditions" / "gout" / "diagnosis-treatment" / "drc-20372903"
    with serve(site_root) as base, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        mayo.fetch(OrganisationConfig(), raw, client)
        page.write_bytes(page.read_bytes().replace(b"low-dose colchicine", b"colchicine at a low dose"))
        os.utime(page, (page.stat().st_atime, page.stat().st_mtime + 60))
        summary = mayo.fetch(OrganisationConfig(), raw, client)
    assert (summary.downloaded, summary.skipped) == (1, 2)
    assert b"colchicine at a low dose" in (raw / "gout.json").read_bytes()


def test_limit_caps_the_conditions_in_place(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = mayo.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_configured_url_starts_the_walk_at_that_letter(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = mayo.fetch(OrganisationConfig(url=f"{CONDITIONS}/index?letter=H"), tmp_path, client)
    assert summary.downloaded == 3, "the letter bar leads on to the other letters"


# --- keep/stop rules -----------------------------------------------------------------------------------------------


def test_letter_rule_follows_letter_pages_only() -> None:
    assert re.search(mayo.LETTER, f"{CONDITIONS}/index?letter=G")
    assert not re.search(mayo.LETTER, "https://www.mayoclinic.org/es/diseases-conditions/index?letter=G")
    assert not re.search(mayo.LETTER, "https://www.mayoclinic.org/symptoms/index?letter=G")


def test_condition_rule_takes_symptoms_and_causes_pages_only() -> None:
    assert re.search(mayo.CONDITION, ASTHMA)
    assert not re.search(mayo.CONDITION, ASTHMA_TREATMENT)
    assert not re.search(mayo.CONDITION, f"{CONDITIONS}/asthma/doctors-departments/ddc-20369670")
    assert not re.search(mayo.CONDITION, "https://www.mayoclinic.org/symptoms/abdominal-pain/basics/definition/sym-1")
    assert not re.search(mayo.CONDITION, f"{ASTHMA}?p=1")


def test_condition_slug_names_the_bundle() -> None:
    assert mayo.condition_slug(ASTHMA) == "asthma"
    with pytest.raises(ValueError, match="not a condition page URL"):
        mayo.condition_slug(ASTHMA_TREATMENT)


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_bundle_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/mayo:{slug}" for slug in BUNDLES}


def test_condition_document_has_name_url_latest_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/mayo:asthma"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "mayo", "Mayo-Clinic-terms")
    assert document.title == "Asthma"
    assert document.url == ASTHMA
    assert document.date == "2024-01-05", "the later of Dec. 20, 2023 and Jan. 5, 2024"
    assert document.meta == {
        "organisation": "mayo",
        "redistributable": False,
        "file": "asthma.json",
        "format": "bundle",
        "sections": ["symptoms-causes", "diagnosis-treatment"],
    }


def test_document_holds_the_sections_of_both_pages_in_order(documents: dict) -> None:
    text = documents["guidelines/mayo:asthma"].text
    assert text.startswith("# Asthma\n\n## Overview\n\nAsthma is a long-term lung disease.")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Overview",
        "## Symptoms",
        "## Causes",
        "## Risk factors",
        "## Diagnosis",
        "## Treatment",
        "## Lifestyle and home remedies",
    ]
    assert "- A quick-relief inhaler, such as albuterol, opens the airways within minutes during a flare." in text


def test_document_has_no_clutter_or_site_chrome(documents: dict) -> None:
    for document in documents.values():
        text = document.text
        assert "Advertisement" not in text and "Request an appointment" not in text
        assert "From Mayo Clinic to your inbox" not in text and "References" not in text
        assert "By Mayo Clinic Staff" not in text and "Products & Services" not in text
        assert "cookies" not in text and "Symptoms & causes" not in text and "MFMER" not in text
        assert not re.search(r"(Dec|Jan|Sept)\. \d+, 20\d\d|May 14, 2024", text), "the review date line is metadata"


def test_one_page_condition_is_a_document_of_that_page(documents: dict) -> None:
    document = documents["guidelines/mayo:heat-exhaustion"]
    assert document.meta["sections"] == ["symptoms-causes"]
    assert document.date == "2024-05-14"
    assert "\n### When to see a doctor\n" in document.text


def test_abbreviated_september_is_read(documents: dict) -> None:
    assert documents["guidelines/mayo:gout"].date == "2023-09-09"


def test_truncated_bundle_raises_parse_error_naming_the_file(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    data = (raw / "gout.json").read_bytes()
    with pytest.raises(ParseError, match=r"gout\.json: not a bundle of API responses"):
        list(mayo.parse(io.BytesIO(data[: len(data) // 2]), "raw/guidelines/mayo/gout.json"))


def test_html_error_page_saved_as_bundle_raises_parse_error_naming_the_file() -> None:
    page = b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>"
    with pytest.raises(ParseError, match=r"gout\.json: not a bundle"):
        list(mayo.parse(io.BytesIO(page), "raw/guidelines/mayo/gout.json"))


def test_bundled_page_that_is_not_a_condition_page_raises_parse_error_naming_file_and_url() -> None:
    data = bundle((ASTHMA, "<html><body><main><p>We are sorry, this page is not available.</p></main></body></html>"))
    with pytest.raises(ParseError, match=rf"asthma\.json: {re.escape(ASTHMA)}: not a Mayo Clinic condition page"):
        list(mayo.parse(io.BytesIO(data), "raw/guidelines/mayo/asthma.json"))


def test_bundled_response_that_is_not_an_object_raises_parse_error_naming_the_file() -> None:
    data = json.dumps({"format": site.BUNDLE_FORMAT, "url": ASTHMA, "responses": ["<html></html>"]}).encode()
    with pytest.raises(ParseError, match=r"asthma\.json: not a bundle of API responses \(no list of responses\)"):
        list(mayo.parse(io.BytesIO(data), "raw/guidelines/mayo/asthma.json"))


def test_bundle_without_pages_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"asthma\.json: a bundle without pages"):
        list(mayo.parse(io.BytesIO(bundle()), "raw/guidelines/mayo/asthma.json"))
