"""RCH (The Royal Children's Hospital Melbourne): the clinical practice guidelines at www.rch.org.au/clinicalguide/,
found through their A-Z index.

What is collected: every guideline of the index, one page each at `/clinicalguide/guideline_index/<Name>/`: the
"Key points" box and the sections (background, assessment, management, when to consult, transfer or discharge)
with their dose tables, dated by the visible "Last updated" line, else by the page's Dublin Core metadata.

Discovery: the index page (`/clinicalguide/`) shows one letter and links the other letters' pages
(`/clinicalguide/guideline_index/?letter=B`); their entries link the guidelines. Alias entries ("Adrenaline (see
Anaphylaxis)") link a guideline already listed, so each is fetched once. The site is Squiz Matrix: plain HTML
pages, no API or feed of guidelines.

Licence: RCH's terms: the guidelines may be read and linked freely, but republishing any of the material needs the
hospital's permission (its "Citing our guidelines" page); so the documents are not redistributable. Reading the
public pages with a crawler that obeys robots.txt is not forbidden, so the site is collectable. (Checked against
the "Citing our guidelines" page as stored by the search tool; the full website terms of use were not read.)

Not collected: pages that live among the guidelines but are not guidelines (citing the guidelines, feedback,
parent resources, committee and network pages); stubs, guidelines that were merged into another one and now only
point to it (parsed to nothing); the "Parent information" links and reference lists at the end of a guideline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
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
from gap_replay.sources.guidelines.extract import decode_html
from gap_replay.sources.guidelines.fragments import fragment_to_markdown

KEY = "rch"
NAME = "The Royal Children's Hospital Melbourne"
LICENSE = "RCH-terms"
REDISTRIBUTABLE = False  # republishing needs the hospital's permission
COLLECTABLE = True
DISCOVERY = "the clinical guideline A-Z index on www.rch.org.au (index page, then each letter's page)"

START_URL = "https://www.rch.org.au/clinicalguide/"
LETTER = r"^https://www\.rch\.org\.au/clinicalguide/guideline_index/\?letter=[A-Z]$"
GUIDELINE = r"^https://www\.rch\.org\.au/clinicalguide/guideline_index/[^/?#]+/$"
NOT_GUIDELINES = (
    r"/guideline_index/(?:Citing_our_guidelines|CPG_feedback|Parent_resources|Retrieval_services|Nursing_Guidelines"
    r"|Paediatric_Improvement_Collaborative|Paediatric_palliative_care_guidelines"
    r"|About_the_clinical_practice_guidelines|CPG_Committee_Calendar)/$",
)
LISTING = site.Listing(start=(START_URL,), documents=(GUIDELINE,), follow=(LETTER,), exclude=NOT_GUIDELINES)

# The page: the guideline is the `widgetBody` of the content area (the site's own heading sits outside it).
BODY = "//div[@id='content']//div[contains(concat(' ', normalize-space(@class), ' '), ' widgetBody ')]"
# The guideline ends where the material for parents and the reference list begin.
STOP_HEADINGS = re.compile(r"(?i)^\s*(parent information|references)\s*$")
LAST_UPDATED = re.compile(rf"(?i)^\s*last updated:?\s+(?:(\d{{1,2}})\s+)?({'|'.join(site.MONTHS)})\s+(\d{{4}})\b")
MODIFIED = "//head/meta[@name='DCTERMS.modified']/@content"
STUB_MAX_WORDS = 60  # a merged guideline's page: a sentence or two pointing to the guideline that replaced it


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the guideline pages listed on the A-Z index into `raw_dir` (`raw/guidelines/rch`)."""
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    return site.crawl_listing(KEY, listing, config.limit, raw_dir, client)


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw guideline page as a Document: the guideline's own heading as title, key points, sections and dose
    tables as Markdown, up to the parent information or references; nothing for a stub."""
    tree = _page_tree(stream.read(), name)
    body = tree.xpath(BODY)
    if not body:
        raise ParseError(f"{name}: not an RCH guideline page (no guideline body)")
    body = body[0]
    url = _canonical(tree)
    if is_stub(body, url):
        return
    title = _headline(body)
    date = _last_updated(body) or _modified(tree)
    _cut_at_stop(body)
    text = fragment_to_markdown(etree.tostring(body, encoding="unicode", method="html"))
    if not text:
        return
    yield site.make_document(
        KEY,
        site.slug_of(name),
        f"# {title}\n\n{text}" if title else text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=title,
        url=url,
        date=date,
        meta={"file": PurePosixPath(name.replace("\\", "/")).name, "format": "html"},
    )


def is_stub(body: lxml.html.HtmlElement, url: str | None) -> bool:
    """Whether a guideline body is a stub: no more than STUB_MAX_WORDS words, linking to another guideline."""
    if len(body.text_content().split()) > STUB_MAX_WORDS:
        return False
    links = (urljoin(url or "https://www.rch.org.au/", href) for href in body.xpath(".//a/@href"))
    return any(re.search(GUIDELINE, link) and link != url for link in links)


def _page_tree(data: bytes, name: str) -> lxml.html.HtmlElement:
    """A raw page's element tree, decoded as the extractor decodes pages; ParseError naming the file when it is
    no HTML document."""
    try:
        return lxml.html.document_fromstring(
            decode_html(data).encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
    except (etree.ParserError, ValueError) as error:
        raise ParseError(f"{name}: not an HTML page ({error})") from None


def _headline(body: lxml.html.HtmlElement) -> str | None:
    """The guideline's own heading (the body's `<h1>`), which is then removed from the body."""
    headings = body.xpath(".//h1")
    for heading in headings:
        heading.drop_tree()
    return " ".join(headings[0].text_content().split()) if headings else None


def _canonical(tree: lxml.html.HtmlElement) -> str | None:
    found = tree.xpath("//head/link[@rel='canonical']/@href")
    return found[0].strip() if found else None


def _last_updated(body: lxml.html.HtmlElement) -> str | None:
    """The date of the "Last updated" line (`YYYY-MM-DD`, or `YYYY-MM` without a day), which is then removed."""
    for element in body.xpath(".//p | .//div[not(*)]"):
        match = LAST_UPDATED.match(element.text_content())
        if match:
            element.drop_tree()
            day, month, year = match.groups()
            month_number = site.MONTHS.index(month.capitalize()) + 1
            return f"{year}-{month_number:02d}-{int(day):02d}" if day else f"{year}-{month_number:02d}"
    return None


def _modified(tree: lxml.html.HtmlElement) -> str | None:
    found = tree.xpath(MODIFIED)
    return found[0].strip() if found and found[0].strip() else None


def _cut_at_stop(body: lxml.html.HtmlElement) -> None:
    """Remove the first stop heading and everything after it in the body, however deep the heading sits."""
    for heading in body.xpath(".//h2 | .//h3"):
        if STOP_HEADINGS.match(heading.text_content()):
            node = heading
            while node is not body:
                parent = node.getparent()
                for sibling in list(node.itersiblings()):
                    parent.remove(sibling)
                node = parent
            heading.drop_tree()
            return
