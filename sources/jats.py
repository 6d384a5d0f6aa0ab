"""JATS (the XML PubMed Central ships) to Markdown-ish text and the metadata a Document needs.

Text order: title, `# Abstract` (structured abstracts keep their section titles as `##`), `# Author summary`, then
the body with `sec` titles as `#`/`##`/`###` headings, paragraphs, `- ` list items, figure and table captions,
small tables as Markdown pipe tables, formulas as TeX or linearised MathML. Author blocks, references,
acknowledgements, footnotes, funding and conflict statements, supplementary material and appendices are dropped.
Citation markers are removed with the brackets and separators that only served them: "as shown [3, 4-7]." becomes
"as shown.", while "[18F]FDG" and "(n = 12)" stay.
"""

from __future__ import annotations

import datetime
import html.entities
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from gap_replay.sources.base import ParseError

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Private-use characters mark citations while a paragraph is assembled; none survives `clean_inline`.
CITE = "\ue000"  # a numbered citation: always removed
AUTHOR_YEAR_OPEN, AUTHOR_YEAR_CLOSE = "\ue001", "\ue002"  # "Smith et al. 2001": removed only in a citation group
GAP = "\ue003"  # where citations were removed
MARKERS = re.compile("[\ue000-\ue003]")

SEPARATOR = r"[\s,;\u2010-\u2015-]"  # whitespace, commas, semicolons, hyphens, en and em dashes
# Words that may lead citations in a group that is otherwise only citations: "(e.g., 3, 4)", "[see 5]".
LEAD_WORDS = (
    r"(?:e\.\s?g\.|i\.\s?e\.|see(?:\s+also)?|cf\.|refs?\.|reviewed\s+in|for\s+(?:a\s+)?reviews?(?:\s+see)?|and)"
)
CITATION_GROUP = re.compile(r"\[([^\[\]()]*)\]|\(([^\[\]()]*)\)")
ONLY_CITATIONS = re.compile(rf"(?:{SEPARATOR}|[{CITE}{GAP}]|{AUTHOR_YEAR_OPEN}\d+{AUTHOR_YEAR_CLOSE}|{LEAD_WORDS})*")
CITATION_RUN = re.compile(rf"[{CITE}{GAP}](?:{SEPARATOR}*[{CITE}{GAP}])*")
AUTHOR_YEAR = re.compile(f"{AUTHOR_YEAR_OPEN}([^{AUTHOR_YEAR_CLOSE}]*){AUTHOR_YEAR_CLOSE}")
AUTHOR_YEAR_SLOT = re.compile(f"{AUTHOR_YEAR_OPEN}(\\d+){AUTHOR_YEAR_CLOSE}")
GAP_RUN = re.compile(rf"\s*{GAP}[\s{GAP}]*")
WORD = re.compile(r"[^\W\d_]{2}")  # two letters in a row: an author-year citation, not a number like "3a"

# Elements whose content never reaches the text.
DROPPED = frozenset(
    {
        "ack", "app", "app-group", "author-notes", "bio", "contrib-group", "aff", "fn", "fn-group", "funding-group",
        "graphic", "inline-graphic", "media", "notes", "object-id", "permissions", "ref-list", "sec-meta", "sig-block",
        "supplementary-material",
    }
)  # fmt: skip
# Elements that interrupt a paragraph: text before and after them becomes separate paragraphs.
BLOCKS_IN_PARAGRAPH = frozenset(
    {
        "array", "boxed-text", "code", "def-list", "disp-quote", "fig", "fig-group", "list", "preformat", "speech",
        "statement", "table-wrap", "table-wrap-group", "verse-group",
    }
)  # fmt: skip
BLOCK_TAGS = BLOCKS_IN_PARAGRAPH | {"p", "sec", "disp-formula", "glossary", "title", "caption"}
# Children that are no running text where blocks are rendered: headings and captions are read by their parent's rule.
NOT_TEXT = frozenset({"title", "label", "caption", "table-wrap-foot", "alt-text", "long-desc"})
# Elements whose text, flattened into one line (a cell, a definition), is set apart by spaces.
SPACED = BLOCK_TAGS | {"list-item", "def-item", "term", "def", "tr", "td", "th", "label"}

