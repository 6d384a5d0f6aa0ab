"""The AAFP stand-in: `www.aafp.org`'s clinical recommendations, browsed by topic, as Adobe Experience Manager
serves them (`.html` pages, links with the `adl-link` class, content in an `aem-Grid`).

The layout is the real one: the topic index `.../clinical-recommendations/recommendations-by-topic.html`, one page
per topic under `.../recommendations-by-topic/<topic>-clinical-recommendations-guidelines.html`, and each
recommendation at `.../clinical-recommendations/all-clinical-recommendations/<slug>.html`. Pages are the fragments
in `data/aafp/articles/` and `data/aafp/topics/` wrapped in AAFP-like chrome (`data/aafp/page.html`: cookie banner,
navigation, membership promotion, footer). robots.txt carries rules of the real one, `*.html?null$` among them.

Planted: a topic page links `endorsed.html`, the page that explains endorsement categories (not a recommendation);
one recommendation is linked cleanly from one topic and with AEM's stray `?null` query from another; another is
linked only with `?null`, which robots.txt disallows (and which is not served).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import write

HOST = "www.aafp.org"
SITE = f"https://{HOST}"
SECTION = "family-physician/patient-care/clinical-recommendations"
INDEX = f"{SECTION}/recommendations-by-topic.html"
ROBOTS = (
    "# Use of the AAFP website is subject to the AAFP terms of use.\n"
    "\n"
    "User-agent: *\n"
    "Disallow: /chapter\n"
    "Disallow: /login\n"
    "Disallow: *aafpvlogin*\n"
    "Disallow: /afp/AFPprinter*\n"
    "Disallow: *.html?null$\n"
    "Disallow: *contentpar_gridblock*\n"
    "Disallow: /dam/AAFP/documents/cme*\n"
)


def build(data: Path, site: Path) -> None:
    """Write `site/www.aafp.org/` from `data/aafp/`."""
    source = data / "aafp"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))

    write(root / "robots.txt", ROBOTS.encode("ascii"))
    for page in manifest["recommendations"]:
        path = f"{SECTION}/all-clinical-recommendations/{page['slug']}.html"
        article = (source / "articles" / f"{page['slug']}.html").read_text(encoding="utf-8")
        write(root / path, _page(template, page["title"], page["description"], article, path))
    for topic in manifest["topics"]:
        path = f"{SECTION}/recommendations-by-topic/{topic['slug']}.html"
        article = (source / "topics" / f"{topic['slug']}.html").read_text(encoding="utf-8")
        title = f"{topic['title']} Clinical Recommendations & Guidelines"
        write(root / path, _page(template, title, title, article, path))
    title = "Clinical Recommendations by Topic"
    write(root / INDEX, _page(template, title, title, _index(manifest["topics"]), INDEX))


def _page(template: Template, title: str, description: str, article: str, path: str) -> bytes:
    page = template.substitute(
        title=escape(title), description=escape(description), url=f"{SITE}/{path}", article=article.strip()
    )
    return page.encode("utf-8")


def _index(topics: list[dict]) -> str:
    """The topic index: a heading, a line of introduction and one link per topic page."""
    links = [
        f'<li><a class="adl-link" href="/{SECTION}/recommendations-by-topic/{topic["slug"]}.html">'
        f"{escape(topic['title'])}</a></li>"
        for topic in topics
    ]
    return (
        '<div class="cmp-title"><h1 class="cmp-title__text">Clinical Recommendations by Topic</h1></div>\n'
        '<div class="cmp-text"><p>Browse AAFP clinical practice guidelines and recommendations by topic.</p>\n'
        '<ul class="cmp-list">\n' + "\n".join(links) + "\n</ul></div>"
    )
