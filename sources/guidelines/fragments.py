"""HTML fragments from guideline APIs (a NICE chapter's `Content`, a MAGIC recommendation's `text`, a MediaWiki
page's parsed HTML) as the project's Markdown-ish text: `#` headings, paragraphs, `- ` bullets, pipe tables.

Whole pages go through trafilatura (`extract.html_to_markdown`), which drops what looks like boilerplate; an API's
fragment is all content, so it is converted element by element instead. Citation markup (`<cite>`, reference
superscripts) is dropped, as the PMC text drops it; `<sup>`/`<sub>` that are not citations keep their meaning
(`10^-4`, `CO_2`).
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from gap_replay.sources.guidelines.extract import tidy_markdown

DROPPED = frozenset({"script", "style", "noscript", "button", "form", "nav", "cite", "iframe", "svg", "img"})
DROPPED_CLASSES = re.compile(r"\b(magic-ref|magic-cite|visually-hidden|sr-only|reference|mw-editsection)\b")
HEADINGS = {f"h{level}": level for level in range(1, 7)}
BLOCKS = frozenset(
    {"p", "div", "section", "article", "blockquote", "header", "footer", "aside", "figure", "figcaption", "dl", "dd"}
)
LISTS = frozenset({"ul", "ol"})
CITATION = re.compile(r"^\[?\s*\d+(\s*[,–-]\s*\d+)*\s*\]?$")
SPACE = re.compile(r"\s+")
INVISIBLE = re.compile("[\u200b\ufeff]")
PUNCTUATION_GAP = re.compile(r"(?<=\w) +(?=[.,;:!?](\s|$))")
BREAK = "\u2028"  # a `<br>`, kept apart from the source's own line breaks until whitespace is collapsed


def fragment_to_markdown(html: str, top_level: int = 2) -> str:
    """Markdown of an HTML fragment; the fragment's highest heading becomes `top_level` (`##` by default, under the
    document's `#` title)."""
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    levels = [
        HEADINGS[element.tag] for element in root.iter() if isinstance(element.tag, str) and element.tag in HEADINGS
    ]
    shift = top_level - min(levels) if levels else 0
    lines: list[str] = []
    _blocks(root, lines, shift)
    return tidy_markdown("\n".join(lines)).strip()


def _dropped(element: etree._Element) -> bool:
    return element.tag in DROPPED or bool(DROPPED_CLASSES.search(element.get("class") or ""))


def _blocks(element: etree._Element, lines: list[str], shift: int) -> None:
    """Append the block-level content of `element`: inline runs become paragraphs, blocks recurse."""
    run: list[str] = [element.text or ""]

    def flush() -> None:
        text = _clean("".join(run))
        if text:
            lines.extend(["", text])
        run.clear()

    for child in element:
        if not isinstance(child.tag, str) or _dropped(child):
            run.append(child.tail or "")
            continue
        if child.tag in HEADINGS:
            flush()
            level = min(6, max(1, HEADINGS[child.tag] + shift))
            title = _clean(_inline(child))
            if title:
                lines += ["", "#" * level + " " + title]
        elif child.tag in LISTS:
            flush()
            lines.append("")
            _list(child, lines, 0, shift)
        elif child.tag == "table":
            flush()
            lines += ["", *_table(child)]
        elif child.tag in BLOCKS or child.tag == "li":
            flush()
            _blocks(child, lines, shift)
        elif child.tag == "dt":
            flush()
            term = _clean(_inline(child))
            if term:
                lines += ["", f"**{term}**"]
        else:
            run.append(_inline_child(child))
        run.append(child.tail or "")
    flush()


def _list(element: etree._Element, lines: list[str], depth: int, shift: int) -> None:
    for item in element:
        if not isinstance(item.tag, str) or item.tag != "li" or _dropped(item):
            continue
        nested = [child for child in item if isinstance(child.tag, str) and child.tag in LISTS]
        text = _clean(_inline(item, skip=frozenset(LISTS)))
        if text:
            lines.append("  " * depth + "- " + text)
        for child in nested:
            _list(child, lines, depth + 1, shift)


def _table(table: etree._Element) -> list[str]:
    caption = next((_clean(_inline(child)) for child in table if child.tag == "caption"), "")
    rows = []
    for row in table.iter("tr"):
        cells = [_clean(_inline(cell)).replace("|", "\\|") for cell in row if cell.tag in ("td", "th")]
        if any(cells):
            rows.append(cells)
    if not rows:
        return []
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in range(width)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return [caption, "", *lines] if caption else lines


def _inline(element: etree._Element, skip: frozenset[str] = frozenset()) -> str:
    """The text inside an element with inline markup resolved (see `_inline_child`)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag not in skip:
            parts.append(_inline_child(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _inline_child(child: etree._Element, skip: frozenset[str] = frozenset()) -> str:
    """One inline element as text: citations dropped, sub/superscripts kept as `^`/`_`, `<br>` a line break."""
    if _dropped(child):
        return ""
    if child.tag == "br":
        return BREAK
    if child.tag in ("sup", "sub"):
        inner = _clean(_inline(child))
        if not inner or (child.tag == "sup" and CITATION.fullmatch(inner)):
            return ""  # empty, or a reference marker
        return ("^" if child.tag == "sup" else "_") + inner
    return _inline(child, skip)


def _clean(text: str) -> str:
    """Whitespace (source line breaks included) collapsed, zero-width characters dropped, no space left before
    punctuation (where a citation was); `<br>` line breaks kept."""
    text = INVISIBLE.sub("", text)
    lines = (PUNCTUATION_GAP.sub("", SPACE.sub(" ", line)).strip() for line in text.split(BREAK))
    return "\n".join(line for line in lines).strip()
