"""Web pages to `ExtractedPage`: bytes decoded, title, dates, canonical URL and language read from the page, the tree
made what a reader sees, then trafilatura's main text (boilerplate removed) as clean Markdown. Pages need charset,
site chrome and metadata handling that PDFs do not, hence a module of their own."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import detect_encoding, load_html
from trafilatura.xml import xmltotxt

from gap_replay.sources.guidelines.markdown import (
    BULLET_GLYPHS,
    CITATION_MARK,
    TITLE_SEPARATOR,
    drop_citation_markers,
    drop_reference_sections,
    is_exponent,
    normalised_words,
    reads_like_reference,
    script_text,
    tidy_markdown,
    with_title_heading,
)

# How far into the bytes a charset declaration is looked for (HTML's prescan reads 1024 bytes; pages are sloppier).
CHARSET_PRESCAN = 4096
CHROME_TAGS = frozenset({"nav", "footer", "aside"})
CHROME_CLASS = re.compile(r"(?i)logo|brand|banner|masthead|site-?name|site-?title|navbar")
GENERIC_TITLES = frozenset({"home", "homepage", "home page", "welcome", "index", "default", "untitled", "page"})
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
UNWRAPPED_IN_HEADINGS = frozenset({"div", "p", "section", "article", "header", "span", "font", "strong", "b"})
KEEPS_WHITESPACE = frozenset({"pre", "textarea"})
# Boxes inside the main content that belong to the site ("Report a problem", "Date modified", share buttons).
BOILERPLATE_CLASS = re.compile(r"(?i)\bpage-?details\b|\breport-(a-)?problem\b|\bshare-?(this|buttons|tools)\b")
CITATION_CLASS = re.compile(r"(?i)\b(ref|refs|reference|citation|cite|footnote|fn|xref)\b")
LEFTOVER_TAG = re.compile(  # not one trafilatura escaped (`\<b\>`): that is text about a tag
    r"(?i)(?<!\\)</?(sup|sub|span|div|p|br|b|i|u|em|strong|a|font|small|big|mark|abbr|cite|ins|del|s|strike|tt|img|hr)"
    r"\b[^<>]*>"
)
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")  # trafilatura's backslash escapes (`5 \< 6`)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x94\x96-\x9f]")  # U+0095 is cp1252's bullet
REFERENCE_NOTE_MAX_WORDS = 120  # a paragraph opening with a footnote number and reading like a reference, if short
# Dates in page metadata, published first: `property`/`name`/`itemprop` of `<meta>` (lower case) and JSON-LD keys.
PUBLISHED_META = (
    "article:published_time",
    "datepublished",
    "dcterms.issued",
    "dcterms.created",
    "dc.date.issued",
    "citation_publication_date",
    "citation_date",
    "dc.date",
    "date",
    "pubdate",
    "datecreated",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "dc.date.modified")
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
ISO_DATE = re.compile(
    r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)|^\s*(\d{4})(\d{2})(\d{2})(?!\d)"
)  # a time may follow
WORDY_DATE = re.compile(
    r"(?i)^\s*(?:(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})|([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})|([a-z]+)\.?,?\s+(\d{4}))\b"
)
# A date the page shows with a label ("Last reviewed: 12 May 2023"); a copyright year is not one.
DATE_LABEL = re.compile(
    r"(?i)\b(?:first published|published|last updated|updated|last reviewed|reviewed|last modified|modified|issued"
    r"|date of (?:publication|issue))(?:\s+on)?\s*:?\s*(?=\S)"
)
DATELINE = re.compile(r"(?i)^((?:\d{1,2}\s+[a-z]+\.?|[a-z]+\.?\s+\d{1,2},?)\s+\d{4})\s*(?:[-–—]+|$)")
DATELINE_LINES = 12  # a dateline opens one of the first lines of the main text
HTMLDATE_PARAMS = {"original_date": True, "extensive_search": False}  # metadata, <time>, date classes: no guessing


@dataclass(frozen=True)
class ExtractedPage:
    """The main text of a web page as Markdown, with what the page says about itself."""

    title: str | None
    text: str
    date: str | None
    canonical_url: str | None
    lang: str | None


_DECLARED = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""",
    re.IGNORECASE,
)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def declared_charset(data: bytes) -> str | None:
    """The encoding a page declares (`<meta charset>`, http-equiv or XML declaration), as a Python codec name.

    Labels browsers read as windows-1252 (latin-1, ascii) map to cp1252, as the WHATWG encoding standard says.
    """
    match = _DECLARED.search(data[: CHARSET_PRESCAN + 64])  # a label may run past the window it starts in
    if match is None or match.start() >= CHARSET_PRESCAN:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in ("iso8859-1", "ascii") else name


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
    value = (tree.get("lang") or tree.get("xml:lang") or "").strip()  # lxml's HTML parser keeps the prefix
    return value.split("-")[0].split("_")[0].lower() or None


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# Titles: the document's headline, not the site's banner.


