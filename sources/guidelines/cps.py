"""CPS (Canadian Paediatric Society): position statements (and the practice points published alongside them), each an
HTML page on cps.ca, found through the position statement index.

Discovery: the index `/en/documents/position-statements` is walked through its ExpressionEngine offset pages
(`/P10`, `/P20`, ...). Each entry links its statement (`/en/documents/position/<slug>`), often its French version
(`/fr/documents/position/<slug>`), and shows its status. Both language versions are collected: curate keeps or drops
text by language identification, and the page's declared language (`<html lang>`) is kept in `meta["lang"]`. The
date is the statement's "Updated" date when it has one, else its "Posted" date.

Not collected: statements the index marks Retired (CPS reviews each statement and retires outdated ones; a retired
statement no longer states CPS policy), links on the legacy language-less route `/documents/position/...` where
robots.txt disallows it, and anything that is not a statement page (committee pages, the Caring for Kids site).

Licence: CPS statements are copyrighted by the Canadian Paediatric Society, and reproduction beyond personal or
educational use needs the Society's permission (as publicly known; its terms of use could not be verified from
here). Meditron's GAP-Replay did not release CPS, so the documents are not redistributable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.extract import html_to_markdown

KEY = "cps"
NAME = "Canadian Paediatric Society"
LICENSE = "CPS-terms"
REDISTRIBUTABLE = False
COLLECTABLE = True
DISCOVERY = "Position statement index (/P10 offset pages) -> statement pages, English and French"

START_URL = "https://cps.ca/en/documents/position-statements"
FOLLOW = (r"^https://cps\.ca/en/documents/position-statements(/P\d+)?$",)
STATEMENT = r"^https://cps\.ca/(?:(?:en|fr)/)?documents/position/[^/?#]+$"
MAX_PAGES = 1000
ENTRY = "//div[contains(concat(' ', normalize-space(@class), ' '), ' stmt ')]"
STATUS = "normalize-space(.//span[contains(concat(' ', normalize-space(@class), ' '), ' stmt-status ')])"
SKIPPED_STATUSES = frozenset({"retired", "archived"})
DATE_LINE = re.compile(r"\b(Posted|Updated|Affiché|Mis à jour)\s*:\s*([^|\n]+)")  # "Posted: Feb 9, 2023 | ..."
UPDATED = frozenset({"Updated", "Mis à jour"})
MONTHS = {  # English and French month names by their first four, else three, letters
    "jan": 1, "feb": 2, "fév": 2, "fev": 2, "mar": 3, "apr": 4, "avr": 4, "may": 5, "mai": 5, "jun": 6, "juin": 6,
    "jul": 7, "juil": 7, "aug": 8, "aoû": 8, "aou": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12, "déc": 12,
}  # fmt: skip


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the statements the index lists into `raw_dir` (`raw/guidelines/cps`), one `.html` per statement."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    urls = statement_urls(client, config.url or START_URL, summary)
    if not urls:
        return summary
    return site.download_documents(KEY, urls, config.limit, raw_dir, client, summary)


def statement_urls(client: PoliteClient, start: str, summary: FetchSummary) -> list[str]:
    """The statements listed on every index page reachable from `start`, sorted; index pages that fail are counted
    in `summary`, and finding no statement at all is a failure."""
    listing = site.Listing(start=(start,), documents=(), follow=FOLLOW, max_pages=MAX_PAGES)
    found = {
        link for page in site.listing_pages(client, listing, summary) for link in entry_links(page.content, page.url)
    }
    if not found:
        summary.fail(start, "the index pages list no statement to collect")
    return sorted(found)


def entry_links(html: bytes, base: str) -> list[str]:
    """The statement links (every language version) of an index page's entries, retired entries left out."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    links = []
    for entry in tree.xpath(ENTRY):
        if entry.xpath(STATUS).casefold() in SKIPPED_STATUSES:
            continue
        hrefs = (urljoin(base, href.strip()) for href in entry.xpath(".//a/@href"))
        links.extend(href for href in hrefs if re.search(STATEMENT, href))
    return links


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw statement page as a Document, with its declared language in `meta["lang"]`; ParseError naming the
    file when the bytes are not a web page."""
    data = stream.read()
    head = data[:1024].lstrip()
    if b"\x00" in data[:4096] or head.startswith(b"%PDF"):
        raise ParseError(f"{name}: not a web page (binary data)")
    page = html_to_markdown(data)
    if not page.text.strip():
        return
    meta: dict[str, object] = {"file": PurePosixPath(name.replace("\\", "/")).name, "format": "html"}
    if page.lang:
        meta["lang"] = page.lang
    yield site.make_document(
        KEY,
        site.slug_of(name),
        page.text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=page.title,
        url=page.canonical_url,
        date=statement_date(page.text) or page.date,
        meta=meta,
    )


def statement_date(text: str) -> str | None:
    """The "Updated" date of a statement's date line, else its "Posted" date, as `YYYY-MM-DD` (English or French)."""
    dates = {"updated" if label in UPDATED else "posted": value for label, value in DATE_LINE.findall(text)}
    value = dates.get("updated") or dates.get("posted")
    return iso_date(value) if value else None


def iso_date(value: str) -> str | None:
    """`Feb 9, 2023`, `February 9, 2023` or `9 févr. 2023` as `2023-02-09`; None when it is not such a date."""
    words = re.findall(r"[^\W\d_]+", value.casefold())
    numbers = [int(number) for number in re.findall(r"\d+", value)]
    month = MONTHS.get(words[0][:4], MONTHS.get(words[0][:3])) if words else None
    if month is None or len(numbers) != 2:
        return None
    day, year = sorted(numbers)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
