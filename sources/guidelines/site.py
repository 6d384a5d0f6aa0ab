"""What every guideline organisation's site module shares: discovery (sitemaps, index pages), polite download,
API responses kept together as bundles, and parsing to Documents.

An organisation module holds only its site knowledge (entry points, URL patterns, licence, keep/stop rules) as
data at its top and calls these. Downloads are named after the URL's last segment, `.pdf` for PDF URLs and `.html`
otherwise; the parser also sniffs `%PDF`, so a PDF served from an extension-less URL is still read as one. Pages are
revalidated on a re-crawl (If-None-Match / If-Modified-Since), so an updated guideline replaces the old copy.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import lxml.html
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from lxml import etree
from protego import Protego

from gap_replay.documents import Document
from gap_replay.files import write_atomic
from gap_replay.http import FetchLog, FetchRecord, HttpError, Page, PoliteClient, RobotsDisallowed, utc_now
from gap_replay.progress import bar
from gap_replay.sources.base import FETCH_LOG, FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines.extract import error_page_reason, html_to_markdown, pdf_to_markdown

NAME = "guidelines"
MAX_SITEMAPS = 1000
BUNDLE_FORMAT = "gap-replay-bundle/1"
PAGE_SUFFIXES = (".pdf", ".html", ".htm")  # a URL's own extension, replaced by the raw file's
# Month names, for the visible dates of English-language sites.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_sitemap(data: bytes, url: str) -> tuple[list[str], list[str]]:
    """(child sitemaps, page URLs) listed in a sitemap or sitemap index; gzip-compressed sitemaps are read too."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise ValueError(f"not a sitemap: {error}") from None
    locs = [urljoin(url, (loc.text or "").strip()) for loc in root.iter(f"{SITEMAP_NS}loc", "loc")]
    locs = [loc for loc in locs if loc]
    tag = etree.QName(root).localname
    if tag == "sitemapindex":
        return locs, []
    if tag == "urlset":
        return [], locs
    raise ValueError(f"not a sitemap: root element is <{tag}>")


def robots_sitemaps(client: PoliteClient, site: str) -> list[str]:
    """The `Sitemap:` lines of a site's robots.txt; empty when there are none or robots.txt cannot be read."""
    parts = urlsplit(site)
    try:
        rules = client.get_text(f"{parts.scheme}://{parts.netloc}/robots.txt")
    except HttpError:
        return []
    return list(Protego.parse(rules).sitemaps)


def sitemap_urls(client: PoliteClient, start_urls: Sequence[str], summary: FetchSummary) -> list[str]:
    """Every page URL reachable from the start sitemaps (following sitemap indexes); failures go into `summary`."""
    queue = list(start_urls)
    seen: set[str] = set()
    pages: set[str] = set()
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            children, found = parse_sitemap(client.get_bytes(url), url)
        except HttpError as error:
            summary.fail(url, f"sitemap failed: {error.reason}")
            continue
        except (ValueError, OSError, EOFError) as error:
            summary.fail(url, f"sitemap unreadable: {error}")
            continue
        queue.extend(children)
        pages.update(found)
    return sorted(pages)


def select(urls: Sequence[str], include: Sequence[str], exclude: Sequence[str], limit: int | None) -> list[str]:
    """URLs matching some `include` pattern and no `exclude` pattern (regex search), sorted, at most `limit`."""
    kept = [
        url
        for url in sorted(urls)
        if any(re.search(pattern, url) for pattern in include) and not any(re.search(p, url) for p in exclude)
    ]
    return kept[:limit]