DROPPED_SEC_TYPES = frozenset(
    {
        "ack", "acknowledgement", "acknowledgements", "acknowledgment", "acknowledgments", "author-contribution",
        "author-contributions", "coi-statement", "conflict", "data-availability", "funding", "funding-information",
        "supplementary-material", "supplementary-materials",
    }
)  # fmt: skip
DROPPED_SEC_TITLE = re.compile(
    r"(?:competing|conflicts?\s+of|declarations?\s+of(?:\s+competing)?)(?:\s+financial)?\s+interests?.*"
    r"|(?:financial\s+)?disclosures?(?:\s+statement)?|declarations?|ethical\s+disclosures?"
    r"|funding(?:\s+(?:information|sources?|statement|support))?|sources?\s+of\s+funding"
    r"|authors?'?s?\s+contributions?|contributors(?:hip)?|acknowledge?ments?"
    r"|supplementary\s+(?:material|materials|data|information|files?).*|supporting\s+information"
    r"|availability\s+of\s+data.*|data\s+(?:availability|sharing)(?:\s+statement)?|consent\s+for\s+publication"
)
SIMPLE_OPERAND = re.compile(r"[+−-]?(?:[\w.′'*∗]+|\S)")  # a signed name or number, or any one symbol (∑, ∫)
RELATIONS = frozenset("=<>≤≥≈≠≡∼∝→←⇒⇔∈∉⊂⊆±")
BULLETS = frozenset("•◦▪▫–-*·●○■□")
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}  # fmt: skip
DATE_ORDER = ("epub", "ppub", "epub-ppub", "collection")

CC_URL = re.compile(r"creativecommons\.org/licenses/(?P<kind>[a-z-]+)(?:/(?P<version>\d\.\d))?(?:/(?P<igo>igo))?", re.I)
CC_TEXT = re.compile(
    r"Creative\s+Commons\s+(?:\(CC\)\s+)?(?P<kind>Attribution(?:[\s-]+(?:Non-?Commercial|No-?Deriv(?:ative)?s?|"
    r"Share-?Alike))*)(?:\s+(?:License|Licence))?(?:\s+\(CC[\s-]BY[^)]*\))?,?\s*(?:v(?:ersion)?\.?\s*)?"
    r"(?P<version>\d\.\d)?",
    re.I,
)
CC_SHORT = re.compile(r"\bCC[\s-]BY(?P<parts>(?:[\s-](?:NC|ND|SA))*)(?:[\s-]+(?P<version>\d\.\d))?\b")
CC_PARTS = (("non", "NC"), ("deriv", "ND"), ("share", "SA"))
URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Article:
    """One JATS article: the identifiers and facts a Document needs, and its text."""

    pmcid: str | None
    pmid: str | None
    doi: str | None
    title: str | None
    article_type: str | None
    journal: str | None
    date: str | None
    lang: str | None
    license: str | None
    text: str
    has_content: bool


