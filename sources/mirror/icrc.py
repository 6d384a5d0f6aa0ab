"""The ICRC stand-in: `www.icrc.org` publication listing, publication pages and their PDFs.

Modelled on the Drupal site: the publication listing at `/en/publications`, filtered with a search facet
(`?f%5B0%5D=topic%3Ahealth`) and paged with Drupal's pager (`&page=1` for the second page, a `rel="next"` link);
listing cards with the publication's type, title link, date and topics; publication pages at
`/en/publication/<number>-<slug>` that link their PDF under `/sites/default/files/<yyyy-mm>/` (older pages through
the `/en/download/file/<fid>/<name>.pdf` route), with a download link per language. Pages come in the site chrome of
`data/icrc/page.html` (cookie banner, menus, language switcher, newsletter footer).

robots.txt follows Drupal's default (admin, search and user paths) plus the download-file route. Planted: a legal
fact sheet among the health publications (not medical guidance), a second listing page, a publication offered in
French and English, and an older publication whose PDF sits behind the disallowed download route. The text is
written for this project.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode

from gap_replay.sources.mirror.kit import query_file, read_pdf_source, render_pdf, write

HOST = "https://www.icrc.org"
PUBLISHER = "International Committee of the Red Cross"
ROBOTS = """User-agent: *
# Directories
Disallow: /core/
Disallow: /profiles/
# Paths (clean URLs)
Disallow: /admin/
Disallow: /comment/reply/
Disallow: /filter/tips
Disallow: /node/add/
Disallow: /search/
Disallow: /*/search
Disallow: /user/register
Disallow: /user/password
Disallow: /user/login
Disallow: /user/logout
# Counted file downloads
Disallow: /*/download/file/
"""


def build(data: Path, site: Path) -> None:
    """Write `site/www.icrc.org/` from `data/icrc/`."""
    source = data / "icrc"
    root = site / "www.icrc.org"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    publications = {publication["slug"]: publication for publication in manifest["publications"]}
    write(root / "robots.txt", ROBOTS)
    pages = manifest["listing"]
    for number, slugs in enumerate(pages):
        params = _listing_params(manifest["facet"], number)
        main = _listing(manifest["facet"], [publications[slug] for slug in slugs], number, len(pages))
        url = f"{HOST}/en/publications?{urlencode(params)}"
        write(query_file(root / "en" / "publications", params), _page(template, "Publications", url, main))
    for publication in manifest["publications"]:
        url = f"{HOST}/en/publication/{publication['slug']}"
        html = _page(template, publication["title"], url, _publication(publication))
        write(root / "en" / "publication" / publication["slug"] / "index.html", html)
        for pdf in publication["pdfs"]:
            if "source" in pdf:
                text = read_pdf_source(source / "pdfs" / f"{pdf['source']}.txt", pdf["source"], PUBLISHER)
                write(root / pdf["href"].lstrip("/"), render_pdf(text))


def _listing_params(facet: str, number: int) -> dict[str, str]:
    """Drupal's pager leaves the first page without `page`; the second is `page=1`."""
    return {"f[0]": facet, **({"page": str(number)} if number else {})}


def _page(template: Template, title: str, url: str, main: str) -> str:
    path = url.removeprefix(HOST).strip("/").replace("/", "-") or "front"
    return template.substitute(title=escape(title), url=escape(url), path=escape(path), main=main.strip())


def _listing(facet: str, publications: list[dict[str, Any]], number: int, pages: int) -> str:
    """A listing page: topic facets (links the crawler does not follow), cards, and the pager."""
    facets = "".join(
        f'<li><a href="?{escape(urlencode({"f[0]": f"topic:{topic}"}))}">{topic.title()}</a></li>'
        for topic in ("health", "law", "detention", "water-and-habitat")
    )
    cards = "\n".join(_card(publication) for publication in publications)
    pager = []
    if number > 0:
        pager.append(f'<a href="?{escape(urlencode(_listing_params(facet, number - 1)))}" rel="prev">Previous page</a>')
    if number + 1 < pages:
        pager.append(f'<a href="?{escape(urlencode(_listing_params(facet, number + 1)))}" rel="next">Next page</a>')
    return (
        "<h1>Publications</h1>\n"
        f'<aside class="facets"><h2>Topics</h2><ul>{facets}</ul></aside>\n'
        f'<div class="view-content">\n{cards}\n</div>\n'
        f'<nav class="pager" role="navigation" aria-label="Pagination">{" ".join(pager)}</nav>'
    )


def _card(publication: dict[str, Any]) -> str:
    topics = "".join(f"<li>{escape(topic)}</li>" for topic in publication["topics"])
    link = f'<a href="/en/publication/{publication["slug"]}">{escape(publication["title"])}</a>'
    return (
        '<article class="card card--publication">'
        f'<div class="card__type">{escape(publication["type"])}</div>'
        f'<h3 class="card__title">{link}</h3>'
        f'<div class="card__date">{_time(publication["date"])}</div>'
        f'<ul class="card__topics">{topics}</ul>'
        "</article>"
    )


def _publication(publication: dict[str, Any]) -> str:
    downloads = "".join(
        f'<li><a class="button button--download" href="{pdf["href"]}" hreflang="{pdf["lang"]}">'
        f"{escape(pdf['label'])}</a></li>"
        for pdf in publication["pdfs"]
    )
    number = publication["slug"].split("-", 1)[0]
    return (
        '<article class="publication">\n'
        f"<h1>{escape(publication['title'])}</h1>\n"
        f'<div class="publication__meta"><span>{escape(publication["type"])}</span> {_time(publication["date"])} '
        f"<span>Ref. {number}</span></div>\n"
        f'<div class="publication__summary"><p>{escape(publication["summary"])}</p></div>\n'
        f'<div class="publication__download"><h2>Download</h2><ul>{downloads}</ul></div>\n'
        '<div class="publication__order"><a href="https://shop.icrc.org/">Order a printed copy</a></div>\n'
        "</article>"
    )


def _time(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f'<time datetime="{iso}T12:00:00Z">{day.day} {day:%B} {day.year}</time>'
