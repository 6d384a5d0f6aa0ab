"""The CMA CPG Infobase stand-in: `joulecma.ca` (the infobase, a Drupal site) and one developer's host,
`www.canada.ca`, where the listed guidelines live.

Modelled on the live layout: the specialty index `/cpg/homepage/browse-by/category/specialties` links one page per
specialty (`.../specialties/id/1012`), paged by Drupal's pager (`?page=1`) in a `div.pagination`; each entry has its
title in an `h5` link titled "View fulltext guideline" that points to the guideline on the developer's site, with
the developer, the year and the status underneath. Infobase pages carry Joule's chrome (`data/cma/infobase.html`,
with the EU cookie-compliance popup); canada.ca pages carry the Government of Canada's WET chrome
(`data/cma/canada.html`: language link, search, menu, breadcrumbs, "Report a problem", date modified, footer) and a
PDF laid out from `data/cma/pdfs/`.

Planted: a second specialty page behind the pager, a guideline listed under two specialties, an archived entry (its
URL is not served: the rule must keep it from being requested), a Choosing Wisely Canada list (not a guideline;
its host is not in the mirror), and a guideline among Health Canada's migrated documents, which the canada.ca
stand-in's robots.txt disallows. Both robots.txt files are modelled for these cases, not copied from the live sites.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import query_file, read_pdf_source, render_pdf, robots, write

INFOBASE = "joulecma.ca"
DEVELOPER = "www.canada.ca"
SPECIALTIES = "/cpg/homepage/browse-by/category/specialties"
INFOBASE_DISALLOW = ["/admin/", "/node/add/", "/search/", "/user/"]
DEVELOPER_DISALLOW = ["/en/sr/", "/fr/sr/", "/content/dam/hc-sc/migration/"]
PUBLISHER = "Public Health Agency of Canada"


def build(data: Path, site: Path) -> None:
    """Write `site/joulecma.ca/` and `site/www.canada.ca/` from `data/cma/`."""
    source = data / "cma"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    _build_infobase(source, site / INFOBASE, manifest)
    _build_developer(source, site / DEVELOPER, manifest)


def _build_infobase(source: Path, root: Path, manifest: dict) -> None:
    template = Template((source / "infobase.html").read_text(encoding="utf-8"))
    write(root / "robots.txt", robots(INFOBASE_DISALLOW))
    links = [
        f'<li><a href="{SPECIALTIES}/id/{specialty["id"]}">{escape(specialty["name"])}</a></li>'
        for specialty in manifest["specialties"]
    ]
    index = '<h1>Browse by specialty</h1>\n<ul class="specialties">\n' + "\n".join(links) + "\n</ul>"
    write(root / SPECIALTIES.strip("/") / "index.html", _page(template, "Browse by specialty", SPECIALTIES, index))
    for specialty in manifest["specialties"]:
        folder = root / SPECIALTIES.strip("/") / "id" / specialty["id"]
        for number, keys in enumerate(specialty["pages"]):
            html = _specialty(template, specialty, [manifest["entries"][key] for key in keys], number)
            write(query_file(folder, {"page": str(number)}) if number else folder / "index.html", html)


def _page(template: Template, title: str, path: str, article: str) -> str:
    return template.substitute(title=escape(title), url=f"https://{INFOBASE}{path}", article=article.strip())


def _entry(entry: dict) -> str:
    return (
        '<div class="views-row cpg-result">\n'
        f'  <h5><a href="{escape(entry["url"])}" title="View fulltext guideline">{escape(entry["title"])}</a></h5>\n'
        f'  <div class="cpg-meta">Developer: <span class="cpg-developer">{escape(entry["developer"])}</span> | '
        f'Year: <span class="cpg-year">{entry["year"]}</span> | '
        f'Status: <span class="cpg-status">{entry["status"]}</span></div>\n'
        "</div>"
    )


def _pagination(specialty: dict, current: int) -> str:
    if len(specialty["pages"]) < 2:
        return ""
    path = f"{SPECIALTIES}/id/{specialty['id']}"
    items = []
    for number in range(len(specialty["pages"])):
        active = ' class="active"' if number == current else ""
        query = f"?page={number}" if number else ""
        items.append(f'<li{active}><a href="{path}{query}">{number + 1}</a></li>')
    return '<div class="pagination">' + "".join(items) + "</div>"


def _specialty(template: Template, specialty: dict, entries: list[dict], number: int) -> str:
    article = (
        f"<h1>{escape(specialty['name'])}</h1>\n"
        '<div class="view-content">\n'
        + "\n".join(_entry(entry) for entry in entries)
        + "\n</div>\n"
        + _pagination(specialty, number)
    )
    return _page(template, specialty["name"], f"{SPECIALTIES}/id/{specialty['id']}", article)


def _build_developer(source: Path, root: Path, manifest: dict) -> None:
    template = Template((source / "canada.html").read_text(encoding="utf-8"))
    write(root / "robots.txt", robots(DEVELOPER_DISALLOW))
    for page in manifest["canada_pages"]:
        article = (source / "canada" / f"{page['article']}.html").read_text(encoding="utf-8")
        html = template.substitute(
            title=escape(page["title"]),
            description=escape(page["description"]),
            issued=page["issued"],
            modified=page["modified"],
            url=f"https://{DEVELOPER}/{page['path']}",
            french=f"https://{DEVELOPER}/{page['path'].replace('en/', 'fr/', 1)}",
            article=article.strip(),
        )
        write(root / page["path"], html)
    for pdf in manifest["canada_pdfs"]:
        write(
            root / pdf["path"],
            render_pdf(read_pdf_source(source / "pdfs" / f"{pdf['source']}.txt", pdf["source"], PUBLISHER)),
        )
