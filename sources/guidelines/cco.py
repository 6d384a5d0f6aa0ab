"""CCO (Ontario Health (Cancer Care Ontario)): the full-report PDFs of the Program in Evidence-Based Care (PEBC)
guidelines, found through the Guidelines & Advice listing on www.cancercareontario.ca.

Discovery: the listing `/en/guidelines-advice/types-of-cancer` is walked with its "Load more" pager (`?page=N`) and
its pages per cancer type (`/types-of-cancer/breast`); they link each guideline's numeric node page
(`/types-of-cancer/61571`). A guideline page names its Document Status and links its `Full Report (PDF)` through
Drupal's file route (`/en/file/<fid>/download?token=...`); that PDF is the document collected, saved as
`<node>.pdf`, so the parser can give the guideline page as the document's URL. Guideline pages are re-read on every
crawl (a guideline's PDF link changes when a new version is posted); the PDFs are revalidated.

Not collected: archived guidelines (Document Status "Archived": superseded, kept by CCO for reference only),
guideline pages without a Full Report PDF, patient summaries, pathway maps and patient pages (not guideline text),
and Full Reports behind paths robots.txt disallows (such as the legacy `/common/pages/UserFile.aspx` handler).

Licence: each PEBC report carries Ontario Health (Cancer Care Ontario)'s copyright notice, which says the report and
its illustrations may not be reproduced without the express written permission of Ontario Health (Cancer Care
Ontario) (wording seen in the reports' own text; the website's terms of use were not verified from here). Meditron's
GAP-Replay released CCO, but these terms clearly reserve reproduction, so the documents are marked not
redistributable until that permission is on record.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, fetch_log
from gap_replay.sources.guidelines import site

KEY = "cco"
NAME = "Ontario Health (Cancer Care Ontario)"
LICENSE = "Ontario-Health-CCO-copyright"
REDISTRIBUTABLE = False  # the reports' copyright notice reserves reproduction (see the module docstring)
COLLECTABLE = True
DISCOVERY = "Guidelines & Advice listing by cancer type (Load more pager) -> guideline pages -> Full Report PDFs"

HOST = "https://www.cancercareontario.ca"
GUIDELINES = f"{HOST}/en/guidelines-advice/types-of-cancer"
LISTING = site.Listing(
    start=(GUIDELINES,),
    documents=(r"^https://www\.cancercareontario\.ca/en/guidelines-advice/types-of-cancer/\d+$",),
    follow=(
        r"^https://www\.cancercareontario\.ca/en/guidelines-advice/types-of-cancer/[a-z][a-z-]*$",  # cancer types
        r"^https://www\.cancercareontario\.ca/en/guidelines-advice/types-of-cancer\?page=\d+$",  # "Load more"
    ),
)
STATUS = "//strong[starts-with(normalize-space(.), 'Document Status')]/following-sibling::span[1]//text()"
SKIPPED_STATUSES = frozenset({"archived"})
FULL_REPORT = (
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' guideline-file ')]"
    "//a[starts-with(normalize-space(.), 'Full Report')]/@href"
)


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the Full Report PDF of every current guideline the listing reaches into `raw_dir` as `<node>.pdf`,
    reading guideline pages only until `config.limit` PDFs are in place."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    log = fetch_log(raw_dir)
    for page in site.listing_urls(client, listing, summary):
        if config.limit is not None and summary.downloaded + summary.skipped >= config.limit:
            break
        report = full_report(client, page, summary)
        if report is not None:
            summary.download(client, report, raw_dir / f"{node_of(page)}.pdf", log, revalidate=True)
    return summary


def full_report(client: PoliteClient, page_url: str, summary: FetchSummary) -> str | None:
    """The Full Report PDF a guideline page links; None when the guideline is archived, has no Full Report, or the
    page cannot be read (counted in `summary`)."""
    try:
        page = client.get(page_url)
    except RobotsDisallowed:
        summary.disallowed += 1
        return None
    except HttpError as error:
        summary.fail(page_url, f"guideline page failed: {error.reason}")
        return None
    return report_link(page.content, page.url)


def report_link(html: bytes, base: str) -> str | None:
    """The Full Report link of a guideline page, made absolute; None for archived guidelines and pages without one."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    status = " ".join("".join(tree.xpath(STATUS)).split()).casefold()
    links = [href.strip() for href in tree.xpath(FULL_REPORT) if href.strip()]
    if status in SKIPPED_STATUSES or not links:
        return None
    return urljoin(base, links[0])


def node_of(page_url: str) -> str:
    """The node number of a guideline page URL (`.../types-of-cancer/61571` -> `61571`)."""
    return page_url.rstrip("/").rsplit("/", 1)[-1]


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw CCO Full Report (`<node>.pdf`) as a Document, with its guideline page as URL and the PDF's creation
    date as date."""
    data = stream.read()
    slug = site.slug_of(name)
    page = f"{GUIDELINES}/{slug}" if slug.isdigit() else None
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(url=page or document.url, date=document.date)
