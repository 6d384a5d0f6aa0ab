"""GuidelineCentral (www.guidelinecentral.com): guideline summaries (about 1,000 in the reference corpus).

What is collected: the free guideline summary pages, `https://www.guidelinecentral.com/guideline/<id>/`, each a
society's guideline condensed into key points, recommendations and tables. Not collected: pocket guides and other
shop products (paid), and summaries shown only to signed-in members: their page carries a sign-in or subscribe wall
instead of the text, which the fetch recognises, deletes again and logs as not collected (it is asked for again on
the next crawl, in case it has become free).

Discovery: the guidelines landing page `/guidelines/` links each medical society's list of summaries
(`/guidelines/<society>/`, paginated as `/guidelines/<society>/page/<n>/`); the walk follows those lists and collects
the `/guideline/<id>/` links in them. The site's own guideline search (`/guidelines/?t=guideline&f=<JSON filter>`,
which the reference corpus's scraper clicked through in a browser) is rendered by scripts and is not used. That the
society lists are plain HTML links could not be checked on the live site; if they are scripted too, the walk finds
no summary, which is a counted failure, not a silent empty crawl.

Licence: GuidelineCentral is a commercial publisher; its summaries are its own copyrighted abridgements of society
guidelines, with no open licence, so documents are not redistributable. Its terms of use could not be read from
here (no access to the live site, and no stored copy was found), so whether they allow automated collection is not
verified. Because some summaries are sold to members and the terms are unverified, the module is marked not
collectable as a precaution: it runs for a user who holds the publisher's permission, and the full recipe leaves it
disabled until the terms are checked.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import FetchLog, FetchRecord, PoliteClient, utc_now
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site

logger = logging.getLogger(__name__)

KEY = "guidelinecentral"
NAME = "Guideline Central"
LICENSE = "GuidelineCentral-terms"
REDISTRIBUTABLE = False  # the publisher's own copyrighted summaries; no open licence
COLLECTABLE = False
NOT_COLLECTED = (
    "GuidelineCentral's terms of use could not be checked to allow automated collection of its commercially "
    "published summaries (some are for paying members only); run it only with the publisher's permission"
)
DISCOVERY = "society lists: /guidelines/ -> /guidelines/<society>/[page/<n>/] -> /guideline/<id>/"

START_URL = "https://www.guidelinecentral.com/guidelines/"
LISTING = site.Listing(
    start=(START_URL,),
    documents=(r"^https://www\.guidelinecentral\.com/guideline/\d+/$",),  # one guideline summary
    follow=(r"^https://www\.guidelinecentral\.com/guidelines/",),  # society lists and their further pages
)
MAIN_XPATH = "//main"  # the page's own content, without navigation, sidebar and footer
HEADLINE_XPATH = "//main//article//h1"  # a summary is an article; a soft error page is not
# A members-only summary shows one of these instead of its text.
WALL = re.compile(r"(?i)\b(?:sign|log) in to (?:read|view|continue|access)\b|\bsubscribe to (?:read|view|continue)\b")
WALLED = "members-only summary (sign-in wall), not collected"


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the free summaries the society lists link to into `raw_dir` (`raw/guidelines/guidelinecentral`);
    `config.url` replaces the landing page the walk starts from, and `config.limit` counts summaries kept."""
    listing = dataclasses.replace(LISTING, start=(config.url,)) if config.url else LISTING
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    urls = site.listing_urls(client, listing, summary)
    log = fetch_log(raw_dir)
    names = site.file_names(urls)
    for url in urls:
        if config.limit is not None and summary.downloaded + summary.skipped >= config.limit:
            break
        _collect(client, url, raw_dir / names[url], log, summary)
    return summary


def _collect(client: PoliteClient, url: str, dest: Path, log: FetchLog, summary: FetchSummary) -> None:
    """Download one summary page into `dest` and count it, unless it turns out to be a sign-in wall: then the file
    goes again, the fetch log says why, and it counts neither as a document nor as a failure."""
    attempt = FetchSummary(summary.source)
    if attempt.download(client, url, dest, log, revalidate=True) and walled(dest.read_bytes()):
        dest.unlink()
        log.append(FetchRecord(url, None, utc_now(), 200, 0, None, None, None, False, WALLED))
        logger.info("%s: %s", url, WALLED)
        return
    summary.add(attempt)


def walled(data: bytes) -> bool:
    """Whether a page's main content is a sign-in or subscribe wall rather than a summary."""
    try:
        tree = lxml.html.fromstring(data)
    except (etree.ParserError, ValueError):
        return False
    return any(WALL.search(" ".join(main.itertext())) for main in tree.xpath(MAIN_XPATH))


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw summary page as a Document titled by its headline; nothing for a members-only wall, and ParseError
    naming the file when the bytes are not a summary page (an error page, a truncated download)."""
    data = stream.read()
    headline = summary_headline(data, name)
    if walled(data):
        return
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(title=headline)


def summary_headline(data: bytes, name: str) -> str:
    """The `<h1>` of the article in a summary page's main content; ParseError when there is none (not a summary
    page)."""
    try:
        tree = lxml.html.fromstring(data)
    except (etree.ParserError, ValueError) as error:
        raise ParseError(f"{name}: not an HTML page ({error})") from None
    titles = [" ".join(heading.text_content().split()) for heading in tree.xpath(HEADLINE_XPATH)]
    if not titles or not titles[0]:
        raise ParseError(f"{name}: not a GuidelineCentral summary page (no headline in its main content)")
    return titles[0]
