"""Guideline pages and PDFs to Markdown-ish text: `#` headings, `- ` bullets, paragraphs split by blank lines.

Shared by every guideline organisation: HTML goes through trafilatura (boilerplate removal), PDFs through pymupdf
with a layout pass of our own (body font size, headings from larger fonts, running headers/footers and page numbers
removed, hyphenation joined, two-column pages read column by column, vertical text turned upright).

The text is meant to be as clean as PMC's: reference lists, citation markers and publisher advertising are dropped,
sub- and superscripts keep their meaning (`10^-4`, `CO_2`, as `fragments.py` writes them), and `error_page_reason`
tells error pages ("page not found", "access denied") from documents.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

import pymupdf
from lxml import etree
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
SCRIPT_RATIO = 0.85  # a sub- or superscript's font is at most this share of its line's font ...
SUPERSCRIPT_RISE = 0.15  # ... and its baseline this share of the line's font size above the line's baseline ...
SUBSCRIPT_DROP = 0.1  # ... or this share below it
WORD_GAP = 0.15  # pieces of a line further apart than this share of the font size are separate words
GUTTER_SEARCH = (0.2, 0.8)  # where, as shares of the page width, gaps between columns are looked for ...
GUTTER_SHARE = 0.2  # ... places crossed by at most this share of the characters crossing the busiest place
COLUMN_MAX = 0.55  # lines wider than this share of the page width run across columns
COLUMN_LINE = 0.15  # a column holds lines at least this share of the page width wide ...
COLUMN_REACH = 0.05  # ... reaching to within this share of the page width of the gutter ...
COLUMN_MIN_LINES = 2  # ... at least this many on each side of the gutter
COMPOUND_PART_MIN = 3  # the last part of a hyphenated word broken at its own hyphen is a word this long at least
SENTENCE_END = tuple(".:;!?")
PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})(\d{2})")  # a PDF date string, `D:YYYYMMDDHHmmSS...`
PAGE_NUMBER = re.compile(r"(?i)(page\s+)?(\d{1,4}|(?=[ivx])x{0,3}(ix|iv|v?i{0,3}))(\s*(/|of)\s*\d{1,4})?")
# A page number at either end of a running header ("12 | Title", "Title | 13"), for headers alternating sides.
EDGE_PAGE_NUMBER = re.compile(
    r"(?i)^(page\s+)?(\d{1,4}|[ivx]{1,5})\s*[|·•–—-]?\s+(?=\S)|(?<=\S)\s+[|·•–—-]?\s*(page\s+)?(\d{1,4}|[ivx]{1,5})$"
)
# PDF metadata titles that are not titles: placeholders, application names, file names, bare numbers.
JUNK_TITLE = re.compile(
    r"(?i)^(untitled\b.*|microsoft (word|powerpoint|excel)\b.*|(word )?document\s*\d*|title|no title|slide\s*\d+"
    r"|powerpoint presentation|layout\s*\d+|print|default|pdf|adobe\b.*)$"
    r"|\.(docx?|pdf|indd|rtf|txt|pptx?|xlsx?|qxd|qxp|tex|dvi|e?ps|p65)$"
)
SYMBOL_FONT = re.compile(r"(?i)wingding|webding|dingbat|zapf")  # fonts whose glyphs are pictures, bullets among them
# Glyphs that start a list item; U+FFFD and private-use characters are bullets whose font has no Unicode mapping.
BULLET_GLYPHS = "•●▪■◦‣∙·○◆◇►▶➢➤✓✔□❑❒\u2043\u25aa\u25ab\ufffd\ue000-\uf8ff"
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x94\x96-\x9f]")  # U+0095 is cp1252's bullet
# Superscripts after these units are exponents (`mm^3`), not citations; a single letter (`m^2`, `x^2`) always is.
UNITS = frozenset({"cm", "mm", "km", "dm", "nm", "µm", "μm", "um", "ft", "ms", "ml", "dl", "kg", "mg", "mol", "mmol"})
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
PLAIN_SUPERSCRIPTS = frozenset({"®", "™", "©", "℠"})
# A superscript that marks a citation or footnote: `12`, `3,4`, `1-3`, `*`, `†`, `a`.
CITATION_MARK = re.compile(r"(\d{1,3}([,–\-−]\d{1,3})*|[*†‡§¶#]+|[a-z])[*†‡§¶#]*")
# An inline citation in brackets: `[12]`, `[3,4]`, `[1-3, 7]` (not at a line start or in a table cell).
BRACKET_CITATION = re.compile(r"(?<=[^\s|])\s?\[\s*\d{1,3}(?:\s*[,–\-−]\s*\d{1,3})*\s*\]")
UNICODE_SUPERSCRIPT_CITATION = re.compile(r"(?<=[^\W\d_]|[.,;:)\]])[⁰¹²³⁴⁵⁶⁷⁸⁹]+(?:[,⁻–][⁰¹²³⁴⁵⁶⁷⁸⁹]+)*")
# A line that opens a reference list: `References`, `## 7. Bibliography`, `Literature cited:`.
REFERENCES_HEADING = re.compile(
    r"(?i)(#{1,6} )?(\d+(\.\d+)*\.?\s+)?(references|reference list|bibliography|literature cited|works cited"
    r"|cited literature|citations|notes and references|references and notes|selected references"
    r"|key references)\s*:?"
)
REFERENCE_YEAR = re.compile(r"\b(1[89]|20)\d\d[a-z]?\b")
REFERENCE_CUES = tuple(
    re.compile(pattern)
    for pattern in (
        r"\bet\.? ?al\b",  # et al
        r"\bdoi\b|\b10\.\d{4,}/",  # a DOI
        r"\b\d+\s*(\(\d+\))?\s*:\s*\d+|\b(1[89]|20)\d\d\s*;\s*\d|\b(vol|pp?|no)\.\s*\d",  # volume and pages
        r"https?://|www\.|\b(accessed|available (at|from)|retrieved)\b",  # a web address
        r"\b[A-Z][\w'’-]+,? (?:[A-Z]\.?){1,3}[,.:]|\bIn:",  # authors (`Smith AB,`), an edited book
    )
)
REFERENCE_MIN_SHARE = 0.5  # a section is a reference list when this share of its paragraphs read like references
PROSE_MIN_WORDS = 12  # two paragraphs this long in a row that do not read like references end a reference list
REFERENCE_NOTE_MAX_WORDS = 120  # a paragraph opening with a footnote number and reading like a reference, if short
# Publisher advertising in journal PDFs ("Submit your next manuscript to BioMed Central and take full advantage of").
ADVERT = re.compile(
    r"(?i)submit your (next )?manuscript|publish with (biomed central|bmc|springer|dove|frontiers|hindawi)"
    r"|take full advantage of|convenient online submission|thorough peer review|inclusion in pubmed"
    r"|your research papers will be|maximum visibility for your research|biomedcentral\.com/(submit|info)"
    r"|publish your work in this journal|we accept pre-submission inquiries"
)
ADVERT_MIN_PHRASES = 2
# HTML rules.
CHROME_TAGS = frozenset({"nav", "footer", "aside"})
CHROME_CLASS = re.compile(r"(?i)logo|brand|banner|masthead|site-?name|site-?title|navbar")
TITLE_SEARCH_LINES = 3  # the page's own title heading may follow a label line or two
GENERIC_TITLES = frozenset({"home", "homepage", "home page", "welcome", "index", "default", "untitled", "page"})
TITLE_SEPARATOR = re.compile(r"(\s+[|–—·»]\s+|\s+-\s+|\s*::\s*)")
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
UNWRAPPED_IN_HEADINGS = frozenset({"div", "p", "section", "article", "header", "span", "font", "strong", "b"})
KEEPS_WHITESPACE = frozenset({"pre", "textarea"})
# Boxes inside the main content that belong to the site ("Report a problem", "Date modified", share buttons).
BOILERPLATE_CLASS = re.compile(r"(?i)\bpage-?details\b|\breport-(a-)?problem\b|\bshare-?(this|buttons|tools)\b")
CITATION_CLASS = re.compile(r"(?i)\b(ref|refs|reference|citation|cite|footnote|fn|xref)\b")
LEFTOVER_TAG = re.compile(
    r"(?i)</?(sup|sub|span|div|p|br|b|i|u|em|strong|a|font|small|big|mark|abbr|cite|ins|del|s|strike|tt|img|hr)"
    r"\b[^<>]*>"
)
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")  # trafilatura's backslash escapes (`5 \< 6`)
LIST_ITEM = re.compile(r"([-*+]|\d{1,3}[.)])\s")
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
ISO_DATE = re.compile(r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})\b|^\s*(\d{4})(\d{2})(\d{2})\b")
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
# Error pages: (reason, what a title or first heading says, what the text says). Strict on purpose: a page is an
# error page only when one of these matches and the page holds little text (see `error_page_reason`).
ERROR_PAGES = (
    (
        "page not found",
        r"^(error\s*)?404\b|\b(error|http|status)\s*404\b|\b404\s*(error|not found|page)\b|^not found$"
        r"|\b(page|file|document|resource|url|content)\s+(was\s+)?not\s+found\b"
        r"|\bpage\s+(cannot|can ?not|could not|couldn't|can't)\s+be\s+(found|displayed)\b"
        r"|\bpage\s+(does not|doesn't|no longer)\s+exists?\b"
        r"|\b(can't|cannot|can not|could not|couldn't|unable to)\s+find\s+(that|this|the|your)\s+page\b",
        r"\b(page|url|web address|link)( you (requested|are looking for|were looking for|followed))?\s+(cannot|can ?not"
        r"|could not|couldn't|can't|was not|wasn't|is not|isn't|does not|doesn't|no longer)\s+(be\s+)?(found|exists?)\b"
        r"|\bpage not found\b|\berror 404\b|\b404\b[^.\n]{0,30}\bnot found\b"
        r"|\bpage you (are|were) looking for\b[^.\n]{0,40}\b(moved|deleted|removed|renamed)\b"
        r"|\b(can't|cannot|could not|couldn't)\s+find\s+(that|this|the)\s+page\b",
    ),
    (
        "access denied",
        r"\baccess (is )?denied\b|^(error\s*)?40[13]\b|\b(error|http|status)\s*40[13]\b|^forbidden$"
        r"|\b403 forbidden\b|^unauthori[sz]ed$|\bpermission denied\b",
        r"(?m)^\W*access (is )?denied\b|\byou (do not|don't) have permission to access\b|\b403 forbidden\b",
    ),
    (
        "server error",
        r"^(error\s*)?50[0234]\b|\b(error|http|status)\s*50[0234]\b|\binternal server error\b"
        r"|\bservice (is )?(temporarily )?unavailable\b|\bbad gateway\b|\bgateway time-?out\b|^error$",
        r"\binternal server error\b|\bservice (is )?(temporarily )?unavailable\b|\bbad gateway\b"
        r"|\ban? (unexpected )?error (has )?occurred while processing your request\b",
    ),
    (
        "bot check",
        r"^just a moment\b|\battention required\b|\bare you a robot\b|\bverify(ing)? (that )?you are (a )?human\b",
        r"\bchecking your browser\b|\benable javascript and cookies to continue\b|\bverify (that )?you are (a )?human\b"
        r"|\bcomplete the captcha\b",
    ),
)
ERROR_MAX_WORDS_TITLED = 200  # an error title or heading with at most this many words of text is an error page
ERROR_MAX_WORDS_TEXT = 100  # an error sentence in a text of at most this many words is an error page


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
    """The text of a PDF as Markdown, with its title, page count and creation date (`YYYY-MM-DD` from its metadata)."""

    title: str | None
    text: str
    pages: int
    date: str | None = None


# Error pages -------------------------------------------------------------------------------------------------------

_ERROR_PAGES = tuple((reason, re.compile(titled, re.I), re.compile(said, re.I)) for reason, titled, said in ERROR_PAGES)


def error_page_reason(title: str | None, text: str) -> str | None:
    """Why a page is an error page ("page not found", "access denied", "server error", "bot check"), or None for a
    real document. A title or first heading saying so, with little text, is one (soft 404s served with status 200
    included); so is a short text saying so. A long document that mentions errors or things not found is not."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    heading = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "")
    words = len(re.findall(r"\w+", text))
    labels = [label for label in (title or "", heading) if label]
    for reason, titled, said in _ERROR_PAGES:
        if words <= ERROR_MAX_WORDS_TITLED and any(_says_error(titled, label) for label in labels):
            return reason
        if words <= ERROR_MAX_WORDS_TEXT and said.search(text):
            return reason
    return None


