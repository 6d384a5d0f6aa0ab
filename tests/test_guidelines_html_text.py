"""Web pages to `ExtractedPage` (`sources/guidelines/html_text.py`), each rule on both sides of its boundary: decoding,
charset declarations, dates, titles, canonical URL and language, the tree pass before trafilatura and the Markdown
after it. Expected values are worked out by hand from each rule's docstring, comments and constants."""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import json
from collections.abc import Callable

import lxml.html
import pytest
from lxml.html import HtmlElement
from lxml.html import builder as E

from gap_replay.sources.guidelines import html_text
from gap_replay.sources.guidelines.html_text import ExtractedPage, declared_charset, decode_html, html_to_markdown

CROUP = (
    "<p>Croup is a viral infection of the upper airway that causes a barking cough, a hoarse voice and noisy "
    "breathing. Give one dose of oral dexamethasone to every child with croup.</p>"
)
REFERENCE = "Smith AB, Jones CD. Croup in children. BMJ 2019;358:j123."  # 9 words, reads like a reference


def parsed(body: str, head: str = "", attributes: str = "") -> HtmlElement:
    """A page parsed into a tree (comments kept), with `head` and `body` markup and `<html>` attributes."""
    return lxml.html.document_fromstring(f"<html{attributes}><head>{head}</head><body>{body}</body></html>")


def body_markup(tree: HtmlElement) -> str:
    """The markup inside a page's `<body>`."""
    body = tree.body
    return (body.text or "") + "".join(lxml.html.tostring(child, encoding="unicode") for child in body)


def article_page(head: str = "", body: str = "", after: str = "") -> bytes:
    """A whole page: `head` markup, an article with a headline, `body` and a paragraph on croup, then `after`."""
    return (
        f"<html lang='en'><head><meta charset='utf-8'>{head}</head><body><main><article>"
        f"<h1>Croup in children</h1>{body}{CROUP}</article>{after}</main></body></html>"
    ).encode()


def ld(data: object) -> str:
    """A JSON-LD block holding `data`."""
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def detecting(monkeypatch: pytest.MonkeyPatch, *encodings: str) -> None:
    """Make charset detection answer `encodings`, whatever the bytes."""
    monkeypatch.setattr(html_text, "detect_encoding", lambda data: list(encodings))


def test_an_extracted_page_cannot_be_changed_once_made() -> None:
    page = ExtractedPage(title="Croup", text="# Croup", date=None, canonical_url=None, lang="en")
    with pytest.raises(dataclasses.FrozenInstanceError):
        page.title = "Rabies"  # type: ignore[misc]


# --- charset declarations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("padding", "charset"),
    [(4075, "cp1252"), (4076, "cp1252"), (4095, "cp1252"), (4096, None), (4097, None)],
    ids=[
        "label-ends-on-byte-4096",
        "label-past-the-window",
        "starting-on-byte-4096",
        "starting-on-byte-4097",
        "starting-after-the-window",
    ],
)
def test_a_charset_declaration_starting_in_the_first_4096_bytes_is_read_whole(
    padding: int, charset: str | None
) -> None:
    # A declaration that starts inside the window is read to the end of its label, however far that runs.
    assert declared_charset(b" " * padding + b'<meta charset="cp1252">') == charset


def test_a_label_running_past_the_window_is_not_cut_to_another_charset() -> None:
    # Cut after 4096 bytes, `iso-8859-15` (Latin-9, with the euro sign) would read as `iso-8859-1`.
    assert declared_charset(b" " * 4080 + b'<meta charset="iso-8859-15">') == "iso8859-15"


@pytest.mark.parametrize(
    ("markup", "charset"),
    [
        (b'<meta charset="ISO-8859-2">', "iso8859-2"),
        (b"<meta charset=koi8-r>", "koi8-r"),
        (b"<META CHARSET='Windows-1250'>", "cp1250"),
        (b'<meta charset = " koi8-r ">', "koi8-r"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">', "iso8859-2"),
        (b'<?xml version="1.0" encoding="koi8-r"?><html>', "koi8-r"),
        (b'<?xml version="1.0" encoding=koi8-r?><html>', None),
        (b'<?xml version="1.0" encoding="iso-8859-2"?><meta charset="koi8-r">', "iso8859-2"),
        (b'<meta charset="x-unknown-charset">', None),
        (b'<meta charset="">', None),
    ],
    ids=[
        "meta",
        "unquoted",
        "upper-case",
        "spaced",
        "http-equiv",
        "xml",
        "xml-unquoted",
        "first-wins",
        "unknown-label",
        "empty-label",
    ],
)
def test_a_declared_charset_is_read_from_meta_http_equiv_or_the_xml_declaration(
    markup: bytes, charset: str | None
) -> None:
    assert declared_charset(b"<html><head>" + markup) == charset


@pytest.mark.parametrize(
    ("label", "charset"),
    [
        ("latin1", "cp1252"),
        ("l1", "cp1252"),
        ("cp819", "cp1252"),
        ("us-ascii", "cp1252"),
        ("ascii", "cp1252"),
        ("iso-8859-15", "iso8859-15"),
        ("iso-8859-2", "iso8859-2"),
        ("windows-1250", "cp1250"),
        ("utf-8", "utf-8"),
    ],
)
def test_labels_browsers_read_as_windows_1252_map_to_cp1252_and_others_do_not(label: str, charset: str) -> None:
    assert declared_charset(f'<meta charset="{label}">'.encode()) == charset


# --- decoding ------------------------------------------------------------------------------------------------------

PAGE = '<meta charset="koi8-r"><p>Müller</p>'


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (codecs.BOM_UTF8 + PAGE.encode(), PAGE),
        (codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), PAGE),
        (codecs.BOM_UTF16_BE + PAGE.encode("utf-16-be"), PAGE),
        (codecs.BOM_UTF8 + b"<p>caf\xe9</p>", "<p>caf\ufffd</p>"),
    ],
    ids=["utf-8", "utf-16-le", "utf-16-be", "utf-8-with-a-bad-byte"],
)
def test_a_byte_order_mark_decides_the_encoding_before_anything_else(
    monkeypatch: pytest.MonkeyPatch, data: bytes, text: str
) -> None:
    detecting(monkeypatch, "koi8-r")
    assert decode_html(data) == text


def test_valid_utf8_is_read_as_utf8_whatever_the_page_declares_or_detection_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detecting(monkeypatch, "koi8-r")
    assert decode_html(PAGE.encode()) == PAGE


def test_the_declared_charset_comes_before_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    detecting(monkeypatch, "cp1251")
    assert (
        decode_html('<meta charset="koi8-r"><p>Привет</p>'.encode("koi8-r")) == '<meta charset="koi8-r"><p>Привет</p>'
    )


def test_a_page_without_a_declaration_is_decoded_as_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    detecting(monkeypatch, "koi8-r")
    assert decode_html("<p>Привет</p>".encode("koi8-r")) == "<p>Привет</p>"


