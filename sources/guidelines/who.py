"""WHO (World Health Organization): guideline pages and PDFs, found two ways (PATHS picks either or both).

1. Sitemaps: www.who.int's sitemaps (named by its robots.txt; the recipe's `url` overrides the start) list
   publication pages and PDFs, kept by URL pattern (INCLUDE / EXCLUDE). Pages are revalidated on re-crawls.
2. IRIS (iris.who.int), WHO's institutional repository, on DSpace 7, through its REST API:
   - a Discovery search, `/server/api/discover/search/objects` with IRIS_QUERY (`dsoType=ITEM`, sorted by
     accession date so that new items land on later pages, `embed=bundles/bitstreams` so that every item comes
     with its files), its pages (`_embedded.searchResult`) followed by their HAL `next` links while `page.number`
     is short of `page.totalPages` (the server may serve fewer results a page than asked);
   - items whose `dc.type` is one of IRIS_GUIDELINE_TYPES are kept (meeting reports, fact sheets, technical
     documents that the full-text query also finds are not);
   - each PDF of a kept item's ORIGINAL bundle (annexes in other formats, thumbnails, extracted text and licences
     are not) is fetched from its `content` link (`/server/api/core/bitstreams/{uuid}/content`) and kept with the
     item's record (`_links.self`, which holds `dc.title`, `dc.date.issued`, `dc.identifier.uri`) as one raw
     `.json` bundle of the two answers, the PDF base64-encoded (a bundle holds text). The document takes its title,
     date and handle URL from the item, its text from the PDF.
   OAI-PMH (`/server/oai/request`) is not used: its `oai_dc` records carry no links to the files.

A PDF both paths find is fetched once: with IRIS on, the sitemap path leaves IRIS's files
(`iris.who.int/bitstream/handle/...`) to the IRIS path, which judges them by their item's type. Either path names
the raw file after the PDF's name (`<name>.pdf` from the sitemap, `<name>.json` from IRIS), so the document's id,
`guidelines/who:<name>`, is the same whichever path collected it. With a `limit`, the sitemap path goes first and
IRIS fills what is left. On a re-crawl, an IRIS bundle in place is revalidated by asking for its item again with the
validators it was fetched with (DSpace's REST API answers conditional requests): a 304 keeps it, a changed item is
fetched again with its PDF, and a replaced file comes as a new bitstream, with a new `content` link.

Licence: WHO publications are CC BY-NC-SA 3.0 IGO (WHO's copyright notice on each publication and IRIS's
`dc.rights`); redistribution is allowed for non-commercial use under the same licence, and the reference corpus
released WHO, so REDISTRIBUTABLE = True.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from gap_replay.documents import Document
from gap_replay.http import FetchLog, HttpError, Page, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sniff import HEAD_BYTES, content_problem
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.extract import pdf_to_markdown

KEY = "who"
NAME = "World Health Organization"
LICENSE = "CC-BY-NC-SA-3.0-IGO"
REDISTRIBUTABLE = True  # non-commercial, share-alike
COLLECTABLE = True
DISCOVERY = "www.who.int sitemaps (publication pages and PDFs) and IRIS's DSpace 7 REST search (guideline items' PDFs)"
PATHS = ("sitemaps", "iris")  # which discovery paths run: "sitemaps", "iris", or both

# Sitemaps.
SITE = "https://www.who.int"
START_URL = "https://www.who.int/sitemap.xml"  # used when robots.txt names no sitemap
IRIS_FILE = r"^https://iris\.who\.int/bitstream/handle/10665/\d+/[^/?#]+\.pdf$"  # a PDF in the IRIS repository
INCLUDE = [
    r"^https://www\.who\.int/.*publications/i/item/[^/?#]+$",  # publication pages (guidelines, guidance)
    r"^https://www\.who\.int/.*publications/m/item/[^/?#]+\.pdf$",  # publication PDFs
    IRIS_FILE,
]
EXCLUDE = [
    r"(?i)(infographic|poster|flyer|slide-?deck|leaflet)s?(\.pdf)?$",  # visual material, not guideline text
    r"(?i)/(news|events|multi-media)/",
]

# IRIS.
IRIS_SEARCH = "https://iris.who.int/server/api/discover/search/objects"
IRIS_QUERY = {
    "query": "guideline",
    "dsoType": "ITEM",
    "sort": "dc.date.accessioned,ASC",
    "embed": "bundles/bitstreams",
    "page": "0",
    "size": "100",
}
IRIS_GUIDELINE_TYPES = frozenset({"guideline", "guidelines"})  # `dc.type`, compared without case
IRIS_FILES_BUNDLE = "ORIGINAL"
IRIS_LEGACY_FILE = "https://iris.who.int/bitstream/handle/{handle}/{name}"  # how the sitemaps name an IRIS file
IRIS_MAX_PAGES = 10_000  # a guard against a search that never ends


@dataclass(frozen=True)
class IrisPdf:
    """A PDF of a guideline item: where its item record and bytes are, and the URL the sitemaps give it."""

    item_url: str
    content_url: str
    legacy_url: str


# --- fetch -------------------------------------------------------------------------------------------------------


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download WHO guideline pages and PDFs into `raw_dir` (`raw/guidelines/who`) through PATHS: the sitemaps
    first, then IRIS for what `config.limit` leaves."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    if "sitemaps" in PATHS:
        summary.add(fetch_sitemaps(config, raw_dir, client))
    if "iris" in PATHS:
        left = None if config.limit is None else config.limit - summary.downloaded - summary.skipped
        if left is None or left > 0:
            summary.add(fetch_iris(left, raw_dir, client))
    return summary


def fetch_sitemaps(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """The pages and PDFs the sitemaps list; IRIS's files are left to the IRIS path when it runs."""
    start = [config.url] if config.url else site.robots_sitemaps(client, SITE) or [START_URL]
    exclude = [*EXCLUDE, IRIS_FILE] if "iris" in PATHS else EXCLUDE
    return site.crawl(KEY, start, INCLUDE, exclude, config.limit, raw_dir, client)