def _says_error(pattern: re.Pattern[str], label: str) -> bool:
    """Whether a title says error, whole or in one of its parts ("404 | Health agency", "Error - Page not found")."""
    parts = [part.strip() for part in TITLE_SEPARATOR.split(label)[::2]]
    return any(pattern.search(part) for part in [label.strip(), *parts] if part)


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
        wanted = set(_normalised_words(headline).split())
        for title in tree.xpath('//head/title/text()|//meta[@property="og:title"]/@content'):
            parts = _title_parts(title)
            if len(parts) > 1:
                names.extend(part for part in parts if not wanted & set(_normalised_words(part).split()))
    found = {_normalised_words(name) for name in names if isinstance(name, str) and len(name) <= 120}
    return found - {""}


def _without_site_name(title: str, sites: set[str]) -> str:
    """A title with a leading or trailing site name cut off ("Rabies | Health agency" -> "Rabies")."""
    parts = TITLE_SEPARATOR.split(title)
    while len(parts) >= 3 and _normalised_words(parts[-1]) in sites:
        parts = parts[:-2]
    while len(parts) >= 3 and _normalised_words(parts[0]) in sites:
        parts = parts[2:]
    return "".join(parts).strip()


def _is_banner(title: str, sites: set[str]) -> bool:
    words = _normalised_words(title)
    return not words or words in sites or words in GENERIC_TITLES