def file_names(urls: Sequence[str]) -> dict[str, str]:
    """A raw file name per URL: its last path segment made safe, `.pdf` or `.html`; clashes get a URL hash."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for url in urls:
        segment = PurePosixPath(unquote(urlsplit(url).path.rstrip("/"))).name or "index"
        known = next((end for end in PAGE_SUFFIXES if segment.lower().endswith(end)), "")
        suffix = ".pdf" if known == ".pdf" else ".html"
        stem = UNSAFE.sub("-", segment[: len(segment) - len(known)]).strip("-.") or "index"
        name = f"{stem}{suffix}"
        if name in used:
            name = f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:8]}{suffix}"
        used.add(name)
        names[url] = name
    return names


@dataclass(frozen=True)
class Listing:
    """Index pages to walk: where to start, which links are documents to collect, which are more index pages to
    visit (letters, topics, pagination), and which links to ignore; all patterns are regexes searched in the URL."""

    start: tuple[str, ...]
    documents: tuple[str, ...]
    follow: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_pages: int = 1000


def page_links(html: bytes, base: str) -> list[str]:
    """Every `<a href>` of a page made absolute against `base` (or the page's `<base href>`), without fragments,
    in page order and without repeats."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    declared = tree.xpath("//base/@href")
    base = urljoin(base, declared[0].strip()) if declared else base
    links: dict[str, None] = {}
    for href in tree.xpath("//a/@href"):
        href = href.strip()
        if not href or href.startswith(("mailto:", "javascript:", "tel:")):
            continue
        links[urldefrag(urljoin(base, href))[0]] = None
    return list(links)


def listing_pages(client: PoliteClient, listing: Listing, summary: FetchSummary) -> Iterator[Page]:
    """The index pages of an organisation, breadth first from its start pages through the links matching `follow`
    (and neither `exclude` nor `documents`); a page that fails is counted in `summary`, one robots.txt forbids as
    disallowed."""
    queue = list(listing.start)
    seen: set[str] = set()
    while queue and len(seen) < listing.max_pages:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            page = client.get(url)
        except RobotsDisallowed:
            summary.disallowed += 1
            continue
        except HttpError as error:
            summary.fail(url, f"index page failed: {error.reason}")
            continue
        yield page
        for link in page_links(page.content, page.url):
            if link in seen or not any(re.search(pattern, link) for pattern in listing.follow):
                continue
            if not any(re.search(pattern, link) for pattern in (*listing.exclude, *listing.documents)):
                queue.append(link)


def listing_urls(client: PoliteClient, listing: Listing, summary: FetchSummary) -> list[str]:
    """The document URLs an organisation's index pages link to (`listing.documents`, not `listing.exclude`); a walk
    that finds no document is a failure."""
    documents = {
        link
        for page in listing_pages(client, listing, summary)
        for link in page_links(page.content, page.url)
        if any(re.search(pattern, link) for pattern in listing.documents)
        and not any(re.search(pattern, link) for pattern in listing.exclude)
    }
    if not documents:
        summary.fail(", ".join(listing.start), "the index pages link to no document to collect")
    return sorted(documents)


def download_documents(
    key: str,
    urls: Sequence[str],
    limit: int | None,
    raw_dir: Path,
    client: PoliteClient,
    summary: FetchSummary,
    names: dict[str, str] | None = None,
) -> FetchSummary:
    """Download documents into `raw_dir` (named by `file_names` unless `names` are given), revalidating those
    already there, until `limit` are in place; each fetch is logged to `raw_dir/fetch_log.jsonl`, and a failed
    document is counted while the crawl goes on to the next."""
    log = fetch_log(raw_dir)
    names = names or file_names(urls)
    with bar(total=min(limit or len(urls), len(urls)), desc=f"{NAME}/{key}", unit="documents") as progress:
        for url in urls:
            if limit is not None and summary.downloaded + summary.skipped >= limit:
                break
            if summary.download(client, url, raw_dir / names[url], log, revalidate=True):
                progress.update()
    return summary


def crawl(
    key: str,
    start_urls: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    limit: int | None,
    raw_dir: Path,
    client: PoliteClient,
) -> FetchSummary:
    """Discover an organisation's documents from its sitemaps and download them into `raw_dir`."""
    summary = FetchSummary(f"{NAME}/{key}")
    urls = select(sitemap_urls(client, start_urls, summary), include, exclude, None)
    if not urls:
        summary.fail(", ".join(start_urls), f"the sitemaps list no {key} page to collect")
        return summary
    return download_documents(key, urls, limit, raw_dir, client, summary)


def crawl_listing(key: str, listing: Listing, limit: int | None, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Discover an organisation's documents from its index pages and download them into `raw_dir`."""
    summary = FetchSummary(f"{NAME}/{key}")
    urls = listing_urls(client, listing, summary)
    return download_documents(key, urls, limit, raw_dir, client, summary) if urls else summary


# --- API responses kept together ---------------------------------------------------------------------------------


def json_page(page: Page) -> Page:
    """The page, once its body is known to be JSON; HttpError otherwise (an error page served with status 200)."""
    try:
        json.loads(page.content)
    except ValueError as error:
        raise HttpError(page.url, page.status, f"not JSON ({error})") from None
    return page


def get_json(client: PoliteClient, url: str, headers: dict[str, str] | None = None) -> Any:
    """A JSON API response, parsed; HttpError when the body is not JSON (an error page served with status 200)."""
    return json.loads(json_page(client.get(url, headers=headers)).content)


def conditional_headers(log: FetchLog, url: str, dest: Path) -> dict[str, str]:
    """Headers that ask again for a bundle's document only if it changed (its first response's ETag, else its
    Last-Modified), when the bundle is in place as logged; none otherwise."""
    record = log.latest(url)
    if record is None or not bundle_current(log, url, dest):
        return {}
    if record.etag:
        return {"If-None-Match": record.etag}
    return {"If-Modified-Since": record.last_modified} if record.last_modified else {}


def bundle_current(log: FetchLog, url: str, dest: Path) -> bool:
    """Whether the bundle for `url` is in place as the log last recorded it."""
    previous = log.latest(url)
    relative = Path(os.path.relpath(dest, log.path.parent)).as_posix()
    if previous is None or not previous.ok or previous.path != relative or not dest.is_file():
        return False
    return previous.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()


def save_bundle(
    url: str, pages: Sequence[Page], dest: Path, log: FetchLog, summary: FetchSummary | None = None
) -> FetchRecord:
    """Keep the API responses that make one document together as one raw file (their bodies verbatim, as text),
    written atomically and logged under `url`, the response that names the document; counted in `summary`."""
    bundle = {
        "format": BUNDLE_FORMAT,
        "url": url,
        "responses": [
            {
                "url": page.url,
                "content_type": page.headers.get("Content-Type"),
                "etag": page.headers.get("ETag"),
                "last_modified": page.headers.get("Last-Modified"),
                "body": page.content.decode("utf-8", errors="replace"),
            }
            for page in pages
        ],
    }
    data = (json.dumps(bundle, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    write_atomic(dest, data)
    first = pages[0].headers if pages else {}
    record = FetchRecord(
        url=url,
        path=Path(os.path.relpath(dest, log.path.parent)).as_posix(),
        time=utc_now(),
        status=200,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        etag=first.get("ETag"),
        last_modified=first.get("Last-Modified"),
        ok=True,
    )
    log.append(record)
    if summary is not None:
        summary.downloaded += 1
        summary.bytes += record.bytes
    return record


def read_bundle(data: bytes, name: str) -> list[dict[str, Any]]:
    """The responses of a bundle (url, content_type, body, ...); ParseError naming the file when it is not one."""
    try:
        bundle = json.loads(data)
    except ValueError as error:
        raise ParseError(f"{name}: not a bundle of API responses ({error})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise ParseError(f"{name}: not a bundle of API responses (format {BUNDLE_FORMAT} expected)")
    responses = bundle.get("responses")
    if not isinstance(responses, list) or not all(isinstance(item, dict) and "body" in item for item in responses):
        raise ParseError(f"{name}: not a bundle of API responses (no list of responses)")
    return responses


def response_json(response: dict[str, Any], name: str) -> Any:
    """The parsed body of one bundled response; ParseError naming the file and URL when it is not JSON."""
    try:
        return json.loads(response["body"])
    except ValueError as error:
        raise ParseError(f"{name}: {response.get('url')}: not JSON ({error})") from None


# --- documents ---------------------------------------------------------------------------------------------------


def make_document(
    key: str,
    slug: str,
    text: str,
    *,
    license: str,
    redistributable: bool,
    title: str | None = None,
    url: str | None = None,
    date: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Document:
    """A guideline Document of organisation `key`: id `guidelines/<key>:<slug>`, the licence and whether it may be
    redistributed on every one."""
    return Document(
        id=f"{NAME}/{key}:{slug}",
        source=NAME,
        subsource=key,
        text=text,
        title=title,
        url=url,
        license=license,
        date=date,
        lang=None,
        meta={"organisation": key, "redistributable": redistributable, **(meta or {})},
    )


def fetched_url(name: str) -> str | None:
    """The URL a raw file was fetched from, read from the fetch log beside it (for PDFs and pages that do not name
    their own URL); None when there is no log or no entry for the file."""
    folder, _, base = name.replace("\\", "/").rpartition("/")
    log_path = f"{folder}/{FETCH_LOG}" if folder else FETCH_LOG
    try:
        size = FileSystems.match([log_path])[0].metadata_list[0].size_in_bytes
    except (IndexError, OSError, ValueError):
        return None
    return _logged_urls(log_path, size).get(base)


@functools.lru_cache(maxsize=16)
def _logged_urls(log_path: str, size: int) -> dict[str, str]:
    """File name -> URL of the newest successful fetch of each file in a fetch log (cached per log and size, so a
    worker reads a log once while it parses that folder's files)."""
    urls: dict[str, str] = {}
    with FileSystems.open(log_path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("ok") and record.get("path"):
                urls[PurePosixPath(record["path"]).name] = record["url"]
    return urls


def slug_of(name: str) -> str:
    """A raw file's name without folders and extension: `raw/guidelines/rch/fever.html` -> `fever`."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return base.rsplit(".", 1)[0] if "." in base else base


def documents_of(items: Iterable[Document]) -> Iterator[Document]:
    """The documents that have text."""
    return (item for item in items if item.text.strip())


def parse_file(stream: BinaryIO, name: str, key: str, license: str, redistributable: bool) -> Iterator[Document]:
    """The Document of one raw page or PDF of organisation `key`; nothing when it has no text."""
    data = stream.read()
    base = PurePosixPath(name.replace("\\", "/")).name
    meta: dict[str, object] = {"file": base}
    if base.lower().endswith(".pdf") or data[:1024].lstrip().startswith(b"%PDF"):
        try:
            pdf = pdf_to_markdown(data)
        except ParseError as error:
            raise ParseError(f"{name}: {error}") from None
        title, text, url, date = pdf.title, pdf.text, fetched_url(name), pdf.date
        meta.update(format="pdf", pages=pdf.pages)
    else:
        page = html_to_markdown(data)
        title, text, url, date = page.title, page.text, page.canonical_url or fetched_url(name), page.date
        meta.update(format="html")
    if not text.strip():
        return
    error_page = error_page_reason(title, text)
    if error_page is not None:
        meta["error_page"] = error_page  # dropped by curate as `error_page`, so the drop is counted and kept
    yield make_document(
        key,
        slug_of(name),
        text,
        license=license,
        redistributable=redistributable,
        title=title,
        url=url,
        date=date,
        meta=meta,
    )
