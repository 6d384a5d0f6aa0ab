"""Mayo Clinic: the disease and condition pages of www.mayoclinic.org, found through the Diseases & Conditions A-Z
index. NOT COLLECTED by the project's recipes (see NOT_COLLECTED); the module works for a user with Mayo Clinic's
permission.

What would be collected: each condition's "Symptoms & causes" page (`/diseases-conditions/<slug>/symptoms-causes/
syc-<id>`) and "Diagnosis & treatment" page (`.../diagnosis-treatment/drc-<id>`), kept together as one raw bundle
(`<slug>.json`, the two responses verbatim) and parsed into ONE document with all their sections. A condition with
only the first page is one document of that page.

Discovery: the letter pages of the index (`/diseases-conditions/index?letter=A`, linking each other) list the
conditions' "Symptoms & causes" pages; each of those links its sibling sections in its tab navigation, where the
"Diagnosis & treatment" page is found. Entries that are not conditions (symptom pages, "Doctors & departments",
"Care at Mayo Clinic", "Request an appointment") are not collected: they are not section pages of a condition or
hold no medical content. A re-crawl asks for each page of a bundle again conditionally (ETag) and keeps the bundle
when all are unchanged.

Licence and collection: Mayo Clinic's content is copyrighted by the Mayo Foundation for Medical Education and
Research (MFMER); the notice on its pages allows a single copy to be reprinted for noncommercial personal use only,
and reuse beyond that needs Mayo Clinic's permission (it licenses its content). Its terms of use restrict reuse of
the site's content and automated collection of it. So the documents are not redistributable, and building a
corpus from the site is not within those terms: COLLECTABLE is False. (The copyright notice was checked through the
search tool; the full terms of use page could not be read there, so the clause on automated collection is as the
task describes it, not verified word for word.)

Not collected: the condition pages' clutter (byline, advertisements, appointment and newsletter boxes, reference
lists), removed at parse time; the review date line becomes the document's date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import FetchLog, HttpError, Page, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.fragments import fragment_to_markdown

KEY = "mayo"
NAME = "Mayo Clinic"
LICENSE = "Mayo-Clinic-terms"
REDISTRIBUTABLE = False
COLLECTABLE = False
NOT_COLLECTED = (
    "Mayo Clinic's terms allow one copy of its pages for personal, noncommercial use and restrict reuse and "
    "automated collection; a corpus of its pages needs Mayo Clinic's permission"
)
DISCOVERY = "the Diseases & Conditions A-Z index on www.mayoclinic.org (letter pages), then each condition's tabs"

START_URL = "https://www.mayoclinic.org/diseases-conditions/index?letter=A"
LETTER = r"^https://www\.mayoclinic\.org/diseases-conditions/index\?letter=[A-Z]$"
CONDITION = r"^https://www\.mayoclinic\.org/diseases-conditions/([a-z0-9-]+)/symptoms-causes/syc-\d+$"
# The other section pages of a condition kept with its "Symptoms & causes" page, as paths under its folder.
SECTIONS = (r"diagnosis-treatment/drc-\d+",)
LISTING = site.Listing(start=(START_URL,), documents=(CONDITION,), follow=(LETTER,))

# A condition page: its name, the article, the clutter inside the article, and the review date paragraph.
TITLE = "//main//h1"
ARTICLE = "//main//div[contains(concat(' ', normalize-space(@class), ' '), ' content ')]"
CLUTTER = ("byline", "cmp-ad", "cmp-request-appointment", "cmp-newsletter", "references")
AP_MONTHS = {  # AP style, as the pages write their dates ("Sept." before "Sep." so that the longer form matches)
    "Jan": 1,
    "Feb": 2,
    "March": 3,
    "April": 4,
    "May": 5,
    "June": 6,
    "July": 7,
    "Aug": 8,
    "Sept": 9,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
REVIEWED = re.compile(rf"({'|'.join(AP_MONTHS)})\.? (\d{{1,2}}), (\d{{4}})")
SECTION_OF = re.compile(r"/diseases-conditions/[^/]+/([a-z-]+)/[a-z]+-\d+$")


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download each condition's section pages, as one bundle per condition, into `raw_dir` (`raw/guidelines/mayo`),
    until `config.limit` conditions are in place."""
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    log = fetch_log(raw_dir)
    for url in site.listing_urls(client, listing, summary):
        if config.limit is not None and summary.downloaded + summary.skipped >= config.limit:
            break
        fetch_condition(url, raw_dir / f"{condition_slug(url)}.json", client, log, summary)
    return summary