def test_a_declared_charset_that_cannot_decode_the_bytes_gives_way_to_detection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detecting(monkeypatch, "koi8-r")
    data = b'<meta charset="iso-2022-jp">' + "<p>Привет</p>".encode("koi8-r")  # 7-bit ISO-2022-JP has no byte 0xf0
    assert decode_html(data) == '<meta charset="iso-2022-jp"><p>Привет</p>'


def test_a_detected_encoding_python_does_not_know_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    detecting(monkeypatch, "x-no-such-codec", "koi8-r")
    assert decode_html("<p>Привет</p>".encode("koi8-r")) == "<p>Привет</p>"


# Thirteen bytes: no UTF-16 either.
@pytest.mark.parametrize("detected", [(), ("utf-16",)], ids=["nothing-detected", "detection-fails-too"])
def test_bytes_nothing_decodes_fall_back_to_cp1252_with_replacement(
    monkeypatch: pytest.MonkeyPatch, detected: tuple[str, ...]
) -> None:
    detecting(monkeypatch, *detected)
    assert decode_html(b"<p>caf\xe9 \x81</p>") == "<p>caf\xe9 \ufffd</p>"  # 0x81 is unassigned in cp1252


# --- control characters and leftovers in the Markdown --------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\x85", "\x94", "\x96", "\x9f"],
)
def test_control_characters_are_removed(char: str) -> None:
    assert html_text.CONTROL_CHARS.sub("", f"a{char}b") == "ab"


@pytest.mark.parametrize("char", ["\x09", "\x0a", "\x0d", "\x20", "\x95", "\xa0", "\u2022"])
def test_whitespace_the_cp1252_bullet_and_printable_characters_are_kept(char: str) -> None:
    assert html_text.CONTROL_CHARS.sub("", f"a{char}b") == f"a{char}b"


def test_the_markdown_loses_its_control_characters() -> None:
    assert html_text._clean_markdown("Give\x0c 5\x9d mg\x00 daily.") == "Give 5 mg daily."


def test_the_cp1252_bullet_is_a_list_item_at_a_line_start_and_a_bullet_elsewhere() -> None:
    assert (
        html_text._clean_markdown("\x95 Rest the child.\n\nSigns \x95 cough.") == "- Rest the child.\n\nSigns • cough."
    )


@pytest.mark.parametrize(
    "tag",
    [
        "sup",
        "sub",
        "span",
        "div",
        "p",
        "b",
        "i",
        "u",
        "em",
        "strong",
        "a",
        "font",
        "small",
        "big",
        "mark",
        "abbr",
        "cite",
        "ins",
        "del",
        "s",
        "strike",
        "tt",
    ],
)
def test_raw_inline_tags_left_in_the_markdown_are_removed(tag: str) -> None:
    assert html_text._clean_markdown(f'Give <{tag} class="x">two</{tag}> doses.') == "Give two doses."


@pytest.mark.parametrize("markup", ["<br>", "<br/>", '<img src="dose.png" alt="">', "<hr>"])
def test_raw_empty_tags_left_in_the_markdown_are_removed(markup: str) -> None:
    assert html_text._clean_markdown(f"Give two{markup} doses.") == "Give two doses."


@pytest.mark.parametrize(
    "text",
    ["Give <code>two</code> doses.", "Give <table> doses.", "Speak <spanish> first.", "Give <li> doses."],
    ids=["code", "table", "longer-name", "li"],
)
def test_tags_outside_the_inline_list_are_kept(text: str) -> None:
    assert html_text._clean_markdown(text) == text


def test_backslash_escapes_are_undone() -> None:
    escaped = r"5 \< 6 \> 4, a\_b, \*note\*, \[a\]\(b\), \{c\}, \# \+ \- \. \! \| \~ \` and \\ here"
    assert html_text._clean_markdown(escaped) == r"5 < 6 > 4, a_b, *note*, [a](b), {c}, # + - . ! | ~ ` and \ here"


def test_a_backslash_before_another_character_stays() -> None:
    assert html_text._clean_markdown(r"Save to C:\data\new") == r"Save to C:\data\new"


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        ("- • Rest the child.", "- Rest the child."),
        ("- •Rest the child.", "- Rest the child."),
        ("1. • Rest the child.", "1. Rest the child."),
        ("• Rest the child.", "- Rest the child."),
        ("  ▪ Rest the child.", "  - Rest the child."),
        ("•• Rest the child.", "- Rest the child."),
        ("\x95 Rest the child.", "- Rest the child."),
        ("\ufffd Rest the child.", "- Rest the child."),
        ("\uf0b7 Rest the child.", "- Rest the child."),
        ("•Rest the child.", "•Rest the child."),
        ("Signs • cough.", "Signs • cough."),
    ],
    ids=[
        "dash-then-glyph",
        "dash-then-glyph-unspaced",
        "numbered",
        "glyph",
        "indented",
        "two-glyphs",
        "cp1252-bullet",
        "unmapped",
        "private-use",
        "glyph-without-space",
        "mid-line",
    ],
)
def test_bullet_glyphs_at_a_line_start_become_list_items(text: str, listed: str) -> None:
    assert html_text._bullets_as_list_items(text) == listed


# --- dates ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2023-02-10", "2023-02-10"),
        ("2023/2/3", "2023-02-03"),
        ("  2023-02-10", "2023-02-10"),
        ("20230210", "2023-02-10"),
        ("4 March 2021", "2021-03-04"),
        ("04 Mar. 2021", "2021-03-04"),
        ("4 March, 2021", "2021-03-04"),
        ("March 4, 2021", "2021-03-04"),
        ("Mar. 4 2021", "2021-03-04"),
        ("MARCH 4, 2021", "2021-03-04"),
        ("March 2021", "2021-03-01"),
        ("Sept. 2021", "2021-09-01"),
        ("march, 2021 edition", "2021-03-01"),
        ("2024-02-29", "2024-02-29"),
    ],
)
def test_dates_are_read_in_iso_and_wordy_forms(value: str, day: str) -> None:
    assert html_text._date_of(value) == day


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30",
        "2023-02-29",
        "2023-13-01",
        "2023-00-10",
        "20231301",
        "30 February 2023",
        "Smarch 4, 2021",
        "Week 12, 2021",
        "Copyright 2024",
        "10/02/2023",
        "on 4 March 2021",
        "",
    ],
    ids=[
        "february-30",
        "not-a-leap-year",
        "month-13",
        "month-0",
        "compact-month-13",
        "wordy-february-30",
        "not-a-month",
        "week",
        "copyright",
        "all-numeric",
        "not-at-the-start",
        "empty",
    ],
)
def test_values_that_are_not_real_dates_give_none(value: str) -> None:
    assert html_text._date_of(value) is None


@pytest.mark.parametrize(
    ("value", "day"),
    [("1900-01-01", "1900-01-01"), ("1899-12-31", None), ("2100-12-31", "2100-12-31"), ("2101-01-01", None)],
)
def test_dates_are_kept_from_1900_to_2100(value: str, day: str | None) -> None:
    assert html_text._date_of(value) == day