def _page_title(found: str | None, headline: str | None, sites: set[str]) -> str | None:
    """The document's title: the headline when trafilatura's title is it plus the site's name; else trafilatura's,
    without the site's name, unless that is the site's banner or a generic word ("Home"); then the headline."""
    parts = {_normalised_words(part) for part in _title_parts(found)} if found else set()
    if headline and not _is_banner(headline, sites) and _normalised_words(headline) in parts:
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


def _script_text(kind: str, inner: str, before: str) -> str:
    """How a sub- or superscript reads after `before`: dropped when it marks a citation or footnote, `^x` or `_x`
    when it means something (`10^-4`, `m^2`, `CO_2`), plain for ordinals and trademark signs."""
    inner = re.sub(r"\s+", "", inner)
    if not inner:
        return ""
    stem = before.rstrip()
    if kind == "sub":
        return f"_{inner}" if stem[-1:].isalnum() else inner
    if inner in PLAIN_SUPERSCRIPTS or (inner.casefold() in ORDINAL_SUFFIXES and stem[-1:].isdigit()):
        return inner
    if not _is_exponent(before) and CITATION_MARK.fullmatch(inner):
        return ""
    return f"^{inner}"


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
        if element.tag == "sup" and _is_citation_sup(element, inner) and not _is_exponent(before):
            replacement = ""
        else:
            replacement = _script_text(element.tag, inner, before)
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


def _is_exponent(before: str) -> bool:
    """Whether a superscript after `before` is an exponent: after a digit, a single letter or a unit."""
    stem = before.rstrip()
    letters = re.search(r"([^\W\d_]+)$", stem)
    return stem[-1:].isdigit() or (letters is not None and (len(letters[1]) == 1 or letters[1].lower() in UNITS))


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
    return tidy_markdown(_drop_reference_sections(drop_citation_markers(text)))


def with_title_heading(title: str | None, text: str) -> str:
    """Put `# title` first unless the text already opens with it (trafilatura often keeps the page's `<h1>`); a
    `# title` heading after a label line or two ("Position statement") moves up instead of being repeated."""
    if not title or not text:
        return text
    wanted = _normalised_words(title)
    first = _normalised_words(text.lstrip().split("\n", 1)[0])
    if first and (first in wanted or wanted in first):
        return text
    lines = text.split("\n")
    leading = [index for index, line in enumerate(lines) if line.strip()][:TITLE_SEARCH_LINES]
    for index in leading[1:]:
        if lines[index].startswith("# ") and _normalised_words(lines[index]) == wanted:
            rest = tidy_markdown("\n".join(lines[:index] + lines[index + 1 :]))
            return f"{lines[index].strip()}\n\n{rest}"
    return f"# {title.strip()}\n\n{text}"


