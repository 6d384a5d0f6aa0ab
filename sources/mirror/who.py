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
import re
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path
from string import Template

import pymupdf

HOST = "https://www.who.int"
ITEM_PATH = "publications/i/item"
PDF_PATH = "publications/m/item"
ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /search\n\nSitemap: https://www.who.int/sitemap.xml\n"

# PDF layout (points on an A4 page).
PAGE_WIDTH, PAGE_HEIGHT = 595, 842
LEFT, RIGHT, TOP, BOTTOM = 72, 72, 96, 84
BODY_FONT, BOLD_FONT = "helv", "hebo"
BODY_SIZE, HEADING_SIZE, TITLE_SIZE, SUBTITLE_SIZE = 10.5, 15.0, 26.0, 14.0
HEADER_SIZE, NUMBER_SIZE = 8.0, 9.0
BULLET_INDENT = 14


def build(data: Path, site: Path) -> None:
    """Write `site/www.who.int/` from `data/who/`."""
    source = data / "who"
    root = site / "www.who.int"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    pages = manifest["pages"]
    pdfs = [_read_pdf_source(source / "pdfs" / f"{slug}.txt", slug) for slug in manifest["pdfs"]]

    _write(root / "robots.txt", ROBOTS.encode("ascii"))
    for page in pages:
        article = (source / "articles" / f"{page['slug']}.html").read_text(encoding="utf-8")
        html = _page(template, page, article, f"{HOST}/{ITEM_PATH}/{page['slug']}")
        _write(root / ITEM_PATH / page["slug"] / "index.html", html.encode(page["charset"]))
    for pdf in pdfs:
        _write(root / PDF_PATH / f"{pdf.slug}.pdf", render_pdf(pdf))
    _write(root / "publications" / "guidelines" / "index.html", _index(template, pages, pdfs).encode("utf-8"))

    publications = [(f"{HOST}/{ITEM_PATH}/{page['slug']}", page["date"]) for page in pages]
    publications += [(f"{HOST}/{PDF_PATH}/{pdf.slug}.pdf", pdf.date) for pdf in pdfs]
    publications += [(url, None) for url in manifest["listed_but_not_served"]]
    _write(root / "sitemap-publications.xml", _urlset(publications))
    _write(root / "sitemap-pages.xml", _urlset([(url, None) for url in manifest["other_pages"]]))
    _write(root / "sitemap.xml", _sitemap_index([f"{HOST}/sitemap-publications.xml", f"{HOST}/sitemap-pages.xml"]))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


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


def _urlset(entries: list[tuple[str, str | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, lastmod in entries:
        modified = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{modified}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _sitemap_index(urls: list[str]) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    lines += [f"  <sitemap><loc>{escape(url)}</loc></sitemap>" for url in urls]
    lines.append("</sitemapindex>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# PDFs ----------------------------------------------------------------------------------------------------------


@dataclass
class PdfSource:
    """A PDF to lay out: title page fields, the running header, and sections of paragraphs and bullets."""

    slug: str
    title: str
    subtitle: str
    header: str
    date: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)


def _read_pdf_source(path: Path, slug: str) -> PdfSource:
    """Parse `key: value` header lines, then `# heading` sections of paragraphs (one per line) and `- ` bullets."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines())
    source = PdfSource(slug, fields["title"], fields["subtitle"], fields["header"], fields["date"])
    for line in body.splitlines():
        if line.startswith("# "):
            source.sections.append((line[2:], []))
        elif line.strip():
            source.sections[-1][1].append(line)
    return source


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap of `text` to lines no wider than `width` points."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and pymupdf.get_text_length(candidate, fontname=font, fontsize=size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


class _Layout:
    """Pages with the running header and page number already drawn, and a cursor for the body text."""

    def __init__(self, document: pymupdf.Document, header: str) -> None:
        self.document = document
        self.header = header
        self.page: pymupdf.Page | None = None
        self.y = 0.0

    def new_page(self) -> None:
        self.page = self.document.new_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
        number = str(self.document.page_count)
        self.page.insert_text((LEFT, 42), self.header, fontname=BODY_FONT, fontsize=HEADER_SIZE)
        width = pymupdf.get_text_length(number, fontname=BODY_FONT, fontsize=NUMBER_SIZE)
        self.page.insert_text(((PAGE_WIDTH - width) / 2, PAGE_HEIGHT - 30), number, fontsize=NUMBER_SIZE)
        self.y = TOP

    def lines(self, lines: list[str], font: str, size: float, indent: float = 0.0, first: str = "") -> None:
        """Draw wrapped lines at the cursor, starting a new page when the body area is full."""
        leading = size * 1.35
        for index, line in enumerate(lines):
            if self.page is None or self.y + leading > PAGE_HEIGHT - BOTTOM:
                self.new_page()
            assert self.page is not None
            if index == 0 and first:
                self.page.insert_text((LEFT, self.y + size), first, fontname=font, fontsize=size)
            self.page.insert_text((LEFT + indent, self.y + size), line, fontname=font, fontsize=size)
            self.y += leading


def render_pdf(source: PdfSource) -> bytes:
    """Lay out a PDF deterministically: fixed metadata, no random file ID, objects garbage-collected and deflated."""
    document = pymupdf.open()
    layout = _Layout(document, source.header)
    width = PAGE_WIDTH - LEFT - RIGHT
    layout.new_page()
    layout.y = 260
    layout.lines(_wrap(source.title, BOLD_FONT, TITLE_SIZE, width), BOLD_FONT, TITLE_SIZE)
    layout.y += 12
    layout.lines([source.subtitle], BODY_FONT, SUBTITLE_SIZE)
    published = date.fromisoformat(source.date)
    layout.lines([f"World Health Organization, {published.day} {published:%B %Y}"], BODY_FONT, 11)
    for heading, blocks in source.sections:
        layout.new_page()
        layout.lines(_wrap(heading, BOLD_FONT, HEADING_SIZE, width), BOLD_FONT, HEADING_SIZE)
        layout.y += 6
        for block in blocks:
            if block.startswith("- "):
                wrapped = _wrap(block[2:], BODY_FONT, BODY_SIZE, width - BULLET_INDENT)
                layout.lines(wrapped, BODY_FONT, BODY_SIZE, indent=BULLET_INDENT, first="•")
                layout.y += 3
            else:
                layout.lines(_wrap(block, BODY_FONT, BODY_SIZE, width), BODY_FONT, BODY_SIZE)
                layout.y += 8
    stamp = "D:" + re.sub(r"\D", "", source.date) + "000000Z"
    document.set_metadata(
        {
            "title": source.title,
            "author": "World Health Organization",
            "subject": source.subtitle,
            "keywords": "",
            "creator": "gap-replay offline mirror",
            "producer": "gap-replay offline mirror",
            "creationDate": stamp,
            "modDate": stamp,
        }
    )
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data
