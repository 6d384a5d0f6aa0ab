"""ICRC (International Committee of the Red Cross): medical and surgical guidance PDFs (war surgery, first aid,
anaesthesia, physical rehabilitation) from the publications of www.icrc.org.

Discovery: the publication listing filtered to the health topic (`/en/publications?f%5B0%5D=topic%3Ahealth`, a Drupal
search facet), followed page by page through the pager's `rel="next"` link. A listing card gives the publication's
type and topics; a publication is kept when its type is guidance (`GUIDANCE_TYPES`: manuals, guidelines, handbooks,
field guides) and one of its topics is medical (`MEDICAL_TOPICS`), so the legal fact sheets, reports and policy papers
that share the health topic are left out. Each kept publication page (`/en/publication/<number>-<slug>`) is read for
its English PDF, which is saved as `<number>-<slug>.pdf`, so that the document keeps the publication page as its URL.

Not collected: publications that offer no PDF on www.icrc.org (print-only titles, and titles whose PDF is only
reached through the ICRC shop, shop.icrc.org, whose download pages need scripts), PDFs in other languages when an
English one is offered, and PDFs behind the counted-download route, which robots.txt disallows.

Licence: the ICRC's "Copyright and terms of use" (www.icrc.org/en/copyright-and-terms-use): commercial use or
publication needs the ICRC's prior written permission; for personal and non-commercial use (academic use, for
instance) documents may be reproduced provided the copyright and source are reproduced too, the document is not
altered and is reproduced whole. There is no open licence: `ICRC-terms`. The reference corpus (Meditron's
GAP-Replay) released its ICRC documents, so they are marked redistributable; a release should keep to the
non-commercial terms and credit the ICRC.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.guidelines import site

logger = logging.getLogger(__name__)

KEY = "icrc"
NAME = "International Committee of the Red Cross"
LICENSE = "ICRC-terms"
REDISTRIBUTABLE = True  # released by the reference corpus; the ICRC's terms allow non-commercial reproduction
COLLECTABLE = True
DISCOVERY = "www.icrc.org publication listing filtered to health, paged, to guidance publications' English PDFs"

SITE = "https://www.icrc.org"
START_URL = f"{SITE}/en/publications?f%5B0%5D=topic%3Ahealth"
MAX_PAGES = 200
# Listing cards and the pager.
CARD = "//article[contains(concat(' ', normalize-space(@class), ' '), ' card--publication ')]"
CARD_LINK = ".//*[contains(@class, 'card__title')]//a/@href"
CARD_TYPE = "string(.//*[contains(@class, 'card__type')])"
CARD_TOPICS = ".//*[contains(@class, 'card__topics')]/li"
NEXT_PAGE = "//nav[contains(@class, 'pager')]//a[@rel='next']/@href"
# Publication pages and their PDFs.
PUBLICATION = re.compile(r"^https://www\.icrc\.org/[a-z]{2}/publication/([A-Za-z0-9][A-Za-z0-9-]*)/?$")
DOWNLOADS = "//*[contains(@class, 'publication__download')]//a[@href]"
PDF = re.compile(r"(?i)^https://www\.icrc\.org/[^?#]+\.pdf$")
LANGUAGE = "en"
# Keep rules.
GUIDANCE_TYPES = frozenset({"manual", "guidelines", "handbook", "field guide"})
MEDICAL_TOPICS = frozenset(
    {"health", "surgery", "first aid", "physical rehabilitation", "mental health and psychosocial support", "nutrition"}
)


@dataclass(frozen=True)
class Card:
    """A publication as the listing shows it: its page, type and topics."""

    url: str
    type: str
    topics: tuple[str, ...]


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the English PDFs of the ICRC's medical guidance publications into `raw_dir` (`raw/guidelines/icrc`)."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    cards = [card for card in listing_cards(client, config.url or START_URL, summary) if wanted(card)]
    if not cards:
        summary.fail(config.url or START_URL, "the listing shows no medical guidance publication")
        return summary
    names: dict[str, str] = {}
    for card in cards:
        pdf = publication_pdf(client, card.url, summary)
        if pdf is not None and pdf not in names:
            names[pdf] = f"{publication_slug(card.url)}.pdf"
    return site.download_documents(KEY, list(names), config.limit, raw_dir, client, summary, names=names)


def wanted(card: Card) -> bool:
    """Whether a publication is medical guidance: a guidance type, and a medical topic, on a publication page."""
    topics = {topic.casefold() for topic in card.topics}
    return (
        card.type.casefold() in GUIDANCE_TYPES
        and bool(topics & MEDICAL_TOPICS)
        and PUBLICATION.match(card.url) is not None
    )


def listing_cards(client: PoliteClient, start: str, summary: FetchSummary) -> list[Card]:
    """The cards of every listing page from `start`, following the pager's next link; a page that fails ends the
    walk and is counted in `summary`."""
    cards: list[Card] = []
    url: str | None = start
    seen: set[str] = set()
    while url is not None and url not in seen and len(seen) < MAX_PAGES:
        seen.add(url)
        try:
            page = client.get(url)
        except RobotsDisallowed:
            summary.disallowed += 1
            break
        except HttpError as error:
            summary.fail(url, f"listing page failed: {error.reason}")
            break
        found, url = parse_listing(page.content, page.url)
        cards += found
    return cards


def parse_listing(html: bytes, base: str) -> tuple[list[Card], str | None]:
    """The cards of one listing page and the URL of the next page (None on the last)."""
    tree = _tree(html)
    if tree is None:
        return [], None
    cards = []
    for element in tree.xpath(CARD):
        links = element.xpath(CARD_LINK)
        if not links:
            continue
        topics = tuple(" ".join(item.text_content().split()) for item in element.xpath(CARD_TOPICS))
        kind = " ".join(element.xpath(CARD_TYPE).split())
        cards.append(Card(urldefrag(urljoin(base, links[0].strip()))[0], kind, topics))
    following = tree.xpath(NEXT_PAGE)
    return cards, urljoin(base, following[0].strip()) if following else None


def publication_pdf(client: PoliteClient, url: str, summary: FetchSummary) -> str | None:
    """The English PDF a publication page links to; None (counted in `summary` when the page fails) otherwise."""
    try:
        page = client.get(url)
    except RobotsDisallowed:
        summary.disallowed += 1
        return None
    except HttpError as error:
        summary.fail(url, f"publication page failed: {error.reason}")
        return None
    pdf = pdf_link(page.content, page.url)
    if pdf is None:
        logger.info("%s: no PDF on www.icrc.org, not collected", url)
    return pdf


def pdf_link(html: bytes, base: str) -> str | None:
    """The page's PDF download in English, or in no stated language; None when it offers none."""
    tree = _tree(html)
    if tree is None:
        return None
    for element in tree.xpath(DOWNLOADS):
        href = urljoin(base, element.get("href").strip())
        if PDF.match(href) and (element.get("hreflang") or LANGUAGE).casefold().startswith(LANGUAGE):
            return href
    return None


def publication_slug(url: str) -> str:
    """`<number>-<slug>` of a publication page URL."""
    match = PUBLICATION.match(url)
    if match is None:
        raise ValueError(f"not an ICRC publication page: {url}")
    return match.group(1)


def _tree(html: bytes) -> lxml.html.HtmlElement | None:
    """A page's element tree; None for bytes that are no HTML document (empty, or not markup)."""
    try:
        return lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None


# --- parsing ---------------------------------------------------------------------------------------------------------


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw ICRC PDF (`<number>-<slug>.pdf`) as a Document, with its publication page as URL and the PDF's
    creation date."""
    data = stream.read()
    url = f"{SITE}/en/publication/{site.slug_of(name)}"
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(url=url, date=document.date)
