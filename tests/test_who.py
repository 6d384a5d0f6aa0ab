"""WHO guidelines: the offline mirror, sitemap and IRIS discovery, polite download, and parsing pages and PDFs."""

import base64
import gzip
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from protego import Protego

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import GuidelinesConfig, OrganisationConfig
from gap_replay.sources import guidelines
from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import site, who
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import who as who_mirror
from gap_replay.sources.mirror.kit import query_file
from gap_replay.sources.mirror.server import MirrorHandler, serve

PAGES = {
    "guideline-on-safe-injection-practices",
    "hand-hygiene-in-outpatient-care",
    "hand-hygiene-in-outpatient-care-2025-update",
    "hygiene-des-mains-en-soins-ambulatoires",
    "management-of-severe-malaria-in-children",
    "mental-health-gap-action-programme-guideline",
    "oral-rehydration-and-zinc-for-acute-diarrhoea",
    "pharmacological-treatment-of-hypertension-in-adults",
    "tuberculosis-preventive-treatment-regimens",
}
PDFS = {"ipc-in-primary-care-clinics", "iron-and-folic-acid-supplementation-in-pregnancy"}
IRIS = {"9789240100001-eng", "9789240100002-eng", "9789240100003-eng"}  # the guideline items' PDFs
BOTH = "9789240100001-eng"  # also listed by the www.who.int sitemap
IRIS_API = "/iris.who.int/server/api"
SEARCH = IRIS_API + "/discover/search/objects"


