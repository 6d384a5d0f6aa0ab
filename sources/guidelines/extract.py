"""Guideline pages and PDFs to Markdown-ish text: `#` headings, `- ` bullets, paragraphs split by blank lines.

Shared by every guideline organisation: HTML goes through trafilatura (boilerplate removal), PDFs through pymupdf
with a layout pass of our own (body font size, headings from larger fonts, running headers/footers and page numbers
removed, hyphenation joined, two-column pages read column by column).
"""

from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urljoin

import pymupdf
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import detect_encoding, load_html
from trafilatura.xml import xmltotxt

from gap_replay.sources.base import ParseError

# How far into the bytes a charset declaration is looked for (HTML's prescan reads 1024 bytes; pages are sloppier).
CHARSET_PRESCAN = 4096
# mupdf's own errors (damaged streams and objects) are not RuntimeErrors.
PDF_ERRORS = (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase)
# PDF layout rules.
MARGIN = 0.08  # top/bottom share of the page where running headers, footers and page numbers live
RUNNING_MIN_SHARE = 0.5  # a margin line repeating on this share of pages is a running header/footer ...
RUNNING_MIN_PAGES = 3  # ... as is one repeating on this many pages (chapter-wise running heads in long documents)
HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body font
HEADING_MAX_WORDS = 20  # larger text running longer than this is a lead paragraph, not a heading
SENTENCE_END = tuple(".:;!?")
PAGE_NUMBER = re.compile(r"(?i)(page\s+)?(\d{1,4}|(?=[ivx])x{0,3}(ix|iv|v?i{0,3}))(\s*(/|of)\s*\d{1,4})?")
MARKUP_TITLE = re.compile(r"(?i)^(untitled|microsoft word\b.*)$|\.(docx?|pdf|indd|rtf|txt)$")


@dataclass(frozen=True)
class ExtractedPage:
    """The main text of a web page as Markdown, with what the page says about itself."""

    title: str | None
    text: str
    date: str | None
    canonical_url: str | None
    lang: str | None


@dataclass(frozen=True)
class ExtractedPdf:
    """The text of a PDF as Markdown, with its title and page count."""

    title: str | None
    text: str
    pages: int


# HTML ----------------------------------------------------------------------------------------------------------

_DECLARED = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""",
    re.IGNORECASE,
)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def declared_charset(data: bytes) -> str | None:
    """The encoding a page declares (`<meta charset>`, http-equiv or XML declaration), as a Python codec name.

    Labels browsers read as windows-1252 (latin-1, ascii) map to cp1252, as the WHATWG encoding standard says.
    """
    match = _DECLARED.search(data[:CHARSET_PRESCAN])
    if match is None:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def decode_html(data: bytes) -> str:
    """Page bytes to text: a BOM, else valid UTF-8, else the declared charset, else detection, else cp1252.

    Valid UTF-8 goes before the declaration because mislabelled UTF-8 pages are common, while legacy-encoded text
    with any accent in it is practically never valid UTF-8.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    candidates = ["utf-8", declared_charset(data), *detect_encoding(data)]
    for encoding in candidates:
        if encoding is None:
            continue
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _canonical_url(tree: HtmlElement, url: str | None) -> str | None:
    """`<link rel="canonical">`, else `og:url`, made absolute against `url`; None when the page names neither."""
    for xpath in ('//head//link[@rel="canonical"]/@href', '//head//meta[@property="og:url"]/@content'):
        found = [value.strip() for value in tree.xpath(xpath) if value.strip()]
        if found:
            return urljoin(url or "", found[0])
    return None