def condition_slug(url: str) -> str:
    """The condition's slug in a "Symptoms & causes" URL: `.../diseases-conditions/asthma/...` -> `asthma`."""
    match = re.match(CONDITION, url)
    if match is None:
        raise ValueError(f"not a condition page URL: {url}")
    return match.group(1)


def fetch_condition(url: str, dest: Path, client: PoliteClient, log: FetchLog, summary: FetchSummary) -> None:
    """Bring one condition's bundle up to date and count it: kept (every page unchanged), downloaded, disallowed
    by robots.txt, or failed."""
    try:
        if site.bundle_current(log, url, dest) and _unchanged(client, dest):
            summary.skipped += 1
            return
        pages = section_pages(client, url)
    except RobotsDisallowed:
        summary.disallowed += 1
        return
    except HttpError as error:
        summary.fail(url, error.reason)
        return
    site.save_bundle(url, pages, dest, log, summary)


def section_pages(client: PoliteClient, url: str) -> list[Page]:
    """A condition's "Symptoms & causes" page, then the section pages its tab navigation links (SECTIONS)."""
    first = client.get(url)
    folder = url.rsplit("/", 2)[0]
    wanted = [rf"^{re.escape(folder)}/{section}$" for section in SECTIONS]
    links = [link for link in site.page_links(first.content, first.url) if any(re.search(p, link) for p in wanted)]
    return [first, *(client.get(link) for link in links)]


def _unchanged(client: PoliteClient, dest: Path) -> bool:
    """Whether every page of a bundle in place is still current: each is asked for with the validator it was fetched
    with, and all answer 304."""
    for response in site.read_bundle(dest.read_bytes(), dest.name):
        if response.get("etag"):
            condition = {"If-None-Match": response["etag"]}
        elif response.get("last_modified"):
            condition = {"If-Modified-Since": response["last_modified"]}
        else:
            return False
        if client.get(response["url"], headers=condition).status != 304:
            return False
    return True


@dataclass(frozen=True)
class SectionPage:
    """What one section page of a condition contributes: its section, the condition's name, canonical URL, review
    date and article text."""

    section: str
    title: str
    url: str
    date: str | None
    text: str


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One condition's bundle as ONE Document: its name as title, the sections of all its pages in order, the
    latest review date of its pages."""
    pages = [section_page(response, name) for response in site.read_bundle(stream.read(), name)]
    if not pages:
        raise ParseError(f"{name}: a bundle without pages")
    first = pages[0]
    text = "\n\n".join([f"# {first.title}", *(page.text for page in pages if page.text)])
    yield site.make_document(
        KEY,
        site.slug_of(name),
        text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=first.title,
        url=first.url,
        date=max((page.date for page in pages if page.date), default=None),
        meta={
            "file": PurePosixPath(name.replace("\\", "/")).name,
            "format": "bundle",
            "sections": [page.section for page in pages],
        },
    )


def section_page(response: dict[str, Any], name: str) -> SectionPage:
    """A bundled page's contribution; ParseError naming the file and URL when it is not a condition page."""
    url = response.get("url") or ""
    tree = _html_tree(response.get("body") or "")
    titles = tree.xpath(TITLE) if tree is not None else []
    articles = tree.xpath(ARTICLE) if tree is not None else []
    section = SECTION_OF.search(url)
    if not titles or not articles or section is None:
        raise ParseError(f"{name}: {url}: not a Mayo Clinic condition page")
    article = articles[0]
    for element in article.xpath(" | ".join(map(_with_class, CLUTTER))):
        element.drop_tree()
    date = _reviewed(article)
    canonical = tree.xpath("//head/link[@rel='canonical']/@href")
    return SectionPage(
        section=section.group(1),
        title=" ".join(titles[0].text_content().split()),
        url=canonical[0].strip() if canonical else url,
        date=date,
        text=fragment_to_markdown(etree.tostring(article, encoding="unicode", method="html")),
    )


def _html_tree(text: str) -> lxml.html.HtmlElement | None:
    """A bundled page's element tree (an XML declaration in it does no harm); None when it is no HTML document."""
    try:
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):
        return None


def _with_class(name: str) -> str:
    """An XPath for the elements under the current one that have the class `name`."""
    return f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"


def _reviewed(article: lxml.html.HtmlElement) -> str | None:
    """The review date, a paragraph of its own ("Dec. 20, 2023"), as `YYYY-MM-DD`; the paragraph is removed."""
    for paragraph in article.xpath(".//p"):
        match = REVIEWED.fullmatch(" ".join(paragraph.text_content().split()))
        if match:
            paragraph.drop_tree()
            month, day, year = match.groups()
            return f"{year}-{AP_MONTHS[month]:02d}-{int(day):02d}"
    return None