def tidy_markdown(text: str) -> str:
    """Trailing spaces off, whitespace runs inside lines collapsed, bare `-` bullets joined to their text, at most
    one blank line in a row, and no indentation but a nested list item's (an indented line would read as a code
    block); fenced code is left as it is."""
    lines: list[str] = []
    pending_bullet = False
    fenced = False
    list_indent: int | None = None  # indentation of the last non-blank line when it is a list item
    for raw in text.splitlines():
        stripped = raw.rstrip()
        if stripped.lstrip().startswith("```"):
            fenced = not fenced
            lines.append(stripped.lstrip())
            continue
        if fenced:
            lines.append(stripped)
            continue
        body = re.sub(r"[ \t\u00a0]{2,}|\t", " ", stripped.lstrip())
        depth = len(stripped) - len(stripped.lstrip())
        if pending_bullet:
            if not body:
                continue
            lines[-1] = f"{lines[-1]} {body}"
            pending_bullet = False
            continue
        is_item = body in ("-", "*") or bool(LIST_ITEM.match(body))
        indent = min(depth, list_indent + 4) if is_item and list_indent is not None else 0
        if body:
            list_indent = indent if is_item else None
        if body in ("-", "*"):
            lines.append(" " * indent + "-")
            pending_bullet = True
            continue
        if not body and (not lines or not lines[-1]):
            continue
        lines.append(" " * indent + body if body else "")
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


# Citations and reference lists (PDF and HTML) ----------------------------------------------------------------------


def _reads_like_reference(text: str) -> bool:
    """Whether a paragraph reads like a bibliographic reference: a year and one cue of a reference (authors with
    initials, journal volume and pages, DOI, `et al`, web address), or two cues without a year."""
    cues = sum(1 for cue in REFERENCE_CUES if cue.search(text))
    return cues >= 2 or (cues == 1 and bool(REFERENCE_YEAR.search(text)))


def _is_reference_note(text: str) -> bool:
    """Whether a paragraph opening with a footnote number is a reference note: short, and reads like a reference."""
    return len(text.split()) <= REFERENCE_NOTE_MAX_WORDS and _reads_like_reference(text)


def drop_citation_markers(text: str) -> str:
    """Inline citation markers out, as PMC's text has none: `[12]`, `[3,4]`, `[1-3]` and superscript digits after a
    word (`disease.¹²`); superscripts after a single letter or a unit (`m²`, `mm³`) are exponents and stay."""
    text = BRACKET_CITATION.sub("", text)

    def unless_exponent(match: re.Match[str]) -> str:
        return match.group(0) if _is_exponent(text[max(0, match.start() - 12) : match.start()]) else ""

    return UNICODE_SUPERSCRIPT_CITATION.sub(unless_exponent, text)


def _heading_level(line: str) -> int:
    match = re.match(r"(#{1,6}) ", line)
    return len(match.group(1)) if match else 0


def _reference_section_end(lines: list[str], start: int, level: int) -> int:
    """Where a reference list opened at `start` ends: at the next heading of the same or a higher level (any
    heading after a plain `References` line), or before two prose paragraphs in a row (an annex without a heading)."""
    prose = 0
    for index in range(start + 1, len(lines)):
        line = lines[index].strip()
        found = _heading_level(line)
        if found and (level == 0 or found <= level):
            return index
        if line:
            prose = prose + 1 if len(line.split()) >= PROSE_MIN_WORDS and not _reads_like_reference(line) else 0
            if prose == 2:
                previous = max(position for position in range(start + 1, index) if lines[position].strip())
                return previous
    return len(lines)


def _drop_reference_sections(text: str) -> str:
    """Reference lists out: from a `References`/`Bibliography` line (heading or not) to where the list ends (see
    `_reference_section_end`), when most of its paragraphs read like references."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if REFERENCES_HEADING.fullmatch(line):
            end = _reference_section_end(lines, index, _heading_level(line))
            paragraphs = [item.strip() for item in lines[index + 1 : end] if item.strip()]
            referencing = sum(_reads_like_reference(item) for item in paragraphs)
            if paragraphs and referencing >= REFERENCE_MIN_SHARE * len(paragraphs):
                index = end
                continue
        kept.append(lines[index])
        index += 1
    return "\n".join(kept)


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


@dataclass(slots=True)
class _Span:
    """A run of text in one font on a line, placed on the page (upright coordinates)."""

    text: str
    size: float
    bold: bool
    x0: float
    x1: float
    baseline: float
    pictures: bool  # set in a dingbat font: its glyphs are pictures (bullets, ticks), whatever their code points


_CONTROL_CODES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
_SPAN_TEXT = str.maketrans({**dict.fromkeys(_CONTROL_CODES), 0x2010: "-", 0x2011: "-"})


@functools.lru_cache(maxsize=1024)
def _font_traits(font: str) -> tuple[bool, bool]:
    """(bold by its name, a dingbat font) for a font name."""
    return "bold" in font.lower(), bool(SYMBOL_FONT.search(font))


def _span(raw: dict) -> _Span:
    """A mupdf span as a `_Span`: control characters out, Unicode hyphens as `-`."""
    bold_name, pictures = _font_traits(raw.get("font", ""))
    return _Span(
        text=raw["text"].translate(_SPAN_TEXT),
        size=round(raw["size"], 1),
        bold=bold_name or bool(raw["flags"] & pymupdf.TEXT_FONT_BOLD),
        x0=raw["bbox"][0],
        x1=raw["bbox"][2],
        baseline=raw["origin"][1],
        pictures=pictures,
    )


_SCRIPT_CHARS = re.compile(r"[\w+\-−–*†‡§¶#]")
_SPACES = re.compile(r"[\s\u00a0]+")
_INNER_SOFT_HYPHEN = re.compile(r"\u00ad(?=.)")  # invisible inside a line; one at the end marks a break
_UNMAPPED_BULLET = re.compile(r"^[\ufffd\ue000-\uf8ff]+\s*(?=\S)")


def _script_kind(span: _Span, size: float, baseline: float) -> str | None:
    """`sup` or `sub` for a span set smaller than its line and above or below the line's baseline."""
    if span.size > size * SCRIPT_RATIO or span.pictures or not _SCRIPT_CHARS.search(span.text):
        return None
    rise = baseline - span.baseline
    if rise > size * SUPERSCRIPT_RISE:
        return "sup"
    if rise < -size * SUBSCRIPT_DROP:
        return "sub"
    return None