@pytest.mark.parametrize(
    ("name", "month"),
    [
        ("January", 1),
        ("Jan", 1),
        ("February", 2),
        ("Feb", 2),
        ("March", 3),
        ("Mar", 3),
        ("April", 4),
        ("Apr", 4),
        ("May", 5),
        ("June", 6),
        ("Jun", 6),
        ("July", 7),
        ("Jul", 7),
        ("August", 8),
        ("Aug", 8),
        ("September", 9),
        ("Sep", 9),
        ("Sept", 9),
        ("October", 10),
        ("Oct", 10),
        ("November", 11),
        ("Nov", 11),
        ("December", 12),
        ("Dec", 12),
    ],
)
def test_month_names_and_abbreviations_give_their_month(name: str, month: int) -> None:
    assert html_text._date_of(f"1 {name} 2020") == f"2020-{month:02d}-01"
    assert html_text._date_of(f"{name} 2, 2020") == f"2020-{month:02d}-02"


@pytest.mark.parametrize(
    ("line", "day"),
    [
        ("April 17, 2015 -- Croup peaks in late autumn.", "2015-04-17"),
        ("17 April 2015 — Croup peaks in late autumn.", "2015-04-17"),
        ("Apr. 17 2015 – Croup peaks in late autumn.", "2015-04-17"),
        ("April 17, 2015", "2015-04-17"),
        ("April 17, 2015 in Geneva, croup peaked.", None),
        ("In Geneva, April 17, 2015 -- croup peaked.", None),
        ("April 2015 -- Croup peaked.", None),
        ("Smarch 17, 2015 -- Croup peaked.", None),
    ],
    ids=["month-day", "day-month", "abbreviated", "line-end", "no-dash", "not-first", "no-day", "not-a-month"],
)
def test_a_dateline_is_a_date_then_a_dash_or_the_line_end_at_a_line_start(line: str, day: str | None) -> None:
    assert html_text._dateline(f"Croup peaks in late autumn.\n\n{line}") == day


@pytest.mark.parametrize(("lines_before", "day"), [(11, "2015-04-17"), (12, None)], ids=["line-12", "line-13"])
def test_a_dateline_is_read_on_the_first_12_lines_only(lines_before: int, day: str | None) -> None:
    text = "\n".join([*["Croup peaks in late autumn."] * lines_before, "April 17, 2015 -- Admissions rose."])
    assert html_text._dateline(text) == day


def test_the_first_dateline_gives_the_date() -> None:
    assert html_text._dateline("April 17, 2015 -- Croup.\n\n3 May 2016 -- Rabies.") == "2015-04-17"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Published 4 March 2021", "2021-03-04"),
        ("First published: 4 March 2021", "2021-03-04"),
        ("Last updated: March 4, 2021", "2021-03-04"),
        ("Updated on 4 March 2021", "2021-03-04"),
        ("Last reviewed: May 2023", "2023-05-01"),
        ("Reviewed 2023-05-12", "2023-05-12"),
        ("Last modified: 4 March 2021", "2021-03-04"),
        ("Modified 4 March 2021", "2021-03-04"),
        ("Issued 4 March 2021", "2021-03-04"),
        ("Date of publication: 4 March 2021", "2021-03-04"),
        ("Date of issue: 4 March 2021", "2021-03-04"),
        ("PUBLISHED 4 MARCH 2021", "2021-03-04"),
        ("Croup guidance. Published: 4 March 2021. Next review 2024.", "2021-03-04"),
        ("Copyright 2024 Health agency", None),
        ("© 4 March 2021 Health agency", None),
        ("Last reviewed: 10/02/2023", None),
        ("Published by the Health agency in 2021", None),
        ("Unpublished 4 March 2021", None),
    ],
)
def test_a_date_shown_after_a_label_is_read(text: str, day: str | None) -> None:
    assert html_text._labelled_date(text) == day


def test_the_first_label_followed_by_a_date_gives_the_date() -> None:
    text = "Updated regularly. Published 4 March 2021. Reviewed 1 May 2023."
    assert html_text._labelled_date(text) == "2021-03-04"


@pytest.mark.parametrize(("spaces", "day"), [(31, "2023-05-04"), (32, None)], ids=["40-characters", "41-characters"])
def test_a_labelled_date_must_end_within_40_characters_of_its_label(spaces: int, day: str | None) -> None:
    # "4", the spaces and "May 2023": 40 characters with 31 spaces, 41 with 32.
    assert html_text._labelled_date(f"Reviewed: 4{' ' * spaces}May 2023") == day


@pytest.mark.parametrize(
    ("body", "day"),
    [
        (
            '<nav><time datetime="2019-09-09">9 Sep</time></nav><p><time datetime="2023-03-14">14 Mar</time></p>',
            "2023-03-14",
        ),
        (
            '<header><time datetime="2019-09-09">x</time></header><article><time datetime="2023-03-14">y</time>'
            "</article>",
            "2023-03-14",
        ),
        ("<p><time>March 14, 2023</time></p>", "2023-03-14"),
        ('<p><time datetime="">March 14, 2023</time></p>', "2023-03-14"),
        ('<p><time datetime="soon">tomorrow</time> <time datetime="2023-03-14">then</time></p>', "2023-03-14"),
        ('<footer><time datetime="2019-09-09">9 September 2019</time></footer>', None),
        ("<p>No date here.</p>", None),
    ],
    ids=["nav", "page-header", "text", "empty-datetime", "invalid-first", "only-chrome", "none"],
)
def test_the_first_time_element_outside_the_chrome_gives_its_date(body: str, day: str | None) -> None:
    assert html_text._time_date(parsed(body)) == day


PUBLISHED_ORDER = (
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
MODIFIED_ORDER = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "dc.date.modified")


@pytest.mark.parametrize(
    ("earlier", "later"),
    [*itertools.pairwise(PUBLISHED_ORDER), *itertools.pairwise(MODIFIED_ORDER)],
)
def test_metadata_keys_are_read_in_their_order_not_the_pages(earlier: str, later: str) -> None:
    head = f'<meta name="{later}" content="2021-01-01"><meta name="{earlier}" content="2020-01-01">'
    assert html_text._metadata_date(parsed("", head)) == "2020-01-01"


@pytest.mark.parametrize("modified", MODIFIED_ORDER)
def test_a_publication_date_comes_before_any_modification_date(modified: str) -> None:
    head = f'<meta property="{modified}" content="2023-02-10"><meta name="pubdate" content="2020-06-01">'
    assert html_text._metadata_date(parsed("", head)) == "2020-06-01"


@pytest.mark.parametrize("modified", MODIFIED_ORDER)
def test_a_modification_date_alone_dates_the_page(modified: str) -> None:
    head = f'<meta property="{modified}" content="2023-02-10">'
    assert html_text._metadata_date(parsed("", head)) == "2023-02-10"


