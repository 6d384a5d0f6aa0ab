"""Drugs.com: the dosage pages (`https://www.drugs.com/dosage/<drug>.html`, about 6,500 in the reference corpus).

What is collected: each drug's dosage page, whole: the "Usual Adult Dose for <indication>" and "Usual Pediatric Dose
for <indication>" sections, renal and liver dose adjustments, other dose adjustments, precautions, dialysis and
other comments, with the sections as headings and the doses as text. Drug monographs, side-effect, interaction and
pill-identifier pages are not collected: they are not dosage guidance.

Discovery: the dosage landing page `/dosage/` links the "Complete Drug Dosage A to Z index", whose letter pages
(`/dosage-<letter><page>.html`, one or more pages per letter, chained by "Next page") list the dosage pages. The walk
follows only those letter pages and collects only `/dosage/<drug>.html` links. Whether Drugs.com's sitemaps list the
dosage pages could not be checked from here (no access to the live site), so the index is used; it is also the
path the reference corpus's own scraper took.

Licence: Drugs.com's content is its own and licensed from drug-information publishers (its editorial policy names
Cerner Multum, Micromedex and ASHP); there is no open licence, so documents are not redistributable. Its terms of
use (https://www.drugs.com/support/terms.html) are reported to forbid automated access, scraping and building
datasets from the site without written consent; the terms page itself could not be read from here, so this rests
on that report, not on the text. The module is therefore marked not collectable: it runs only for a user who holds
Drugs.com's written permission, and the full recipe leaves it disabled.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import site

KEY = "drugs"
NAME = "Drugs.com"
LICENSE = "Drugs.com-terms"
REDISTRIBUTABLE = False  # content licensed from drug-information publishers; no open licence
COLLECTABLE = False
NOT_COLLECTED = (
    "Drugs.com's terms of use forbid automated access, scraping and building datasets from the site without "
    "written consent; run it only with Drugs.com's permission"
)
DISCOVERY = "dosage A to Z index: /dosage/ -> letter pages /dosage-<letter><n>.html -> /dosage/<drug>.html"

START_URL = "https://www.drugs.com/dosage/"
LISTING = site.Listing(
    start=(START_URL,),
    documents=(r"^https://www\.drugs\.com/dosage/[a-z0-9][a-z0-9-]*\.html$",),  # one drug's dosage page
    follow=(r"^https://www\.drugs\.com/dosage-[a-z0-9]+\.html",),  # letter pages of the A to Z index, and their pages
)
CONTENT_XPATH = "//div[@id='content' or contains(concat(' ', normalize-space(@class), ' '), ' ddc-main-content ')]"
DOSE_HEADING = re.compile(r"^Usual (Adult|Pediatric|Geriatric) Dose for \S")  # what makes a page a dosage page


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the dosage pages the A to Z index links to into `raw_dir` (`raw/guidelines/drugs`), each as
    `<drug>.html`; `config.url` replaces the landing page the walk starts from."""
    listing = dataclasses.replace(LISTING, start=(config.url,)) if config.url else LISTING
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    urls = site.listing_urls(client, listing, summary)
    names = {url: PurePosixPath(urlsplit(url).path).name for url in urls}  # the documents pattern makes them safe
    return site.download_documents(KEY, urls, config.limit, raw_dir, client, summary, names) if urls else summary


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw dosage page as a Document titled by its headline ("Amoxicillin Dosage"); ParseError naming the file
    when the bytes are not a dosage page (an error or bot-check page, a truncated download)."""
    data = stream.read()
    headline = dosage_headline(data, name)
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(title=headline)


def dosage_headline(data: bytes, name: str) -> str:
    """The `<h1>` of a dosage page's main content; ParseError when the page has no content area or no "Usual ...
    Dose for ..." section, that is, when it is not a dosage page."""
    try:
        tree = lxml.html.fromstring(data)
    except (etree.ParserError, ValueError) as error:
        raise ParseError(f"{name}: not an HTML page ({error})") from None
    content = tree.xpath(CONTENT_XPATH)
    headings = [_text(heading) for heading in content[0].iter("h2", "h3")] if content else []
    if not any(DOSE_HEADING.match(heading) for heading in headings):
        raise ParseError(f"{name}: not a Drugs.com dosage page (no 'Usual ... Dose for' section)")
    titles = [_text(heading) for heading in content[0].iter("h1")]
    if not titles or not titles[0]:
        raise ParseError(f"{name}: dosage page without a headline")
    return titles[0]


def _text(element: etree._Element) -> str:
    return " ".join(element.text_content().split())
