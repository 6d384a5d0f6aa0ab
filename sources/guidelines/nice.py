"""NICE (National Institute for Health and Care Excellence, UK): published guidance, one document per product.

What is collected: every published guidance product (NICE guidelines NG, clinical guidelines CG, public health PH,
social care SC, quality standards QS, technology appraisals TA, highly specialised technologies HST, interventional
procedures IPG, medical technologies MTG, diagnostics DG, health technology guidance HTG), as one document: the
product's overview, then each of its chapters in order, chapter titles as `##` headings, numbered recommendations
(1.1.1 ...) kept. Date: the last update NICE shows (the product's major-modification date), else its published date.

Two discovery paths, both storing one raw bundle per product (`site.save_bundle`, `<ref>.json`: the product first,
then its chapters), which `parse` reads whichever path made it:
- With an API key in `NICE_API_KEY` (never logged; sent as the `API-Key` header, as NICE's syndication API guide,
  corporate document ECD10, and NICE's own feed clients do), the syndication API: the guidance index
  (`/services/guidance/index/current.json`, `IndexItems` with `GuidanceNumber`), then per product its record and
  chapter records in the HAL JSON of NICE's publications feed (`/feeds/product/{ref}` with a chapter list,
  `/feeds/product/{ref}/part/{n}/chapter/{slug}` with the chapter XHTML in `Content`), asked for with ECD10's
  `.json` representation suffix. The record shapes are those of NICE's saved feed responses; the index fields come
  from public client code; that the product records are served under the API host at these paths could not be
  verified without a key.
- Without a key, the public pages: the published-guidance listing (`/guidance/published`, paginated with `ps`/`pa`),
  each product's overview page `/guidance/<ref>` and the chapter pages it links, `/guidance/<ref>/chapter/<Slug>`.

Keep/stop rules: a product reference must be a guidance programme's (`NG212`; in-development `GID-...` references,
corporate and process documents are skipped); a product record not `Published`, or an overview page saying the
guidance was withdrawn or replaced, is skipped; only pagination links of the listing are followed, not its
filters. robots.txt is obeyed: a chapter page it disallows is counted as disallowed and left out of the bundle.

Licence: NICE content is reusable under the NICE UK Open Content Licence (reuse in the UK, with attribution and
without implying endorsement; use outside the UK and some commercial uses need a licence from NICE; third-party
content such as the BNF is excluded). The reference corpus (Meditron's GAP-Replay) released NICE, so documents are
marked redistributable. The licence term is stated from NICE's published reuse terms; its current wording was not
verified here.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import HttpError, Page, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.fragments import fragment_to_markdown

logger = logging.getLogger(__name__)

KEY = "nice"
NAME = "National Institute for Health and Care Excellence"
LICENSE = "NICE-UK-open-content-licence"
REDISTRIBUTABLE = True
COLLECTABLE = True
DISCOVERY = (
    "Syndication API (guidance index, product and chapter records) with NICE_API_KEY; "
    "else the published-guidance listing, overview and chapter pages"
)

# --- site knowledge ----------------------------------------------------------------------------------------------

PRODUCT_TYPES = ("NG", "CG", "PH", "SC", "QS", "TA", "HST", "IPG", "MTG", "DG", "HTG")  # guidance programmes
REFERENCE = re.compile(rf"(?i)^(?:{'|'.join(PRODUCT_TYPES)})\d+$")
PRODUCT_PAGE = "https://www.nice.org.uk/guidance/{ref}"  # canonical URL, `ref` lower case

# The syndication API (ECD10): the key as a header, JSON asked for by the Accept header and the `.json` suffix.
API_KEY_ENV = "NICE_API_KEY"
API_KEY_HEADER = "API-Key"
API_HEADERS = {"Accept": "application/json"}
API_HOST = "api.nice.org.uk"
INDEX_URL = "https://api.nice.org.uk/services/guidance/index/current.json"
PRODUCT_RECORD = "https://api.nice.org.uk/feeds/product/{ref}.json"
REPRESENTATION = ".json"  # appended to the feed's chapter links
PUBLISHED = "Published"  # ProductStatus of a product to collect
EMBEDDED = "_embedded"
CONTENT_PARTS = ("nice.publications:content-part-list2", "nice.publications:content-parts")
HTML_CONTENT = "nice.publications:html-content"
CHAPTER_INFO = "nice.publications:html-chapter-content-info"
OVERVIEW_SLUG = "overview"  # the overview is the product's `Summary`, not a chapter record

# The public pages.
LISTING = site.Listing(
    start=("https://www.nice.org.uk/guidance/published",),
    documents=(rf"(?i)^https://www\.nice\.org\.uk/guidance/(?:{'|'.join(PRODUCT_TYPES)})\d+$",),
    follow=(r"^https://www\.nice\.org\.uk/guidance/published\?ps=\d+&pa=\d+$",),  # pagination, not the filters
)
PRODUCT_URL = re.compile(r"(?i)^https://www\.nice\.org\.uk/guidance/([a-z]+\d+)/?$")
CHAPTER_LINK = r"(?i)^https://www\.nice\.org\.uk/guidance/{ref}/chapter/[^/?#]+$"
WITHDRAWN = re.compile(r"(?i)this guidance has been (?:withdrawn|updated and replaced by)")
TITLE_XPATH = "//main//h1"
METADATA_XPATH = '//ul[contains(concat(" ", normalize-space(@class), " "), " page-header__metadata ")]/li'
LAST_UPDATED_XPATH = f'{METADATA_XPATH}[starts-with(normalize-space(), "Last updated")]/time/@datetime'
PUBLISHED_XPATH = f'{METADATA_XPATH}[starts-with(normalize-space(), "Published")]/time/@datetime'
CONTENT_XPATH = '//div[contains(concat(" ", normalize-space(@class), " "), " chapter ")]'


@dataclass(frozen=True)
class Product:
    """A product to collect: its reference and the URL of its first response (API record or overview page)."""

    ref: str
    url: str


# A product's first response -> the responses of its bundle, or None when the product is not to be collected.
Gather = Callable[[Page], list[Page] | None]


# --- fetch -------------------------------------------------------------------------------------------------------


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download one bundle per NICE guidance product into `raw_dir` (`raw/guidelines/nice`): through the
    syndication API when `NICE_API_KEY` is set, else from the public pages; `config.url` replaces the start URL
    (the API index, or the listing's first page)."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    key = os.environ.get(API_KEY_ENV, "").strip()
    if key:
        headers = {**API_HEADERS, API_KEY_HEADER: key}
        products = api_products(client, config.url or INDEX_URL, headers, summary)
        gather: Gather = partial(_api_bundle, client, headers)
    else:
        headers = {}
        listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
        products = page_products(site.listing_urls(client, listing, summary))
        gather = partial(_page_bundle, client, summary)
    collect(products, gather, headers, config.limit, raw_dir, client, summary)
    return summary


def api_products(client: PoliteClient, index_url: str, headers: dict[str, str], summary: FetchSummary) -> list[Product]:
    """The guidance products the API index lists, by reference; a failed index is counted in `summary`."""
    try:
        index = site.get_json(client, index_url, headers=headers)
    except HttpError as error:
        summary.fail(index_url, f"guidance index failed: {error.reason}")
        return []
    items = index.get("IndexItems") if isinstance(index, dict) else None
    if not isinstance(items, list):
        summary.fail(index_url, "guidance index lists no IndexItems")
        return []
    refs = {str(item.get("GuidanceNumber") or "").strip() for item in items if isinstance(item, dict)}
    return [Product(ref.upper(), PRODUCT_RECORD.format(ref=ref.upper())) for ref in sorted(refs) if is_guidance(ref)]


def page_products(urls: Sequence[str]) -> list[Product]:
    """The products behind overview-page URLs from the listing."""
    products = []
    for url in urls:
        match = PRODUCT_URL.match(url)
        if match and is_guidance(match.group(1)):
            products.append(Product(match.group(1).upper(), url))
    return products


def is_guidance(ref: str) -> bool:
    """Whether a product reference belongs to a guidance programme (`NG212`, not `GID-NG10412` or `ECD10`)."""
    return bool(REFERENCE.match(ref))


def collect(
    products: Sequence[Product],
    gather: Gather,
    headers: dict[str, str],
    limit: int | None,
    raw_dir: Path,
    client: PoliteClient,
    summary: FetchSummary,
) -> None:
    """Bundle each product into `raw_dir/<ref>.json` until `limit` are in place; a bundle already there is asked
    for again conditionally (a 304 keeps it), and a product that fails is counted while the crawl goes on."""
    log = fetch_log(raw_dir)
    for product in products:
        if limit is not None and summary.downloaded + summary.skipped >= limit:
            break
        dest = raw_dir / f"{product.ref.lower()}.json"
        try:
            first = client.get(product.url, headers={**headers, **site.conditional_headers(log, product.url, dest)})
            if first.status == 304:
                summary.skipped += 1
                continue
            pages = gather(first)
        except RobotsDisallowed:
            summary.disallowed += 1
            continue
        except HttpError as error:
            summary.fail(product.url, error.reason)
            continue
        if pages is not None:
            site.save_bundle(product.url, pages, dest, log, summary)


def _api_bundle(client: PoliteClient, headers: dict[str, str], first: Page) -> list[Page] | None:
    """A product record and its chapter records; None when the product is not published (withdrawn)."""
    product = json.loads(site.json_page(first).content)
    if not isinstance(product, dict) or product.get("ProductStatus") != PUBLISHED:
        status = product.get("ProductStatus") if isinstance(product, dict) else None
        logger.info("%s: not collected, product status %s", first.url, status)
        return None
    chapters = []
    for url in chapter_records(product, first.url):
        chapters.append(site.json_page(client.get(url, headers=headers)))
    return [first, *chapters]


def chapter_records(product: dict[str, Any], base: str) -> list[str]:
    """The chapter-record URLs a product record lists, in order, without the overview (its `Summary`)."""
    urls: list[str] = []
    for part in _dig(product, EMBEDDED, CONTENT_PARTS[0], EMBEDDED, CONTENT_PARTS[1]) or []:
        for chapter in _dig(part, EMBEDDED, HTML_CONTENT, EMBEDDED, CHAPTER_INFO) or []:
            links = _dig(chapter, "_links", "self") or [{}]
            href = links[0].get("href") if isinstance(links[0], dict) else None
            if href and chapter.get("ChapterSlug") != OVERVIEW_SLUG:
                urls.append(urljoin(base, href) + REPRESENTATION)
    return urls


def _dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _page_bundle(client: PoliteClient, summary: FetchSummary, overview: Page) -> list[Page] | None:
    """An overview page and the chapter pages it links; None when the guidance is withdrawn. A chapter robots.txt
    disallows is counted and left out."""
    if WITHDRAWN.search(overview.text):
        logger.info("%s: not collected, the guidance is withdrawn", overview.url)
        return None
    match = PRODUCT_URL.match(overview.url)
    if match is None:
        raise HttpError(overview.url, overview.status, "not a guidance overview page")
    pattern = CHAPTER_LINK.format(ref=re.escape(match.group(1)))
    pages = [overview]
    for url in (link for link in site.page_links(overview.content, overview.url) if re.match(pattern, link)):
        try:
            pages.append(client.get(url))
        except RobotsDisallowed:
            summary.disallowed += 1
    return pages


# --- parse -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What a bundle says about its product."""

    ref: str
    title: str
    date: str | None
    product_type: str | None
    overview: str  # HTML fragment
    chapters: list[str]  # XHTML fragments, in order
    format: str


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """The Document of one product bundle, from the API or from the pages."""
    responses = site.read_bundle(stream.read(), name)
    if not responses:
        raise ParseError(f"{name}: empty bundle")
    api = API_HOST in str(responses[0].get("url") or "")
    product = _parse_api(responses, name) if api else _parse_pages(responses, name)
    text = document_text(product.title, product.overview, product.chapters)
    yield site.make_document(
        KEY,
        product.ref.lower(),
        text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=product.title,
        url=PRODUCT_PAGE.format(ref=product.ref.lower()),
        date=product.date,
        meta={
            "file": PurePosixPath(name.replace("\\", "/")).name,
            "format": product.format,
            "reference": product.ref,
            "product_type": product.product_type,
            "chapters": len(product.chapters),
        },
    )