@pytest.mark.parametrize(
    ("head", "body", "day"),
    [
        ('<meta property="article:published_time" content="2020-06-01">', "", "2020-06-01"),
        ('<meta name=" DC.Date.Issued " content="2020-06-01">', "", "2020-06-01"),
        ('<meta itemprop="datePublished" content="2020-06-01">', "", "2020-06-01"),
        ("", '<p><time itemprop="datePublished" datetime="2020-06-01">June</time></p>', "2020-06-01"),
        ("", '<span itemprop="datePublished" content="2020-06-01">June</span>', "2020-06-01"),
        ('<meta name="date" content="2020-06-01"><meta name="date" content="2021-01-01">', "", "2020-06-01"),
        ('<meta name="date" content=" "><meta name="date" content="2020-06-01">', "", "2020-06-01"),
        ('<meta name="citation_date" content="unknown"><meta name="dc.date" content="2020-06-01">', "", "2020-06-01"),
        ('<meta name="description" content="2020-06-01">', "", None),
        ("", "<p>Published 4 March 2021</p>", None),
    ],
    ids=[
        "property",
        "name-spaced-upper-case",
        "itemprop-meta",
        "itemprop-datetime",
        "itemprop-content",
        "first-of-a-key",
        "blank-skipped",
        "unreadable-skipped",
        "other-key",
        "no-metadata",
    ],
)
def test_metadata_dates_come_from_meta_and_itemprop_attributes(head: str, body: str, day: str | None) -> None:
    assert html_text._metadata_date(parsed(body, head)) == day


@pytest.mark.parametrize(
    ("blocks", "day"),
    [
        (ld({"@type": "Article", "dateModified": "2023-02-10", "datePublished": "2020-06-01"}), "2020-06-01"),
        (ld({"@type": "Article", "dateCreated": "2020-06-01", "dateModified": "2023-02-10"}), "2020-06-01"),
        (ld({"@type": "Article", "dateModified": "2023-02-10"}), "2023-02-10"),
        (ld([{"@type": "Article", "datePublished": "2020-06-01"}]), "2020-06-01"),
        (ld({"@type": "WebPage", "mainEntity": {"@type": "Article", "datePublished": "2020-06-01"}}), "2020-06-01"),
        (ld({"datePublished": "2020-06-01", "isPartOf": {"datePublished": "2010-01-01"}}), "2020-06-01"),
        (ld({"@graph": [{"datePublished": "2020-06-01"}, {"datePublished": "2021-01-01"}]}), "2020-06-01"),
        (ld({"@graph": [{"datePublished": {"@value": "2019-01-01"}}, {"datePublished": "2020-06-01"}]}), "2020-06-01"),
        (
            '<script type="application/ld+json">{"datePublished": </script>' + ld({"datePublished": "2020-06-01"}),
            "2020-06-01",
        ),
        ('<script type="application/ld+json"></script>' + ld({"datePublished": "2020-06-01"}), "2020-06-01"),
        (
            '<script type="application/ld+json">{"name": "Croup\nin children", "datePublished": "2020-06-01"}</script>',
            "2020-06-01",
        ),
        ('<script type="text/javascript">{"datePublished": "2020-06-01"}</script>', None),
    ],
    ids=[
        "published-first",
        "created",
        "modified-alone",
        "list",
        "nested",
        "outer-before-nested",
        "graph-first",
        "non-string-skipped",
        "invalid-block-skipped",
        "empty-block-skipped",
        "raw-newline-in-a-string",
        "not-json-ld",
    ],
)
def test_json_ld_dates_are_read_from_every_object_outer_ones_first(blocks: str, day: str | None) -> None:
    assert html_text._metadata_date(parsed("", blocks)) == day


def test_a_published_meta_date_comes_before_a_published_json_ld_date() -> None:
    head = ld({"datePublished": "2019-01-01"}) + '<meta name="pubdate" content="2020-06-01">'
    assert html_text._metadata_date(parsed("", head)) == "2020-06-01"


def test_a_published_json_ld_date_comes_before_a_modified_meta_date() -> None:
    head = '<meta property="article:modified_time" content="2023-02-10">' + ld({"datePublished": "2020-06-01"})
    assert html_text._metadata_date(parsed("", head)) == "2020-06-01"


# --- canonical URL and language ------------------------------------------------------------------------------------

PAGE_URL = "https://health.example.org/guidance/rabies?print=1"


@pytest.mark.parametrize(
    ("head", "url", "canonical"),
    [
        (
            '<link rel="canonical" href="https://health.example.org/croup">',
            PAGE_URL,
            "https://health.example.org/croup",
        ),
        ('<link rel="canonical" href="/guidance/croup">', PAGE_URL, "https://health.example.org/guidance/croup"),
        ('<link rel="canonical" href="croup">', PAGE_URL, "https://health.example.org/guidance/croup"),
        ('<link rel="canonical" href="/guidance/croup">', None, "/guidance/croup"),
        ('<link rel="canonical" href="  /guidance/croup ">', PAGE_URL, "https://health.example.org/guidance/croup"),
        ('<meta property="og:url" content="/guidance/croup">', PAGE_URL, "https://health.example.org/guidance/croup"),
        (
            '<meta property="og:url" content="/og"><link rel="canonical" href="/canonical">',
            PAGE_URL,
            "https://health.example.org/canonical",
        ),
        (
            '<link rel="canonical" href=" "><meta property="og:url" content="/og">',
            PAGE_URL,
            "https://health.example.org/og",
        ),
        (
            '<link rel="canonical" href="/first"><link rel="canonical" href="/second">',
            PAGE_URL,
            "https://health.example.org/first",
        ),
        ('<link rel="alternate" href="/fr/croup">', PAGE_URL, None),
    ],
    ids=[
        "absolute",
        "root-relative",
        "relative",
        "no-page-url",
        "spaces",
        "og-url",
        "canonical-before-og-url",
        "blank-canonical",
        "first-canonical",
        "none",
    ],
)
def test_the_canonical_url_is_made_absolute_against_the_page_url(head: str, url: str | None, canonical: str) -> None:
    assert html_text._canonical_url(parsed("<p>x</p>", head), url) == canonical


def test_a_canonical_link_outside_the_head_is_not_read() -> None:
    tree = parsed('<link rel="canonical" href="/guidance/croup"><p>x</p>')
    assert html_text._canonical_url(tree, PAGE_URL) is None


@pytest.mark.parametrize(
    ("attributes", "lang"),
    [
        (' lang="en"', "en"),
        (' lang="en-GB"', "en"),
        (' lang="pt_BR"', "pt"),
        (' lang="zh-Hant-TW"', "zh"),
        (' lang="FR"', "fr"),
        (' lang=" de "', "de"),
        (' lang=""', None),
        (' lang=" "', None),
        ("", None),
    ],
)
def test_the_language_is_the_primary_subtag_of_html_lang(attributes: str, lang: str | None) -> None:
    assert html_text._page_lang(parsed("<p>x</p>", "", attributes)) == lang


