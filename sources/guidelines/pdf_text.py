"""PDFs to `ExtractedPdf` through pymupdf and a layout pass of our own: body font size, headings from larger fonts,
running headers/footers and page numbers removed, hyphenation joined, columns read in order, vertical text turned
upright. A PDF holds drawn text, not structure, so the structure is read back from where and how text is drawn."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

import pymupdf

from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines.markdown import (
    BULLET_GLYPHS,
    drop_citation_markers,
    drop_reference_sections,
    script_text,
    tidy_markdown,
)

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
# Publisher advertising in journal PDFs ("Submit your next manuscript to BioMed Central and take full advantage of").
ADVERT = re.compile(
    r"(?i)submit your (next )?manuscript|publish with (biomed central|bmc|springer|dove|frontiers|hindawi)"
    r"|take full advantage of|convenient online submission|thorough peer review|inclusion in pubmed"
    r"|your research papers will be|maximum visibility for your research|biomedcentral\.com/(submit|info)"
    r"|publish your work in this journal|we accept pre-submission inquiries"
)
ADVERT_MIN_PHRASES = 2


@dataclass(frozen=True)
class ExtractedPdf:
    """The text of a PDF as Markdown, with its title, page count and creation date (`YYYY-MM-DD` from its metadata)."""

    title: str | None
    text: str
    pages: int
    date: str | None = None


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
            script = script_text(kind, "".join(piece.text for piece in spans[index:end]), text)
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
    letter it stays only in a compound (`_keeps_hyphen`). A soft hyphen always goes: the word goes on in the next
    line."""
    if text.endswith("\u00ad"):
        return text[:-1] + line if line[:1].isalnum() else f"{text[:-1]} {line}"
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
    body size, short (at most HEADING_MAX_WORDS words) and, past three words, not ending like a sentence."""
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
    """Whether a PDF's metadata title is no title: under three characters, a placeholder ("untitled", "Microsoft
    Word - x.doc"), without two letters in a row, or one token holding a digit, slash or underscore (a file or
    document number; it takes short names such as `H5N1` with it, and the first page's title is used instead)."""
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
    text = tidy_markdown(drop_reference_sections(drop_citation_markers(text)))
    title = metadata_title.strip()
    if _is_junk_title(title):
        title = _first_page_title(kept[0]) or ""
    date = "-".join(created.groups()) if created else None
    return ExtractedPdf(title=title or None, text=text, pages=page_count, date=date)