def _visible_spans(spans: list[_Span]) -> list[_Span]:
    """Spans left to right. Where pieces were drawn out of order (superscripts after their line), a span that
    another one starts inside is cut there, and whitespace-only spans lying over a visible one (mupdf adds such
    spaces) are dropped."""
    spans = [span for span in spans if span.text]
    if all(later.x0 >= earlier.x1 - 0.5 for earlier, later in itertools.pairwise(spans)):
        return spans  # drawn left to right, nothing overlaps
    visible = [span for span in spans if span.text.strip()]
    cut = [piece for span in visible for piece in _cut_at(span, [other.x0 for other in visible if other is not span])]
    kept = cut + [
        span
        for span in spans
        if not span.text.strip() and not any(span.x0 < o.x1 - 0.5 and o.x0 < span.x1 - 0.5 for o in visible)
    ]
    return sorted(kept, key=lambda span: span.x0)


def _cut_at(span: _Span, places: list[float]) -> list[_Span]:
    """A span cut where other spans start inside it, each cut at the word end nearest the place (characters are
    taken as equally wide: mupdf's spans carry no character positions)."""
    inside = sorted(place for place in places if span.x0 + 0.5 < place < span.x1 - 0.5)
    if not inside:
        return [span]
    text, width = span.text, span.x1 - span.x0
    ends = [index for index in range(1, len(text)) if not text[index - 1].isspace() and not text[index].isalnum()]
    if not ends:
        return [span]
    cuts = {min(ends, key=lambda end: abs(span.x0 + width * end / len(text) - place)): place for place in inside}
    edges = [(0, span.x0), *sorted(cuts.items()), (len(text), span.x1)]
    return [
        # a piece after a cut starts just after the span that starts there, so that it sorts after it
        _Span(text[start:end], span.size, span.bold, x0 + (0.01 if start else 0), x1, span.baseline, span.pictures)
        for (start, x0), (end, x1) in itertools.pairwise(edges)
    ]


def _compose(spans: list[_Span], kinds: list[str | None], size: float) -> str:
    """A line's text from its spans and their script kinds: a space where pieces stand apart, sub- and
    superscripts as `_x`/`^x` (or dropped as citation markers), a dingbat or unmapped glyph at the start as a
    bullet."""
    text = ""
    last_end: float | None = None
    index = 0
    while index < len(spans):
        span, kind = spans[index], kinds[index]
        if kind:
            end = index
            while end < len(spans) and kinds[end] == kind:
                end += 1
            script = _script_text(kind, "".join(piece.text for piece in spans[index:end]), text)
            text = text.rstrip() + script if script.startswith(("^", "_")) else text + script
            last_end = spans[end - 1].x1
            index = end
            continue
        piece = "• " if span.pictures and not text.strip() and len(span.text.strip()) <= 2 else span.text
        if (
            last_end is not None
            and text
            and not text[-1].isspace()
            and not piece[:1].isspace()
            and span.x0 - last_end > WORD_GAP * size
        ):
            text += " "
        text += piece
        last_end = span.x1
        index += 1
    text = _SPACES.sub(" ", text).strip()
    if "\u00ad" in text:
        text = _INNER_SOFT_HYPHEN.sub("", text)
    return _UNMAPPED_BULLET.sub("• ", text) if text[:1] == "\ufffd" or "\ue000" <= text[:1] <= "\uf8ff" else text


def _line_from_spans(raw_spans: list[dict], block: tuple[int, int], top: float, bottom: float) -> _Line | None:
    """One visual line from its mupdf spans: text, the font size of most of its characters, bold when most of
    them are, sub- and superscripts measured against the baseline of its longest span in that size."""
    spans = _visible_spans([_span(raw) for raw in raw_spans])
    weights: Counter[float] = Counter()
    for span in spans:
        weights[span.size] += len(span.text.strip())
    if not weights.total():
        return None
    size = weights.most_common(1)[0][0]
    main = [span for span in spans if span.size == size and span.text.strip()]
    baseline = max(main, key=lambda span: len(span.text.strip())).baseline
    kinds = [_script_kind(span, size, baseline) for span in spans]
    text = _compose(spans, kinds, size)
    if not text:
        return None
    normal = [span for span, kind in zip(spans, kinds, strict=True) if kind is None]
    chars = sum(len(span.text.strip()) for span in normal)
    bold = sum(len(span.text.strip()) for span in normal if span.bold)
    return _Line(text=text, size=size, bold=bold * 2 > chars, top=top, bottom=bottom, block=block)


# Upright text: pages whose text runs up or down (a landscape table on a portrait page) are turned to read across.


def _direction(line: dict) -> str:
    dx, dy = line["dir"]
    if abs(dx) >= abs(dy):
        return "across" if dx >= 0 else "upside-down"
    return "up" if dy < 0 else "down"


