"""The machinery every guideline organisation shares: links and index pages, file names, bundles of API responses,
conditional re-crawls, and the document record."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import site
from gap_replay.sources.mirror.kit import write
from gap_replay.sources.mirror.server import serve

HOST = "https://guides.example.org"


def page(*links: str) -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return f"<html><body><nav><a href='/'>Home</a></nav><ul>{anchors}</ul></body></html>"


GUIDE = "<html><head><title>Fever in infants</title></head><body><main><h1>Fever in infants</h1>{}</main></body></html>"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site") / "guides.example.org"
    write(root / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    write(root / "a-z" / "index.html", page("/a-z/b/", "/guide/fever/", "/guide/asthma/", "/about/", "/private/x/"))
    write(root / "a-z" / "b" / "index.html", page("/guide/bronchiolitis/", "/a-z/", "mailto:x@y.org", "#top"))
    for slug in ("fever", "asthma", "bronchiolitis"):
        write(root / "guide" / slug / "index.html", GUIDE.format(f"<p>Guidance on {slug}. " * 30 + "</p>"))
    return root.parent


@pytest.fixture(scope="module")
def base(mirror) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


LISTING = site.Listing(
    start=(f"{HOST}/a-z/",),
    documents=(r"^https://guides\.example\.org/guide/[a-z-]+/$",),
    follow=(r"^https://guides\.example\.org/a-z/[a-z]/$", r"/private/"),
    exclude=(r"/guide/asthma/",),
)


def test_page_links_are_absolute_without_fragments_or_mail_links_in_page_order():
    html = b'<base href="https://x.org/dir/"><a href="a.html#s2">a</a><a href="mailto:q@x.org">m</a><a href="/b">b</a>'
    assert site.page_links(html, "https://ignored.org/") == ["https://x.org/dir/a.html", "https://x.org/b"]
    assert site.page_links(b"", "https://x.org/") == []


def test_an_index_walk_collects_documents_follows_letters_and_skips_what_is_excluded_or_disallowed(base):
    summary = FetchSummary("guidelines/example")
    with PoliteClient("test", delay=0, mirror=base) as client:
        urls = site.listing_urls(client, LISTING, summary)
    assert urls == [f"{HOST}/guide/bronchiolitis/", f"{HOST}/guide/fever/"]
    assert (summary.failed, summary.disallowed) == (0, 1), "the /private/ index page is never requested"


def test_an_index_walk_that_finds_nothing_is_a_failure(base):
    summary = FetchSummary("guidelines/example")
    empty = site.Listing(start=(f"{HOST}/a-z/",), documents=(r"/no-such-thing/",))
    with PoliteClient("test", delay=0, mirror=base) as client:
        assert site.listing_urls(client, empty, summary) == []
    assert summary.failed == 1 and "link to no document" in summary.errors[0]


def test_a_crawl_downloads_once_and_revalidates_on_the_next_run(base, tmp_path):
    with PoliteClient("test", delay=0, mirror=base) as client:
        first = site.crawl_listing("example", LISTING, None, tmp_path, client)
        again = site.crawl_listing("example", LISTING, None, tmp_path, client)
        capped = site.crawl_listing("example", LISTING, 1, tmp_path / "capped", client)
    assert (first.downloaded, again.downloaded, again.skipped) == (2, 0, 2), "304 Not Modified on the re-crawl"
    assert sorted(path.name for path in tmp_path.glob("*.html")) == ["bronchiolitis.html", "fever.html"]
    assert capped.downloaded == 1


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://x.org/dosage/amoxicillin.html", "amoxicillin.html"),
        ("https://x.org/pages/fever.htm", "fever.html"),
        ("https://x.org/files/Guide%20v2.PDF", "Guide-v2.pdf"),
        ("https://x.org/guide/fever/", "fever.html"),
        ("https://x.org/", "index.html"),
    ],
)
def test_a_raw_file_is_named_after_the_urls_last_segment_with_one_extension(url, name):
    assert site.file_names([url]) == {url: name}


def test_names_that_clash_get_a_hash_of_their_url():
    names = site.file_names(["https://a.org/x/fever/", "https://a.org/y/fever/"])
    assert names["https://a.org/x/fever/"] == "fever.html"
    assert names["https://a.org/y/fever/"].startswith("fever-") and names["https://a.org/y/fever/"].endswith(".html")


def test_a_bundle_keeps_its_responses_verbatim_and_is_logged_under_the_documents_url(base, tmp_path):
    log = FetchLog(tmp_path / "fetch_log.jsonl")
    dest = tmp_path / "fever.json"
    with PoliteClient("test", delay=0, mirror=base) as client:
        pages = [client.get(f"{HOST}/guide/fever/"), client.get(f"{HOST}/a-z/")]
    assert not site.bundle_current(log, f"{HOST}/guide/fever/", dest)
    record = site.save_bundle(f"{HOST}/guide/fever/", pages, dest, log)
    assert site.bundle_current(log, f"{HOST}/guide/fever/", dest)
    responses = site.read_bundle(dest.read_bytes(), str(dest))
    assert [response["url"] for response in responses] == [f"{HOST}/guide/fever/", f"{HOST}/a-z/"]
    assert responses[0]["body"].encode() == pages[0].content
    assert (record.path, record.ok) == ("fever.json", True)
    dest.write_bytes(dest.read_bytes() + b" ")
    assert not site.bundle_current(log, f"{HOST}/guide/fever/", dest), "changed since it was logged"


@pytest.mark.parametrize(
    "data",
    [
        b'{"format": "other"}',
        b"<html>Service unavailable</html>",
        b'{"format": ',
        b'{"format": "gap-replay-bundle/1", "responses": "none"}',
        b'{"format": "gap-replay-bundle/1", "responses": [{"url": "u"}]}',
    ],
)
def test_a_file_that_is_not_a_bundle_is_a_parse_error_naming_it(data):
    with pytest.raises(ParseError, match=r"^raw/guidelines/x/a\.json: not a bundle of API responses"):
        site.read_bundle(data, "raw/guidelines/x/a.json")


def test_a_bundled_body_that_is_not_json_is_a_parse_error_naming_the_file_and_url():
    response = {"url": "https://api.example.org/g/1", "body": "<html>Busy</html>"}
    with pytest.raises(ParseError, match=r"^a\.json: https://api\.example\.org/g/1: not JSON"):
        site.response_json(response, "a.json")
    assert site.response_json({"url": "u", "body": json.dumps([1, 2])}, "a.json") == [1, 2]


def test_every_guideline_document_carries_its_organisation_licence_and_redistribution():
    doc = site.make_document("rch", "fever", "Text.", license="RCH-terms", redistributable=False, meta={"format": "x"})
    assert (doc.id, doc.source, doc.subsource, doc.license) == (
        "guidelines/rch:fever",
        "guidelines",
        "rch",
        "RCH-terms",
    )
    assert doc.meta == {"organisation": "rch", "redistributable": False, "format": "x"}
    assert site.slug_of("raw/guidelines/rch/Fever_in_infants.html") == "Fever_in_infants"


def test_a_raw_file_knows_the_url_it_was_fetched_from_through_the_fetch_log_beside_it(base, tmp_path):
    with PoliteClient("test", delay=0, mirror=base) as client:
        site.crawl_listing("example", LISTING, None, tmp_path, client)
    assert site.fetched_url(str(tmp_path / "fever.html")) == f"{HOST}/guide/fever/"
    assert site.fetched_url(str(tmp_path / "unknown.pdf")) is None
    assert site.fetched_url(str(tmp_path / "elsewhere" / "fever.html")) is None, "no log there"


def test_a_page_a_site_served_instead_of_the_document_is_marked_for_curate_to_drop():
    page = b"<html><head><title>Page not found</title></head><body><h1>Page not found</h1>"
    page += b"<p>Sorry, the page you requested could not be found. It may have moved.</p></body></html>"
    (document,) = site.parse_file(io.BytesIO(page), "raw/guidelines/x/gone.html", "x", "terms", False)
    assert document.meta["error_page"] == "page not found"
    guide = GUIDE.format("<p>Children whose fever is not found to have a source need a urine test. " * 20 + "</p>")
    (document,) = site.parse_file(io.BytesIO(guide.encode()), "raw/guidelines/x/fever.html", "x", "terms", False)
    assert "error_page" not in document.meta
