"""What every stand-in site of the offline mirror is made with: files under `<site>/<host>/<path>`, pages in a
site's chrome, sitemaps, robots.txt, API responses for query strings, and PDFs laid out deterministically.

A stand-in models its site from the site's published documentation and page structure; its text is written for
this project. Everything is byte-for-byte reproducible, so the mirror builds identically every time.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pymupdf

# PDF layout (points on an A4 page).
PAGE_WIDTH, PAGE_HEIGHT = 595, 842
LEFT, RIGHT, TOP, BOTTOM = 72, 72, 96, 84
BODY_FONT, BOLD_FONT = "helv", "hebo"
BODY_SIZE, HEADING_SIZE, TITLE_SIZE, SUBTITLE_SIZE = 10.5, 15.0, 26.0, 14.0
HEADER_SIZE, NUMBER_SIZE = 8.0, 9.0
BULLET_INDENT = 14


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def query_file(path: Path, params: dict[str, str] | list[tuple[str, str]]) -> Path:
    """The file the mirror server answers `path?query` from: the query's parameters sorted, appended to the name
    (`api.php?action=query&list=allpages`), so a stand-in API is a folder of static responses."""
    items = sorted(params.items() if isinstance(params, dict) else params)
    return path.with_name(f"{path.name}?{urlencode(items)}")


def canonical_query(query: str) -> str:
    """A query string with its parameters sorted, as `query_file` names files."""
    return urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


def robots(disallow: list[str], sitemaps: list[str] = ()) -> bytes:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in disallow)]
    if sitemaps:
        lines += ["", *(f"Sitemap: {url}" for url in sitemaps)]
    return ("\n".join(lines) + "\n").encode("ascii")


def urlset(entries: list[tuple[str, str | None]]) -> bytes:
    """A sitemap of (URL, last modified or None)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, lastmod in entries:
        modified = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{modified}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def sitemap_index(urls: list[str]) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    lines += [f"  <sitemap><loc>{escape(url)}</loc></sitemap>" for url in urls]
    lines.append("</sitemapindex>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- PDFs -------------------------------------------------------------------------------------------------------


@dataclass
class PdfSource:
    """A PDF to lay out: title page fields, the running header, the publisher, and sections of paragraphs and
    bullets."""

    slug: str
    title: str
    subtitle: str
    header: str
    date: str
    publisher: str = "World Health Organization"
    sections: list[tuple[str, list[str]]] = field(default_factory=list)


def read_pdf_source(path: Path, slug: str, publisher: str = "World Health Organization") -> PdfSource:
    """Parse `key: value` header lines, then `# heading` sections of paragraphs (one per line) and `- ` bullets."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines())
    source = PdfSource(slug, fields["title"], fields["subtitle"], fields["header"], fields["date"], publisher)
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


@functools.cache
def _font(name: str) -> pymupdf.Font:
    return pymupdf.Font(name)


def _draw(page: pymupdf.Page, point: tuple[float, float], text: str, font: str, size: float) -> None:
    """Draw text in a base-14 font with its Unicode intact (`insert_text` writes Latin-1 only, so an en dash or a
    curly quote would come out as `·`)."""
    writer = pymupdf.TextWriter(page.rect)
    writer.append(point, text, font=_font(font), fontsize=size)
    writer.write_text(page)


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
        _draw(self.page, (LEFT, 42), self.header, BODY_FONT, HEADER_SIZE)
        width = pymupdf.get_text_length(number, fontname=BODY_FONT, fontsize=NUMBER_SIZE)
        _draw(self.page, ((PAGE_WIDTH - width) / 2, PAGE_HEIGHT - 30), number, BODY_FONT, NUMBER_SIZE)
        self.y = TOP

    def lines(self, lines: list[str], font: str, size: float, indent: float = 0.0, first: str = "") -> None:
        """Draw wrapped lines at the cursor, starting a new page when the body area is full."""
        leading = size * 1.35
        for index, line in enumerate(lines):
            if self.page is None or self.y + leading > PAGE_HEIGHT - BOTTOM:
                self.new_page()
            assert self.page is not None
            if index == 0 and first:
                _draw(self.page, (LEFT, self.y + size), first, font, size)
            _draw(self.page, (LEFT + indent, self.y + size), line, font, size)
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
    layout.lines([f"{source.publisher}, {published.day} {published:%B %Y}"], BODY_FONT, 11)
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
            "author": source.publisher,
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