def _turn(point: tuple[float, float], direction: str, width: float, height: float) -> tuple[float, float]:
    """A point in the frame where text of `direction` reads left to right, top to bottom."""
    x, y = point
    if direction == "up":
        return height - y, x
    if direction == "down":
        return y, width - x
    if direction == "upside-down":
        return width - x, height - y
    return x, y


def _turn_box(box: tuple[float, ...], direction: str, width: float, height: float) -> tuple[float, ...]:
    (ax, ay), (bx, by) = (_turn(box[:2], direction, width, height), _turn(box[2:4], direction, width, height))
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _upright(blocks: list[dict], width: float, height: float) -> tuple[list[dict], float, float]:
    """Blocks in the frame of the page's main text direction (by characters), and the frame's width and height;
    lines running in another direction (a vertical watermark or margin note) are dropped."""
    weights: Counter[str] = Counter()
    for block in blocks:
        for line in block["lines"]:
            weights[_direction(line)] += sum(len(span["text"].strip()) for span in line["spans"])
    main = weights.most_common(1)[0][0] if weights.total() else "across"
    if main == "across" and len(weights) <= 1:
        return blocks, width, height
    turned: list[dict] = []
    for block in blocks:
        lines = []
        for line in block["lines"]:
            if _direction(line) != main:
                continue
            spans = [
                {
                    **span,
                    "bbox": _turn_box(span["bbox"], main, width, height),
                    "origin": _turn(span["origin"], main, width, height),
                }
                for span in line["spans"]
            ]
            lines.append({**line, "bbox": _turn_box(line["bbox"], main, width, height), "spans": spans})
        if lines:
            if main != "across":
                lines.sort(key=lambda line: (line["bbox"][1], line["bbox"][0]))
            box = (
                min(line["bbox"][0] for line in lines),
                min(line["bbox"][1] for line in lines),
                max(line["bbox"][2] for line in lines),
                max(line["bbox"][3] for line in lines),
            )
            turned.append({**block, "lines": lines, "bbox": box})
    sideways = main in ("up", "down")
    return turned, (height if sideways else width), (width if sideways else height)


def _drop_adverts(blocks: list[dict]) -> list[dict]:
    """Publisher advertising out: where a page holds at least ADVERT_MIN_PHRASES of a journal advert's phrases
    ("Submit your next manuscript", "Thorough peer review"), the region spanned by the blocks holding them, and every
    block inside it. One such phrase in a guideline's own text is not an advert."""
    phrases = {id(block): {match.group(0).lower() for match in ADVERT.finditer(_block_text(block))} for block in blocks}
    adverts = [block for block in blocks if phrases[id(block)]]
    if len(set().union(*phrases.values())) < ADVERT_MIN_PHRASES:
        return blocks
    x0, y0 = min(block["bbox"][0] for block in adverts), min(block["bbox"][1] for block in adverts)
    x1, y1 = max(block["bbox"][2] for block in adverts), max(block["bbox"][3] for block in adverts)

    def inside(block: dict) -> bool:
        middle_x = (block["bbox"][0] + block["bbox"][2]) / 2
        middle_y = (block["bbox"][1] + block["bbox"][3]) / 2
        return x0 <= middle_x <= x1 and y0 <= middle_y <= y1

    return [block for block in blocks if not inside(block)]


def _block_text(block: dict) -> str:
    return " ".join("".join(span["text"] for span in line["spans"]) for line in block["lines"])


# Reading order.


def _crossings(lines: list[tuple[float, float, int]], low: int, high: int) -> list[int]:
    """For each x from `low` to `high`, the characters of the lines crossing it."""
    change = [0] * (high - low + 2)
    for x0, x1, chars in lines:
        first, last = max(low, math.floor(x0) + 1), min(high, math.ceil(x1) - 1)
        if first <= last:
            change[first - low] += chars
            change[last - low + 1] -= chars
    crossing, running = [], 0
    for step in change[:-1]:
        running += step
        crossing.append(running)
    return crossing


def _gutters(blocks: list[dict], width: float) -> list[float]:
    """The x of each gap between columns of text: stretches of the page crossed by few characters (of lines
    narrower than a page-wide title), with column-wide lines on both sides reaching up to them. Empty for a page not
    set in columns."""
    lines = [
        (line["bbox"][0], line["bbox"][2], sum(len(span["text"].strip()) for span in line["spans"]))
        for block in blocks
        for line in block["lines"]
    ]
    low, high = int(width * GUTTER_SEARCH[0]), int(width * GUTTER_SEARCH[1])
    if not lines or high <= low:
        return []
    narrow = [line for line in lines if line[1] - line[0] <= width * COLUMN_MAX]  # full-width lines cross any gutter
    crossing = _crossings(narrow, low, high)
    ceiling = GUTTER_SHARE * max(crossing)
    runs: list[tuple[int, int]] = []
    for offset, value in enumerate(crossing):
        if value <= ceiling:
            if runs and runs[-1][1] == offset - 1:
                runs[-1] = (runs[-1][0], offset)
            else:
                runs.append((offset, offset))
    reach, wide = width * COLUMN_REACH, width * COLUMN_LINE
    gutters = []
    for start, end in runs:
        gutter = low + (start + end) / 2
        left = sum(1 for x0, x1, _ in lines if gutter - reach <= x1 <= gutter and x1 - x0 >= wide)
        right = sum(1 for x0, x1, _ in lines if gutter <= x0 <= gutter + reach and x1 - x0 >= wide)
        if left >= COLUMN_MIN_LINES and right >= COLUMN_MIN_LINES:
            gutters.append(gutter)
    return gutters


