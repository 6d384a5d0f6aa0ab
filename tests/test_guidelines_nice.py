"""NICE guidance: the offline mirror (pages and keyed API), both discovery paths, product bundles, parsing."""

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from gap_replay.http import HttpError, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import nice, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import nice as nice_mirror
from gap_replay.sources.mirror.server import serve

SOURCE = DATA / "nice"
COLLECTED = {"ng212", "qs230", "ta1121"}  # published products; CG157 is withdrawn, GID-NG10412 in development
OVERVIEWS = [f"https://www.nice.org.uk/guidance/{ref}" for ref in ("cg157", "ng212", "qs230", "ta1121")]
COMMITTEE_CHAPTER = (
    "https://www.nice.org.uk/guidance/ta1121/chapter/4-Evaluation-committee-members-and-NICE-project-team"
)
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "guidelines" / "real" / "nice"
SAMPLE_PRODUCT = SAMPLES / "nice_publications-feed_product_ng100_rheumatoid-arthritis.json"
SAMPLE_CHAPTER = SAMPLES / "nice_publications-feed_ng100_chapter_recommendations.json"
needs_samples = pytest.mark.skipif(
    not SAMPLE_CHAPTER.is_file(),
    reason="the real NICE feed samples are in ../shared, which is not beside the repository",
)


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def fetch_twice(base: str, raw: Path, key: str | None) -> list[FetchSummary]:
    """Two NICE fetches into `raw`, with `NICE_API_KEY` set to `key` (or unset)."""
    with pytest.MonkeyPatch.context() as patch, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        if key is None:
            patch.delenv(nice.API_KEY_ENV, raising=False)
        else:
            patch.setenv(nice.API_KEY_ENV, key)
        return [nice.fetch(OrganisationConfig(), raw, client) for _ in range(2)]


def parse_folder(raw: Path) -> dict[str, object]:
    documents = {}
    for path in sorted(raw.glob("*.json")):
        with open(path, "rb") as stream:
            for document in nice.parse(stream, str(path)):
                documents[document.id] = document
    return documents


def bundle(responses: list[tuple[str, str]]) -> bytes:
    """A raw bundle of (url, body) responses, as `site.save_bundle` writes one."""
    items = [
        {"url": url, "content_type": None, "etag": None, "last_modified": None, "body": body} for url, body in responses
    ]
    return json.dumps({"format": site.BUNDLE_FORMAT, "url": responses[0][0], "responses": items}).encode()


def bundle_urls(path: Path) -> list[str]:
    return [response["url"] for response in json.loads(path.read_bytes())["responses"]]


