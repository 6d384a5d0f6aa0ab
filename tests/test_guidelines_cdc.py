"""CDC guidelines: the Stacks and Content Services API stand-in, discovery, polite download and parsing."""

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import cdc, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import cdc as cdc_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

STACKS_PDFS = {
    "https://stacks.cdc.gov/view/cdc/151234/cdc_151234_DS1.pdf",
    "https://stacks.cdc.gov/view/cdc/152877/cdc_152877_DS1.pdf",
}
RAW_FILES = {"cdc_151234_DS1.pdf", "cdc_152877_DS1.pdf", "media-407711.json", "media-409132.json"}
IDS = {f"guidelines/cdc:{name.rsplit('.', 1)[0]}" for name in RAW_FILES}
API_PAGE_2 = "api/v2/resources/media.json?languageisocode=eng&max=100&pagenum=2&q=clinical+guidance&sourceacronym=CDC"


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
    cdc_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror, handler=Recorder) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary], list[str]]:
    """The raw folder after two fetches, their summaries, and the paths the first fetch asked the server for."""
    raw = tmp_path_factory.mktemp("raw") / "cdc"
    Recorder.paths.clear()
    with client_for(base) as client:
        first = cdc.fetch(OrganisationConfig(), raw, client)
        asked = list(Recorder.paths)
        second = cdc.fetch(OrganisationConfig(), raw, client)
    return raw, [first, second], asked


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list]) -> dict[str, object]:
    raw, _, _ = fetched
    parsed = {}
    for path in sorted([*raw.glob("*.pdf"), *raw.glob("*.json")]):
        with open(path, "rb") as stream:
            for document in cdc.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the stand-in ------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    cdc_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_disallow_the_withdrawn_item_and_facets(mirror: Path) -> None:
    robots = (mirror / "stacks.cdc.gov" / "robots.txt").read_text()
    assert "Disallow: /view/cdc/149870\n" in robots
    assert "Disallow: /cbrowse?*fq=\n" in robots
    assert not (mirror / "stacks.cdc.gov" / "view" / "cdc" / "149870").exists()


def test_mirror_api_pages_carry_v2_pagination(mirror: Path) -> None:
    body = json.loads((mirror / "tools.cdc.gov" / API_PAGE_2).read_text())
    assert body["meta"]["pagination"]["pageNum"] == 2
    assert body["meta"]["pagination"]["totalPages"] == 2
    assert body["meta"]["pagination"]["nextUrl"] is None
    assert [media["id"] for media in body["results"]] == [409132]


# --- discovery: CDC Stacks -----------------------------------------------------------------------------------------


def test_stacks_walk_finds_the_item_pdfs_of_both_listing_pages(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        urls = site.listing_urls(client, cdc.STACKS_LISTING, summary)
    assert set(urls) == STACKS_PDFS
    assert (summary.failed, summary.disallowed) == (0, 1), "the withdrawn item is refused by robots.txt, no failure"


def test_a_stacks_record_without_a_pdf_gives_no_document(fetched: tuple[Path, list, list]) -> None:
    raw, _, asked = fetched
    assert "/stacks.cdc.gov/view/cdc/150990/" in asked, "the record's page is read"
    assert not list(raw.glob("*150990*"))


def test_stacks_facet_sort_and_withdrawn_links_are_never_requested(fetched: tuple[Path, list, list]) -> None:
    _, _, asked = fetched
    stacks = [path for path in asked if path.startswith("/stacks.cdc.gov/")]
    assert not [path for path in stacks if "fq=" in path or "sort=" in path]
    assert not [path for path in stacks if "149870" in path]
    assert "/stacks.cdc.gov/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100&start=100" in stacks


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        ("https://stacks.cdc.gov/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100&start=100", True),
        ("https://stacks.cdc.gov/view/cdc/151234", True),
        ("https://stacks.cdc.gov/view/cdc/151234/", True),
        ("https://stacks.cdc.gov/cbrowse?pid=cdc%3A100&parentId=cdc%3A100", False),
        ("https://stacks.cdc.gov/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&sort=title_sort+asc&start=0", False),
        ("https://stacks.cdc.gov/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&fq=subject&start=0", False),
        ("https://stacks.cdc.gov/view/cdc/151234/print", False),
    ],
)
def test_stacks_follow_rule(url: str, followed: bool) -> None:
    listing = cdc.STACKS_LISTING
    excluded = any(re.search(pattern, url) for pattern in listing.exclude)
    assert (not excluded and any(re.search(pattern, url) for pattern in listing.follow)) is followed