def _page_lang(tree: HtmlElement) -> str | None:
    """The primary language subtag of `<html lang>` (`en-GB` -> `en`)."""
    value = (tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip()
    return value.split("-")[0].split("_")[0].lower() or None


def _normalised_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def with_title_heading(title: str | None, text: str) -> str:
    """Put `# title` first unless the text already opens with it (trafilatura often keeps the page's `<h1>`)."""
    if not title or not text:
        return text
    first = _normalised_words(text.lstrip().split("\n", 1)[0])
    wanted = _normalised_words(title)
    if first and (first in wanted or wanted in first):
        return text
    return f"# {title.strip()}\n\n{text}"


def tidy_markdown(text: str) -> str:
    """Trailing spaces off, whitespace runs inside lines collapsed, bare `-` bullets joined to their text, and
    at most one blank line in a row."""
    lines: list[str] = []
    pending_bullet = False
    for raw in text.splitlines():
        stripped = raw.rstrip()
        indent = stripped[: len(stripped) - len(stripped.lstrip())]
        line = indent + re.sub(r"[ \t\u00a0]{2,}|\t", " ", stripped.lstrip())
        if pending_bullet:
            if not line.strip():
                continue
            lines[-1] = f"{lines[-1]} {line.strip()}"
            pending_bullet = False
            continue
        if line.strip() in ("-", "*"):
            lines.append(f"{indent}-")
            pending_bullet = True
            continue
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    if pending_bullet:
        lines.pop()
    return "\n".join(lines).strip()


def html_to_markdown(html: bytes, url: str | None = None) -> ExtractedPage:
    """The main content of a page (navigation, footers, cookie banners dropped) as Markdown, plus its metadata."""
    tree = load_html(decode_html(html))
    if tree is None:
        return ExtractedPage(title=None, text="", date=None, canonical_url=None, lang=None)
    canonical = _canonical_url(tree, url)
    lang = _page_lang(tree)
    document = bare_extraction(
        tree,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        favor_precision=True,
        deduplicate=False,
        with_metadata=True,
    )
    if document is None:
        return ExtractedPage(title=None, text="", date=None, canonical_url=canonical, lang=lang)
    title = (document.title or "").strip() or None
    body = tidy_markdown(xmltotxt(document.body, True)) if document.body is not None else ""
    return ExtractedPage(
        title=title,
        text=with_title_heading(title, body),
        date=document.date or None,
        canonical_url=canonical or document.url or None,
        lang=lang,
    )


# PDF -----------------------------------------------------------------------------------------------------------


@dataclass
class _Line:
    """One visual line of a PDF page: its text, dominant font size and weight, and place."""

    text: str
    size: float
    bold: bool
    top: float
    bottom: float
    block: tuple[int, int]


@dataclass
class _Item:
    """A piece of output: a heading (with its font size), a list item or a paragraph, as lines to be joined."""

    kind: str
    lines: list[str]
    size: float = 0.0


def _line_from_spans(spans: list[dict], block: tuple[int, int], top: float, bottom: float) -> _Line | None:
    text = "".join(span["text"] for span in spans)
    text = re.sub(r"[\s\u00a0]+", " ", text).strip()
    if not text:
        return None
    weights: Counter[float] = Counter()
    bold = 0
    for span in spans:
        weights[round(span["size"], 1)] += len(span["text"].strip())
        if span["flags"] & pymupdf.TEXT_FONT_BOLD or "bold" in span["font"].lower():
            bold += len(span["text"].strip())
    size = weights.most_common(1)[0][0] if weights.total() else round(spans[0]["size"], 1)
    return _Line(text=text, size=size, bold=bold * 2 > weights.total(), top=top, bottom=bottom, block=block)


def _reading_order(blocks: list[dict], width: float) -> list[dict]:
    """Text blocks in reading order: full-width blocks (and blocks above everything in the other column) cut the
    page into bands, and each band is read left column first, then right column."""
    middle = width / 2
    tolerance = width * 0.02

    def side(block: dict) -> str:
        """Which column a block sits in, by the characters of its lines (a block may hold a stray footnote)."""
        weight = {"left": 0, "right": 0}
        for line in block["lines"]:
            x0, _, x1, _ = line["bbox"]
            chars = sum(len(span["text"].strip()) for span in line["spans"])
            if x1 <= middle + tolerance:
                weight["left"] += chars
            elif x0 >= middle - tolerance:
                weight["right"] += chars
            elif chars:
                return "full"
        return "left" if weight["left"] >= weight["right"] else "right"

    sides = {id(block): side(block) for block in blocks}
    tops = {"left": math.inf, "right": math.inf}
    for block in blocks:
        if sides[id(block)] in tops:
            tops[sides[id(block)]] = min(tops[sides[id(block)]], block["bbox"][1])

    def cuts_band(block: dict) -> bool:
        where = sides[id(block)]
        if where == "full":
            return True
        other = "right" if where == "left" else "left"
        return block["bbox"][3] <= tops[other]

    ordered: list[dict] = []
    band: list[dict] = []

    def flush() -> None:
        band.sort(key=lambda block: (sides[id(block)] == "right", block["bbox"][1], block["bbox"][0]))
        ordered.extend(band)
        band.clear()

    for block in sorted(blocks, key=lambda block: (block["bbox"][1], block["bbox"][0])):
        if cuts_band(block):
            flush()
            ordered.append(block)
        else:
            band.append(block)
    flush()
    return ordered


def _page_lines(page: pymupdf.Page) -> list[_Line]:
    """The page's visual lines in reading order (pieces of a block on one baseline, like a table row, merged), each
    tagged with (page number, block number)."""
    content = page.get_text("dict", flags=pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP)
    blocks = [block for block in content["blocks"] if block.get("type") == 0 and block.get("lines")]
    lines: list[_Line] = []
    for number, block in enumerate(_reading_order(blocks, page.rect.width)):
        rows: list[tuple[list[dict], float, float]] = []
        for raw in block["lines"]:
            top, bottom = raw["bbox"][1], raw["bbox"][3]
            if rows and rows[-1][1] <= (top + bottom) / 2 <= rows[-1][2]:
                rows[-1][0].extend([{"text": " ", "size": 0.0, "flags": 0, "font": ""}, *raw["spans"]])
            else:
                rows.append((list(raw["spans"]), top, bottom))
        for spans, top, bottom in rows:
            line = _line_from_spans(spans, (page.number, number), top, bottom) if spans else None
            if line is not None:
                lines.append(line)
    return lines


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.casefold())