def numbers(xhtml: str) -> list[str]:
    """The recommendation numbers of a chapter's XHTML, in order (its `span.paragraph-number`s)."""
    root = lxml.html.fragment_fromstring(xhtml, create_parent="div")
    return [span.text_content().strip() for span in root.find_class("paragraph-number")]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    nice_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def pages(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after two keyless fetches (the public pages), and their summaries."""
    raw = tmp_path_factory.mktemp("pages")
    return raw, fetch_twice(base, raw, None)


@pytest.fixture(scope="module")
def api(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The raw folder after two fetches with the API key (the syndication API), and their summaries."""
    raw = tmp_path_factory.mktemp("api")
    return raw, fetch_twice(base, raw, nice_mirror.API_KEY)


@pytest.fixture(scope="module")
def documents(pages: tuple[Path, list]) -> dict[str, object]:
    return parse_folder(pages[0])


@pytest.fixture(scope="module")
def api_documents(api: tuple[Path, list]) -> dict[str, object]:
    return parse_folder(api[0])


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    nice_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_keeps_crawlers_off_committee_chapters(mirror: Path) -> None:
    robots = (mirror / "www.nice.org.uk" / "robots.txt").read_text()
    assert "Disallow: /guidance/*/chapter/*committee-members*" in robots
    assert (
        mirror / "www.nice.org.uk" / "guidance" / "ta1121" / "chapter" / COMMITTEE_CHAPTER.rsplit("/", 1)[1]
    ).is_file()


def test_api_refuses_requests_without_the_key_and_with_another_key(base: str) -> None:
    with PoliteClient(user_agent="test", delay=0, mirror=base, retries=0) as client:
        with pytest.raises(HttpError) as missing:
            client.get(nice.INDEX_URL)
        with pytest.raises(HttpError) as wrong:
            client.get(nice.INDEX_URL, headers={nice.API_KEY_HEADER: "not-the-key"})
        index = client.get(nice.INDEX_URL, headers={nice.API_KEY_HEADER: nice_mirror.API_KEY})
        robots = client.get("https://api.nice.org.uk/robots.txt")
    assert (missing.value.status, wrong.value.status) == (401, 403)
    assert index.status == 200 and "IndexItems" in json.loads(index.content)
    assert robots.status == 200


def test_api_fetch_with_a_wrong_key_is_a_counted_failure(base: str, tmp_path: Path) -> None:
    first, _ = fetch_twice(base, tmp_path, "not-the-key")
    assert (first.downloaded, first.failed) == (0, 1)
    assert first.errors[0].startswith(f"{nice.INDEX_URL}: guidance index failed: HTTP 403")


# --- discovery: the public pages -------------------------------------------------------------------------------------


def test_listing_walk_finds_the_products_on_both_pages_and_no_in_development_link(base: str) -> None:
    summary = FetchSummary("test")
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        urls = site.listing_urls(client, nice.LISTING, summary)
    assert urls == OVERVIEWS
    assert summary.failed == 0


def test_listing_follows_pagination_but_not_the_type_filters() -> None:
    def followed(url: str) -> bool:
        return any(re.search(pattern, url) for pattern in nice.LISTING.follow)

    assert followed("https://www.nice.org.uk/guidance/published?ps=3&pa=2")
    assert not followed("https://www.nice.org.uk/guidance/published?ngt=NICE%20guidelines")
    assert not followed("https://www.nice.org.uk/guidance/indevelopment")


def test_pages_fetch_bundles_each_published_product(pages: tuple[Path, list]) -> None:
    raw, (first, _) = pages
    assert {path.stem for path in raw.glob("*.json")} == COLLECTED
    assert (first.downloaded, first.failed) == (3, 0)
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.json"))
    assert bundle_urls(raw / "ng212.json") == [
        "https://www.nice.org.uk/guidance/ng212/",  # the mirror serves the overview as a folder's index
        "https://www.nice.org.uk/guidance/ng212/chapter/Recommendations",
        "https://www.nice.org.uk/guidance/ng212/chapter/Recommendations-for-research",
        "https://www.nice.org.uk/guidance/ng212/chapter/Context",
    ]


def test_robots_disallowed_chapter_is_counted_and_left_out_of_its_bundle(pages: tuple[Path, list]) -> None:
    raw, (first, _) = pages
    assert first.disallowed == 1
    urls = bundle_urls(raw / "ta1121.json")
    assert len(urls) == 4 and COMMITTEE_CHAPTER not in urls


def test_withdrawn_product_is_not_collected_by_either_path(pages: tuple[Path, list], api: tuple[Path, list]) -> None:
    assert not (pages[0] / "cg157.json").exists()
    assert not (api[0] / "cg157.json").exists()


def test_withdrawn_notice_is_told_from_a_current_product_replacing_one() -> None:
    assert nice.WITHDRAWN.search("This guidance has been updated and replaced by NICE guideline NG212.")
    assert nice.WITHDRAWN.search("This guidance has been withdrawn.")
    assert not nice.WITHDRAWN.search("This guideline updates and replaces NICE guideline CG157.")


def test_second_fetch_downloads_nothing_on_either_path(pages: tuple[Path, list], api: tuple[Path, list]) -> None:
    for _, (_, second) in (pages, api):
        assert (second.downloaded, second.skipped, second.failed) == (0, 3, 0)


def test_limit_caps_the_products_in_place(base: str, tmp_path: Path) -> None:
    """The first product in order (CG157) is withdrawn and does not count; the next two are bundled."""
    with pytest.MonkeyPatch.context() as patch, PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        patch.delenv(nice.API_KEY_ENV, raising=False)
        summary = nice.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert {path.stem for path in tmp_path.glob("*.json")} == {"ng212", "qs230"}


# --- discovery: the API ----------------------------------------------------------------------------------------------


def test_guidance_references_keep_programmes_and_skip_in_development_and_corporate() -> None:
    assert nice.is_guidance("NG212") and nice.is_guidance("ta1121") and nice.is_guidance("QS230")
    assert not nice.is_guidance("GID-NG10412")
    assert not nice.is_guidance("ECD10")


def test_api_index_lists_the_guidance_products_but_not_the_one_in_development(base: str) -> None:
    headers = {**nice.API_HEADERS, nice.API_KEY_HEADER: nice_mirror.API_KEY}
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        products = nice.api_products(client, nice.INDEX_URL, headers, FetchSummary("test"))
    assert [product.ref for product in products] == ["CG157", "NG212", "QS230", "TA1121"]
    assert products[1].url == "https://api.nice.org.uk/feeds/product/NG212.json"


def test_api_fetch_bundles_each_product_record_with_its_chapter_records(api: tuple[Path, list]) -> None:
    raw, (first, _) = api
    assert {path.stem for path in raw.glob("*.json")} == COLLECTED
    assert (first.downloaded, first.failed, first.disallowed) == (3, 0, 0)
    chapter = "https://api.nice.org.uk/feeds/product/TA1121/part/1/chapter"
    assert bundle_urls(raw / "ta1121.json") == [
        "https://api.nice.org.uk/feeds/product/TA1121.json",
        f"{chapter}/1-recommendations.json",
        f"{chapter}/2-information-about-tenecteplase.json",
        f"{chapter}/3-committee-discussion.json",
        f"{chapter}/4-evaluation-committee-members-and-nice-project-team.json",
    ]


def test_the_api_key_is_never_written_to_the_raw_folder(api: tuple[Path, list]) -> None:
    raw, _ = api
    assert all(nice_mirror.API_KEY.encode() not in path.read_bytes() for path in raw.iterdir())


# --- parse -----------------------------------------------------------------------------------------------------------


def test_parsed_product_has_id_title_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/nice:ng212"]
    assert (document.source, document.subsource, document.license) == (
        "guidelines",
        "nice",
        "NICE-UK-open-content-licence",
    )
    assert document.title == "Heat-related illness in adults: recognition and management"
    assert document.url == "https://www.nice.org.uk/guidance/ng212"
    assert document.date == "2024-02-01"  # last updated, not first published
    assert document.meta["redistributable"] is True
    assert document.meta["organisation"] == "nice"
    assert (document.meta["reference"], document.meta["product_type"], document.meta["chapters"]) == (
        "NG212",
        "NICE guideline",
        3,
    )


def test_every_bundle_gives_one_document(documents: dict, api_documents: dict) -> None:
    expected = {f"guidelines/nice:{ref}" for ref in COLLECTED}
    assert set(documents) == expected and set(api_documents) == expected


def test_date_is_the_published_date_when_never_updated(documents: dict, api_documents: dict) -> None:
    assert documents["guidelines/nice:qs230"].date == api_documents["guidelines/nice:qs230"].date == "2022-11-03"


def test_text_is_the_overview_then_each_chapter_under_its_title(documents: dict) -> None:
    text = documents["guidelines/nice:ng212"].text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert text.startswith("# Heat-related illness in adults: recognition and management\n\n## Overview\n\n")
    assert headings == ["## Overview", "## Recommendations", "## Recommendations for research", "## Context"]
    assert "\n### Who is it for?\n" in text  # the overview's own headings sit below its title


def test_numbered_recommendations_are_kept_in_order(documents: dict) -> None:
    text = documents["guidelines/nice:ng212"].text
    expected = numbers((SOURCE / "products" / "ng212" / "recommendations.html").read_text())
    found = re.findall(r"(?m)^(\d+\.\d+\.\d+) ", text)
    assert found == expected == ["1.1.1", "1.1.2", "1.2.1", "1.2.2", "1.2.3", "1.2.4", "1.3.1"]
    assert "1.2.1 Start cooling a person with suspected heatstroke at the scene." in text
    assert "- seizures\n" in text


def test_page_text_carries_no_site_chrome(documents: dict) -> None:
    for document in documents.values():
        text = document.text.lower()
        for chrome in ("cookies", "standards and indicators", "notice of rights", "tools and resources", "next:"):
            assert chrome not in text, (document.id, chrome)


def test_both_paths_give_the_same_text_except_the_chapter_robots_keeps_off(
    documents: dict, api_documents: dict
) -> None:
    for ref in ("ng212", "qs230"):
        assert documents[f"guidelines/nice:{ref}"].text == api_documents[f"guidelines/nice:{ref}"].text
    pages_text = documents["guidelines/nice:ta1121"].text
    api_text = api_documents["guidelines/nice:ta1121"].text
    assert api_text.startswith(pages_text.rstrip("\n"))
    assert "## 4 Evaluation committee members" in api_text and "committee members" not in pages_text


def test_api_documents_say_they_came_from_json(api_documents: dict) -> None:
    assert api_documents["guidelines/nice:ta1121"].meta["format"] == "json"
    assert api_documents["guidelines/nice:ta1121"].meta["chapters"] == 4


def test_truncated_bundle_raises_parse_error_naming_the_file(pages: tuple[Path, list]) -> None:
    data = (pages[0] / "ng212.json").read_bytes()
    with pytest.raises(ParseError, match=r"ng212\.json: not a bundle"):
        list(nice.parse(io.BytesIO(data[: len(data) // 2]), "raw/guidelines/nice/ng212.json"))


def test_html_error_page_saved_as_json_raises_parse_error() -> None:
    page = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
    with pytest.raises(ParseError, match=r"ng212\.json: not a bundle"):
        list(nice.parse(io.BytesIO(page), "raw/guidelines/nice/ng212.json"))


def test_api_bundle_with_an_error_page_for_a_record_raises_parse_error_naming_file_and_url() -> None:
    url = "https://api.nice.org.uk/feeds/product/NG212.json"
    data = bundle([(url, "<html><body>Access denied</body></html>")])
    with pytest.raises(ParseError, match=rf"ng212\.json: {re.escape(url)}: not JSON"):
        list(nice.parse(io.BytesIO(data), "raw/guidelines/nice/ng212.json"))


# --- the real feed samples -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_document() -> object:
    product, chapter = SAMPLE_PRODUCT.read_text(encoding="utf-8"), SAMPLE_CHAPTER.read_text(encoding="utf-8")
    data = bundle(
        [
            ("https://api.nice.org.uk/feeds/product/NG100.json", product),
            ("https://api.nice.org.uk/feeds/product/NG100/part/1/chapter/recommendations.json", chapter),
        ]
    )
    (document,) = nice.parse(io.BytesIO(data), "raw/guidelines/nice/ng100.json")
    return document


@needs_samples
def test_real_sample_recommendations_all_appear_in_order(sample_document: object) -> None:
    expected = numbers(json.loads(SAMPLE_CHAPTER.read_text(encoding="utf-8"))["Content"])
    found = re.findall(r"(?m)^(\d+\.\d+\.\d+) ", sample_document.text)
    assert len(expected) > 40 and expected[0] == "1.1.1"
    assert found == expected


@needs_samples
def test_real_sample_product_gives_id_title_date_and_overview(sample_document: object) -> None:
    product = json.loads(SAMPLE_PRODUCT.read_text(encoding="utf-8"))
    assert sample_document.id == "guidelines/nice:ng100"
    assert sample_document.title == product["Title"]
    assert sample_document.date == product["LastMajorModificationDate"][:10]
    assert sample_document.url == "https://www.nice.org.uk/guidance/ng100"
    assert sample_document.text.startswith(f"# {product['Title']}\n\n## Overview\n\n")
    assert "\n## Recommendations\n" in sample_document.text
