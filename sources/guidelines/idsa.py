"""IDSA (Infectious Diseases Society of America): the practice guideline pages on www.idsociety.org, found through the
alphabetical list of guidelines.

Discovery: the list `/practice-guideline/alphabetical-guidelines/` links each guideline's page
(`/practice-guideline/<slug>/`), which holds the guideline's text or a summary of it; those pages are collected.
Some entries link straight to the full guideline in the journal that publishes it (Clinical Infectious Diseases,
on academic.oup.com); such links are tried like any other and left to the journal: a URL its robots.txt disallows is
counted as disallowed and never requested, and a paywall's login page served instead of a PDF fails the download's
content check (counted as failed), so journal full texts kept out either way are not collected. The hub pages of
the guideline section (the practice guidelines landing page, the A-to-Z list, "Guidelines in development") are
linked from every page and are excluded.

Licence: IDSA guidelines are copyrighted by the Infectious Diseases Society of America, and their full texts are
published by Oxford University Press; reproduction needs permission (as publicly known; neither IDSA's nor OUP's
terms could be verified from here). Meditron's GAP-Replay did not release IDSA, so the documents are not
redistributable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.guidelines import site

KEY = "idsa"
NAME = "Infectious Diseases Society of America"
LICENSE = "IDSA-terms"
REDISTRIBUTABLE = False
COLLECTABLE = True
DISCOVERY = "Alphabetical guideline list -> guideline pages on idsociety.org (journal full texts left to robots.txt)"

LISTING = site.Listing(
    start=("https://www.idsociety.org/practice-guideline/alphabetical-guidelines/",),
    documents=(
        r"^https://www\.idsociety\.org/practice-guideline/[a-z0-9-]+/$",  # guideline pages
        r"^https://academic\.oup\.com/cid/article-pdf/.+\.pdf$",  # full texts in Clinical Infectious Diseases
    ),
    exclude=(r"/practice-guideline/(practice-guidelines|alphabetical-guidelines|guidelines-in-development)/$",),
)


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the guideline pages the alphabetical list links into `raw_dir` (`raw/guidelines/idsa`)."""
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    return site.crawl_listing(KEY, listing, config.limit, raw_dir, client)


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw IDSA guideline page (`.html`) as a Document."""
    return site.parse_file(stream, name, KEY, LICENSE, REDISTRIBUTABLE)