class Recorder(MirrorHandler):
    """The mirror's handler, noting the path of every request."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    who_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror, handler=Recorder) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, list[str]]:
    """The WHO raw folder after a fetch through `guidelines.fetch`, the two fetch summaries (first, repeat), and
    the requests of the first."""
    raw = tmp_path_factory.mktemp("raw") / "guidelines"
    start = len(Recorder.requests)
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [guidelines.fetch(GuidelinesConfig(), raw, client)]
        requests = Recorder.requests[start:]
        summaries.append(guidelines.fetch(GuidelinesConfig(), raw, client))
    return raw / "who", summaries, requests


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list, list[str]]) -> dict[str, object]:
    raw = fetched[0]
    parsed = {}
    for path in sorted([*raw.glob("*.html"), *raw.glob("*.pdf"), *raw.glob("*.json")]):
        with open(path, "rb") as stream:
            for document in guidelines.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    who_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_pdfs_carry_fixed_metadata_and_no_file_id(mirror: Path) -> None:
    for slug in PDFS:
        data = (mirror / "www.who.int" / "publications" / "m" / "item" / f"{slug}.pdf").read_bytes()
        assert data.startswith(b"%PDF-")
        assert b"/ID" not in data


def test_mirror_has_robots_with_sitemap_and_a_windows_1252_page(mirror: Path) -> None:
    robots = (mirror / "www.who.int" / "robots.txt").read_text()
    assert "Disallow: /private/" in robots
    assert "Sitemap: https://www.who.int/sitemap.xml" in robots
    page = mirror / "www.who.int" / "publications" / "i" / "item" / "oral-rehydration-and-zinc-for-acute-diarrhoea"
    raw = (page / "index.html").read_bytes()
    assert b'<meta charset="windows-1252">' in raw
    assert "Jürgen Müller".encode("cp1252") in raw


# --- discovery -----------------------------------------------------------------------------------------------------


def test_sitemap_index_and_gzipped_sitemaps_are_read() -> None:
    namespace = b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    index = b"<sitemapindex " + namespace + b"><sitemap><loc>/a.xml</loc></sitemap></sitemapindex>"
    assert site.parse_sitemap(index, "https://example.org/sitemap.xml") == (["https://example.org/a.xml"], [])
    urlset = b"<urlset " + namespace + b"><url><loc> https://example.org/p </loc></url></urlset>"
    assert site.parse_sitemap(gzip.compress(urlset), "https://example.org/a.xml.gz") == ([], ["https://example.org/p"])
    with pytest.raises(ValueError, match="not a sitemap"):
        site.parse_sitemap(b"<html><body>Moved</body></html>", "https://example.org/sitemap.xml")


def test_selection_applies_include_exclude_sort_and_limit() -> None:
    urls = [
        "https://www.who.int/publications/i/item/b-guideline",
        "https://www.who.int/publications/i/item/a-guideline",
        "https://www.who.int/publications/i/item/hand-hygiene-poster-infographic",
        "https://www.who.int/news/item/01-01-2025-statement",
        "https://www.who.int/publications/m/item/c-guideline.pdf",
    ]
    assert site.select(urls, who.INCLUDE, who.EXCLUDE, None) == [
        "https://www.who.int/publications/i/item/a-guideline",
        "https://www.who.int/publications/i/item/b-guideline",
        "https://www.who.int/publications/m/item/c-guideline.pdf",
    ]
    assert len(site.select(urls, who.INCLUDE, who.EXCLUDE, 2)) == 2


def test_file_names_come_from_the_last_segment() -> None:
    names = site.file_names(
        [
            "https://www.who.int/publications/i/item/9789240012345",
            "https://www.who.int/publications/m/item/ipc%20guide.pdf",
            "https://iris.who.int/bitstream/handle/10665/1/9789240012345",
        ]
    )
    assert list(names.values())[:2] == ["9789240012345.html", "ipc-guide.pdf"]
    assert names["https://iris.who.int/bitstream/handle/10665/1/9789240012345"].startswith("9789240012345-")


# --- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_downloads_pages_and_pdfs_from_the_sitemaps(fetched: tuple[Path, list, list[str]]) -> None:
    raw, (first, _), _ = fetched
    assert first.downloaded == len(PAGES) + len(PDFS) + len(IRIS), "and the IRIS bundles"
    assert {path.stem for path in raw.glob("*.html")} == PAGES
    assert {path.stem for path in raw.glob("*.pdf")} == PDFS
    assert (raw / "fetch_log.jsonl").is_file()
    kept = [*raw.glob("*.html"), *raw.glob("*.pdf"), *raw.glob("*.json")]
    assert first.bytes == sum(path.stat().st_size for path in kept)


def test_fetch_respects_robots_and_the_exclude_list(fetched: tuple[Path, list, list[str]]) -> None:
    raw, (first, _), _ = fetched
    assert (first.failed, first.disallowed) == (0, 1), "obeying robots.txt is no failure"
    assert not list(raw.glob("draft-*")) and not list(raw.glob("*infographic*"))
    log = FetchLog(raw / "fetch_log.jsonl")
    refused = log.latest("https://www.who.int/private/publications/i/item/draft-guideline-on-antimicrobial-stewardship")
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)
    assert log.latest("https://www.who.int/publications/i/item/hand-hygiene-poster-infographic") is None


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list, list[str]]) -> None:
    _, (_, second), _ = fetched
    assert (second.downloaded, second.skipped) == (0, len(PAGES) + len(PDFS) + len(IRIS))


def test_limit_caps_the_documents_in_place(base: str, tmp_path: Path) -> None:
    """The first URL in order is refused by robots.txt; the crawl goes on until three documents are in."""
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = who.fetch(OrganisationConfig(limit=3), tmp_path, client)
    assert (summary.downloaded, summary.disallowed, summary.failed) == (3, 1, 0)
    assert len(list(tmp_path.glob("*.*ml"))) + len(list(tmp_path.glob("*.pdf"))) == 3


def test_unknown_organisation_is_a_counted_failure(base: str, tmp_path: Path) -> None:
    config = GuidelinesConfig(organisations={"nowhere": OrganisationConfig()})
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = guidelines.fetch(config, tmp_path, client)
    assert summary.failed == 1
    assert "nowhere: unknown guideline organisation" in summary.errors[0]


# --- parse ---------------------------------------------------------------------------------------------------------


def test_parsed_pages_have_ids_licence_and_canonical_urls(documents: dict) -> None:
    document = documents["guidelines/who:management-of-severe-malaria-in-children"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "who", "CC-BY-NC-SA-3.0-IGO")
    assert document.url == "https://www.who.int/publications/i/item/management-of-severe-malaria-in-children"
    assert document.title == "Management of severe malaria in children"
    assert document.date == "2022-09-12"
    assert document.lang is None
    assert document.meta == {
        "organisation": "who",
        "format": "html",
        "redistributable": True,
        "file": "management-of-severe-malaria-in-children.html",
    }
    assert document.text.startswith("# Management of severe malaria in children\n")
    assert "| Below 20 kg | 3 mg/kg |" in document.text
    assert "cookie" not in document.text.lower()
    assert "Share on" not in document.text


def test_every_fetched_file_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/who:{slug}" for slug in PAGES | PDFS | IRIS}


def test_parsed_pdfs_have_pages_and_no_running_header(documents: dict) -> None:
    document = documents["guidelines/who:ipc-in-primary-care-clinics"]
    assert document.meta["format"] == "pdf" and document.meta["pages"] == 5
    assert document.title == "Infection prevention and control in primary care clinics"
    assert document.url == "https://www.who.int/publications/m/item/ipc-in-primary-care-clinics.pdf", "from the log"
    assert "interim guidance" not in document.text, "the running header (the subtitle is capitalised)"
    assert "\n## 2. Standard precautions\n" in document.text
    assert "- Wear gloves when touching blood" in document.text


def test_windows_1252_page_keeps_its_accents(documents: dict) -> None:
    text = documents["guidelines/who:oral-rehydration-and-zinc-for-acute-diarrhoea"].text
    assert "Dr Hélène Dubé and Prof. Jürgen Müller" in text
    assert "aged 1–59 months" in text


def test_planted_junk_and_french_pages_reach_curate(documents: dict) -> None:
    junk = documents["guidelines/who:guideline-on-safe-injection-practices"]
    assert len(junk.text.split()) < 25
    french = documents["guidelines/who:hygiene-des-mains-en-soins-ambulatoires"]
    assert "Les mains des soignants" in french.text


def test_pdf_is_recognised_by_its_bytes_whatever_the_name(mirror: Path) -> None:
    data = (mirror / "www.who.int" / "publications" / "m" / "item" / "ipc-in-primary-care-clinics.pdf").read_bytes()
    (document,) = who.parse(io.BytesIO(data), "raw/guidelines/who/ipc-in-primary-care-clinics.html")
    assert document.meta["format"] == "pdf"


def test_damaged_pdf_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"broken\.pdf: not a PDF"):
        list(who.parse(io.BytesIO(b"<html>Not found</html>"), "raw/guidelines/who/broken.pdf"))


def test_organisation_is_taken_from_the_folder() -> None:
    with pytest.raises(ParseError, match="unknown guideline organisation 'nowhere'"):
        guidelines.parse(io.BytesIO(b"<html></html>"), "raw/guidelines/nowhere/ng136.html")
    (document,) = guidelines.parse(
        io.BytesIO(
            b"<html><body><article><p>" + b"Drink clean water every day. " * 20 + b"</p></article></body></html>"
        ),
        "page.html",
        organisation="who",
    )
    assert document.id == "guidelines/who:page"


# --- IRIS ------------------------------------------------------------------------------------------------------------

BUNDLE = "raw/guidelines/who/9789240100009-eng.json"


def search_items(mirror: Path) -> list[dict]:
    """The items of the stand-in's search pages, in order, with their bundles embedded (from the mirror's files)."""
    folder = mirror / "iris.who.int" / "server" / "api" / "discover" / "search"
    items = []
    for path in sorted(folder.glob("objects?*")):  # `page=0` sorts before `page=1`
        result = json.loads(path.read_text())["_embedded"]["searchResult"]
        items += [found["_embedded"]["indexableObject"] for found in result["_embedded"]["objects"]]
    return items


def files(item: dict, bundle: str) -> list[dict]:
    (kept,) = [entry for entry in item["_embedded"]["bundles"]["_embedded"]["bundles"] if entry["name"] == bundle]
    return kept["_embedded"]["bitstreams"]["_embedded"]["bitstreams"]


def mirror_path(href: str) -> str:
    return href.removeprefix("https:/")


def iris_fetch(base: str, raw: Path, limit: int | None = None) -> tuple[object, list[str]]:
    start = len(Recorder.requests)
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = who.fetch(OrganisationConfig(limit=limit), raw, client)
    return summary, Recorder.requests[start:]


def iris_bundle(item: str, pdf: str) -> io.BytesIO:
    responses = [
        {"url": "https://iris.who.int/server/api/core/items/1", "body": item},
        {"url": "https://iris.who.int/server/api/core/bitstreams/2/content", "body": pdf},
    ]
    data = {"format": site.BUNDLE_FORMAT, "url": responses[1]["url"], "responses": responses}
    return io.BytesIO(json.dumps(data).encode())


def test_who_is_redistributable_non_commercially_and_collected_both_ways() -> None:
    assert (who.LICENSE, who.REDISTRIBUTABLE, who.COLLECTABLE) == ("CC-BY-NC-SA-3.0-IGO", True, True)
    assert who.PATHS == ("sitemaps", "iris")


def test_iris_mirror_keeps_dspace_robots_rules_that_leave_the_rest_api_open(mirror: Path) -> None:
    rules = Protego.parse((mirror / "iris.who.int" / "robots.txt").read_text())
    assert rules.can_fetch("https://iris.who.int/server/api/discover/search/objects?query=guideline", "test")
    assert not rules.can_fetch("https://iris.who.int/search?query=guideline", "test")
    assert query_file(Path(SEARCH), who.IRIS_QUERY).name in {
        path.name for path in (mirror / SEARCH[1:]).parent.iterdir()
    }


def test_iris_search_is_followed_through_its_next_links(fetched: tuple[Path, list, list[str]]) -> None:
    searches = [path for path in fetched[2] if path.startswith(SEARCH)]
    assert len(searches) == 2
    assert "page=0" in searches[0] and "size=100" in searches[0]
    assert "page=1" in searches[1] and "size=2" in searches[1], "the next link, with the page size the server used"


def test_iris_keeps_guideline_items_and_never_asks_for_the_meeting_report(
    mirror: Path, fetched: tuple[Path, list, list[str]]
) -> None:
    raw, _, requests = fetched
    (report,) = [item for item in search_items(mirror) if item["metadata"]["dc.type"][0]["value"] == "Meeting report"]
    asked = {mirror_path(report["_links"]["self"]["href"])}
    asked |= {mirror_path(bitstream["_links"]["content"]["href"]) for bitstream in files(report, "ORIGINAL")}
    assert not asked & set(requests)
    assert {path.stem for path in raw.glob("*.json")} == IRIS


def test_iris_fetches_the_pdfs_of_the_original_bundle_only(mirror: Path, fetched: tuple[Path, list, list[str]]) -> None:
    guidelines_ = [item for item in search_items(mirror) if item["metadata"]["dc.type"][0]["value"] != "Meeting report"]
    pdfs = {
        mirror_path(bitstream["_links"]["content"]["href"])
        for item in guidelines_
        for bitstream in files(item, "ORIGINAL")
        if bitstream["name"].endswith(".pdf")
    }
    assert len(pdfs) == len(IRIS)
    assert {path for path in fetched[2] if path.endswith("/content")} == pdfs, "no annex, thumbnail, text or licence"


def test_an_iris_bundle_holds_the_item_record_and_the_pdf(mirror: Path, fetched: tuple[Path, list, list[str]]) -> None:
    kept = json.loads((fetched[0] / "9789240100002-eng.json").read_text())
    item, pdf = kept["responses"]
    assert json.loads(item["body"])["handle"] == "10665/380003"
    served = mirror / "iris.who.int" / "bitstream" / "handle" / "10665" / "380003" / "9789240100002-eng.pdf"
    assert base64.b64decode(pdf["body"]) == served.read_bytes()
    assert kept["url"] == pdf["url"] and pdf["url"].endswith("/content")


def test_iris_documents_take_title_date_and_handle_url_from_the_item(documents: dict) -> None:
    document = documents["guidelines/who:9789240100003-eng"]
    assert document.title == "WHO recommendations on uterotonics for the prevention of postpartum haemorrhage"
    assert (document.url, document.date) == ("https://iris.who.int/handle/10665/380004", "2023-12-14")
    assert (document.source, document.subsource, document.license) == ("guidelines", "who", "CC-BY-NC-SA-3.0-IGO")
    assert document.meta == {
        "organisation": "who",
        "redistributable": True,
        "file": "9789240100003-eng.json",
        "format": "pdf",
        "pages": 4,
        "handle": "10665/380004",
    }
    assert "- Oxytocin 10 IU, intramuscularly or intravenously, is the recommended uterotonic." in document.text
    assert document.text.count("WHO guidelines") == 1, "the subtitle, and no running header"


def test_an_iris_bundle_is_fetched_again_once_its_item_changed(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-crawl asks for each item with the validators its bundle was fetched with: 304 keeps the bundle."""
    monkeypatch.setattr(who, "PATHS", ("iris",))
    copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    (snakebite,) = [item for item in search_items(copy) if item["handle"] == "10665/380003"]
    record = copy / mirror_path(snakebite["_links"]["self"]["href"])[1:]
    with serve(copy) as url, PoliteClient(user_agent="test", delay=0, mirror=url) as client:
        who.fetch(OrganisationConfig(), tmp_path / "raw", client)
        unchanged = who.fetch(OrganisationConfig(), tmp_path / "raw", client)
        record.write_text(record.read_text().replace("2024-09-06T07:20:11.908", "2025-01-10T12:00:00"))
        changed = who.fetch(OrganisationConfig(), tmp_path / "raw", client)
    assert (unchanged.downloaded, unchanged.skipped) == (0, len(IRIS))
    assert (changed.downloaded, changed.skipped) == (1, len(IRIS) - 1)
    kept = json.loads((tmp_path / "raw" / "9789240100002-eng.json").read_text())
    assert "2025-01-10T12:00:00+00:00" in kept["responses"][0]["body"]