# --- headline and site chrome --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<nav><h1>Menu</h1></nav><h1>Croup</h1>",
        "<footer><h1>Contact</h1></footer><h1>Croup</h1>",
        "<aside><h1>Related</h1></aside><h1>Croup</h1>",
        '<div role="banner"><h1>Health agency</h1></div><h1>Croup</h1>',
        '<div role="navigation"><h1>Menu</h1></div><h1>Croup</h1>',
        "<header><h1>Health agency</h1></header><h1>Croup</h1>",
        "<header><div><h1>Health agency</h1></div></header><h1>Croup</h1>",
        '<div class="site-logo"><h1>Health agency</h1></div><h1>Croup</h1>',
        '<div id="masthead"><div><h1>Health agency</h1></div></div><h1>Croup</h1>',
        '<h1 class="brand">Health agency</h1><h1>Croup</h1>',
        '<h1 id="site-name">Health agency</h1><h1>Croup</h1>',
        "<h1> </h1><h1>Croup</h1>",
        "<article><header><h1>Croup</h1></header></article>",
        "<main><header><h1>Croup</h1></header></main>",
        '<div role="main"><header><h1>Croup</h1></header></div>',
        '<div class="navbar"><main><h1>Croup</h1></main></div>',
        "<h1>Croup</h1><h1>Rabies</h1>",
        "<div><h1>\n  Croup\n</h1></div>",
    ],
    ids=[
        "nav",
        "footer",
        "aside",
        "role-banner",
        "role-navigation",
        "page-header",
        "deep-in-page-header",
        "logo-class",
        "masthead-id",
        "own-brand-class",
        "own-site-name-id",
        "empty",
        "article-header",
        "main-header",
        "role-main-header",
        "main-inside-a-navbar",
        "first",
        "squeezed",
    ],
)
def test_the_headline_is_the_first_h1_outside_the_site_chrome(body: str) -> None:
    assert html_text._headline(parsed(body)) == "Croup"


@pytest.mark.parametrize(
    "body",
    ["<header><h1>Health agency</h1></header><p>Croup</p>", "<h2>Croup</h2>", "<h1></h1>"],
    ids=["only-chrome", "no-h1", "empty"],
)
def test_a_page_without_a_headline_outside_the_chrome_has_none(body: str) -> None:
    assert html_text._headline(parsed(body)) is None


@pytest.mark.parametrize(
    ("classes", "chrome"),
    [
        ("logo", True),
        ("site-logo", True),
        ("Brand", True),
        ("banner", True),
        ("masthead", True),
        ("site-name", True),
        ("sitename", True),
        ("site-title", True),
        ("sitetitle", True),
        ("navbar", True),
        ("title", False),
        ("page-title", False),
        ("headline", False),
        ("site-search", False),
    ],
)
def test_logo_brand_and_site_name_classes_mark_the_chrome(classes: str, chrome: bool) -> None:
    tree = parsed(f'<div class="{classes}"><h1>Health agency</h1></div><h1>Croup</h1>')
    assert html_text._headline(tree) == ("Croup" if chrome else "Health agency")


# --- titles --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "parts"),
    [
        ("Rabies | Health agency", ["Rabies", "Health agency"]),
        (
            "Croup – Guidance — Health agency · NHS » Kids - Home :: Site",
            ["Croup", "Guidance", "Health agency", "NHS", "Kids", "Home", "Site"],
        ),
        ("Croup-in-children", ["Croup-in-children"]),
        ("Croup|Health agency", ["Croup|Health agency"]),
        ("COVID-19 | ", ["COVID-19"]),
    ],
    ids=["bar", "every-separator", "hyphenated", "unspaced-bar", "empty-part"],
)
def test_a_title_splits_at_its_separators(title: str, parts: list[str]) -> None:
    assert html_text._title_parts(title) == parts


@pytest.mark.parametrize(
    ("title", "sites", "cut"),
    [
        ("Croup | Health agency", {"health agency"}, "Croup"),
        ("Croup - Health Agency", {"health agency"}, "Croup"),
        ("Health agency | Croup", {"health agency"}, "Croup"),
        ("Health agency | Croup | Health agency", {"health agency"}, "Croup"),
        ("Croup | Guidance | Health agency", {"health agency", "guidance"}, "Croup"),
        ("Croup | Guidance | Health agency", {"health agency"}, "Croup | Guidance"),
        ("Guidance | Croup | Health agency", {"guidance"}, "Croup | Health agency"),
        ("Croup | Health agency", set(), "Croup | Health agency"),
        ("Health agency", {"health agency"}, "Health agency"),
    ],
    ids=[
        "trailing",
        "other-separator-and-case",
        "leading",
        "both-ends",
        "two-trailing",
        "one-of-two",
        "leading-only",
        "unknown-site",
        "only-the-site",
    ],
)
def test_a_site_name_at_either_end_of_a_title_is_cut_off(title: str, sites: set[str], cut: str) -> None:
    assert html_text._without_site_name(title, sites) == cut


@pytest.mark.parametrize(
    ("title", "banner"),
    [
        ("Home", True),
        ("Homepage", True),
        ("Home page", True),
        ("Home-Page", True),
        ("Welcome", True),
        ("WELCOME!", True),
        ("Index", True),
        ("Default", True),
        ("Untitled", True),
        ("Page", True),
        ("", True),
        ("—", True),
        ("Health Agency", True),
        ("Home care", False),
        ("Welcome packs for new parents", False),
        ("Pages", False),
        ("Croup", False),
    ],
)
def test_a_banner_is_a_site_name_a_generic_word_or_no_word(title: str, banner: bool) -> None:
    assert html_text._is_banner(title, {"health agency"}) is banner


@pytest.mark.parametrize(
    ("found", "headline", "sites", "title"),
    [
        ("Croup in children | Health agency", "Croup in children", set(), "Croup in children"),
        ("Croup In Children - NHS", "Croup in children", {"nhs"}, "Croup in children"),
        ("Home - Croup", "Home", set(), "Home - Croup"),
        ("Croup: assessment and treatment", "Croup in children", set(), "Croup: assessment and treatment"),
        ("Croup | Health agency", None, {"health agency"}, "Croup"),
        ("Home", "Croup in children", set(), "Croup in children"),
        ("Health agency", "Croup in children", {"health agency"}, "Croup in children"),
        (None, "Croup in children", set(), "Croup in children"),
        ("Health agency", "Health agency", {"health agency"}, None),
        ("Welcome", "Home", set(), None),
        (None, "Home", set(), None),
        (None, None, set(), None),
    ],
    ids=[
        "headline-is-a-part",
        "headline-wording-kept",
        "banner-headline",
        "own-title",
        "site-cut-off",
        "generic-title",
        "site-title",
        "no-title",
        "all-site",
        "all-generic",
        "generic-headline-only",
        "nothing",
    ],
)
def test_the_page_title_is_the_documents_not_the_sites(
    found: str | None, headline: str | None, sites: set[str], title: str | None
) -> None:
    assert html_text._page_title(found, headline, sites) == title


