"""CDC (Centers for Disease Control and Prevention): guidance PDFs from CDC Stacks, and guidance pages through the
CDC Content Services API.

Collected, and how it is found:
- CDC Stacks (stacks.cdc.gov), CDC's digital repository: the items of its "Guidelines and Recommendations"
  collection (`cdc:100`). The collection listing (`/cbrowse`, 100 rows a page, a "Next" link to the following
  `start`) is walked to the item pages (`/view/cdc/<id>`), and each item's main file, `cdc_<id>_DS1.pdf`, is
  downloaded. Facet and sort links of the listing are not crawled (robots.txt disallows facets anyway). The listing
  and item pages are read as served, without scripts (the reference corpus drove a browser over the same pages);
  should the live listing ever need scripts to show its rows, the walk finds no PDF and says so as a failure.
- Guidance pages through the Content Services API v2 (tools.cdc.gov/api/v2/resources/media, documented at
  tools.cdc.gov/api/docs/info.aspx): a media search (`API_QUERY`), paged with `pagenum` up to the response's
  `meta.pagination.totalPages`. For each HTML media item, its record (`/media/<id>.json`) and its syndicated content
  (`/media/<id>/syndicate.json`, the page's content HTML) are kept together as one bundle, `media-<id>.json`,
  fetched again when the API reports a new `dateModified`.

Not collected: Stacks records without a PDF (records that link to a website), an item's supporting files (`_DS2`
and on: data tables, appendices), and API media other than HTML pages (videos, images, infographics, podcasts,
widgets), which carry no guideline text.

Licence: works of the US federal government are in the public domain (17 U.S.C. 105), CDC's pages and publications
among them: `public-domain-us-gov`, redistributable. Stacks also keeps some works by other publishers (journal
articles with CDC authors, partner reports) under their own copyright; the Guidelines and Recommendations collection
is CDC's own guidance, and item rights statements are not checked one by one.

Documents: Stacks PDFs carry the item page as URL (from the file name, `cdc_<id>_DS1.pdf`) and the PDF's creation
date; API pages carry the page's title, its www.cdc.gov URL (`sourceUrl`) and `datePublished`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gap_replay.documents import Document
from gap_replay.http import FetchLog, HttpError, Page, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.extract import with_title_heading
from gap_replay.sources.guidelines.fragments import fragment_to_markdown

KEY = "cdc"
NAME = "Centers for Disease Control and Prevention"
LICENSE = "public-domain-us-gov"
REDISTRIBUTABLE = True
COLLECTABLE = True
DISCOVERY = (
    "CDC Stacks collection listing (Guidelines and Recommendations) to item PDFs; Content Services API v2 media "
    "search to syndicated HTML pages"
)

# CDC Stacks: the Guidelines and Recommendations collection, walked page by page to its items' main PDFs.
STACKS = "https://stacks.cdc.gov"
STACKS_LISTING = site.Listing(
    start=(f"{STACKS}/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100&start=0",),
    documents=(r"^https://stacks\.cdc\.gov/view/cdc/(\d+)/cdc_\1_DS1\.pdf$",),
    follow=(r"^https://stacks\.cdc\.gov/cbrowse\?.*\bstart=\d+", r"^https://stacks\.cdc\.gov/view/cdc/\d+/?$"),
    exclude=(r"[?&](fq|sort)=",),
)
STACKS_FILE = re.compile(r"^cdc_(\d+)_DS\d+$")

# Content Services API v2: a media search, paged; HTML media only.
API = "https://tools.cdc.gov/api/v2/resources/media"
API_QUERY = {"languageisocode": "eng", "max": "100", "q": "clinical guidance", "sourceacronym": "CDC"}
API_START = f"{API}.json?{urlencode(API_QUERY)}"
KEEP_MEDIA_TYPES = frozenset({"HTML"})
MAX_API_PAGES = 500


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download Stacks guidance PDFs, then API guidance pages, into `raw_dir` (`raw/guidelines/cdc`), at most
    `config.limit` in all. `config.url` replaces the start of the path whose host it names (Stacks or the API)."""
    listing, api_start = starts(config.url)
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    pdfs = site.listing_urls(client, listing, summary)
    site.download_documents(KEY, pdfs, config.limit, raw_dir, client, summary)
    log = fetch_log(raw_dir)
    for media in media_items(client, api_start, summary):
        if config.limit is not None and summary.downloaded + summary.skipped >= config.limit:
            break
        fetch_media(client, media, raw_dir, log, summary)
    return summary


def starts(url: str | None) -> tuple[site.Listing, str]:
    """The Stacks listing and the API search to start from: `url` replaces the one on its host."""
    if url and urlsplit(url).hostname == urlsplit(API).hostname:
        return STACKS_LISTING, url
    if url:
        return replace(STACKS_LISTING, start=(url,)), API_START
    return STACKS_LISTING, API_START


# --- Content Services API ------------------------------------------------------------------------------------------


