"""Text-level cleaning shared by the HTML (`html_text.py`) and PDF (`pdf_text.py`) extractors: Markdown tidied, the
title as a heading, sub- and superscripts, citation markers and reference lists dropped, error pages told from
documents. Both end in the same Markdown-ish text, so one set of rules keeps them alike and as clean as PMC's."""

from __future__ import annotations

import re

# Glyphs that start a list item; U+FFFD and private-use characters are bullets whose font has no Unicode mapping.
BULLET_GLYPHS = "•●▪■◦‣∙·○◆◇►▶➢➤✓✔□❑❒\u2043\u25aa\u25ab\ufffd\ue000-\uf8ff"
# Superscripts after these units are exponents (`mm^3`), not citations; a single letter (`m^2`, `x^2`) always is.
UNITS = frozenset({"cm", "mm", "km", "dm", "nm", "µm", "μm", "um", "ft", "ms", "ml", "dl", "kg", "mg", "mol", "mmol"})
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
PLAIN_SUPERSCRIPTS = frozenset({"®", "™", "©", "℠"})
# A superscript that marks a citation or footnote: `12`, `3,4`, `1-3`, `*`, `†`, `a`.
CITATION_MARK = re.compile(r"(\d{1,3}([,–\-−]\d{1,3})*|[*†‡§¶#]+|[a-z])[*†‡§¶#]*")
# An inline citation in brackets: `[12]`, `[3,4]`, `[1-3, 7]` (not at a line start or in a table cell).
BRACKET_CITATION = re.compile(r"(?<=[^\s|])[^\S\n]?\[\s*\d{1,3}(?:\s*[,–\-−]\s*\d{1,3})*\s*\]")
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
TITLE_SEARCH_LINES = 3  # the page's own title heading may follow a label line or two
TITLE_SEPARATOR = re.compile(r"(\s+[|–—·»]\s+|\s+-\s+|\s*::\s*)")
LIST_ITEM = re.compile(r"([-*+]|\d{1,3}[.)])\s")
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


# Error pages ----------------------------------------------------------------------------------------------------------

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


# Markdown -------------------------------------------------------------------------------------------------------------


def normalised_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def with_title_heading(title: str | None, text: str) -> str:
    """Put `# title` first unless the text already opens with it (trafilatura often keeps the page's `<h1>`); a
    `# title` heading after a label line or two ("Position statement") moves up instead of being repeated. A title
    without a word (`—`) adds nothing."""
    wanted = normalised_words(title or "")
    if not wanted or not text:
        return text
    first = normalised_words(text.lstrip().split("\n", 1)[0])
    if first and (f" {first} " in f" {wanted} " or f" {wanted} " in f" {first} "):
        return text
    lines = text.split("\n")
    leading = [index for index, line in enumerate(lines) if line.strip()][:TITLE_SEARCH_LINES]
    for index in leading[1:]:
        if lines[index].startswith("# ") and normalised_words(lines[index]) == wanted:
            rest = tidy_markdown("\n".join(lines[:index] + lines[index + 1 :]))
            return f"{lines[index].strip()}\n\n{rest}"
    return f"# {title.strip()}\n\n{text}"


def tidy_markdown(text: str) -> str:
    """Trailing spaces off, whitespace runs inside lines collapsed, bare `-` bullets joined to their text, at most
    one blank line in a row, and no indentation but a nested list item's (an indented line would read as a code
    block; a list's depth counts from its first item); fenced code keeps its lines and indentation."""
    lines: list[str] = []
    pending_bullet = False
    fenced = False
    list_indent: int | None = None  # indentation of the last non-blank line when it is a list item
    list_base = 0  # the source indentation of the list's first item: a list indented as a whole is not nested
    for raw in text.splitlines():
        stripped = raw.rstrip()
        if stripped.lstrip().startswith("```"):
            if pending_bullet:  # a bullet with no text before the code: nothing to join it to
                lines.pop()
                pending_bullet = False
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
        if is_item and list_indent is None:
            list_base = depth
        indent = max(0, min(depth - list_base, list_indent + 4)) if is_item and list_indent is not None else 0
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


# Sub- and superscripts (PDF and HTML) ---------------------------------------------------------------------------------


def script_text(kind: str, inner: str, before: str) -> str:
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
    if not is_exponent(before) and CITATION_MARK.fullmatch(inner):
        return ""
    return f"^{inner}"


def is_exponent(before: str) -> bool:
    """Whether a superscript after `before` is an exponent: after a digit, a single letter or a unit."""
    stem = before.rstrip()
    letters = re.search(r"([^\W\d_]+)$", stem)
    return stem[-1:].isdigit() or (letters is not None and (len(letters[1]) == 1 or letters[1].lower() in UNITS))


# Citations and reference lists (PDF and HTML) -------------------------------------------------------------------------


def reads_like_reference(text: str) -> bool:
    """Whether a paragraph reads like a bibliographic reference: a year and one cue of a reference (authors with
    initials, journal volume and pages, DOI, `et al`, web address), or two cues without a year."""
    cues = sum(1 for cue in REFERENCE_CUES if cue.search(text))
    return cues >= 2 or (cues == 1 and bool(REFERENCE_YEAR.search(text)))


def drop_citation_markers(text: str) -> str:
    """Inline citation markers out, as PMC's text has none: `[12]`, `[3,4]`, `[1-3]` and superscript digits after a
    word (`disease.¹²`); superscripts after a single letter or a unit (`m²`, `mm³`) are exponents and stay."""
    text = BRACKET_CITATION.sub("", text)

    def unless_exponent(match: re.Match[str]) -> str:
        return match.group(0) if is_exponent(text[max(0, match.start() - 12) : match.start()]) else ""

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
            prose = prose + 1 if len(line.split()) >= PROSE_MIN_WORDS and not reads_like_reference(line) else 0
            if prose == 2:
                previous = max(position for position in range(start + 1, index) if lines[position].strip())
                return previous
    return len(lines)


def drop_reference_sections(text: str) -> str:
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
            referencing = sum(reads_like_reference(item) for item in paragraphs)
            if paragraphs and referencing >= REFERENCE_MIN_SHARE * len(paragraphs):
                index = end
                continue
        kept.append(lines[index])
        index += 1
    return "\n".join(kept)