@pytest.mark.parametrize(
    ("head", "body", "headline", "sites"),
    [
        (
            '<meta property="og:site_name" content="Health Agency"><meta name="application-name" content="HA Guides">',
            "",
            None,
            {"health agency", "ha guides"},
        ),
        (
            ld(
                {
                    "@graph": [
                        {"@type": "WebSite", "name": "Health Agency"},
                        {"@type": "Organization", "name": "Ministry of Health"},
                        {"@type": "Article", "name": "Croup in children"},
                        {"@type": "Organization", "name": {"@value": "Ministry"}},
                    ]
                }
            ),
            "",
            None,
            {"health agency", "ministry of health"},
        ),
        ("", '<header><div class="site-logo"><a href="/">Health agency</a></div></header>', None, {"health agency"}),
        (
            "",
            '<header><h1>Health Agency</h1><div><a href="/a">Topics</a></div><p>Search</p><span>Menu</span></header>'
            "<main><h1>Croup</h1></main>",
            "Croup",
            {"health agency"},
        ),
        ("", '<span id="brand">HA Guides</span><p class="masthead">Ministry</p>', None, {"ha guides", "ministry"}),
        ("", "<main><h1>Croup</h1><p>Croup is common.</p></main>", "Croup", set()),
        ("<title>Croup in children | Health agency</title>", "", "Croup in children", {"health agency"}),
        (
            '<meta property="og:title" content="Croup in children - Guidance - Health agency">',
            "",
            "Croup in children",
            {"guidance", "health agency"},
        ),
        (
            "<title>Croup in children | Croup guidance | Health agency</title>",
            "",
            "Croup in children",
            {"health agency"},
        ),
        ("<title>Health agency</title>", "", "Croup in children", set()),
        ("<title>Croup in children | Health agency</title>", "", None, set()),
        ('<meta property="og:site_name" content="—">', "", None, set()),
    ],
    ids=[
        "site-name-meta",
        "json-ld",
        "logo-element",
        "chrome-h1",
        "brand-id-and-masthead-class",
        "headline-is-not-a-site",
        "title-part",
        "og-title-parts",
        "part-sharing-a-word",
        "one-part-title",
        "no-headline",
        "no-words",
    ],
)
def test_site_names_come_from_metadata_chrome_and_title_parts_unlike_the_headline(
    head: str, body: str, headline: str | None, sites: set[str]
) -> None:
    assert html_text._site_names(parsed(body, head), headline) == sites


@pytest.mark.parametrize(("length", "kept"), [(120, True), (121, False)])
def test_a_site_name_is_at_most_120_characters(length: int, kept: bool) -> None:
    tree = parsed("", f'<meta property="og:site_name" content="{"x" * length}">')
    assert html_text._site_names(tree, None) == ({"x" * length} if kept else set())


# --- the tree before trafilatura -----------------------------------------------------------------------------------


def after(step: Callable[[HtmlElement], None], body: str) -> str:
    """The body markup after one of the page's passes (`step` changes the tree in place)."""
    tree = parsed(body)
    step(tree)
    return body_markup(tree)


def prepared(body: str) -> str:
    """The body markup after the page pass before trafilatura."""
    return after(html_text._prepare_tree, body)


@pytest.mark.parametrize(
    ("body", "markup"),
    [
        ("<p>Take<!-- cached 2012-02-02 --> two doses.</p>", "<p>Take two doses.</p>"),
        ("<p>Take two<script>var a = 1;</script> doses.</p>", "<p>Take two doses.</p>"),
        ("<p><script>var a = 1;</script>Take two doses.</p>", "<p>Take two doses.</p>"),
        ("<p>Take <b>two</b><style>b {}</style> doses.</p>", "<p>Take <b>two</b> doses.</p>"),
        ("<div><template><p>Row</p></template>Take two doses.</div>", "<div>Take two doses.</div>"),
        (
            '<p>Take two doses.</p><script type="application/ld+json">{"a": 1}</script>',
            '<p>Take two doses.</p><script type="application/ld+json">{"a": 1}</script>',
        ),
        (
            '<p>Published: <time datetime="2023-03-14">March 14, 2023</time>.</p>',
            "<p>Published: March 14, 2023.</p>",
        ),
    ],
    ids=["comment", "script", "script-first", "style", "template", "json-ld-kept", "time-as-text"],
)
def test_the_page_pass_keeps_only_what_a_reader_sees(body: str, markup: str) -> None:
    assert prepared(body) == markup


@pytest.mark.parametrize(
    ("classes", "dropped"),
    [
        ("page-details", True),
        ("pagedetails", True),
        ("gc-pagedetails wb-inv", True),
        ("report-problem", True),
        ("report-a-problem", True),
        ("Share-This", True),
        ("sharethis", True),
        ("share-buttons", True),
        ("share-tools", True),
        ("patient-details", False),
        ("subpage-details", False),
        ("report-problems", False),
        ("shared-care", False),
    ],
)
def test_page_details_report_and_share_boxes_are_dropped(classes: str, dropped: bool) -> None:
    box = f'<div class="{classes}">Share this page</div>'
    expected = "<div>Rest the child.</div>" if dropped else f"<div>{box}Rest the child.</div>"
    assert prepared(f"<div>{box}Rest the child.</div>") == expected


@pytest.mark.parametrize(
    ("body", "markup"),
    [
        ("<p>Give\n    oral\t\tfluids</p>", "<p>Give oral fluids</p>"),
        ("<p><b>Give</b>\n    oral fluids</p>", "<p><b>Give</b> oral fluids</p>"),
        ("<p>5\xa0\xa0mg</p>", "<p>5\xa0\xa0mg</p>"),
        ("<pre>  line 1\n    line 2</pre>", "<pre>  line 1\n    line 2</pre>"),
        ("<pre><code>  a\n  b</code>\n  c</pre>", "<pre><code>  a\n  b</code>\n  c</pre>"),
        ("<textarea>  a\n  b</textarea>", "<textarea>  a\n  b</textarea>"),
        ("<div><pre>x</pre>\n\n  after</div>", "<div><pre>x</pre> after</div>"),
    ],
    ids=["text", "tail", "no-break-space", "pre", "inside-pre", "textarea", "after-pre"],
)
def test_whitespace_runs_collapse_except_in_pre_and_textarea(body: str, markup: str) -> None:
    tree = parsed(body)
    html_text._collapse_whitespace(tree)
    assert body_markup(tree) == markup


@pytest.mark.parametrize("tag", ["div", "section", "article", "header", "span", "font", "strong", "b"])
def test_block_and_inline_wrappers_in_a_heading_are_unwrapped(tag: str) -> None:
    tree = parsed(f'<h2><{tag}><a href="/croup">Croup</a></{tag}></h2>')
    html_text._unwrap_heading_blocks(tree)
    assert body_markup(tree) == '<h2><a href="/croup">Croup</a></h2>'