def page_url(start: str, number: int) -> str:
    """The API search `start` asking for result page `number` (`pagenum`, counted from 1)."""
    parts = urlsplit(start)
    query = [(name, value) for name, value in parse_qsl(parts.query) if name != "pagenum"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("pagenum", str(number))])))


def wanted(media: dict[str, Any]) -> bool:
    """Whether an API media item is a guidance page: an HTML page (not a video, image, widget...) with a numeric id,
    which names its raw file."""
    return media.get("mediaType") in KEEP_MEDIA_TYPES and str(media.get("id", "")).isdigit()


def media_items(client: PoliteClient, start: str, summary: FetchSummary) -> list[dict[str, Any]]:
    """The wanted media items of every result page of the API search `start`; a page that fails ends the walk and
    is counted in `summary`."""
    items: list[dict[str, Any]] = []
    for number in range(1, MAX_API_PAGES + 1):
        url = page_url(start, number)
        try:
            body = site.get_json(client, url)
        except RobotsDisallowed:
            summary.disallowed += 1
            break
        except HttpError as error:
            summary.fail(url, f"API page failed: {error.reason}")
            break
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            summary.fail(url, "API page has no list of results")
            break
        items += [media for media in results if isinstance(media, dict) and wanted(media)]
        pagination = (body.get("meta") or {}).get("pagination") or {}
        if not results or number >= int(pagination.get("totalPages") or 0):
            break
    return items


def media_urls(media_id: object) -> tuple[str, str]:
    """The API URLs of a media item's record and of its syndicated content."""
    return f"{API}/{media_id}.json", f"{API}/{media_id}/syndicate.json"


def fetch_media(
    client: PoliteClient, media: dict[str, Any], raw_dir: Path, log: FetchLog, summary: FetchSummary
) -> None:
    """Keep a media item's record and syndicated content as the bundle `media-<id>.json`, unless the bundle in
    place is intact and as recent as the API says (`dateModified`); counted in `summary`."""
    record_url, content_url = media_urls(media["id"])
    dest = raw_dir / f"media-{media['id']}.json"
    if site.bundle_current(log, record_url, dest) and bundled_modified(dest) == media.get("dateModified"):
        summary.skipped += 1
        return
    try:
        pages = [json_page(client, record_url), json_page(client, content_url)]
    except RobotsDisallowed:
        summary.disallowed += 1
        return
    except HttpError as error:
        summary.fail(error.url, error.reason)
        return
    site.save_bundle(record_url, pages, dest, log, summary)


def json_page(client: PoliteClient, url: str) -> Page:
    """An API response whose body is JSON; HttpError when it is not (an error page served with status 200)."""
    page = client.get(url)
    try:
        json.loads(page.content)
    except ValueError as error:
        raise HttpError(url, page.status, f"not JSON ({error})") from None
    return page


def bundled_modified(dest: Path) -> str | None:
    """The `dateModified` of the media record in the bundle at `dest`; None when it cannot be read."""
    try:
        responses = site.read_bundle(dest.read_bytes(), dest.name)
        return site.response_json(responses[0], dest.name)["results"][0].get("dateModified")
    except (OSError, ParseError, IndexError, KeyError, TypeError, AttributeError):
        return None


# --- parsing ---------------------------------------------------------------------------------------------------------


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw CDC file as a Document: an API bundle (`.json`) or a Stacks PDF."""
    data = stream.read()
    if name.lower().endswith(".json"):
        return parse_bundle(data, name)
    return parse_pdf(data, name)


def parse_bundle(data: bytes, name: str) -> Iterator[Document]:
    """The guidance page of an API bundle: the record's name, URL and date, the syndicated content as Markdown."""
    responses = site.read_bundle(data, name)
    if len(responses) != 2:
        raise ParseError(
            f"{name}: expected a media record and its syndicated content, found {len(responses)} responses"
        )
    record, content = (site.response_json(response, name) for response in responses)
    try:
        media = record["results"][0]
        title, html = media["name"], content["results"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ParseError(f"{name}: not a media record and syndicated content of the Content Services API") from None
    text = with_title_heading(title, fragment_to_markdown(html))
    if not text.strip():
        return
    yield site.make_document(
        KEY,
        site.slug_of(name),
        text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=title,
        url=media.get("sourceUrl"),
        date=(media.get("datePublished") or "")[:10] or None,
        meta={"file": PurePosixPath(name.replace("\\", "/")).name, "format": "api", "media_id": media.get("id")},
    )


def parse_pdf(data: bytes, name: str) -> Iterator[Document]:
    """A Stacks PDF, with its item page as URL and the PDF's creation date."""
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(url=stacks_item_url(name), date=document.date)


def stacks_item_url(name: str) -> str | None:
    """The Stacks item page of a file named as Stacks names an item's files (`cdc_<id>_DS1.pdf`)."""
    match = STACKS_FILE.match(site.slug_of(name))
    return f"{STACKS}/view/cdc/{match.group(1)}" if match else None
