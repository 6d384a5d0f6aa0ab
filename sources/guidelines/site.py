"""What every guideline organisation's site module shares: sitemap discovery, polite download, parse to Documents.

An organisation module holds only its site knowledge (start URL, include/exclude patterns, licence) and calls
these. Downloads are named after the URL's last segment, `.pdf` for PDF URLs and `.html` otherwise; the parser
also sniffs `%PDF`, so a PDF served from an extension-less URL is still read as one.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from protego import Protego
from tqdm import tqdm

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines.extract import html_to_markdown, pdf_to_markdown

NAME = "guidelines"
MAX_SITEMAPS = 1000
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
        suffix = ".pdf" if segment.lower().endswith(".pdf") else ".html"
        stem = UNSAFE.sub("-", segment[: -len(".pdf")] if suffix == ".pdf" else segment).strip("-.") or "index"
        name = f"{stem}{suffix}"
        if name in used:
            name = f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:8]}{suffix}"
        used.add(name)
        names[url] = name
    return names


def crawl(
    key: str,
    start_urls: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    limit: int | None,
    raw_dir: Path,
    client: PoliteClient,
) -> FetchSummary:
    """Discover an organisation's documents from its sitemaps and download them into `raw_dir`, logging each fetch
    to `raw_dir/fetch_log.jsonl`. A failed document is counted and the crawl goes on to the next URL, until `limit`
    documents are in place."""
    summary = FetchSummary(f"{NAME}/{key}")
    urls = select(sitemap_urls(client, start_urls, summary), include, exclude, None)
    if not urls:
        summary.fail(", ".join(start_urls), f"the sitemaps list no {key} page to collect")
        return summary
    log = fetch_log(raw_dir)
    names = file_names(urls)
    with tqdm(total=min(limit or len(urls), len(urls)), desc=f"{NAME}/{key}", unit="doc", disable=None) as progress:
        for url in urls:
            if limit is not None and summary.downloaded + summary.skipped >= limit:
                break
            if summary.download(client, url, raw_dir / names[url], log):
                progress.update()
    return summary


def parse_file(stream: BinaryIO, name: str, key: str, license: str, redistributable: bool) -> Iterator[Document]:
    """The Document of one raw page or PDF of organisation `key`; nothing when it has no text."""
    data = stream.read()
    base = PurePosixPath(name.replace("\\", "/")).name
    slug = base.rsplit(".", 1)[0] if "." in base else base
    meta: dict[str, object] = {"organisation": key, "redistributable": redistributable, "file": base}
    if base.lower().endswith(".pdf") or data[:1024].lstrip().startswith(b"%PDF"):
        try:
            pdf = pdf_to_markdown(data)
        except ParseError as error:
            raise ParseError(f"{name}: {error}") from None
        title, text, url, date = pdf.title, pdf.text, None, None
        meta.update(format="pdf", pages=pdf.pages)
    else:
        page = html_to_markdown(data)
        title, text, url, date = page.title, page.text, page.canonical_url, page.date
        meta.update(format="html")
    if not text.strip():
        return
    yield Document(
        id=f"{NAME}/{key}:{slug}",
        source=NAME,
        subsource=key,
        text=text,
        title=title,
        url=url,
        license=license,
        date=date,
        lang=None,
        meta=meta,
    )
