"""CMA (Canadian Medical Association CPG Infobase, run by Joule): the Canadian clinical practice guidelines the
infobase lists, as pages and PDFs on their developers' sites.

Discovery: the infobase's specialty index on joulecma.ca links one page per specialty, paged by Drupal's pager
(`?page=N`). Each entry gives the developer, the year, the status and a "View fulltext guideline" link to the
guideline itself, which nearly always lives on another host (canada.ca, a society's site, a journal). Those links
are downloaded as they are: the polite client reads each host's robots.txt and leaves disallowed URLs alone, so an
off-site guideline is fetched only where its own host allows it. Raw files are named after the link's last path
segment without its suffix, plus `.html` for pages or `.pdf` for PDFs.

Not collected: entries the infobase marks Archived or Withdrawn (superseded or no longer endorsed; the infobase
retires guidelines not reviewed within five years), Choosing Wisely Canada lists (recommendation lists, not
guidelines; Meditron's collection left them out too), and guidelines on hosts or paths whose robots.txt disallows
them (counted as disallowed).

Licence: the infobase's listing belongs to Joule; each guideline belongs to its developer and comes under that
developer's terms (the Government of Canada's, as publicly known, allow non-commercial reproduction with
attribution). Neither Joule's terms of use nor every developer's could be verified from here. Meditron's GAP-Replay
released its CMA guidelines and no term found here clearly says otherwise, so the documents are marked
redistributable; a release should still honour each developer's terms.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.guidelines import site

KEY = "cma"
NAME = "Canadian Medical Association (CPG Infobase)"
LICENSE = "CPG-Infobase-developer-terms"
REDISTRIBUTABLE = True  # as released by GAP-Replay; each guideline stays under its developer's terms
COLLECTABLE = True
DISCOVERY = "CPG Infobase specialty pages (paged) -> each entry's fulltext link, on the developer's host"

START_URL = "https://joulecma.ca/cpg/homepage/browse-by/category/specialties"
FOLLOW = (r"^https://joulecma\.ca/cpg/homepage/browse-by/category/specialties/id/\d+(\?page=\d+)?$",)
MAX_PAGES = 1000
ENTRY = "//div[contains(concat(' ', normalize-space(@class), ' '), ' cpg-result ')]"
FULLTEXT = ".//h5/a[@title='View fulltext guideline']/@href"
STATUS = "normalize-space(.//span[contains(concat(' ', normalize-space(@class), ' '), ' cpg-status ')])"
SKIPPED_STATUSES = frozenset({"archived", "withdrawn"})
SKIPPED_LINKS = (r"(?i)choosingwisely|choisiravecsoin",)  # Choosing Wisely Canada lists, not guidelines
FILE_SUFFIX = re.compile(r"(?i)\.(pdf|html?|aspx?|php)$")


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the guidelines the infobase lists, from their developers' hosts, into `raw_dir`."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    urls = guideline_urls(client, config.url or START_URL, summary)
    if not urls:
        return summary
    return site.download_documents(KEY, urls, config.limit, raw_dir, client, summary, raw_names(urls))


def guideline_urls(client: PoliteClient, start: str, summary: FetchSummary) -> list[str]:
    """The fulltext links of the entries to collect on every specialty page reachable from `start`, sorted; pages
    that fail are counted in `summary`, and finding no guideline at all is a failure."""
    listing = site.Listing(start=(start,), documents=(), follow=FOLLOW, max_pages=MAX_PAGES)
    found = {
        link for page in site.listing_pages(client, listing, summary) for link in entry_links(page.content, page.url)
    }
    if not found:
        summary.fail(start, "the infobase pages list no guideline to collect")
    return sorted(found)


def entry_links(html: bytes, base: str) -> list[str]:
    """The fulltext links of a specialty page's entries, without archived or withdrawn entries and Choosing Wisely
    lists."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    links = []
    for entry in tree.xpath(ENTRY):
        hrefs = [href.strip() for href in entry.xpath(FULLTEXT) if href.strip()]
        if not hrefs or entry.xpath(STATUS).casefold() in SKIPPED_STATUSES:
            continue
        link = urljoin(base, hrefs[0])
        if not any(re.search(pattern, link) for pattern in SKIPPED_LINKS):
            links.append(link)
    return links


def raw_names(urls: Sequence[str]) -> dict[str, str]:
    """A raw file name per guideline URL: its last path segment made safe and without its web suffix
    (`x.html` -> `x.html`, not `x.html.html`), `.pdf` for PDFs, `.html` otherwise; clashes get a URL hash."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for url in urls:
        segment = unquote(PurePosixPath(urlsplit(url).path.rstrip("/")).name)
        suffix = ".pdf" if segment.lower().endswith(".pdf") else ".html"
        stem = site.UNSAFE.sub("-", FILE_SUFFIX.sub("", segment)).strip("-.") or "index"
        name = f"{stem}{suffix}"
        if name in used:
            name = f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:8]}{suffix}"
        used.add(name)
        names[url] = name
    return names


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw guideline page (`.html`) or PDF as a Document."""
    return site.parse_file(stream, name, KEY, LICENSE, REDISTRIBUTABLE)