def document_text(title: str, overview: str, chapters: Sequence[str]) -> str:
    """`# title`, `## Overview` with the overview, then each chapter under its own `##` title."""
    parts = [f"# {title}"]
    summary = fragment_to_markdown(overview, top_level=3)
    if summary:
        parts += ["## Overview", summary]
    parts += [text for text in (fragment_to_markdown(chapter) for chapter in chapters) if text]
    return "\n\n".join(parts) + "\n"


def _parse_api(responses: list[dict[str, Any]], name: str) -> Parsed:
    product = site.response_json(responses[0], name)
    if not isinstance(product, dict) or not product.get("Id") or not product.get("Title"):
        raise ParseError(f"{name}: {responses[0].get('url')}: not a NICE product record")
    chapters = []
    for response in responses[1:]:
        chapter = site.response_json(response, name)
        if not isinstance(chapter, dict) or not isinstance(chapter.get("Content"), str):
            raise ParseError(f"{name}: {response.get('url')}: not a NICE chapter record")
        chapters.append(chapter["Content"])
    date = product.get("LastMajorModificationDate") or product.get("PublishedDate")
    return Parsed(
        ref=str(product["Id"]).upper(),
        title=" ".join(str(product["Title"]).split()),
        date=str(date)[:10] if date else None,
        product_type=product.get("ProductTypeName"),
        overview=str(product.get("Summary") or ""),
        chapters=chapters,
        format="json",
    )