@pytest.mark.parametrize(
    ("url", "collected"),
    [
        ("https://stacks.cdc.gov/view/cdc/151234/cdc_151234_DS1.pdf", True),
        ("https://stacks.cdc.gov/view/cdc/151234/cdc_151234_DS2.pdf", False),
        ("https://stacks.cdc.gov/view/cdc/151234/cdc_151234_DS1.xlsx", False),
        ("https://stacks.cdc.gov/view/cdc/151234/cdc_999999_DS1.pdf", False),
    ],
)
def test_stacks_document_rule_takes_each_items_main_pdf(url: str, collected: bool) -> None:
    assert any(re.search(pattern, url) for pattern in cdc.STACKS_LISTING.documents) is collected


# --- discovery: the Content Services API -------------------------------------------------------------------------


def test_api_search_is_walked_to_its_last_page_keeping_html_media(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        items = cdc.media_items(client, cdc.API_START, summary)
    assert [media["id"] for media in items] == [407711, 409132]
    assert summary.failed == 0


@pytest.mark.parametrize(
    ("media", "kept"),
    [
        ({"id": 1, "mediaType": "HTML"}, True),
        ({"id": 1, "mediaType": "Video"}, False),
        ({"id": 1, "mediaType": "Image"}, False),
        ({"id": 1, "mediaType": "Infographic"}, False),
        ({"id": 1, "mediaType": "html"}, False),
        ({"mediaType": "HTML"}, False),
        ({"id": "407711", "mediaType": "HTML"}, True),
        ({"id": "../407711", "mediaType": "HTML"}, False),
    ],
)
def test_only_html_media_with_a_numeric_id_are_guidance_pages(media: dict, kept: bool) -> None:
    assert cdc.wanted(media) is kept


def test_video_and_image_media_are_never_asked_for(fetched: tuple[Path, list, list]) -> None:
    _, _, asked = fetched
    assert not [path for path in asked if "408500" in path or "409001" in path]


def test_page_url_replaces_the_page_number() -> None:
    url = cdc.page_url("https://tools.cdc.gov/api/v2/resources/media.json?q=flu&pagenum=1&max=100", 3)
    assert url == "https://tools.cdc.gov/api/v2/resources/media.json?q=flu&max=100&pagenum=3"


def test_a_failing_api_page_is_a_counted_failure(base: str) -> None:
    summary = FetchSummary("test")
    with client_for(base) as client:
        items = cdc.media_items(client, "https://tools.cdc.gov/api/v2/resources/nothing.json", summary)
    assert items == []
    assert summary.failed == 1 and "API page failed: HTTP 404" in summary.errors[0]


def test_config_url_replaces_the_start_on_its_host() -> None:
    api = "https://tools.cdc.gov/api/v2/resources/media.json?q=measles"
    stacks = "https://stacks.cdc.gov/cbrowse?pid=cdc%3A200&parentId=cdc%3A200&maxResults=100&start=0"
    assert cdc.starts(api) == (cdc.STACKS_LISTING, api)
    listing, start = cdc.starts(stacks)
    assert (listing.start, start) == ((stacks,), cdc.API_START)
    assert cdc.starts(None) == (cdc.STACKS_LISTING, cdc.API_START)


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_stacks_pdfs_and_api_bundles(fetched: tuple[Path, list, list]) -> None:
    raw, (first, _), _ = fetched
    assert (first.downloaded, first.failed, first.disallowed) == (4, 0, 1)
    assert {path.name for path in raw.iterdir() if path.suffix in (".pdf", ".json")} == RAW_FILES
    assert first.bytes == sum((raw / name).stat().st_size for name in RAW_FILES)


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, 4, 0)


def test_an_api_page_modified_since_is_fetched_again(
    mirror: Path, fetched: tuple[Path, list, list], tmp_path: Path
) -> None:
    raw, _, _ = fetched
    site_copy = tmp_path / "site"
    shutil.copytree(mirror, site_copy)
    listing = site_copy / "tools.cdc.gov" / API_PAGE_2
    body = json.loads(listing.read_text())
    body["results"][0]["dateModified"] = "2025-06-01T08:00:00Z"
    listing.write_text(json.dumps(body))
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    with serve(site_copy) as url, client_for(url) as client:
        summary = cdc.fetch(OrganisationConfig(), copy, client)
    assert (summary.downloaded, summary.skipped) == (1, 3)


