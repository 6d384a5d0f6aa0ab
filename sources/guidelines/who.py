"""WHO (World Health Organization): guideline pages and PDFs found through www.who.int's sitemaps.

WHO publications are licensed CC BY-NC-SA 3.0 IGO: redistribution is allowed for non-commercial use, under the
same licence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.guidelines import site

KEY = "who"
LICENSE = "CC-BY-NC-SA-3.0-IGO"
REDISTRIBUTABLE = True  # non-commercial, share-alike
SITE = "https://www.who.int"
START_URL = "https://www.who.int/sitemap.xml"  # used when robots.txt names no sitemap
INCLUDE = [
    r"^https://www\.who\.int/.*publications/i/item/[^/?#]+$",  # publication pages (guidelines, guidance)
    r"^https://www\.who\.int/.*publications/m/item/[^/?#]+\.pdf$",  # publication PDFs
    r"^https://iris\.who\.int/bitstream/handle/10665/\d+/[^/?#]+\.pdf$",  # the IRIS repository's PDFs
]
EXCLUDE = [
    r"(?i)(infographic|poster|flyer|slide-?deck|leaflet)s?(\.pdf)?$",  # visual material, not guideline text
    r"(?i)/(news|events|multi-media)/",
]


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download WHO guideline pages and PDFs listed in the sitemaps into `raw_dir` (`raw/guidelines/who`)."""
    start = [config.url] if config.url else site.robots_sitemaps(client, SITE) or [START_URL]
    return site.crawl(KEY, start, INCLUDE, EXCLUDE, config.limit, raw_dir, client)


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw WHO page (`.html`) or PDF as a Document."""
    return site.parse_file(stream, name, KEY, LICENSE, REDISTRIBUTABLE)