def _in_margin(line: _Line, height: float) -> bool:
    return line.bottom <= height * MARGIN or line.top >= height * (1 - MARGIN)


def _drop_running_lines(pages: list[tuple[list[_Line], float]]) -> list[list[_Line]]:
    """Remove running headers/footers (margin lines repeating across pages, digits ignored) and bare page numbers."""
    seen: Counter[str] = Counter()
    for lines, height in pages:
        seen.update({_margin_key(line.text) for line in lines if _in_margin(line, height)})
    threshold = max(2, min(math.ceil(RUNNING_MIN_SHARE * len(pages)), RUNNING_MIN_PAGES))
    running = {key for key, count in seen.items() if count >= threshold}
    kept: list[list[_Line]] = []
    for lines, height in pages:
        kept.append(
            [
                line
                for line in lines
                if not (
                    _in_margin(line, height) and (_margin_key(line.text) in running or PAGE_NUMBER.fullmatch(line.text))
                )
            ]
        )
    return kept


def _body_size(lines: list[_Line]) -> float:
    """The most common font size, counted by characters."""
    weights: Counter[float] = Counter()
    for line in lines:
        weights[line.size] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _join_lines(lines: list[str], vocabulary: set[str]) -> str:
    """Lines of one paragraph joined with spaces; a word broken by a hyphen at a line end is rejoined, keeping the
    hyphen only when the document spells the word with one elsewhere (`care-` + `associated`)."""
    text = ""
    for line in lines:
        if not text:
            text = line
            continue
        if text[-1] in "-\u00ad\u2010" and len(text) > 1 and text[-2].isalpha() and line[:1].islower():
            head = re.search(r"([^\W\d_]+(?:-[^\W\d_]+)*)[-\u00ad\u2010]$", text)
            tail = re.match(r"[^\W\d_]+", line)
            stem = text[:-1]
            if head and tail:
                hyphenated = f"{head.group(1)}-{tail.group(0)}".casefold()
                joined = f"{head.group(1)}{tail.group(0)}".casefold()
                if hyphenated in vocabulary and joined not in vocabulary:
                    stem = text[:-1] + "-"
            text = stem + line
        else:
            text = f"{text} {line}"
    return text


def _bullet_text(text: str) -> str | None:
    """The text of a list item line (`• text`, `›› text`, `- text`), or None when the line is not one."""
    match = re.match(r"(?:[•●▪■◦‣∙·*–-]|[›»]{1,2})\s+(\S.*)", text)
    return match.group(1) if match else None


def _heading_runs(lines: list[_Line], body: float) -> set[int]:
    """Indexes of lines that are headings: runs of lines in one block, in one font at least HEADING_RATIO times the
    body size, short (at most HEADING_MAX_WORDS words) and not ending like a sentence."""
    headings: set[int] = set()
    start = 0
    while start < len(lines):
        first = lines[start]
        end = start + 1
        while end < len(lines) and (lines[end].block, lines[end].size) == (first.block, first.size):
            end += 1
        text = " ".join(line.text for line in lines[start:end])
        words = len(text.split())
        if (
            body
            and first.size >= body * HEADING_RATIO
            and any(char.isalpha() for char in text)
            and words <= HEADING_MAX_WORDS
            and (words <= 3 or not text.endswith((".", ",", ";")))
        ):
            headings.update(range(start, end))
        start = end
    return headings


