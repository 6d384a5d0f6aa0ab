"""AAFP (American Academy of Family Physicians): the clinical recommendations on www.aafp.org, found through the
topic index.

What is collected: the AAFP's own clinical practice guidelines and the recommendations it publishes on guidelines
of other organisations, one page each under
`/family-physician/patient-care/clinical-recommendations/all-clinical-recommendations/<slug>.html`.

Discovery: the topic index (`.../clinical-recommendations/recommendations-by-topic.html`) links one page per topic
(`.../recommendations-by-topic/<topic>-clinical-recommendations-guidelines.html`); each topic page links its
recommendations. A recommendation listed under several topics is fetched once; AEM sometimes emits a link with a
stray `?null` query, which robots.txt disallows, so such a link is only followed when no clean link to the same page
exists (and is then refused, as robots.txt says). The site is Adobe Experience Manager: plain HTML pages, no API.

Licence: the site's content is copyrighted by the AAFP. Its permissions page allows printing and using material
for personal, non-commercial purposes with the notices kept, and asks that any reproduction or distribution be
requested from the AAFP; so the documents are not redistributable. The terms do not forbid reading the public
pages with a crawler that obeys robots.txt, so the site is collectable. (Checked against the AAFP permissions page
as stored by the search tool; the full terms of use page was not available to read.)

Not collected: the pages explaining the AAFP's endorsement categories (`endorsed.html` and its kind), which sit
among the recommendations but recommend nothing; American Family Physician articles that topic pages link to (a
journal, partly behind a subscription, not recommendations); the guideline development manual.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

from gap_replay.documents import Document
from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.extract import decode_html

KEY = "aafp"
NAME = "American Academy of Family Physicians"
LICENSE = "AAFP-terms"
REDISTRIBUTABLE = False  # copyrighted; reproduction and distribution need the AAFP's permission
COLLECTABLE = True
DISCOVERY = "topic index pages on www.aafp.org: recommendations by topic, then each topic's recommendations"

SECTION = "https://www.aafp.org/family-physician/patient-care/clinical-recommendations"
START_URL = f"{SECTION}/recommendations-by-topic.html"
TOPIC = rf"^{re.escape(SECTION)}/recommendations-by-topic/[a-z0-9-]+\.html$"
# A recommendation page, whatever query its link carries (AEM appends `?null` to some links).
RECOMMENDATION = rf"^{re.escape(SECTION)}/all-clinical-recommendations/[a-z0-9-]+\.html(?:\?[^#]*)?$"
NOT_RECOMMENDATIONS = (
    r"/all-clinical-recommendations/(?:endorsed|affirmation-of-value|not-endorsed)\.html",  # category explainers
)
LISTING = site.Listing(start=(START_URL,), documents=(RECOMMENDATION,), follow=(TOPIC,), exclude=NOT_RECOMMENDATIONS)
# The visible publication history under a recommendation's title: "Published August 2020 · Reaffirmed March 2024".
DATED = re.compile(rf"\b(?:Published|Updated|Reaffirmed|Reviewed)\s+({'|'.join(site.MONTHS)})\s+(\d{{4}})\b")


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the recommendation pages linked from the topic pages into `raw_dir` (`raw/guidelines/aafp`)."""
    listing = replace(LISTING, start=(config.url,)) if config.url else LISTING
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    urls = one_url_per_page(site.listing_urls(client, listing, summary))
    if not urls:
        return summary
    names = {url: PurePosixPath(urlsplit(url).path).name for url in urls}
    return site.download_documents(KEY, urls, config.limit, raw_dir, client, summary, names)


def one_url_per_page(urls: Sequence[str]) -> list[str]:
    """One URL per page (URLs that differ only in their query are one page): the clean URL when one was linked,
    else the URL as linked; sorted."""
    pages: dict[str, str] = {}
    for url in sorted(urls):
        page = urlsplit(url)._replace(query="").geturl()
        if page not in pages or url == page:
            pages[page] = url
    return sorted(pages.values())


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """One raw recommendation page as a Document, dated by its visible publication history."""
    data = stream.read()
    for document in site.parse_file(io.BytesIO(data), name, KEY, LICENSE, REDISTRIBUTABLE):
        yield document.replace(date=published(decode_html(data)))


def published(html: str) -> str | None:
    """The latest month of a page's publication history (published, updated, reaffirmed) as `YYYY-MM`; None when
    the page shows none. The extractor's own date guess is not used: on these pages it takes the footer's
    copyright year."""
    months = [f"{year}-{site.MONTHS.index(month) + 1:02d}" for month, year in DATED.findall(html)]
    return max(months, default=None)