def test_a_paragraph_in_a_heading_is_unwrapped() -> None:
    tree = parsed("")
    tree.body.append(E.H3(E.P("Croup")))  # the HTML parser closes a heading before a <p>; other trees may not
    html_text._unwrap_heading_blocks(tree)
    assert body_markup(tree) == "<h3>Croup</h3>"


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6])
def test_wrappers_are_unwrapped_in_headings_of_every_level(level: int) -> None:
    tree = parsed(f"<h{level}><span>Croup</span></h{level}>")
    html_text._unwrap_heading_blocks(tree)
    assert body_markup(tree) == f"<h{level}>Croup</h{level}>"


@pytest.mark.parametrize(
    "body",
    [
        '<h2><a href="/croup">Croup</a></h2>',
        "<h2><em>Croup</em></h2>",
        "<h2><i>Croup</i></h2>",
        "<h2><code>Croup</code></h2>",
        "<p><span>Croup</span></p>",
    ],
    ids=["link", "em", "i", "code", "outside-a-heading"],
)
def test_other_elements_and_wrappers_outside_headings_stay(body: str) -> None:
    tree = parsed(body)
    html_text._unwrap_heading_blocks(tree)
    assert body_markup(tree) == body


# --- sub- and superscripts -----------------------------------------------------------------------------------------


def rewritten(body: str) -> str:
    """The body markup after sub- and superscripts are rewritten as text."""
    return after(html_text._rewrite_scripts, body)


@pytest.mark.parametrize(
    ("body", "markup"),
    [
        ("<p>Croup is common<sup>12</sup> in autumn.</p>", "<p>Croup is common in autumn.</p>"),
        ('<p>Croup<sup><a href="#note-3">note</a></sup> peaks.</p>', "<p>Croup peaks.</p>"),
        ('<p>Croup<sup><a href="https://example.org/n">note</a></sup> peaks.</p>', "<p>Croup^note peaks.</p>"),
        ('<p>Croup<sup class="reference">note</sup> peaks.</p>', "<p>Croup peaks.</p>"),
        ("<p>Croup<sup>note</sup> peaks.</p>", "<p>Croup^note peaks.</p>"),
        ('<p>Dose 2 mg/m<sup class="reference">2</sup> daily.</p>', "<p>Dose 2 mg/m^2 daily.</p>"),
        ("<p>Dose <b>2</b> m<sup>2</sup> daily.</p>", "<p>Dose <b>2</b> m^2 daily.</p>"),
        ("<p>CO<sub>2</sub> retention.</p>", "<p>CO_2 retention.</p>"),
        ("<p><sup>a</sup>Note</p>", "<p>Note</p>"),
        (
            "<p>C = C0 e<sup>-k<sub>e</sub>t</sup> after CO<sub>2</sub> exposure.</p>",
            "<p>C = C0 e^-ket after CO_2 exposure.</p>",
        ),
    ],
    ids=[
        "citation-number",
        "anchor-link",
        "outside-link",
        "reference-class",
        "plain-text",
        "reference-class-after-a-unit",
        "after-an-element",
        "subscript",
        "first-child",
        "nested-then-more",
    ],
)
def test_scripts_become_text_and_citation_marks_go(body: str, markup: str) -> None:
    assert rewritten(body) == markup


@pytest.mark.parametrize(
    ("body", "markup"),
    [
        (f"<p><sup>1</sup> {REFERENCE}</p><p>Croup is common<sup>2</sup>.</p>", "<p>Croup is common.</p>"),
        (f"<ul><li><sup>1</sup> {REFERENCE}</li><li>Croup.</li></ul>", "<ul><li>Croup.</li></ul>"),
        (f"<dl><dt>Sources</dt><dd><sup>1</sup> {REFERENCE}</dd></dl>", "<dl><dt>Sources</dt></dl>"),
        (f'<p><sup><a href="#r1"><sup>1</sup></a></sup> {REFERENCE}</p><p>Croup.</p>', "<p>Croup.</p>"),
        (f"<div><sup>1</sup> {REFERENCE}</div>", f"<div> {REFERENCE}</div>"),
        (f"<p>See<sup>1</sup> {REFERENCE}</p>", f"<p>See {REFERENCE}</p>"),
        (f"<p><sub>1</sub> {REFERENCE}</p>", f"<p>1 {REFERENCE}</p>"),
        (
            "<p><sup>1</sup> Children under three months need review.</p>",
            "<p> Children under three months need review.</p>",
        ),
    ],
    ids=["paragraph", "list-item", "definition", "nested-mark", "div", "after-text", "subscript", "not-a-reference"],
)
def test_a_paragraph_opening_with_a_footnote_mark_and_reading_like_a_reference_is_dropped(
    body: str, markup: str
) -> None:
    assert rewritten(body) == markup


@pytest.mark.parametrize(("words", "note"), [(120, True), (121, False)])
def test_a_reference_note_is_at_most_120_words(words: int, note: bool) -> None:
    text = REFERENCE + " see" * (words - 9)
    assert html_text._is_reference_note(text) is note


def test_a_short_note_that_does_not_read_like_a_reference_is_not_a_reference_note() -> None:
    assert html_text._is_reference_note("1 Children under three months need review.") is False


@pytest.mark.parametrize(
    ("markup", "citation"),
    [
        ("<sup>12</sup>", True),
        ("<sup>[3, 4]</sup>", True),
        ("<sup>(1–3)</sup>", True),
        ("<sup>*</sup>", True),
        ("<sup>a</sup>", True),
        ("<sup>ab</sup>", False),
        ("<sup>note</sup>", False),
        ('<sup><a href="#fn1">note</a></sup>', True),
        ('<sup><a href="/croup#fn1">note</a></sup>', False),
        ('<sup class="footnote">note</sup>', True),
        ('<sup><span class="xref">note</span></sup>', True),
        ('<sup class="REF">note</sup>', True),
        ('<sup class="refs">note</sup>', True),
        ('<sup class="cite">note</sup>', True),
        ('<sup class="citation">note</sup>', True),
        ('<sup class="fn-1">note</sup>', True),
        ('<sup class="preferences">note</sup>', False),
        ('<sup class="references">note</sup>', False),
        ('<sup><a href="#n">see note one</a></sup>', True),
        ('<sup><a href="#n">see notes one</a></sup>', False),
        ('<sup class="ref">see notes one</sup>', False),
    ],
    ids=[
        "number",
        "bracketed-list",
        "parenthesised-range",
        "sign",
        "letter",
        "two-letters",
        "word",
        "anchor-link",
        "link-to-another-page",
        "footnote-class",
        "descendant-class",
        "upper-case-class",
        "refs",
        "cite",
        "citation",
        "fn",
        "class-containing-ref",
        "plural-class",
        "12-characters",
        "13-characters",
        "13-characters-with-class",
    ],
)
def test_a_citation_superscript_is_a_mark_or_a_short_anchor_link_or_reference_class(
    markup: str, citation: bool
) -> None:
    sup = parsed(f"<p>Croup{markup}</p>").body.find(".//sup")
    inner = " ".join(sup.text_content().split())
    assert html_text._is_citation_sup(sup, inner) is citation