def _in_chrome(element: HtmlElement) -> bool:
    """Whether an element sits in the site's chrome: navigation, footer, aside, the page-level `<header>`, a banner
    role, or a logo/brand/site-name container."""
    page_header = False
    for node in element.iterancestors():
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in CHROME_TAGS or node.get("role") in ("banner", "navigation"):
            return True
        if tag in ("main", "article") or node.get("role") == "main":
            return False
        page_header = page_header or tag == "header"
        if CHROME_CLASS.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return True
    return page_header or bool(CHROME_CLASS.search(f"{element.get('class') or ''} {element.get('id') or ''}"))


def _headline(tree: HtmlElement) -> str | None:
    """The text of the first `<h1>` outside the site's chrome."""
    for heading in tree.iter("h1"):
        text = _squeeze(heading.text_content())
        if text and not _in_chrome(heading):
            return text
    return None


def _json_ld(tree: HtmlElement) -> Iterator[dict]:
    """Every object in the page's JSON-LD blocks (`@graph` members and nested objects included)."""
    for script in tree.xpath('//script[contains(@type, "ld+json")]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                yield item
                stack.extend(value for value in item.values() if isinstance(value, dict | list))
            elif isinstance(item, list):
                stack.extend(item)


def _title_parts(title: str) -> list[str]:
    """The parts of a title split at its separators ("Rabies | Health agency" -> ["Rabies", "Health agency"])."""
    return [part.strip() for part in TITLE_SEPARATOR.split(title)[::2] if part.strip()]


def _site_names(tree: HtmlElement, headline: str | None) -> set[str]:
    """What the page calls its site (og:site_name, application-name, JSON-LD WebSite/Organization names, the text
    of chrome headings and logo/brand elements, and the parts of `<title>` or `og:title` that share no word with
    the headline), as normalised words."""
    names = [
        *tree.xpath('//meta[@property="og:site_name" or @name="application-name"]/@content'),
        *(
            item.get("name")
            for item in _json_ld(tree)
            if isinstance(item.get("name"), str) and item.get("@type") in ("WebSite", "Organization")
        ),
    ]
    for element in tree.iter("h1", "a", "div", "span", "p"):
        classes = f"{element.get('class') or ''} {element.get('id') or ''}"
        if CHROME_CLASS.search(classes) or (element.tag == "h1" and _in_chrome(element)):
            names.append(element.text_content())
    if headline:
        wanted = set(normalised_words(headline).split())
        for title in tree.xpath('//head/title/text()|//meta[@property="og:title"]/@content'):
            parts = _title_parts(title)
            if len(parts) > 1:
                names.extend(part for part in parts if not wanted & set(normalised_words(part).split()))
    found = {normalised_words(name) for name in names if isinstance(name, str) and len(name) <= 120}
    return found - {""}


def _without_site_name(title: str, sites: set[str]) -> str:
    """A title with a leading or trailing site name cut off ("Rabies | Health agency" -> "Rabies")."""
    parts = TITLE_SEPARATOR.split(title)
    while len(parts) >= 3 and normalised_words(parts[-1]) in sites:
        parts = parts[:-2]
    while len(parts) >= 3 and normalised_words(parts[0]) in sites:
        parts = parts[2:]
    return "".join(parts).strip()


def _is_banner(title: str, sites: set[str]) -> bool:
    words = normalised_words(title)
    return not words or words in sites or words in GENERIC_TITLES


def _page_title(found: str | None, headline: str | None, sites: set[str]) -> str | None:
    """The document's title: the headline when trafilatura's title is it plus the site's name; else trafilatura's,
    without the site's name, unless that is the site's banner or a generic word ("Home"); then the headline."""
    parts = {normalised_words(part) for part in _title_parts(found)} if found else set()
    if headline and not _is_banner(headline, sites) and normalised_words(headline) in parts:
        return headline
    title = _without_site_name(found, sites) if found else None
    if title and not _is_banner(title, sites):
        return title
    if headline and not _is_banner(headline, sites):
        return headline
    return None


# Dates: the page's metadata before anything a script or comment says.


def _date_of(value: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from the start of a value: ISO 8601 forms, `YYYYMMDD`, `4 March 2021`, `March 4,
    2021`, `March 2021` (the first of the month)."""
    match = ISO_DATE.match(value)
    if match:
        year, month, day = (int(group) for group in (match.groups()[:3] if match.group(1) else match.groups()[3:]))
    else:
        match = WORDY_DATE.match(value)
        if not match:
            return None
        if match.group(1):
            day_text, month_text, year_text = match.group(1, 2, 3)
        elif match.group(4):
            month_text, day_text, year_text = match.group(4, 5, 6)
        else:
            month_text, day_text, year_text = match.group(7), "1", match.group(8)
        if month_text.lower() not in MONTHS:
            return None
        year, month, day = int(year_text), MONTHS[month_text.lower()], int(day_text)
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found.isoformat() if 1900 <= found.year <= 2100 else None


def _dateline(text: str) -> str | None:
    """The date a news-style dateline opens a paragraph with ("April 17, 2015 -- Imagine ..."), in the first lines
    of the main text: day, month and year, then a dash or the line's end."""
    for line in text.splitlines()[:DATELINE_LINES]:
        match = DATELINE.match(line)
        if match:
            return _date_of(match.group(1))
    return None


def _labelled_date(text: str) -> str | None:
    """The first date the page's text shows after a label ("Published 4 March 2021", "Last reviewed: May 2023");
    all-numeric dates such as 10/02/2023 are not read, their day and month being ambiguous."""
    for match in DATE_LABEL.finditer(text):
        found = _date_of(text[match.end() : match.end() + 40])
        if found:
            return found
    return None


def _time_date(tree: HtmlElement) -> str | None:
    """The date of the first `<time>` element outside the site's chrome (its `datetime`, else its text)."""
    for element in tree.iter("time"):
        found = _date_of(element.get("datetime") or element.text_content())
        if found and not _in_chrome(element):
            return found
    return None


def _metadata_date(tree: HtmlElement) -> str | None:
    """The page's own date: `<meta>` (property, name, itemprop) and `itemprop` attributes, then JSON-LD; a
    publication date before a modification date."""
    meta: dict[str, str] = {}
    for element in tree.xpath("//meta[@content]|//*[@itemprop][@datetime or @content]"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        value = element.get("content") or element.get("datetime") or ""
        if key and value.strip():
            meta.setdefault(key, value)
    linked: dict[str, str] = {}
    for item in _json_ld(tree):
        for key in ("datePublished", "dateCreated", "dateModified"):
            if isinstance(item.get(key), str):
                linked.setdefault(key.lower(), item[key])
    for keys, sources in ((PUBLISHED_META, (meta, linked)), (MODIFIED_META, (meta, linked))):
        for source in sources:
            for key in keys:
                found = _date_of(source.get(key, ""))
                if found:
                    return found
    return None


# The tree before trafilatura: what a browser would show, nothing a script or comment says.


def _drop_keeping_tail(element: etree._Element) -> None:
    """Remove an element, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    _append_text(element, element.tail or "")
    parent.remove(element)


def _append_text(element: etree._Element, text: str) -> None:
    """Add text where `element` stands: to the tail of its previous sibling, else to its parent's text."""
    if not text:
        return
    previous = element.getprevious()
    parent = element.getparent()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    elif parent is not None:
        parent.text = (parent.text or "") + text


_SOURCE_SPACE = re.compile(r"[ \t\r\n\f]+")


def _collapse_whitespace(tree: HtmlElement) -> None:
    """Runs of whitespace (source indentation and line breaks) as one space, as a browser shows them, except in
    `<pre>`: indented source lines would otherwise come out as Markdown code blocks."""
    kept = {node for element in tree.iter(*KEEPS_WHITESPACE) for node in element.iter()}
    for element in tree.iter():
        if element not in kept and isinstance(element.tag, str) and element.text:
            element.text = _SOURCE_SPACE.sub(" ", element.text)
        if element.tail and element.getparent() not in kept:
            element.tail = _SOURCE_SPACE.sub(" ", element.tail)


def _unwrap_heading_blocks(tree: HtmlElement) -> None:
    """Block and inline wrappers inside headings unwrapped (`<h2><div><a>Title</a></div></h2>` -> `<h2><a>Title`),
    which trafilatura otherwise drops with the heading."""
    for heading in list(tree.iter(*HEADING_TAGS)):
        for inner in [element for element in heading.iterdescendants() if element.tag in UNWRAPPED_IN_HEADINGS]:
            inner.drop_tag()


def _is_citation_sup(sup: HtmlElement, inner: str) -> bool:
    """A `<sup>` marking a citation or footnote: a number list or footnote sign, a link to an anchor on the page,
    or a reference/footnote class."""
    if CITATION_MARK.fullmatch(re.sub(r"[\s\[\]()]", "", inner)):
        return True
    links = sup.xpath(".//a[starts-with(@href, '#')]")
    classes = " ".join(node.get("class") or "" for node in [sup, *sup.iterdescendants()])
    return len(inner) <= 12 and (bool(links) or bool(CITATION_CLASS.search(classes)))


def _is_reference_note(text: str) -> bool:
    """Whether a paragraph opening with a footnote number is a reference note: short, and reads like a reference."""
    return len(text.split()) <= REFERENCE_NOTE_MAX_WORDS and reads_like_reference(text)


def _rewrite_scripts(tree: HtmlElement) -> None:
    """`<sup>`/`<sub>` as text: citation markers dropped, footnote paragraphs that start with one and read like a
    reference dropped whole, other scripts as `^x`/`_x` (trafilatura would leave the raw tags in the Markdown)."""
    for element in list(tree.iter("sup", "sub")):
        if element.getparent() is None or any(node.tag in ("sup", "sub") for node in element.iterancestors()):
            continue
        inner = _squeeze(element.text_content())
        block = next((node for node in element.iterancestors() if node.tag in ("p", "li", "dd", "div")), None)
        before = _preceding_text(element, block)
        note = element.tag == "sup" and block is not None and block.tag in ("p", "li", "dd") and not before.strip()
        if note and _is_citation_sup(element, inner) and _is_reference_note(_squeeze(block.text_content())):
            block.drop_tree()
            continue
        if element.tag == "sup" and _is_citation_sup(element, inner) and not is_exponent(before):
            replacement = ""
        else:
            replacement = script_text(element.tag, inner, before)
        _append_text(element, replacement + (element.tail or ""))
        element.getparent().remove(element)


def _preceding_text(element: HtmlElement, block: HtmlElement | None) -> str:
    """The text of `block` before `element` (its last 40 characters, enough to decide what a script means)."""
    if block is None:
        return ""
    parts: list[str] = []

    def walk(node: HtmlElement) -> bool:
        """Collect text in document order; True once `element` is reached."""
        if node is element:
            return True
        parts.append(node.text or "")
        for child in node:
            if walk(child):
                return True
            parts.append(child.tail or "")
        return False

    walk(block)
    return "".join(parts)[-40:]


def _prepare_tree(tree: HtmlElement) -> None:
    """The tree as a reader sees it, before trafilatura: no comments, scripts (JSON-LD kept), styles or page-details
    boxes, `<time>` as its text, whitespace collapsed, heading wrappers unwrapped, sub- and superscripts as text."""
    etree.strip_elements(tree, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    for element in tree.xpath('//script[not(contains(@type, "ld+json"))]|//style|//template'):
        _drop_keeping_tail(element)
    for element in [node for node in tree.iter() if BOILERPLATE_CLASS.search(str(node.get("class") or ""))]:
        if element.getparent() is not None:
            _drop_keeping_tail(element)
    for element in list(tree.iter("time")):
        element.drop_tag()  # trafilatura drops `<time>` with its text ("Published: March 14, 2023")
    _collapse_whitespace(tree)
    _unwrap_heading_blocks(tree)
    _rewrite_scripts(tree)


# Markdown after trafilatura.


def _bullets_as_list_items(text: str) -> str:
    """Bullet glyphs at a line start as Markdown list items: `- • text` -> `- text`, `• text` -> `- text`, and
    unmapped glyphs (U+FFFD, private use) likewise."""
    glyph = f"[{BULLET_GLYPHS}\u0095]"
    text = re.sub(rf"(?m)^(\s*(?:[-*+]|\d{{1,3}}[.)]) ){glyph}+\s*", r"\1", text)
    return re.sub(rf"(?m)^(\s*){glyph}+\s+(?=\S)", r"\1- ", text)


def _clean_markdown(text: str) -> str:
    """Trafilatura's Markdown cleaned: raw tags, backslash escapes and control characters out, bullet glyphs as list
    items, citation markers and reference lists dropped, whitespace tidied."""
    text = MARKDOWN_ESCAPE.sub(r"\1", LEFTOVER_TAG.sub("", text))
    text = CONTROL_CHARS.sub("", text)
    text = _bullets_as_list_items(text).replace("\u0095", "•")
    return tidy_markdown(drop_reference_sections(drop_citation_markers(text)))


def html_to_markdown(html: bytes, url: str | None = None) -> ExtractedPage:
    """The main content of a page (navigation, footers, cookie banners dropped) as Markdown, plus its metadata."""
    tree = load_html(decode_html(html))
    if tree is None:
        return ExtractedPage(title=None, text="", date=None, canonical_url=None, lang=None)
    canonical = _canonical_url(tree, url)
    lang = _page_lang(tree)
    meta_date = _metadata_date(tree) or _time_date(tree)
    _prepare_tree(tree)
    headline = _headline(tree)
    sites = _site_names(tree, headline)
    shown_date = _labelled_date(_squeeze(" ".join(tree.itertext())))
    document = bare_extraction(
        tree,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        favor_precision=True,
        deduplicate=False,
        with_metadata=True,
        date_extraction_params=HTMLDATE_PARAMS,
    )
    if document is None:
        return ExtractedPage(title=None, text="", date=None, canonical_url=canonical, lang=lang)
    title = _page_title(_squeeze(document.title or "") or None, headline, sites)
    body = _clean_markdown(xmltotxt(document.body, True)) if document.body is not None else ""
    return ExtractedPage(
        title=title,
        text=with_title_heading(title, body),
        date=meta_date or document.date or shown_date or _dateline(body),
        canonical_url=canonical or document.url or None,
        lang=lang,
    )