def _items(pages: list[list[_Line]], body: float) -> list[_Item]:
    """Group lines into headings, list items and paragraphs. A change of font size or weight starts a new
    paragraph (a bold lead-in line is not glued to its text); paragraphs continue across blocks, columns and pages
    when one ends mid-sentence and the next starts in lower case in the same style."""
    lines = [line for page in pages for line in page]
    headings = _heading_runs(lines, body)
    items: list[_Item] = []
    for index, line in enumerate(lines):
        previous = lines[index - 1] if index else None
        new_block = previous is None or line.block != previous.block
        same_style = previous is not None and (previous.size, previous.bold) == (line.size, line.bold)
        last = items[-1] if items else None
        if index in headings:
            if last and last.kind == "heading" and index - 1 in headings and last.size == line.size:
                last.lines.append(line.text)
            else:
                items.append(_Item("heading", [line.text], line.size))
            continue
        bullet = _bullet_text(line.text)
        if bullet is not None:
            items.append(_Item("bullet", [bullet]))
        elif last and last.kind in ("paragraph", "bullet") and same_style and (not new_block or _continues(last, line)):
            last.lines.append(line.text)
        else:
            items.append(_Item("paragraph", [line.text]))
    return items


def _continues(item: _Item, line: _Line) -> bool:
    """Whether `line` carries on the paragraph `item` (it ended mid-sentence and the line starts in lower case)."""
    return not item.lines[-1].endswith(SENTENCE_END) and line.text[:1].islower()


def _render(items: list[_Item], vocabulary: set[str]) -> str:
    """Markdown: the largest heading size as `#`, other headings `##`, list items on consecutive lines."""
    sizes = sorted({item.size for item in items if item.kind == "heading"}, reverse=True)
    parts: list[str] = []
    for item in items:
        text = _join_lines(item.lines, vocabulary)
        if item.kind == "heading":
            parts.append(("#" if item.size == sizes[0] else "##") + " " + text)
        elif item.kind == "bullet":
            parts.append("- " + text)
        else:
            parts.append(text)
    out: list[str] = []
    for index, part in enumerate(parts):
        if index and not (items[index].kind == "bullet" and items[index - 1].kind == "bullet"):
            out.append("")
        out.append(part)
    return "\n".join(out)


def _first_page_title(lines: list[_Line]) -> str | None:
    """The largest-font text of the first page, its consecutive lines of that size joined."""
    worded = [line for line in lines if any(char.isalpha() for char in line.text)]
    if not worded:
        return None
    largest = max(line.size for line in worded)
    start = next(index for index, line in enumerate(worded) if line.size == largest)
    picked = [worded[start].text]
    for line in worded[start + 1 :]:
        if line.size != largest or line.block != worded[start].block:
            break
        picked.append(line.text)
    return " ".join(picked)


def _open_pdf(data: bytes) -> pymupdf.Document:
    if b"%PDF-" not in data[:1024]:
        raise ParseError("not a PDF (no %PDF- header in the first 1024 bytes)")
    if b"%%EOF" not in data[-1024:]:
        raise ParseError("truncated PDF (no %%EOF marker in the last 1024 bytes)")
    try:
        document = pymupdf.open(stream=data, filetype="pdf")
    except PDF_ERRORS as error:
        raise ParseError(f"unreadable PDF: {error}") from None
    if document.needs_pass:
        document.close()
        raise ParseError("encrypted PDF: a password is needed to read it")
    if document.page_count == 0:
        document.close()
        raise ParseError("PDF has no pages (damaged or truncated)")
    return document


def pdf_to_markdown(data: bytes) -> ExtractedPdf:
    """A PDF's text as Markdown; raises ParseError for bytes that are not a readable, unencrypted PDF."""
    document = _open_pdf(data)
    try:
        pages = [(_page_lines(page), page.rect.height) for page in document]
        metadata_title = (document.metadata or {}).get("title") or ""
        page_count = document.page_count
    except PDF_ERRORS as error:
        raise ParseError(f"damaged PDF: {error}") from None
    finally:
        document.close()
    kept = _drop_running_lines(pages)
    everything = [line for page in kept for line in page]
    vocabulary = {word.casefold() for line in everything for word in _WORD.findall(line.text)}
    text = _render(_items(kept, _body_size(everything)), vocabulary)
    title = metadata_title.strip()
    if not title or MARKUP_TITLE.search(title):
        title = _first_page_title(kept[0]) or ""
    return ExtractedPdf(title=title or None, text=text, pages=page_count)
