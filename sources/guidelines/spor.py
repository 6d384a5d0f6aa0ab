"""SPOR Evidence Alliance (Canada's Strategy for Patient-Oriented Research): the guideline PDFs listed in its
Clinical Practice Guidelines database.

The database (sporevidencealliance.ca/key-activities/cpg-asset-map/cpg-database/, part of the Alliance's "Asset Map
of Canadian Clinical Practice Guideline Developers") is a WordPress page whose table lists Canadian guidelines with a
link to each developer's copy; long tables are split into page parts (`.../cpg-database/2/`). It was last updated in
April 2018, so links may have gone stale; a dead link is a counted failure and the crawl goes on. The Alliance
publishes no API or feed for it, so the page parts are walked and every link to a PDF on a developer's site is
collected.

Not collected: entries that link to a developer's web page rather than a PDF (every developer's site has its own
layout and chrome, and the reference corpus collected the PDFs only), PDFs served from a URL that does not end in
`.pdf` (a download script), the Alliance's own report and other files on sporevidencealliance.ca (about the
database, not guidelines), and PDFs under paths the developer's robots.txt disallows.

Licence: the database is a non-endorsing inventory (the Alliance "does not have the authority to recommend or
endorse any of the guidelines"); no licence for the site or the listed documents was found. Each guideline belongs to
its developer, under the developer's terms: `developer-terms`. The reference corpus (Meditron's GAP-Replay) released
its SPOR documents, so they are marked redistributable.

Documents: the PDFs carry their own title and creation date; the file name is the PDF's name on the developer's site,
which does not give back its URL, so documents have none.
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

KEY = "spor"
NAME = "SPOR Evidence Alliance"
LICENSE = "developer-terms"
REDISTRIBUTABLE = True  # released by the reference corpus
COLLECTABLE = True
DISCOVERY = "CPG database page (WordPress page parts) to the guideline PDFs it links on developers' sites"

DATABASE = "https://sporevidencealliance.ca/key-activities/cpg-asset-map/cpg-database/"
LISTING = site.Listing(
    start=(DATABASE,),
    # A PDF anywhere but on the Alliance's own site; `http://` links (common in a 2018 table) included.
    documents=(r"(?i)^https?://(?!(www\.)?sporevidencealliance\.ca[:/])[^?#]+\.pdf$",),
    follow=(r"^https://sporevidencealliance\.ca/key-activities/cpg-asset-map/cpg-database/\d+/$",),
)


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the guideline PDFs the CPG database links to into `raw_dir` (`raw/guidelines/spor`);
    `config.url` replaces the database page to start from."""
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    return site.crawl_listing(KEY, listing, config.limit, raw_dir, client)


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw guideline PDF as a Document, dated by the PDF's creation date."""
    return site.parse_file(stream, name, KEY, LICENSE, REDISTRIBUTABLE)