def fetch_iris(limit: int | None, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Bundle each PDF of IRIS's guideline items (at most `limit`) with its item record into `raw_dir`."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    pdfs = list(dict.fromkeys(iris_pdfs(client, limit, summary)))  # an item met twice while paging counts once
    if not pdfs and not (summary.failed or summary.disallowed):
        summary.fail(IRIS_SEARCH, "the IRIS search finds no guideline PDF")
    names = site.file_names([pdf.legacy_url for pdf in pdfs])
    log = fetch_log(raw_dir)
    for pdf in pdfs:
        dest = raw_dir / f"{site.slug_of(names[pdf.legacy_url])}.json"
        try:
            item = item_answer(client, pdf.item_url, log, pdf.content_url, dest)
            if item is None:
                summary.skipped += 1
                continue
            answers = [item, pdf_answer(client, pdf.content_url)]
        except RobotsDisallowed:
            summary.disallowed += 1
            continue
        except HttpError as error:
            summary.fail(error.url, error.reason)
            continue
        site.save_bundle(pdf.content_url, answers, dest, log, summary)
    return summary


def iris_pdfs(client: PoliteClient, limit: int | None, summary: FetchSummary) -> list[IrisPdf]:
    """The PDFs of guideline items, in search order, page after page until the search ends or `limit` are found;
    a page that fails ends the walk, counted in `summary`."""
    url: str | None = f"{IRIS_SEARCH}?{urlencode(IRIS_QUERY)}"
    found: list[IrisPdf] = []
    for _ in range(IRIS_MAX_PAGES):
        if url is None or (limit is not None and len(found) >= limit):
            break
        try:
            result = site.get_json(client, url)["_embedded"]["searchResult"]
            items = [item["_embedded"]["indexableObject"] for item in result.get("_embedded", {}).get("objects", [])]
            found += [pdf for item in items if is_guideline(item) for pdf in item_pdfs(item)]
            url = next_page(result)
        except RobotsDisallowed:
            summary.disallowed += 1
            break
        except HttpError as error:
            summary.fail(url, f"IRIS search failed: {error.reason}")
            break
        except (KeyError, TypeError, AttributeError):
            summary.fail(url, "IRIS search failed: not a DSpace search result")
            break
    return found[:limit]


def next_page(result: dict[str, Any]) -> str | None:
    """The HAL link to the next page of a search result; None on the last page."""
    page = result.get("page", {})
    if page.get("number", 0) + 1 >= page.get("totalPages", 0):
        return None
    return result.get("_links", {}).get("next", {}).get("href")


def values(dso: dict[str, Any], field: str) -> list[str]:
    """The values of one metadata field of a DSpace object (`dc.title`, ...), in order."""
    return [str(entry["value"]) for entry in dso.get("metadata", {}).get(field, []) if entry.get("value")]


def is_guideline(item: dict[str, Any]) -> bool:
    """Whether an item's type marks it as a guideline publication."""
    return any(value.strip().casefold() in IRIS_GUIDELINE_TYPES for value in values(item, "dc.type"))


def item_pdfs(item: dict[str, Any]) -> list[IrisPdf]:
    """The PDFs of an item's ORIGINAL bundle (embedded with the search result)."""
    pdfs = []
    for bundle in item["_embedded"]["bundles"]["_embedded"]["bundles"]:
        if bundle.get("name") != IRIS_FILES_BUNDLE:
            continue
        for bitstream in bundle["_embedded"]["bitstreams"]["_embedded"]["bitstreams"]:
            name = str(bitstream.get("name") or "")
            if name.lower().endswith(".pdf"):
                legacy = IRIS_LEGACY_FILE.format(handle=item["handle"], name=quote(name))
                pdfs.append(IrisPdf(item["_links"]["self"]["href"], bitstream["_links"]["content"]["href"], legacy))
    return pdfs


def item_answer(client: PoliteClient, url: str, log: FetchLog, key: str, dest: Path) -> Page | None:
    """The item record for a bundle; None when the bundle in place is still current: the item answers 304 to the
    validators it was fetched with, or it was fetched without validators (nothing to ask again with)."""
    if not site.bundle_current(log, key, dest):
        return site.json_page(client.get(url))
    headers = site.conditional_headers(log, key, dest)
    if not headers:
        return None
    page = client.get(url, headers=headers)
    return None if page.status == 304 else site.json_page(page)


def pdf_answer(client: PoliteClient, url: str) -> Page:
    """A bitstream that must be a PDF, with its bytes base64-encoded to be kept in a bundle."""
    page = client.get(url)
    problem = content_problem("pdf", page.content[:HEAD_BYTES])
    if problem is not None:
        raise HttpError(url, page.status, f"expected pdf, got {problem}")
    return Page(page.url, page.status, page.headers, base64.b64encode(page.content))


# --- parse -------------------------------------------------------------------------------------------------------


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw WHO page (`.html`), PDF (`.pdf`) or IRIS bundle (`.json`) as a Document."""
    if name.lower().endswith(".json"):
        return parse_iris(stream.read(), name)
    return site.parse_file(stream, name, KEY, LICENSE, REDISTRIBUTABLE)


def parse_iris(data: bytes, name: str) -> Iterator[Document]:
    """The Document of an IRIS bundle: text from its PDF; title, date and handle URL from its item record."""
    responses = site.read_bundle(data, name)
    if len(responses) != 2:
        raise ParseError(f"{name}: an IRIS bundle holds an item and its PDF, not {len(responses)} answers")
    item = site.response_json(responses[0], name)
    if not isinstance(item, dict):
        raise ParseError(f"{name}: {responses[0].get('url')}: not a DSpace item")
    try:
        pdf = pdf_to_markdown(base64.b64decode(responses[1]["body"], validate=True))
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ParseError(f"{name}: answer 2: not a base64-encoded PDF ({error!r})") from None
    except ParseError as error:
        raise ParseError(f"{name}: {error}") from None
    if not pdf.text.strip():
        return
    uris = values(item, "dc.identifier.uri")
    yield site.make_document(
        KEY,
        site.slug_of(name),
        pdf.text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=next(iter(values(item, "dc.title")), pdf.title),
        url=next((uri for uri in uris if "/handle/" in uri), next(iter(uris), None)),
        date=next(iter(values(item, "dc.date.issued")), None),
        meta={
            "file": PurePosixPath(name.replace("\\", "/")).name,
            "format": "pdf",
            "pages": pdf.pages,
            "handle": item.get("handle"),
        },
    )