def _parse_pages(responses: list[dict[str, Any]], name: str) -> Parsed:
    overview = _html(responses[0], name)
    match = PRODUCT_URL.match(str(responses[0].get("url") or ""))
    title = " ".join(overview.xpath(f"string({TITLE_XPATH})").split())
    if match is None or not title:
        raise ParseError(f"{name}: {responses[0].get('url')}: not a NICE guidance overview page")
    dates = overview.xpath(LAST_UPDATED_XPATH) or overview.xpath(PUBLISHED_XPATH)
    kinds = overview.xpath(METADATA_XPATH)
    return Parsed(
        ref=match.group(1).upper(),
        title=title,
        date=dates[0][:10] if dates else None,
        product_type=" ".join(kinds[0].text_content().split()) if kinds else None,
        overview=_content(overview),
        chapters=[_content(_html(response, name)) for response in responses[1:]],
        format="html",
    )


def _html(response: dict[str, Any], name: str) -> lxml.html.HtmlElement:
    try:
        return lxml.html.fromstring(str(response.get("body") or ""))
    except (etree.ParserError, ValueError) as error:
        raise ParseError(f"{name}: {response.get('url')}: not an HTML page ({error})") from None


def _content(page: lxml.html.HtmlElement) -> str:
    """The page's guidance content (its chapter `div`) as an HTML fragment; empty when there is none."""
    found = page.xpath(CONTENT_XPATH)
    return lxml.html.tostring(found[0], encoding="unicode") if found else ""