def read_article(data: bytes, *, max_table_cells: int = 400) -> Article:
    """Parse one JATS document; ParseError (without a file name) when it is not well-formed JATS."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise ParseError(f"malformed XML: {error}") from error
    if not isinstance(root.tag, str) or _name(root) != "article":
        raise ParseError(f"not a JATS article (root element is <{_name(root)}>)")
    _entities_as_text(root)
    return _Converter(max_table_cells).article(root)


def _entities_as_text(root: etree._Element) -> None:
    """Named entity references, which the parser leaves as nodes (it reads no DTD and no file), become text in
    place: an entity the document declares with its replacement text, else an HTML or ISO name (`&ndash;`) as its
    character, else nothing; the text after each is kept."""
    dtd = root.getroottree().docinfo.internalDTD
    declared = {
        entity.name: entity.content
        for entity in (dtd.iterentities() if dtd is not None else ())
        if entity.content is not None and not entity.system_url
    }
    for entity in list(root.iter(etree.Entity)):
        text = declared.get(entity.name, html.entities.html5.get(f"{entity.name};", "")) + (entity.tail or "")
        previous, parent = entity.getprevious(), entity.getparent()
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
        parent.remove(entity)


# --- inline text and citations -------------------------------------------------------------------------------------


def clean_inline(text: str) -> str:
    """Finish a paragraph assembled with citation markers: drop citations and the punctuation that only served them."""
    slots: list[str] = []

    def keep_author_year(match: re.Match[str]) -> str:
        slots.append(match.group(1))
        return f"{AUTHOR_YEAR_OPEN}{len(slots) - 1}{AUTHOR_YEAR_CLOSE}"

    text = AUTHOR_YEAR.sub(keep_author_year, " ".join(text.split()))
    previous = None
    while previous != text:
        previous, text = text, CITATION_GROUP.sub(_citation_group, text)
    text = CITATION_RUN.sub(GAP, text)
    text = AUTHOR_YEAR_SLOT.sub(lambda match: slots[int(match.group(1))], text)
    text = _close_gaps(text)
    return " ".join(MARKERS.sub("", text).split())


def _citation_group(match: re.Match[str]) -> str:
    """A bracket group holding only citations, separators and lead words ("e.g.", "see") becomes a gap."""
    inner = match.group(1) if match.group(1) is not None else match.group(2)
    has_citation = any(marker in inner for marker in (CITE, GAP, AUTHOR_YEAR_OPEN))
    return GAP if has_citation and ONLY_CITATIONS.fullmatch(inner) else match.group(0)


def _close_gaps(text: str) -> str:
    """Replace each gap by a space or nothing, so no " ." or "( " or dangling "," is left where citations were."""
    out = ""
    position = 0
    for match in GAP_RUN.finditer(text):
        out += text[position : match.start()]
        position = match.end()
        after = text[position : position + 1]
        if out[-1:] in ("(", "[", "{"):
            while position < len(text) and text[position] in " ,;":
                position += 1
        elif not after or after in ".,;:!?)]}—–":
            out = out.rstrip(" ,;")
        elif out:
            out += " "
    return out + text[position:]


def _is_only_citations(text: str) -> bool:
    """Whether a superscript holds nothing but citations and separators (`<sup>3,4</sup>`)."""
    if CITE not in text and AUTHOR_YEAR_OPEN not in text:
        return False
    rest = AUTHOR_YEAR.sub("", text).replace(CITE, "")
    return re.fullmatch(rf"(?:{SEPARATOR}|[\[\]()])*", rest) is not None


# --- MathML and TeX ------------------------------------------------------------------------------------------------


def mathml_text(math: etree._Element) -> str:
    """MathML as readable linear text: `x^2`, `x_i`, `(a)/(b)`, `sqrt(x)`; relations spaced, the rest concatenated."""
    return " ".join(_mathml(math).split())


def _mathml(element: etree._Element) -> str:
    name = _name(element)
    children = [child for child in element if isinstance(child.tag, str)]
    if name in ("mi", "mn", "mtext", "ms"):
        return "".join(element.itertext())
    if name == "mo":
        operator = "".join(element.itertext()).strip()
        return f" {operator} " if operator in RELATIONS else operator
    if name == "mspace":
        return " "
    if name in ("annotation", "annotation-xml", "mphantom", "none", "mprescripts", "malignmark"):
        return ""
    if name == "semantics":
        return _mathml(children[0]) if children else ""
    parts = [_mathml(child) for child in children]
    if name in ("msup", "msub", "msubsup", "munder", "mover", "munderover") and len(parts) >= 2:
        base = _operand(parts[0])
        if name == "mover" and (element.get("accent") == "true" or _name(children[1]) == "mo"):
            return f"{base}{parts[1].strip()}"  # an accent: x¯, v→
        if name in ("msub", "munder"):
            return f"{base}_{_operand(parts[1])}"
        if name in ("msup", "mover"):
            return f"{base}^{_operand(parts[1])}"
        if len(parts) >= 3:
            return f"{base}_{_operand(parts[1])}^{_operand(parts[2])}"
    if name == "mfrac" and len(parts) == 2:
        return f"({parts[0].strip()})/({parts[1].strip()})"
    if name == "msqrt":
        return f"sqrt({''.join(parts).strip()})"
    if name == "mroot" and len(parts) == 2:
        return f"root({parts[0].strip()}, {parts[1].strip()})"
    if name == "mfenced":
        separators = "".join(element.get("separators", ",").split())  # the last repeats; none when empty
        inner = parts[0].strip() if parts else ""
        for index, part in enumerate(parts[1:]):
            inner += f"{separators[min(index, len(separators) - 1)]} " if separators else ""
            inner += part.strip()
        return f"{element.get('open', '(')}{inner}{element.get('close', ')')}"
    if name == "mtable":
        return "; ".join(part.strip() for part in parts)
    if name == "mtr":
        return ", ".join(part.strip() for part in parts)
    return "".join(parts)


def _operand(text: str) -> str:
    """A sub- or superscript operand, parenthesised unless it is one (signed) symbol or already bracketed."""
    text = text.strip()
    return text if SIMPLE_OPERAND.fullmatch(text) or _bracketed(text) else f"({text})"


def _bracketed(text: str) -> bool:
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and index < len(text) - 1:
            return False
    return True


def tex_text(tex: etree._Element) -> str:
    """TeX as written, without the `\\documentclass ... \\begin{document}` wrapper PMC puts around it."""
    text = "".join(tex.itertext())
    match = re.search(r"\\begin\{document\}(.*?)\\end\{document\}", text, re.S)
    return " ".join((match.group(1) if match else text).split())


# --- metadata ------------------------------------------------------------------------------------------------------


def _version(version: str | None) -> str:
    """`-3.0` for a stated version; nothing when none is stated (CC BY 4.0 dates from November 2013, and a 2007
    article saying "Creative Commons Attribution License" meant an earlier one)."""
    return f"-{version}" if version else ""


def license_from_url(url: str) -> str | None:
    """An SPDX-like id for a licence URL: `.../licenses/by-nc/3.0/` -> `CC-BY-NC-3.0`; a URL without a version gives
    an id without one (`CC-BY-NC`): what the article states, never a version it does not."""
    lowered = url.lower()
    if "publicdomain/zero" in lowered:
        return "CC0-1.0"
    if "publicdomain/mark" in lowered:
        return "public-domain"
    match = CC_URL.search(url)
    if match is None:
        return None
    igo = "-IGO" if match["igo"] else ""
    return f"CC-{match['kind'].upper().strip('-')}{_version(match['version'])}{igo}"


def license_from_text(text: str) -> str | None:
    """An SPDX-like id for licence prose ("Creative Commons Attribution 4.0 International License", public domain);
    prose without a version ("Creative Commons Attribution License", as in 2007-2013 articles) gives `CC-BY`."""
    match = CC_TEXT.search(text)
    if match is not None:
        kind = match["kind"].lower()
        parts = "".join(f"-{code}" for word, code in CC_PARTS if word in kind)
        return f"CC-BY{parts}{_version(match['version'])}"
    match = CC_SHORT.search(text)
    if match is not None:
        parts = "".join(f"-{code}" for code in re.findall("NC|ND|SA", match["parts"]))
        return f"CC-BY{parts}{_version(match['version'])}"
    lowered = text.lower()
    if "cc0" in lowered or "public domain dedication" in lowered:
        return "CC0-1.0"
    if "public domain" in lowered:
        return "public-domain"
    return None


def iso_date(date: etree._Element) -> str | None:
    """ISO date (YYYY-MM-DD, YYYY-MM or YYYY) of a JATS date element; a season gives the year only."""
    stated = (date.get("iso-8601-date") or "").strip()
    if re.fullmatch(r"\d{4}(-\d{2}){0,2}", stated) and not stated.endswith(("-00", "-00-00")):
        return stated
    year = (date.findtext("year") or "").strip()
    if not re.fullmatch(r"\d{4}", year):
        return None
    month_text = (date.findtext("month") or "").strip()
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text[:3].lower())
    if not month or not 1 <= month <= 12:
        return year
    day = (date.findtext("day") or "").strip()
    try:
        return datetime.date(int(year), month, int(day)).isoformat()
    except ValueError:
        return f"{year}-{month:02d}"


def _pub_date(meta: etree._Element) -> str | None:
    """epub, then ppub, then collection date (JATS 1.0 `pub-type` or 1.1+ `date-type` + `publication-format`)."""
    dates: dict[str, etree._Element] = {}
    for date in meta.iterfind("pub-date"):
        kind = date.get("pub-type") or date.get("date-type") or ""
        if kind == "pub":
            kind = "ppub" if date.get("publication-format") == "print" else "epub"
        dates.setdefault(kind, date)
    for kind in DATE_ORDER:
        if kind in dates and (found := iso_date(dates[kind])):
            return found
    return None


def _pmcid(meta: etree._Element) -> str | None:
    for kind in ("pmc", "pmcid", "pmcaid"):
        for found in meta.iterfind("article-id"):
            value = "".join(found.itertext()).strip()
            if found.get("pub-id-type") == kind and re.fullmatch(r"(PMC)?\d+", value):
                return value if value.startswith("PMC") else f"PMC{value}"
    return None


def _article_id(meta: etree._Element, kind: str) -> str | None:
    for found in meta.iterfind("article-id"):
        value = " ".join("".join(found.itertext()).split())
        if found.get("pub-id-type") == kind and value:
            return value
    return None


def _license(meta: etree._Element) -> str | None:
    """From `<license xlink:href>` (or `ali:license_ref`), then licence text, then `license-type`, then copyright."""
    permissions = meta.find("permissions")
    if permissions is None:
        statement = meta.findtext("copyright-statement")
        return license_from_text(statement) if statement else None
    for license_element in permissions.iterfind("license"):
        text = " ".join("".join(license_element.itertext()).split())
        urls = [found.get(XLINK_HREF) or "" for found in license_element.iter()] + URL.findall(text)
        urls += ["".join(ref.itertext()) for ref in license_element.iter() if _name(ref) == "license_ref"]
        for url in urls:
            if url and (found := license_from_url(url.strip())):
                return found
        if found := license_from_text(text):
            return found
        kind = (license_element.get("license-type") or "").lower()
        if kind == "public-domain":
            return "public-domain"
        if kind.startswith("cc-by") or kind.startswith("cc by"):  # no version: the type states none
            return f"CC-{kind[3:].upper().replace(' ', '-')}"
    statement = " ".join(permissions.findtext("copyright-statement", "").split())
    return license_from_text(statement) if statement else None


def _lang(article: etree._Element) -> str | None:
    primary = (article.get(XML_LANG) or "").split("-")[0].strip().lower()
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


def _name(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _elements(parent: etree._Element) -> Iterator[etree._Element]:
    return (child for child in parent if isinstance(child.tag, str))


# --- the converter -------------------------------------------------------------------------------------------------


class _Converter:
    """Renders one article; `max_table_cells` decides which tables are written out and which keep their caption."""

    def __init__(self, max_table_cells: int) -> None:
        self.max_table_cells = max_table_cells

    def article(self, root: etree._Element) -> Article:
        meta = root.find("front/article-meta")
        if meta is None:
            meta = etree.Element("article-meta")
        journal_meta = root.find("front/journal-meta")
        title = self.inline_text(meta.find("title-group/article-title")) or None
        abstracts = list(meta.iterfind("abstract"))
        main = next((abstract for abstract in abstracts if not abstract.get("abstract-type")), None)
        if main is None:
            skipped = ("summary", "teaser")
            main = next((abstract for abstract in abstracts if abstract.get("abstract-type") not in skipped), None)
        summary = next((abstract for abstract in abstracts if abstract.get("abstract-type") == "summary"), None)
        abstract_blocks = self.blocks(main, 2) if main is not None else []
        summary_blocks = self.blocks(summary, 2) if summary is not None else []
        body_blocks = [
            block for part in (root.find("body"), root.find("floats-group")) if part is not None
            for block in self.blocks(part, 1)
        ]  # fmt: skip
        glossary_blocks = [block for glossary in root.iterfind("back/glossary") for block in self.glossary(glossary, 1)]
        parts = [title] if title else []
        if abstract_blocks:
            parts += ["# Abstract", *abstract_blocks]
        if summary_blocks:
            parts += ["# Author summary", *summary_blocks]
        parts += body_blocks + glossary_blocks
        return Article(
            pmcid=_pmcid(meta),
            pmid=_article_id(meta, "pmid"),
            doi=_article_id(meta, "doi"),
            title=title,
            article_type=root.get("article-type") or None,
            journal=self._journal(journal_meta),
            date=_pub_date(meta),
            lang=_lang(root),
            license=_license(meta),
            text="\n\n".join(parts),
            has_content=bool(abstract_blocks or summary_blocks or body_blocks),
        )

    def _journal(self, journal_meta: etree._Element | None) -> str | None:
        if journal_meta is None:
            return None
        for path in ("journal-title-group/journal-title", "journal-title", "journal-id[@journal-id-type='nlm-ta']"):
            if text := self.inline_text(journal_meta.find(path)):
                return text
        return None

    # blocks

    def blocks(self, parent: etree._Element, level: int) -> list[str]:
        """The paragraphs, headings, lists, captions and tables inside `parent`; `level` is the next heading depth."""
        return self.render(_elements(parent), level)

    def render(self, elements: Iterable[etree._Element], level: int) -> list[str]:
        """The blocks of sibling elements, or of one block element met inside a paragraph."""
        out: list[str] = []
        for child in elements:
            name = _name(child)
            if name in DROPPED or name in NOT_TEXT:
                continue
            if name == "sec":
                out += self.section(child, level)
            elif name == "p":
                out += self.paragraph(child, level)
            elif name == "list":
                out += self.list_blocks(child)
            elif name == "def-list":
                out += self.definitions(child)
            elif name == "glossary":
                out += self.glossary(child, level)
            elif name in ("fig", "fig-group"):
                out += self.figure(child)
            elif name in ("table-wrap", "table-wrap-group", "array"):
                out += self.table_wrap(child)
            elif name == "disp-formula":
                out += [formula] if (formula := self.formula(child)) else []
            elif name == "disp-formula-group":
                out += [formula for found in child.iter("disp-formula") if (formula := self.formula(found))]
            elif name in ("preformat", "code"):
                out += [code] if (code := "".join(child.itertext()).strip("\n")) else []
            elif name in ("boxed-text", "statement", "disp-quote", "verse-group", "speech"):
                caption = self.caption(child)
                out += ([caption] if caption else []) + self.blocks(child, level)
            elif any(_name(grandchild) in BLOCK_TAGS for grandchild in _elements(child)):
                out += self.paragraph(child, level, BLOCK_TAGS | NOT_TEXT)  # its loose text too, around its blocks
            elif text := self.inline_text(child):
                out.append(text)
        return out

    def section(self, sec: etree._Element, level: int) -> list[str]:
        """A `sec`: its heading (label and title) over its content; dropped when it is back matter or empty."""
        title = self.inline_text(sec.find("title"))
        normalized = title.lower().replace("’", "'").strip(" .:")
        if (sec.get("sec-type") or "").lower() in DROPPED_SEC_TYPES or DROPPED_SEC_TITLE.fullmatch(normalized):
            return []
        content = self.blocks(sec, level + 1)
        if not content:
            return []
        heading = " ".join(part for part in (self.inline_text(sec.find("label")), title) if part)
        return [f"{'#' * min(level, 3)} {heading}", *content] if heading else content

    def paragraph(self, p: etree._Element, level: int, blocks: frozenset[str] = BLOCKS_IN_PARAGRAPH) -> list[str]:
        """A `p` (or another element mixing text and `blocks`); lists, figures, tables and boxes inside it split it
        into the blocks before, at and after them."""
        out: list[str] = []
        pending = [p.text or ""]
        for child in _elements(p):
            if _name(child) in blocks:
                out += [text] if (text := clean_inline("".join(pending))) else []
                out += self.render([child], level)
                pending = [child.tail or ""]
            else:
                pending += [self.inline(child), child.tail or ""]
        out += [text] if (text := clean_inline("".join(pending))) else []
        return out

    def list_blocks(self, element: etree._Element) -> list[str]:
        title = self.inline_text(element.find("title"))
        lines = self.list_lines(element, 0)
        return ([title] if title else []) + (["\n".join(lines)] if lines else [])

    def list_lines(self, element: etree._Element, indent: int) -> list[str]:
        """`- item` lines, nested lists indented by two spaces; a label other than a bullet glyph is kept."""
        lines = []
        for item in element.iterfind("list-item"):
            texts, nested = [], []
            for child in _elements(item):
                name = _name(child)
                if name == "list":
                    nested += self.list_lines(child, indent + 1)
                elif name == "p":
                    pending = [child.text or ""]
                    for part in _elements(child):
                        if _name(part) == "list":
                            nested += self.list_lines(part, indent + 1)
                            pending.append(part.tail or "")
                        else:
                            pending += [self.inline(part), part.tail or ""]
                    texts.append(clean_inline("".join(pending)))
                elif name != "label":
                    texts.append(self.inline_text(child))
            label = self.inline_text(item.find("label"))
            text = " ".join(part for part in ([label] if label not in BULLETS else []) + texts if part)
            if text:
                lines.append(f"{'  ' * indent}- {text}")
            lines += nested
        return lines

    def definitions(self, element: etree._Element) -> list[str]:
        """A `def-list` as `- term: definition` lines."""
        title = self.inline_text(element.find("title"))
        lines = []
        for item in element.iterfind("def-item"):
            term = self.inline_text(item.find("term"))
            definition = " ".join(text for found in item.iterfind("def") for text in (self.inline_text(found),) if text)
            if term or definition:
                lines.append(f"- {term}: {definition}" if term and definition else f"- {term or definition}")
        return ([title] if title else []) + (["\n".join(lines)] if lines else [])

    def glossary(self, element: etree._Element, level: int) -> list[str]:
        content = self.blocks(element, level + 1)
        title = self.inline_text(element.find("title")) or "Glossary"
        return [f"{'#' * min(level, 3)} {title}", *content] if content else []

    def caption(self, element: etree._Element) -> str:
        """`Label. Caption title. Caption text.`; a label without a caption says nothing and is dropped."""
        caption = element.find("caption")
        parts = []
        if caption is not None:
            title = self.inline_text(caption.find("title"))
            if title:
                parts.append(title if title[-1] in ".!?:" else f"{title}.")
            parts += [text for p in caption.iterfind("p") if (text := self.inline_text(p))]
        if not parts and (title := self.inline_text(element.find("title"))):
            parts.append(title)
        if not parts:
            return ""
        label = self.inline_text(element.find("label")).rstrip(" .:")
        return " ".join(([f"{label}."] if label else []) + parts)

    def figure(self, element: etree._Element) -> list[str]:
        caption = self.caption(element)
        out = [caption] if caption else []
        for figure in element.iterfind("fig"):
            out += self.figure(figure)
        return out

    def table_wrap(self, element: etree._Element) -> list[str]:
        """Caption, then the table as Markdown when it has at most `max_table_cells` cells, then its notes."""
        caption = self.caption(element)
        out = [caption] if caption else []
        if _name(element) == "table-wrap-group":
            for wrap in element.iterfind("table-wrap"):
                out += self.table_wrap(wrap)
            return out
        tables = [element] if _name(element) == "array" else [table for table in element.iter("table")]
        out += [markdown for table in tables if (markdown := self.markdown_table(table))]
        for foot in element.iterfind("table-wrap-foot"):
            out += self.notes(foot)
        return out

    def notes(self, element: etree._Element) -> list[str]:
        """Table notes: each `fn` as one paragraph led by its label, loose paragraphs as they are."""
        out = []
        for child in _elements(element):
            name = _name(child)
            if name == "fn":
                label = self.inline_text(child.find("label"))
                texts = [text for p in _elements(child) if _name(p) != "label" and (text := self.inline_text(p))]
                if texts:
                    out.append(" ".join(([label] if label else []) + texts))
            elif name == "fn-group":
                out += self.notes(child)
            elif name != "title" and (text := self.inline_text(child)):
                out.append(text)
        return out

    def markdown_table(self, table: etree._Element) -> str | None:
        """A pipe table: header from `thead` (rows merged per column) or the first row; spans repeat in the header and
        down rows, and are left empty across a body row. None when there are more cells than `max_table_cells`."""
        rows = list(table.iter("tr"))
        if not rows or len(rows) > self.max_table_cells:
            return None
        in_head = [row.getparent() is not None and _name(row.getparent()) == "thead" for row in rows]
        head_count = sum(in_head) or 1  # without a thead, the first row is the header
        grid: dict[tuple[int, int], str] = {}
        for r, row in enumerate(rows):
            header = r < head_count and (in_head[r] or not any(in_head))
            c = 0
            for cell in _elements(row):
                if _name(cell) not in ("td", "th"):
                    continue
                while (r, c) in grid:
                    c += 1
                text = self.inline_text(cell).replace("|", "\\|")
                rowspan = min(_span(cell.get("rowspan")), len(rows) - r)
                colspan = min(_span(cell.get("colspan")), self.max_table_cells + 1)
                for dr in range(rowspan):
                    for dc in range(colspan):
                        grid[(r + dr, c + dc)] = text if dc == 0 or header else ""
                if len(grid) > self.max_table_cells:
                    return None
                c += colspan
        width = 1 + max((column for _, column in grid), default=-1)
        if not width or len(rows) * width > self.max_table_cells:
            return None
        table_rows = [[grid.get((r, c), "") for c in range(width)] for r in range(len(rows))]
        header = [" ".join(dict.fromkeys(row[c] for row in table_rows[:head_count] if row[c])) for c in range(width)]
        lines = [_pipe_row(header), _pipe_row(["---"] * width)]
        lines += [_pipe_row(row) for row in table_rows[head_count:] if any(row)]
        return "\n".join(lines)

    def formula(self, element: etree._Element) -> str:
        """TeX when given, else linearised MathML, else the formula's own text; an image-only formula is ''."""
        for found in element.iter():
            if _name(found) == "tex-math":
                return tex_text(found)
        for found in element.iter():
            if _name(found) == "math":
                return mathml_text(found)
        parts = [element.text or ""]
        for child in _elements(element):
            if _name(child) not in ("label", "graphic", "alternatives"):
                parts.append(self.inline(child))
            parts.append(child.tail or "")
        return clean_inline("".join(parts))

    # inline

    def inline_text(self, element: etree._Element | None) -> str:
        """The finished text of an inline context (title, caption line, cell, list item)."""
        return clean_inline(self.inline(element)) if element is not None else ""

    def inline(self, element: etree._Element) -> str:
        """The text inside `element` (not its tail), citations marked for `clean_inline`."""
        name = _name(element)
        if name == "xref":
            return self._xref(element)
        if name in DROPPED:
            return ""
        if name == "inline-formula":
            return self.formula(element)
        if name == "disp-formula":
            return f" {self.formula(element)} "  # spaced even when dropped: it stood between words
        if name == "math":
            return mathml_text(element)
        if name == "tex-math":
            return tex_text(element)
        if name == "break":
            return " "
        parts = [element.text or ""]
        for child in _elements(element):
            text = self.inline(child)
            parts += [f" {text} " if _name(child) in SPACED else text, child.tail or ""]
        text = "".join(parts)
        if name == "sup" and _is_only_citations(text):
            return CITE
        return text

    @staticmethod
    def _xref(element: etree._Element) -> str:
        text = " ".join("".join(element.itertext()).split())
        kind = element.get("ref-type")
        if kind == "bibr":
            return f"{AUTHOR_YEAR_OPEN}{text}{AUTHOR_YEAR_CLOSE}" if WORD.search(text) else CITE
        return "" if kind == "fn" else text


def _span(value: str | None) -> int:
    return max(1, min(int(value), 1000)) if value and value.strip().isdigit() else 1


def _pipe_row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"
