"""The IDSA stand-in: `www.idsociety.org`'s practice guidelines, and the robots.txt of the journal host its guidelines
are published on (`academic.oup.com`, Clinical Infectious Diseases).

Modelled on the live layout: the alphabetical list `/practice-guideline/alphabetical-guidelines/` holds its links in
`div.rtln_body_content`, under one heading per letter; each guideline has a page `/practice-guideline/<slug>/` whose
`<article>` carries the title, the publication date and the guideline text or a summary with a link to the full
guideline PDF in the journal. Pages carry IDSA-like chrome (`data/idsa/page.html`: cookie banner, account links,
menu, page tools, sidebar, footer).

Planted: pages of the guideline section that are not guidelines (the practice guidelines hub, the A-to-Z list itself
and "Guidelines in development", linked from the menu and sidebar on every page; the last is served), a summary page
whose full text is only in the journal, and an entry of the list that links straight to a journal PDF, which the
journal host's robots.txt disallows. Both robots.txt files are modelled for these cases, not copied from the live
sites; the journal's PDF is not served.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import robots, write

HOST = "www.idsociety.org"
JOURNAL = "academic.oup.com"
SECTION = "/practice-guideline"
HOST_DISALLOW = ["/sitecore/", "/api/", "/search/"]
JOURNAL_DISALLOW = ["/*/article-pdf/", "/search-results"]


def build(data: Path, site: Path) -> None:
    """Write `site/www.idsociety.org/` and `site/academic.oup.com/robots.txt` from `data/idsa/`."""
    source = data / "idsa"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))

    write(root / "robots.txt", robots(HOST_DISALLOW))
    write(site / JOURNAL / "robots.txt", robots(JOURNAL_DISALLOW))
    write(root / SECTION.strip("/") / "alphabetical-guidelines" / "index.html", _alphabetical(template, manifest))
    for guideline in manifest["guidelines"]:
        body = Template((source / "guidelines" / f"{guideline['slug']}.html").read_text(encoding="utf-8"))
        article = _guideline(guideline, body.safe_substitute(journal=escape(guideline["journal"] or "")))
        write(root / SECTION.strip("/") / guideline["slug"] / "index.html", _page(template, guideline, article))


def _page(template: Template, page: dict, article: str) -> str:
    return template.substitute(
        title=escape(page["title"]),
        description=escape(page["description"]),
        url=f"https://{HOST}{SECTION}/{page['slug']}/",
        article=article.strip(),
    )


def _alphabetical(template: Template, manifest: dict) -> str:
    blocks = []
    for group in manifest["letters"]:
        items = "\n".join(f'<li><a href="{escape(href)}">{escape(title)}</a></li>' for title, href in group["entries"])
        blocks.append(f'<h2 id="{group["letter"]}">{group["letter"]}</h2>\n<ul>\n{items}\n</ul>')
    article = '<h1>Practice Guidelines A to Z</h1>\n<div class="rtln_body_content">\n' + "\n".join(blocks) + "\n</div>"
    page = {
        "slug": "alphabetical-guidelines",
        "title": "Practice Guidelines A to Z",
        "description": "All IDSA practice guidelines in alphabetical order.",
    }
    return _page(template, page, article)


def _guideline(guideline: dict, body: str) -> str:
    return (
        '<article class="guideline">\n'
        f"<h1>{escape(guideline['title'])}</h1>\n"
        f'<p class="published">Published: <time datetime="{guideline["published"]}">{guideline["shown"]}</time></p>\n'
        '<div class="rtln_body_content">\n' + body.strip() + "\n</div>\n</article>"
    )