def _line_height(block: dict) -> float:
    first = block["lines"][0]["bbox"]
    return first[3] - first[1]


def _stacks(blocks: list[dict]) -> list[list[dict]]:
    """Blocks stacked into the pieces they continue: a block starting right under another one it overlaps
    sideways (a table cell or paragraph mupdf split into several blocks) joins it."""
    stacks: list[list[dict]] = []
    for block in sorted(blocks, key=lambda block: (block["bbox"][1], block["bbox"][0])):
        x0, top, x1, _ = block["bbox"]
        for stack in reversed(stacks):
            last = stack[-1]["bbox"]
            overlap = min(x1, last[2]) - max(x0, last[0]) > min(x1 - x0, last[2] - last[0]) / 2
            if overlap and last[3] - 1 <= top <= last[3] + _line_height(block) / 2:
                stack.append(block)
                break
        else:
            stacks.append([block])
    return stacks


def _rows(blocks: list[dict]) -> list[dict]:
    """Blocks of a page without columns in reading order: stacks of blocks (see `_stacks`) top to bottom, stacks
    starting on one row (table cells) left to right."""
    ordered: list[dict] = []
    row: list[list[dict]] = []
    for stack in sorted(_stacks(blocks), key=lambda stack: (stack[0]["bbox"][1], stack[0]["bbox"][0])):
        if row and stack[0]["bbox"][1] > row[0][0]["bbox"][1] + _line_height(row[0][0]) / 2:
            ordered.extend(block for piece in sorted(row, key=lambda stack: stack[0]["bbox"][0]) for block in piece)
            row = []
        row.append(stack)
    ordered.extend(block for piece in sorted(row, key=lambda stack: stack[0]["bbox"][0]) for block in piece)
    return ordered


def _reading_order(blocks: list[dict], width: float) -> list[dict]:
    """Text blocks in reading order. On a page set in columns, blocks across a gutter (and blocks above everything
    in the other columns) cut the page into bands, and each band is read column by column, left to right; a page
    without columns is read row by row."""
    gutters = _gutters(blocks, width)
    if not gutters:
        return _rows(blocks)
    edges = [-math.inf, *gutters, math.inf]
    tolerance = width * 0.01
    full = len(gutters) + 1

    def column(block: dict) -> int:
        """Which column a block sits in, by the characters of its lines (a block may hold a stray footnote);
        `full` for a block with a line across a gutter."""
        weight: Counter[int] = Counter()
        for line in block["lines"]:
            x0, _, x1, _ = line["bbox"]
            chars = sum(len(span["text"].strip()) for span in line["spans"])
            inside = [
                index
                for index in range(len(edges) - 1)
                if x0 >= edges[index] - tolerance and x1 <= edges[index + 1] + tolerance
            ]
            if not inside and chars:
                return full
            weight[inside[0] if inside else 0] += chars
        return weight.most_common(1)[0][0] if weight else 0

    columns = {id(block): column(block) for block in blocks}
    tops: dict[int, float] = {}
    for block in blocks:
        where = columns[id(block)]
        if where != full:
            tops[where] = min(tops.get(where, math.inf), block["bbox"][1])

    def cuts_band(block: dict) -> bool:
        where = columns[id(block)]
        others = [top for index, top in tops.items() if index != where]
        return where == full or all(block["bbox"][3] <= top for top in others)

    ordered: list[dict] = []
    band: list[dict] = []

    def flush() -> None:
        band.sort(key=lambda block: (columns[id(block)], block["bbox"][1], block["bbox"][0]))
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


def _page_lines(page: pymupdf.Page) -> tuple[list[_Line], float]:
    """The page's visual lines in reading order (pieces of a block on one baseline, like a table row, merged), each
    tagged with (page number, block number), and the height of the page as read."""
    content = page.get_text("dict", flags=pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP)
    blocks = [block for block in content["blocks"] if block.get("type") == 0 and block.get("lines")]
    blocks, width, height = _upright(blocks, page.rect.width, page.rect.height)
    lines: list[_Line] = []
    for number, block in enumerate(_reading_order(_drop_adverts(blocks), width)):
        rows: list[tuple[list[dict], float, float]] = []
        for raw in block["lines"]:
            top, bottom = raw["bbox"][1], raw["bbox"][3]
            if rows and rows[-1][1] <= (top + bottom) / 2 <= rows[-1][2]:
                rows[-1][0].extend(raw["spans"])
            else:
                rows.append((list(raw["spans"]), top, bottom))
        for spans, top, bottom in rows:
            line = _line_from_spans(spans, (page.number, number), top, bottom) if spans else None
            if line is not None:
                lines.append(line)
    return lines, height


# Running headers and footers.


def _margin_key(text: str) -> str:
    """A margin line as compared across pages: a page number at either end cut off (headers whose number
    alternates sides), other digits as `#`."""
    return re.sub(r"\d+", "#", EDGE_PAGE_NUMBER.sub("", text.casefold()).strip())


def _in_margin(line: _Line, height: float) -> bool:
    return line.bottom <= height * MARGIN or line.top >= height * (1 - MARGIN)


def _drop_running_lines(pages: list[tuple[list[_Line], float]]) -> list[list[_Line]]:
    """Remove running headers/footers (margin lines repeating across pages, digits ignored) and bare page numbers."""
    seen: Counter[str] = Counter()
    for lines, height in pages:
        seen.update({_margin_key(line.text) for line in lines if _in_margin(line, height)} - {""})
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


# Joining lines: hyphenation.

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LINE_END_HYPHEN = re.compile(r"([^\W_]+(?:-[^\W_]+)*)-$")


