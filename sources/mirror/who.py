"""The WHO stand-in: `www.who.int` with robots.txt, a sitemap index, guideline pages and two generated PDFs.

Pages are the article fragments in `data/who/articles/` wrapped in WHO-like site chrome (`data/who/page.html`: cookie
banner, navigation, share links, footer) so that boilerplate removal is exercised. The PDFs are laid out here from
`data/who/pdfs/*.txt` with pymupdf: a title page in a large font, larger section headings, a running header and a
page number on every page, and fixed metadata so the bytes are the same on every build.

Planted for curate: a page under maintenance (too short), a French translation (not English), a 2025 update that
nearly duplicates its 2019 page, and a page in windows-1252. The sitemap also lists two URLs that are not served:
one under `/private/`, which robots.txt disallows, and an infographic, which the WHO module's EXCLUDE drops.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import PdfSource, read_pdf_source, render_pdf, sitemap_index, urlset, write

HOST = "https://www.who.int"
ITEM_PATH = "publications/i/item"
PDF_PATH = "publications/m/item"
ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /search\n\nSitemap: https://www.who.int/sitemap.xml\n"


def build(data: Path, site: Path) -> None:
    """Write `site/www.who.int/` from `data/who/`."""
    source = data / "who"
    root = site / "www.who.int"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    pages = manifest["pages"]
    pdfs = [read_pdf_source(source / "pdfs" / f"{slug}.txt", slug) for slug in manifest["pdfs"]]

    write(root / "robots.txt", ROBOTS.encode("ascii"))
    for page in pages:
        article = (source / "articles" / f"{page['slug']}.html").read_text(encoding="utf-8")
        html = _page(template, page, article, f"{HOST}/{ITEM_PATH}/{page['slug']}")
        write(root / ITEM_PATH / page["slug"] / "index.html", html.encode(page["charset"]))
    for pdf in pdfs:
        write(root / PDF_PATH / f"{pdf.slug}.pdf", render_pdf(pdf))
    write(root / "publications" / "guidelines" / "index.html", _index(template, pages, pdfs).encode("utf-8"))

    publications = [(f"{HOST}/{ITEM_PATH}/{page['slug']}", page["date"]) for page in pages]
    publications += [(f"{HOST}/{PDF_PATH}/{pdf.slug}.pdf", pdf.date) for pdf in pdfs]
    publications += [(url, None) for url in manifest["listed_but_not_served"]]
    write(root / "sitemap-publications.xml", urlset(publications))
    write(root / "sitemap-pages.xml", urlset([(url, None) for url in manifest["other_pages"]]))
    write(root / "sitemap.xml", sitemap_index([f"{HOST}/sitemap-publications.xml", f"{HOST}/sitemap-pages.xml"]))


def _page(template: Template, page: dict, article: str, url: str) -> str:
    return template.substitute(
        lang=page["lang"],
        charset=page["charset"],
        title=escape(page["title"]),
        description=escape(page["description"]),
        url=url,
        date=page["date"],
        article=article.strip(),
    )


def _index(template: Template, pages: list[dict], pdfs: list[PdfSource]) -> str:
    links = [f'<li><a href="{HOST}/{ITEM_PATH}/{page["slug"]}">{escape(page["title"])}</a></li>' for page in pages]
    links += [f'<li><a href="{HOST}/{PDF_PATH}/{pdf.slug}.pdf">{escape(pdf.title)} (PDF)</a></li>' for pdf in pdfs]
    article = "<h1>Guidelines</h1>\n<ul>\n" + "\n".join(links) + "\n</ul>"
    page = {"lang": "en", "charset": "utf-8", "title": "Guidelines", "description": "WHO guidelines", "date": ""}
    return _page(template, page, article, f"{HOST}/publications/guidelines")