@pytest.mark.parametrize(
    ("body", "before"),
    [
        ("<p>Dose <b>in <i>mg/m</i></b><sup>2</sup> daily</p>", "Dose in mg/m"),
        ("<p>Area <b>2 m<sup>2</sup></b> of skin</p>", "Area 2 m"),
        ("<p>Dose <b>2</b> mg/m<sup>2</sup> daily</p>", "Dose 2 mg/m"),
        ("<p><sup>1</sup> Smith</p>", ""),
        (f"<p>{'a' * 10}{'b' * 40}<sup>1</sup></p>", "b" * 40),
    ],
    ids=["after-nested-elements", "inside-an-element", "after-an-element", "first", "last-40-characters"],
)
def test_the_text_before_a_script_is_its_blocks_text_up_to_it(body: str, before: str) -> None:
    tree = parsed(body)
    assert html_text._preceding_text(tree.body.find(".//sup"), tree.body.find("p")) == before


def test_a_script_outside_any_block_has_no_text_before_it() -> None:
    tree = parsed("<p>x</p>")
    assert html_text._preceding_text(tree.body.find("p"), None) == ""


# --- whole pages ---------------------------------------------------------------------------------------------------


def test_the_metadata_date_comes_before_the_date_of_a_time_element() -> None:
    head = "<meta name='dcterms.issued' content='2020-06-01'>"
    body = "<p>Spring edition, <time datetime='2023-03-14'>out now</time>.</p>"
    assert html_to_markdown(article_page(head, body)).date == "2020-06-01"


def test_of_other_metadata_dates_the_original_one_is_taken() -> None:
    head = "<meta name='last-modified' content='2022-02-02'><meta name='dc.date.created' content='2019-01-01'>"
    assert html_to_markdown(article_page(head)).date == "2019-01-01"


def test_a_date_in_the_running_text_is_not_guessed_to_be_the_pages() -> None:
    page = html_to_markdown(article_page(body="<p>The panel met on 12 June 2020 in Geneva.</p>"))
    assert page.date is None


def test_a_comments_section_is_not_part_of_the_text() -> None:
    comments = (
        "<section id='comments' class='comments'><h2>Comments</h2><div class='comment'><p>My son had croup last "
        "winter and the steroid worked within hours, thank you for this clear page.</p></div></section>"
    )
    text = html_to_markdown(article_page(after=comments)).text
    assert "dexamethasone" in text and "My son had croup" not in text


def test_a_related_links_box_in_the_article_is_not_part_of_the_text() -> None:
    related = "<div class='related'><h3>Related</h3><ul><li><a href='/a'>Bronchiolitis</a></li></ul></div>"
    text = html_to_markdown(article_page(body=related)).text
    assert text.startswith("# Croup in children\n\n") and "Bronchiolitis" not in text


def test_a_paragraph_repeated_in_several_sections_is_kept_each_time() -> None:
    advice = (
        "<p>Seek urgent help if the child struggles to breathe, turns blue or becomes drowsy and floppy, and call an"
        " ambulance.</p>"
    )
    sections = "".join(f"<h2>Setting {number}</h2>{advice}" for number in range(1, 6))
    data = f"<html><body><main><article><h1>Breathing difficulty</h1>{sections}</article></main></body></html>"
    assert html_to_markdown(data.encode()).text.count("Seek urgent help") == 5


def test_a_page_without_main_text_keeps_its_canonical_url_and_language() -> None:
    data = b"<html lang='fr-CA'><head><link rel='canonical' href='/fr/croup'></head><body></body></html>"
    assert html_to_markdown(data, url=PAGE_URL) == ExtractedPage(
        title=None, text="", date=None, canonical_url="https://health.example.org/fr/croup", lang="fr"
    )


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2020-06-01T09:00:00Z", "2020-06-01"),
        ("2023-02-10T09:00:00+00:00", "2023-02-10"),
        ("20230210T0900", "2023-02-10"),
        ("2023-02-101", None),
        ("202302101", None),
    ],
)
def test_an_iso_date_may_carry_a_time_but_not_a_longer_day(value: str, day: str | None) -> None:
    assert html_text._date_of(value) == day


def test_a_published_time_stamp_dates_the_page_before_a_modified_day() -> None:
    page = html_to_markdown(
        b'<html><head><meta property="article:published_time" content="2020-06-01T09:00:00Z">'
        b'<meta property="article:modified_time" content="2023-02-10"></head><body><p>Text.</p></body></html>'
    )

    assert page.date == "2020-06-01"


def test_the_xml_lang_attribute_gives_the_language_when_lang_is_absent() -> None:
    assert html_to_markdown(b'<html xml:lang="de-AT"><body><p>Text.</p></body></html>').lang == "de"


def test_tags_written_as_text_are_kept_as_text() -> None:
    page = html_to_markdown(
        b"<html><body><article><p>Use the &lt;b&gt; tag to mark bold text in the guideline pages written for "
        b"clinicians and nurses.</p><p>A CRP &lt;a few units and &gt;10 later is a rise that the ward team must "
        b"report at once.</p></article></body></html>"
    )

    assert "Use the <b> tag to mark bold text" in page.text
    assert "A CRP <a few units and >10 later is a rise" in page.text


def test_a_label_started_in_the_window_may_end_64_bytes_past_it() -> None:
    # The declaration starts on byte 4091 and its label, `iso-8859-15`, ends on byte 4160: 64 bytes past the window.
    data = b" " * 4090 + b"<meta" + b" " * 45 + b'charset="iso-8859-15">'

    assert data.index(b"iso-8859-15") + len(b"iso-8859-15") == 4096 + 64
    assert declared_charset(data) == "iso8859-15"


def test_a_label_is_read_no_further_than_64_bytes_past_the_window() -> None:
    # One space more, and the label ends on byte 4161: read up to byte 4160 it is `iso-8859-1`, which is cp1252.
    data = b" " * 4090 + b"<meta" + b" " * 46 + b'charset="iso-8859-15">'

    assert declared_charset(data) == "cp1252"


CROUP_PAGE = (
    b"<html><head><title>Croup in children</title></head><body><article><h1>Croup in children</h1><p>Croup is a "
    b"common illness of young children that causes a barking cough and noisy breathing at night.</p></article>"
    b"</body></html>"
)


def test_a_page_without_a_canonical_link_is_known_by_its_own_url() -> None:
    assert html_to_markdown(CROUP_PAGE, "https://example.org/croup").canonical_url == "https://example.org/croup"
    assert html_to_markdown(CROUP_PAGE).canonical_url is None


def test_a_canonical_link_is_the_pages_url_with_or_without_the_url_it_was_fetched_from() -> None:
    page = CROUP_PAGE.replace(b"</title>", b'</title><link rel="canonical" href="https://example.org/croup-guide">')

    assert html_to_markdown(page).canonical_url == "https://example.org/croup-guide"
    assert (
        html_to_markdown(page, "https://example.org/croup?print=1").canonical_url == "https://example.org/croup-guide"
    )