def _broken_word(text: str) -> re.Match[str] | None:
    """The word a line ends with when it ends in a hyphen after a letter or digit (looked for in the last 100
    characters only: paragraphs grow long)."""
    return _LINE_END_HYPHEN.search(text[-100:]) if text.endswith("-") else None


def _vocabulary(lines: list[str]) -> set[str]:
    """The words a document spells, case-folded, hyphenated words and each of their parts; the pieces of words
    broken across lines (the last word of a line ending in a hyphen, the first of the next) are left out."""
    vocabulary: set[str] = set()
    broken = False
    for line in lines:
        words = _WORD.findall(line)
        if broken:
            words = words[1:]
        broken = _broken_word(line) is not None
        if broken:
            words = words[:-1]
        for word in words:
            word = word.casefold()
            vocabulary.add(word)
            vocabulary.update(word.split("-"))
    return vocabulary


def _keeps_hyphen(head: str, tail: str, vocabulary: set[str]) -> bool:
    """Whether a word broken at a hyphen after `head` keeps the hyphen, by what the document spells elsewhere: the
    hyphenated form and not the closed one (`care-associated`); for a compound head, its last part not running on
    into `tail` (`threa` + `tening`) but being a word of its own (`third-party` + `owned`). Without evidence the
    break is a syllable break (`preven` + `tion`)."""
    head, tail = head.casefold(), tail.casefold()
    hyphenated, joined = f"{head}-{tail}", f"{head}{tail}"
    if hyphenated in vocabulary and joined not in vocabulary:
        return True
    if joined in vocabulary or "-" not in head:
        return False
    last = head.rsplit("-", 1)[1]
    return f"{last}{tail}" not in vocabulary and len(last) >= COMPOUND_PART_MIN and last in vocabulary


def _join_pair(text: str, line: str, vocabulary: set[str]) -> str:
    """Two lines of a paragraph joined. A word broken by a hyphen is rejoined: before a capital or a digit the
    hyphen is part of the word (`Wisconsin-Madison`, `COVID-19`), after a digit too (`12-month`); before a lower-case
    letter it stays only in a compound (`_keeps_hyphen`). A soft hyphen always goes."""
    if text.endswith("\u00ad") and line[:1].isalpha():
        return text[:-1] + line
    match = _broken_word(text)
    if match is None or not line[:1].isalnum():
        return f"{text} {line}"
    head = match.group(1)
    if not line[:1].islower() or head[-1].isdigit():
        return text + line
    tail = _WORD.match(line)
    keep = tail is not None and _keeps_hyphen(head, tail.group(0), vocabulary)
    return text[:-1] + ("-" if keep else "") + line


def _join_lines(lines: list[str], vocabulary: set[str]) -> str:
    """Lines of one paragraph joined with spaces, words broken across lines rejoined (see `_join_pair`)."""
    text = ""
    for line in lines:
        text = _join_pair(text, line, vocabulary) if text else line
    return text


def _bullet_text(text: str) -> str | None:
    """The text of a list item line (`• text`, `›› text`, `- text`), or None when the line is not one."""
    match = re.match(rf"(?:[{BULLET_GLYPHS}*–-]|[›»]{{1,2}})\s+(?:[{BULLET_GLYPHS}]\s*)*(\S.*)", text)
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
    paragraph (a bold lead-in line is not glued to its text) unless the sentence runs on; paragraphs continue across
    blocks, columns and pages when one ends mid-sentence and the next starts in lower case in the same style."""
    lines = [line for page in pages for line in page]
    headings = _heading_runs(lines, body)
    items: list[_Item] = []
    for index, line in enumerate(lines):
        previous = lines[index - 1] if index else None
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
        elif last and last.kind in ("paragraph", "bullet") and previous and _carries_on(last, previous, line):
            last.lines.append(line.text)
        else:
            items.append(_Item("paragraph", [line.text]))
    return items


def _carries_on(item: _Item, previous: _Line, line: _Line) -> bool:
    """Whether `line` belongs to the paragraph `item` that `previous` ended: the same style, in the same block or
    continuing mid-sentence; or, in the same block and size, continuing mid-sentence after a bold lead-in."""
    if previous.size != line.size:
        return False
    if previous.bold == line.bold:
        return previous.block == line.block or _continues(item, line)
    return previous.block == line.block and _continues(item, line)


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


def _is_junk_title(title: str) -> bool:
    """Whether a PDF's metadata title is no title: empty, a placeholder ("untitled", "Microsoft Word - x.doc"), a
    file name, or digits and punctuation only."""
    title = title.strip()
    if len(title) < 3 or JUNK_TITLE.search(title) or not re.search(r"[^\W\d_]{2}", title):
        return True
    return " " not in title and bool(re.search(r"[_\d/\\]", title))


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
        pages = [_page_lines(page) for page in document]
        metadata = document.metadata or {}
        metadata_title = metadata.get("title") or ""
        created = PDF_DATE.match(metadata.get("creationDate") or "")
        page_count = document.page_count
    except PDF_ERRORS as error:
        raise ParseError(f"damaged PDF: {error}") from None
    finally:
        document.close()
    kept = _drop_running_lines(pages)
    everything = [line for page in kept for line in page]
    vocabulary = _vocabulary([line.text for line in everything])
    text = _render(_items(kept, _body_size(everything)), vocabulary)
    text = tidy_markdown(_drop_reference_sections(drop_citation_markers(text)))
    title = metadata_title.strip()
    if _is_junk_title(title):
        title = _first_page_title(kept[0]) or ""
    date = "-".join(created.groups()) if created else None
    return ExtractedPdf(title=title or None, text=text, pages=page_count, date=date)