def test_limit_caps_the_documents_across_both_paths(base: str, tmp_path: Path) -> None:
    with client_for(base) as client:
        summary = cdc.fetch(OrganisationConfig(limit=3), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (3, 0)
    assert {path.name for path in tmp_path.iterdir() if path.suffix in (".pdf", ".json")} == {
        "cdc_151234_DS1.pdf",
        "cdc_152877_DS1.pdf",
        "media-407711.json",
    }


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_raw_file_gives_one_document(documents: dict) -> None:
    assert set(documents) == IDS


def test_a_stacks_pdf_has_its_item_page_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/cdc:cdc_151234_DS1"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "cdc", "public-domain-us-gov")
    assert document.title == "Rabies postexposure prophylaxis"
    assert document.url == "https://stacks.cdc.gov/view/cdc/151234"
    assert document.date == "2023-09-18"
    assert document.meta == {
        "organisation": "cdc",
        "redistributable": True,
        "file": "cdc_151234_DS1.pdf",
        "format": "pdf",
        "pages": 5,
    }
    assert "\n## Prophylaxis for people previously vaccinated\n" in document.text
    assert "- Give rabies vaccine, 1.0 mL intramuscularly in the deltoid, on days 0, 3, 7 and 14." in document.text
    assert "CDC Clinical Guidance |" not in document.text, "the running header is removed"


def test_an_api_page_has_its_name_source_url_and_publication_date(documents: dict) -> None:
    document = documents["guidelines/cdc:media-407711"]
    assert document.title == "Influenza antiviral medications: summary for clinicians"
    assert document.url == "https://www.cdc.gov/flu/hcp/antivirals/summary-clinicians.html"
    assert document.date == "2024-09-06"
    assert document.license == "public-domain-us-gov"
    assert document.meta == {
        "organisation": "cdc",
        "redistributable": True,
        "file": "media-407711.json",
        "format": "api",
        "media_id": 407711,
    }
    assert document.text.startswith("# Influenza antiviral medications: summary for clinicians\n\n## Who should be")
    assert "| Adults and adolescents 13 years and older | 75 mg twice daily | 5 days |" in document.text
    assert "Treatment should not wait for laboratory confirmation." in document.text


def test_api_pages_lose_the_syndicated_pages_controls(documents: dict) -> None:
    text = documents["guidelines/cdc:media-407711"].text
    for chrome in ("On this page", "Print this page", "cdcMetrics", "antivirals-chart"):
        assert chrome not in text


def test_the_tetanus_table_keeps_its_rows(documents: dict) -> None:
    text = documents["guidelines/cdc:media-409132"].text
    assert "| Unknown or fewer than 3 doses | Tdap or Td; no TIG | Tdap or Td, and TIG 250 units IM |" in text
    assert documents["guidelines/cdc:media-409132"].date == "2023-04-12"


def bundle(*bodies: str) -> bytes:
    responses = [{"url": f"https://tools.cdc.gov/r{index}", "body": body} for index, body in enumerate(bodies)]
    return json.dumps(
        {"format": site.BUNDLE_FORMAT, "url": "https://tools.cdc.gov/r0", "responses": responses}
    ).encode()


def test_a_truncated_bundle_raises_parse_error_naming_the_file(fetched: tuple[Path, list, list]) -> None:
    raw, _, _ = fetched
    data = (raw / "media-407711.json").read_bytes()
    with pytest.raises(ParseError, match=r"media-407711\.json: not a bundle"):
        list(cdc.parse(io.BytesIO(data[: len(data) // 2]), "raw/guidelines/cdc/media-407711.json"))


def test_an_html_error_page_saved_as_json_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"media-1\.json: not a bundle"):
        list(cdc.parse(io.BytesIO(b"<html><h1>503 Service Unavailable</h1></html>"), "raw/cdc/media-1.json"))


def test_an_error_page_inside_a_bundle_raises_parse_error_naming_the_response() -> None:
    data = bundle('{"results": [{"name": "x"}]}', "<html>Service Unavailable</html>")
    with pytest.raises(ParseError, match=r"media-2\.json: https://tools\.cdc\.gov/r1: not JSON"):
        list(cdc.parse(io.BytesIO(data), "media-2.json"))


def test_a_bundle_of_other_responses_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"media-3\.json: not a media record"):
        list(cdc.parse(io.BytesIO(bundle('{"results": []}', '{"results": {}}')), "media-3.json"))
    with pytest.raises(ParseError, match=r"media-4\.json: expected a media record and its syndicated content"):
        list(cdc.parse(io.BytesIO(bundle('{"results": []}')), "media-4.json"))


def test_a_damaged_pdf_raises_parse_error_naming_the_file(mirror: Path) -> None:
    data = (mirror / "stacks.cdc.gov" / "view" / "cdc" / "151234" / "cdc_151234_DS1.pdf").read_bytes()
    with pytest.raises(ParseError, match=r"cdc_151234_DS1\.pdf: truncated PDF"):
        list(cdc.parse(io.BytesIO(data[:2000]), "raw/guidelines/cdc/cdc_151234_DS1.pdf"))


def test_a_pdf_not_named_as_stacks_names_files_has_no_url(mirror: Path) -> None:
    data = (mirror / "stacks.cdc.gov" / "view" / "cdc" / "152877" / "cdc_152877_DS1.pdf").read_bytes()
    (document,) = cdc.parse(io.BytesIO(data), "raw/guidelines/cdc/cauti.pdf")
    assert (document.id, document.url, document.date) == ("guidelines/cdc:cauti", None, "2024-02-26")