def test_a_pdf_both_paths_find_is_fetched_once_through_iris(fetched: tuple[Path, list, list[str]]) -> None:
    raw, _, requests = fetched
    assert f"/iris.who.int/bitstream/handle/10665/380001/{BOTH}.pdf" not in requests
    assert (raw / f"{BOTH}.json").is_file() and not (raw / f"{BOTH}.pdf").exists()


def test_the_sitemap_path_alone_collects_that_pdf_under_the_same_id(
    base: str, documents: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sitemaps' URLs in order start with IRIS's, so a limit of one fetches just that PDF."""
    monkeypatch.setattr(who, "PATHS", ("sitemaps",))
    summary, requests = iris_fetch(base, tmp_path, limit=1)
    assert not any(path.startswith(IRIS_API) for path in requests)
    assert summary.downloaded == 1
    with open(tmp_path / f"{BOTH}.pdf", "rb") as stream:
        (document,) = who.parse(stream, str(tmp_path / f"{BOTH}.pdf"))
    assert document.id == f"guidelines/who:{BOTH}"
    assert document.text == documents[f"guidelines/who:{BOTH}"].text


def test_the_iris_path_alone_asks_nothing_of_www_who_int(base: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(who, "PATHS", ("iris",))
    summary, requests = iris_fetch(base, tmp_path)
    assert (summary.downloaded, summary.failed, summary.disallowed) == (len(IRIS), 0, 0)
    assert not any(path.startswith("/www.who.int/") for path in requests)
    assert {path.name for path in tmp_path.iterdir()} == {f"{stem}.json" for stem in IRIS} | {"fetch_log.jsonl"}


def test_an_iris_limit_ends_the_search_early(base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(who, "PATHS", ("iris",))
    summary, requests = iris_fetch(base, tmp_path, limit=1)
    assert summary.downloaded == 1
    assert len([path for path in requests if path.startswith(SEARCH)]) == 1
    assert [path.stem for path in tmp_path.glob("*.json")] == [BOTH]


def test_a_limit_is_shared_by_both_paths_the_sitemaps_first(mirror: Path, tmp_path: Path) -> None:
    """The recipe's `url` names a sitemap of one page; the second document of the limit comes from IRIS."""
    copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    page = "https://www.who.int/publications/i/item/management-of-severe-malaria-in-children"
    (copy / "www.who.int" / "sitemap-one.xml").write_text(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{page}</loc></url></urlset>'
    )
    config = OrganisationConfig(url="https://www.who.int/sitemap-one.xml", limit=2)
    with serve(copy) as url, PoliteClient(user_agent="test", delay=0, mirror=url) as client:
        summary = who.fetch(config, tmp_path / "raw", client)
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert sorted(path.name for path in (tmp_path / "raw").glob("*.*ml")) == [
        "management-of-severe-malaria-in-children.html"
    ]
    assert [path.stem for path in (tmp_path / "raw").glob("*.json")] == [BOTH]


def test_an_error_page_served_as_an_iris_pdf_is_a_failure_and_leaves_no_bundle(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(who, "PATHS", ("iris",))
    copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    (snakebite,) = [item for item in search_items(copy) if item["handle"] == "10665/380003"]
    content = copy / mirror_path(files(snakebite, "ORIGINAL")[0]["_links"]["content"]["href"])[1:]
    content.write_bytes(b"<!DOCTYPE html><html><body>Service unavailable</body></html>")
    with serve(copy) as url, PoliteClient(user_agent="test", delay=0, mirror=url) as client:
        summary = who.fetch(OrganisationConfig(), tmp_path / "raw", client)
    assert (summary.downloaded, summary.failed) == (len(IRIS) - 1, 1)
    assert "expected pdf" in summary.errors[0]
    assert not (tmp_path / "raw" / "9789240100002-eng.json").exists()


def test_an_iris_search_page_that_is_no_search_result_is_a_failure(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(who, "PATHS", ("iris",))
    copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    (copy / query_file(Path(SEARCH[1:]), who.IRIS_QUERY)).write_text('{"message": "Internal Server Error"}')
    with serve(copy) as url, PoliteClient(user_agent="test", delay=0, mirror=url) as client:
        summary = who.fetch(OrganisationConfig(), tmp_path / "raw", client)
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "IRIS search failed: not a DSpace search result" in summary.errors[0]


@pytest.mark.parametrize(
    ("types", "kept"),
    [
        (["Guideline"], True),
        ([" guidelines "], True),
        (["Technical document", "Guidelines"], True),
        (["Meeting report"], False),
        (["Guideline development plan"], False),
        ([], False),
    ],
)
def test_an_item_is_a_guideline_by_its_type(types: list[str], kept: bool) -> None:
    assert who.is_guideline({"metadata": {"dc.type": [{"value": value} for value in types]}}) is kept


def test_only_the_pdfs_of_the_original_bundle_are_taken() -> None:
    def bitstream(name: str) -> dict:
        return {
            "name": name,
            "_links": {"content": {"href": f"https://iris.who.int/server/api/core/bitstreams/{name}"}},
        }

    def bundle(name: str, *names: str) -> dict:
        listed = [bitstream(file) for file in names]
        return {"name": name, "_embedded": {"bitstreams": {"_embedded": {"bitstreams": listed}}}}

    item = {
        "handle": "10665/1",
        "_links": {"self": {"href": "https://iris.who.int/server/api/core/items/1"}},
        "_embedded": {
            "bundles": {
                "_embedded": {
                    "bundles": [
                        bundle("ORIGINAL", "Annex 2.xlsx", "Main report.PDF"),
                        bundle("TEXT", "Main report.PDF.txt"),
                        bundle("THUMBNAIL", "Main report.PDF.jpg"),
                        bundle("LICENSE", "license.pdf"),
                    ]
                }
            }
        },
    }
    (pdf,) = who.item_pdfs(item)
    assert pdf.content_url.endswith("/Main report.PDF")
    assert pdf.legacy_url == "https://iris.who.int/bitstream/handle/10665/1/Main%20report.PDF"
    assert site.file_names([pdf.legacy_url])[pdf.legacy_url] == "Main-report.pdf", "the name the sitemap path gives"


def test_a_truncated_iris_bundle_raises_parse_error_naming_the_file(fetched: tuple[Path, list, list[str]]) -> None:
    data = (fetched[0] / f"{BOTH}.json").read_bytes()
    with pytest.raises(ParseError, match=r"9789240100009-eng\.json: not a bundle"):
        list(who.parse(io.BytesIO(data[: len(data) // 3]), BUNDLE))


def test_an_html_error_page_saved_as_an_iris_bundle_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"9789240100009-eng\.json: not a bundle"):
        list(who.parse(io.BytesIO(b"<html><head><title>404 Not Found</title></head></html>"), BUNDLE))


def test_an_iris_bundle_with_a_broken_part_raises_parse_error_naming_the_file() -> None:
    pdf = base64.b64encode(b"<html>Not found</html>").decode()
    with pytest.raises(ParseError, match=r"9789240100009-eng\.json: not a PDF"):
        list(who.parse(iris_bundle('{"handle": "10665/1"}', pdf), BUNDLE))
    with pytest.raises(ParseError, match=r"9789240100009-eng\.json: answer 2: not a base64-encoded PDF"):
        list(who.parse(iris_bundle('{"handle": "10665/1"}', "%PDF-1.7 raw bytes"), BUNDLE))
    with pytest.raises(ParseError, match=r"9789240100009-eng\.json: https://iris\.who\.int/.*/items/1: not JSON"):
        list(who.parse(iris_bundle("<html>Error</html>", pdf), BUNDLE))


def test_a_soft_404_at_a_publication_url_is_marked_as_an_error_page_for_curate_to_drop(documents: dict) -> None:
    soft_404 = documents["guidelines/who:mental-health-gap-action-programme-guideline"]
    assert soft_404.meta["error_page"] == "page not found"
    assert not any(doc.meta.get("error_page") for key, doc in documents.items() if key != soft_404.id)
