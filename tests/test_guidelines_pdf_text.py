"""The layout rules of `sources/guidelines/pdf_text.py`, each on both sides of its boundary: spans and scripts, word
gaps, rotation, adverts, gutters and reading order, running heads, hyphenation, headings, paragraphs and titles.
Expected values are worked out by hand from the rules and constants of that module."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pymupdf
import pytest

from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import pdf_text
from gap_replay.sources.guidelines.pdf_text import _Item, _Line, _Span

STAMP = "D:20240101000000Z"


# --- helpers -------------------------------------------------------------------------------------------------------


def span(text: str, x0: float, x1: float, size: float = 10.0, baseline: float = 100.0, pictures: bool = False) -> _Span:
    """A regular span on the baseline at y=100 unless told otherwise."""
    return _Span(text, size, False, x0, x1, baseline, pictures)


def texts(spans: list[_Span]) -> list[str]:
    """The texts of spans, in order."""
    return [piece.text for piece in spans]


def raw_span(
    text: str,
    x0: float,
    x1: float,
    size: float = 10.0,
    baseline: float = 100.0,
    font: str = "Helvetica",
    flags: int = 0,
) -> dict:
    """A span as mupdf's `dict` output gives it."""
    return {
        "text": text,
        "size": size,
        "flags": flags,
        "font": font,
        "bbox": (x0, baseline - size, x1, baseline + size / 4),
        "origin": (x0, baseline),
    }


def line(
    text: str, size: float = 10.0, bold: bool = False, top: float = 500.0, block: tuple[int, int] = (0, 0)
) -> _Line:
    """A visual line of the page body (top at y=500 unless told), 10 points high."""
    return _Line(text=text, size=size, bold=bold, top=top, bottom=top + 10, block=block)


def block(name: str, x0: float, top: float, x1: float, bottom: float, *line_texts: str) -> dict:
    """A mupdf text block named `name`, its lines (50 characters each unless given) stacked 10 points apart."""
    contents = line_texts or ("a" * 50,)
    lines = [
        {
            "dir": (1.0, 0.0),
            "bbox": (x0, top + 10 * index, x1, top + 10 * (index + 1)),
            "spans": [
                {
                    "text": text,
                    "bbox": (x0, top + 10 * index, x1, top + 10 * (index + 1)),
                    "origin": (x0, top + 10 * index + 8),
                }
            ],
        }
        for index, text in enumerate(contents)
    ]
    return {"name": name, "bbox": (x0, top, x1, bottom), "lines": lines}


def one_line_block(name: str, x0: float, top: float, x1: float, height: float) -> dict:
    """A mupdf text block named `name` of one line of 50 characters, `height` points high."""
    piece = block(name, x0, top, x1, top + height)
    piece["lines"][0]["bbox"] = (x0, top, x1, top + height)
    return piece


def names(blocks: list[dict]) -> list[str]:
    """The names of blocks, in order."""
    return [piece["name"] for piece in blocks]


def column_lines(*lines: tuple[float, float, int]) -> list[dict]:
    """One block per line (x0, x1, characters), each 10 points under the last."""
    return [
        block(f"b{index}", x0, 10 * index, x1, 10 * index + 10, "a" * chars)
        for index, (x0, x1, chars) in enumerate(lines)
    ]


def two_columns(left: tuple[float, float] = (20, 140), right: tuple[float, float] = (160, 280)) -> list:
    """Two lines of 50 characters in each of two columns."""
    return [(*left, 50), (*left, 50), (*right, 50), (*right, 50)]


def pdf_of_runs(*runs: tuple[float, float, str, float, str]) -> bytes:
    """A one-page A4 PDF without metadata, of text runs (x, baseline, text, font size, font: `helv` or bold `hebo`)."""
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)
    for x, y, text, size, font in runs:
        page.insert_text((x, y), text, fontsize=size, fontname=font)
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data


def pdf_bytes(text: str = "Croup causes a barking cough.", title: str = "", created: str = STAMP) -> bytes:
    """A one-page PDF with a line of text and the given metadata."""
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)
    page.insert_text((72, 100), text, fontsize=10)
    document.set_metadata({"title": title, "creationDate": created, "modDate": created})
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data


# --- spans ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "font, traits",
    [
        ("Helvetica", (False, False)),
        ("Helvetica-Bold", (True, False)),
        ("ARIAL-BOLDMT", (True, False)),
        ("Wingdings-Regular", (False, True)),
        ("ZapfDingbats", (False, True)),
        ("Webdings", (False, True)),
    ],
)
def test_font_names_tell_bold_and_picture_fonts(font: str, traits: tuple[bool, bool]) -> None:
    assert pdf_text._font_traits(font) == traits


def test_a_mupdf_span_keeps_its_place_size_and_baseline() -> None:
    raw = {
        "text": "Dose",
        "size": 9.96,
        "flags": 0,
        "font": "Helvetica",
        "bbox": (72, 90, 95, 102),
        "origin": (73, 100),
    }
    assert pdf_text._span(raw) == _Span("Dose", 10.0, False, 72, 95, 100, False)


@pytest.mark.parametrize("size, rounded", [(9.96, 10.0), (9.94, 9.9), (7.0, 7.0)])
def test_span_sizes_are_rounded_to_a_tenth(size: float, rounded: float) -> None:
    assert pdf_text._span(raw_span("Dose", 0, 20, size=size)).size == rounded


@pytest.mark.parametrize(
    "font, flags, bold",
    [
        ("Helvetica", 0, False),
        ("Helvetica-Bold", 0, True),
        ("Helvetica", pymupdf.TEXT_FONT_BOLD, True),
        ("Times-Italic", pymupdf.TEXT_FONT_ITALIC | pymupdf.TEXT_FONT_SERIFED, False),
    ],
)
def test_a_span_is_bold_by_its_font_name_or_its_flags(font: str, flags: int, bold: bool) -> None:
    assert pdf_text._span(raw_span("Dose", 0, 20, font=font, flags=flags)).bold is bold


@pytest.mark.parametrize(
    "character, kept",
    [
        ("\x00", False),
        ("\x08", False),
        ("\t", True),
        ("\n", True),
        ("\x0b", False),
        ("\x0c", False),
        ("\r", True),
        ("\x0e", False),
        ("\x1f", False),
        (" ", True),
        ("~", True),
        ("\x7f", False),
        ("\x9f", False),
        ("\xa0", True),
    ],
)
def test_control_characters_are_dropped_from_span_text(character: str, kept: bool) -> None:
    text = pdf_text._span(raw_span(f"a{character}b", 0, 20)).text
    assert text == (f"a{character}b" if kept else "ab")


def test_unicode_hyphens_in_a_span_become_plain_hyphens() -> None:
    assert pdf_text._span(raw_span("anti\u2010inflammatory non\u2011breaking", 0, 90)).text == (
        "anti-inflammatory non-breaking"
    )


# --- sub- and superscripts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script_size, kind",
    [(8.5, "sup"), (8.6, None)],
    ids=["0.85-of-the-line", "larger"],
)
def test_a_script_is_set_at_most_85_percent_of_its_line_size(script_size: float, kind: str | None) -> None:
    assert pdf_text._script_kind(span("2", 0, 4, size=script_size, baseline=98), 10, 100) == kind


@pytest.mark.parametrize(
    "baseline, kind",
    [(98.4, "sup"), (98.5, None), (100, None), (101.0, None), (101.1, "sub")],
    ids=["raised-1.6", "raised-1.5", "on-the-baseline", "lowered-1.0", "lowered-1.1"],
)
def test_a_superscript_rises_over_15_and_a_subscript_drops_over_10_percent_of_the_size(
    baseline: float, kind: str | None
) -> None:
    assert pdf_text._script_kind(span("2", 0, 4, size=7, baseline=baseline), 10, 100) == kind


@pytest.mark.parametrize("text, pictures, kind", [("†", False, "sup"), (",", False, None), ("2", True, None)])
def test_a_script_holds_word_or_footnote_characters_and_no_pictures(
    text: str, pictures: bool, kind: str | None
) -> None:
    assert pdf_text._script_kind(span(text, 0, 4, size=7, baseline=97, pictures=pictures), 10, 100) == kind


# --- spans in reading order ----------------------------------------------------------------------------------------


def test_spans_drawn_left_to_right_are_kept_as_they_are_with_empty_ones_out() -> None:
    spans = [span("ab", 0, 10), span("", 10, 10), span(" ", 9.5, 12), span("cd", 12, 20)]
    assert texts(pdf_text._visible_spans(spans)) == ["ab", " ", "cd"]


def test_a_space_starting_over_half_a_point_inside_the_last_span_makes_spans_out_of_order() -> None:
    spans = [span("ab", 0, 10), span(" ", 9.4, 12), span("cd", 12, 20)]
    assert texts(pdf_text._visible_spans(spans)) == ["ab", "cd"]


@pytest.mark.parametrize(
    "start, order",
    [(9.9, ["'", "ab"]), (9.75, ["'", "ab"]), (9.7, ["ab", "'"])],
    ids=["under-half-a-point-before-its-end", "half-a-point-before-its-end", "further-back"],
)
def test_a_span_starting_at_most_half_a_point_before_the_end_of_the_last_is_in_order(
    start: float, order: list[str]
) -> None:
    """The first span is a quarter of a point wide (10 to 10.25): the next may start left of it and be in order."""
    spans = [span("'", 10, 10.25), span("ab", start, 20)]
    assert texts(pdf_text._visible_spans(spans)) == order


def test_spans_drawn_out_of_order_are_sorted_left_to_right() -> None:
    assert texts(pdf_text._visible_spans([span("cd", 20, 30), span("ab", 0, 10)])) == ["ab", "cd"]


@pytest.mark.parametrize(
    "space, kept",
    [((9.5, 12), True), ((9.4, 12), False), ((15, 20.5), True), ((15, 20.6), False)],
    ids=["touching-left", "over-left", "touching-right", "over-right"],
)
def test_a_space_overlapping_a_visible_span_by_over_half_a_point_is_dropped(
    space: tuple[float, float], kept: bool
) -> None:
    spans = [span("cd", 20, 30), span("ab", 0, 10), span(" ", *space)]
    assert texts(pdf_text._visible_spans(spans)) == (["ab", " ", "cd"] if kept else ["ab", "cd"])


def test_a_span_another_one_starts_inside_is_cut_at_the_nearest_word_end() -> None:
    pieces = pdf_text._cut_at(span("ab, cd", 0, 60), [29])
    assert [(piece.text, piece.x0, piece.x1) for piece in pieces] == [("ab,", 0, 29), (" cd", pytest.approx(29.01), 60)]


@pytest.mark.parametrize(
    "place, first",
    [(0.5, None), (0.6, "ab"), (59.5, None), (59.4, "ab,")],
    ids=["at-the-left-edge", "just-inside-left", "at-the-right-edge", "just-inside-right"],
)
def test_a_span_is_cut_only_where_a_span_starts_over_half_a_point_inside_it(place: float, first: str | None) -> None:
    pieces = pdf_text._cut_at(span("ab, cd", 0, 60), [place])
    if first is None:
        assert texts(pieces) == ["ab, cd"]
    else:
        assert texts(pieces) == [first, "ab, cd".removeprefix(first)]
        assert (pieces[0].x0, pieces[0].x1, pieces[1].x0) == (0, place, pytest.approx(place + 0.01))


@pytest.mark.parametrize("place, first", [(6.2, "ab"), (6.3, "ab,")], ids=["nearer-the-comma", "nearer-the-space"])
def test_a_cut_goes_to_the_nearest_word_end_at_fractional_character_widths(place: float, first: str) -> None:
    """`ab, cd, ef` is 25 points wide, 2.5 a character: its first word ends lie at x=5 (before `,`) and x=7.5 (before
    ` `), 6.25 halfway between them."""
    assert texts(pdf_text._cut_at(span("ab, cd, ef", 0, 25), [place]))[0] == first


def test_a_word_end_after_the_first_character_is_a_place_to_cut() -> None:
    assert texts(pdf_text._cut_at(span("a, bcd", 0, 60), [11])) == ["a", ", bcd"]


def test_a_span_is_cut_after_a_word_not_after_a_space() -> None:
    """`dose (mg)` at 10 points a character: a span starting at x=50, just before `(`, cuts it after `dose`."""
    assert texts(pdf_text._cut_at(span("dose (mg)", 0, 90), [50])) == ["dose", " (mg)"]


def test_a_span_without_a_word_end_is_not_cut() -> None:
    assert texts(pdf_text._cut_at(span("(ab", 0, 30), [15])) == ["(ab"]


def test_a_superscript_drawn_after_its_line_is_put_back_in_place() -> None:
    spans = [span("mm and more", 0, 55), span("2", 10, 14, size=7, baseline=97)]
    assert texts(pdf_text._visible_spans(spans)) == ["mm", "2", " and more"]


# --- composing a line ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gap, text", [(1.5, "Handhygiene"), (1.6, "Hand hygiene")])
def test_pieces_further_apart_than_15_percent_of_the_font_size_are_separate_words(gap: float, text: str) -> None:
    spans = [span("Hand", 0, 20), span("hygiene", 20 + gap, 50)]
    assert pdf_text._compose(spans, [None, None], 10) == text


def test_a_line_of_hundreds_of_pieces_is_composed_whole() -> None:
    spans = [span(str(number), 10 * number, 10 * number + 5) for number in range(300)]
    assert pdf_text._compose(spans, [None] * 300, 10) == " ".join(str(number) for number in range(300))


def test_a_line_of_hundreds_of_pieces_ending_in_a_script_is_composed_whole() -> None:
    spans = [*(span(str(number), 10 * number, 10 * number + 5) for number in range(299)), span("2", 2990, 2994, size=7)]
    text = pdf_text._compose(spans, [None] * 299 + ["sub"], 10)
    assert text == " ".join(str(number) for number in range(299)) + "_2"


def test_no_space_is_added_next_to_a_space() -> None:
    spans = [span("Hand ", 0, 20), span("hygiene", 30, 50), span(" first", 60, 80)]
    assert pdf_text._compose(spans, [None, None, None], 10) == "Hand hygiene first"


def test_a_space_is_added_after_a_line_that_starts_with_a_space() -> None:
    """Only the end of the text so far decides: a leading space does not stand for the gap between the words."""
    spans = [span(" Hand", 0, 25), span("hygiene", 27, 60)]
    assert pdf_text._compose(spans, [None, None], 10) == "Hand hygiene"


@pytest.mark.parametrize(
    "glyph, text", [("l", "• Wash hands"), ("ll", "• Wash hands"), ("lll", "lll Wash hands")], ids=["1", "2", "3"]
)
def test_a_picture_of_at_most_two_glyphs_at_the_start_of_a_line_is_a_bullet(glyph: str, text: str) -> None:
    spans = [span(glyph, 0, 5, pictures=True), span("Wash hands", 10, 60)]
    assert pdf_text._compose(spans, [None, None], 10) == text


def test_a_picture_inside_a_line_is_kept_as_it_is() -> None:
    spans = [span("Dose", 0, 20), span("l", 25, 30, pictures=True), span("daily", 35, 60)]
    assert pdf_text._compose(spans, [None, None, None], 10) == "Dose l daily"


def test_a_subscript_is_written_after_its_word_and_the_line_goes_on() -> None:
    spans = [span("H", 0, 7), span("2", 7, 11, size=7), span("O", 11, 18)]
    assert pdf_text._compose(spans, [None, "sub", None], 10) == "H_2O"


def test_neighbouring_script_pieces_are_one_script() -> None:
    spans = [span("CO", 0, 14), span("1", 14, 17, size=7), span("2", 17, 20, size=7)]
    assert pdf_text._compose(spans, [None, "sub", "sub"], 10) == "CO_12"


def test_an_exponent_closes_up_to_its_number() -> None:
    assert pdf_text._compose([span("10 ", 0, 15), span("3", 15, 19, size=7)], [None, "sup"], 10) == "10^3"


def test_the_gap_after_a_script_is_measured_from_the_end_of_the_script() -> None:
    """The superscript ends at x=48: the comma 0.2 points after it closes up to it, though it lies 3.2 points after
    the `m` before the script."""
    spans = [span("BMI in kg/", 0, 40), span("m", 40, 45), span("2", 45, 48, size=7), span(",", 48.2, 50)]
    assert pdf_text._compose(spans, [None, None, "sup", None], 10) == "BMI in kg/m^2,"


def test_a_citation_superscript_is_dropped_and_the_words_around_it_stay_apart() -> None:
    spans = [span("low", 0, 20), span("12", 20, 26, size=7), span(" and", 26, 46)]
    assert pdf_text._compose(spans, [None, "sup", None], 10) == "low and"


def test_a_soft_hyphen_inside_a_line_is_dropped_and_one_at_its_end_kept() -> None:
    assert pdf_text._compose([span("pre\u00advention", 0, 50)], [None], 10) == "prevention"
    assert pdf_text._compose([span("preven\u00ad", 0, 50)], [None], 10) == "preven\u00ad"


def test_runs_of_spaces_and_no_break_spaces_become_one_space() -> None:
    assert pdf_text._compose([span("  Hand \u00a0  hygiene  ", 0, 80)], [None], 10) == "Hand hygiene"


@pytest.mark.parametrize(
    "glyph, bullet",
    [("\ufffd", True), ("\ue000", True), ("\uf8ff", True), ("\uf900", False), ("\udfff", False)],
    ids=["replacement", "private-use-first", "private-use-last", "after-private-use", "before-private-use"],
)
def test_an_unmapped_glyph_at_the_start_of_a_line_is_a_bullet(glyph: str, bullet: bool) -> None:
    text = pdf_text._compose([span(f"{glyph} Wash hands", 0, 80)], [None], 10)
    assert text == ("• Wash hands" if bullet else f"{glyph} Wash hands")


# --- lines from mupdf spans ----------------------------------------------------------------------------------------


def test_a_line_has_the_size_of_most_of_its_characters() -> None:
    spans = [raw_span("Dose", 0, 30, size=12), raw_span(" is given daily", 30, 100)]
    assert pdf_text._line_from_spans(spans, (0, 1), 90, 102) == _Line(
        "Dose is given daily", 10.0, False, 90, 102, (0, 1)
    )


def test_a_line_of_blank_spans_is_no_line() -> None:
    assert pdf_text._line_from_spans([raw_span("  ", 0, 10), raw_span("\t", 10, 20)], (0, 0), 90, 102) is None


@pytest.mark.parametrize("bold_text, bold", [("Bold", False), ("Bolder", True)], ids=["half", "more-than-half"])
def test_a_line_is_bold_when_more_than_half_its_characters_are(bold_text: str, bold: bool) -> None:
    spans = [raw_span(bold_text, 0, 30, font="Helvetica-Bold"), raw_span(" text", 30, 60)]
    assert pdf_text._line_from_spans(spans, (0, 0), 90, 102).bold is bold


def test_a_bold_superscript_does_not_make_its_line_bold() -> None:
    spans = [
        raw_span("Dose ", 0, 25),
        raw_span("ab", 25, 35, font="Helvetica-Bold"),
        raw_span("123", 35, 45, size=7, baseline=97, font="Helvetica-Bold"),
    ]
    assert pdf_text._line_from_spans(spans, (0, 0), 90, 102).bold is False


def test_scripts_are_measured_from_the_baseline_of_the_longest_span() -> None:
    spans = [raw_span("a", 0, 5, baseline=95), raw_span("dose per mm", 10, 60), raw_span("2", 60, 64, 7, baseline=98)]
    assert pdf_text._line_from_spans(spans, (0, 0), 90, 102).text == "a dose per mm^2"


@pytest.mark.parametrize(
    "other",
    [
        [raw_span("12,13,14", 50, 80, size=8, baseline=97)],
        [raw_span("DOSING", 55, 85, size=12, baseline=97), raw_span("12,13", 85, 95, size=7, baseline=97)],
    ],
    ids=["a-longer-smaller-span", "a-longer-larger-span"],
)
def test_scripts_are_measured_from_the_longest_span_in_the_line_size_not_a_longer_one_in_another_size(
    other: list[dict],
) -> None:
    """The line is 10-point (9 characters; `daily` its longest span): the raised spans of 8 or 12 points are longer
    than `daily` but not the line's baseline, so the citation raised 3 points over it is a superscript, dropped. The
    12-point span drawn raised is made up for the rule: no guideline layout is known to draw one."""
    spans = [raw_span("Dose", 0, 20), raw_span("daily", 25, 50), *other]
    text = pdf_text._line_from_spans(spans, (0, 0), 90, 102).text
    assert text == ("Dose daily" if len(other) == 1 else "Dose daily DOSING")


# --- text direction ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction, name",
    [
        ((1.0, 0.0), "across"),
        ((0.8, 0.6), "across"),
        ((0.7, 0.7), "across"),
        ((0.0, 0.0), "across"),
        ((-1.0, 0.0), "upside-down"),
        ((-0.7, 0.7), "upside-down"),
        ((0.6, 0.8), "down"),
        ((0.0, 1.0), "down"),
        ((0.6, -0.8), "up"),
        ((0.0, -1.0), "up"),
    ],
)
def test_a_line_runs_across_unless_it_runs_more_up_or_down_than_sideways(
    direction: tuple[float, float], name: str
) -> None:
    assert pdf_text._direction({"dir": direction}) == name


@pytest.mark.parametrize(
    "direction, point",
    [("across", (10, 20)), ("up", (180, 10)), ("down", (20, 90)), ("upside-down", (90, 180))],
)
def test_points_are_turned_into_the_frame_where_the_text_reads_across(
    direction: str, point: tuple[float, float]
) -> None:
    assert pdf_text._turn((10, 20), direction, 100, 200) == point


def test_a_turned_box_is_given_by_its_smallest_and_largest_corners() -> None:
    assert pdf_text._turn_box((10, 20, 30, 40), "up", 100, 200) == (160, 10, 180, 30)


def vertical_line(text: str, x: float, y0: float, y1: float, direction: tuple[float, float] = (0.0, -1.0)) -> dict:
    """A line of text running up the page (or in `direction`) at x, from y1 to y0."""
    box = (x, y0, x + 10, y1)
    return {"dir": direction, "bbox": box, "spans": [{"text": text, "bbox": box, "origin": (x + 8, y1)}]}


def test_a_page_of_upright_text_is_kept_as_it_is() -> None:
    """Block boxes included: this one reaches 10 points below its one line (20 to 30)."""
    blocks = [block("a", 20, 20, 200, 40, "Croup causes a barking cough.")]
    assert pdf_text._upright(blocks, 100, 200) == (blocks, 100, 200)


def test_a_page_mostly_running_up_is_turned_and_its_lines_read_top_down() -> None:
    turned, width, height = pdf_text._upright(
        [
            {
                "bbox": (10, 50, 50, 150),
                "lines": [vertical_line("second row", 40, 50, 150), vertical_line("first", 10, 50, 150)],
            }
        ],
        100,
        200,
    )
    assert (width, height) == (200, 100)
    assert [(line["spans"][0]["text"], line["bbox"]) for line in turned[0]["lines"]] == [
        ("first", (50, 10, 150, 20)),
        ("second row", (50, 40, 150, 50)),
    ]
    assert turned[0]["lines"][0]["spans"][0]["origin"] == (50, 18)
    assert turned[0]["bbox"] == (50, 10, 150, 50)


def test_a_page_mostly_upside_down_is_turned_and_keeps_its_width_and_height() -> None:
    line_box = {"dir": (-1.0, 0.0), "bbox": (20, 150, 80, 160)}
    line_box["spans"] = [{"text": "Croup", "bbox": (20, 150, 80, 160), "origin": (80, 150)}]
    turned, width, height = pdf_text._upright([{"bbox": (20, 150, 80, 160), "lines": [line_box]}], 100, 200)
    assert (width, height) == (100, 200)
    assert turned[0]["bbox"] == (20, 40, 80, 50)


def test_lines_in_another_direction_than_most_characters_are_dropped() -> None:
    upright = block("body", 20, 20, 90, 30, "Croup causes a barking cough.")
    note = {"name": "note", "bbox": (90, 50, 100, 150), "lines": [vertical_line("Downloaded", 90, 50, 150)]}
    mixed = {"name": "mixed", "bbox": (20, 40, 100, 150), "lines": [*upright["lines"], vertical_line("x", 90, 50, 60)]}
    turned, width, height = pdf_text._upright([upright, note, mixed], 100, 200)
    assert (names(turned), width, height) == (["body", "mixed"], 100, 200)
    assert turned[1]["lines"] == upright["lines"]
    assert turned[1]["bbox"] == (20, 20, 90, 30)


def test_a_line_across_a_page_mostly_running_up_is_dropped() -> None:
    table = {"name": "table", "bbox": (10, 50, 20, 150), "lines": [vertical_line("Dose per kilogram", 10, 50, 150)]}
    turned, _, _ = pdf_text._upright([table, block("stamp", 30, 20, 90, 30, "Draft")], 100, 200)
    assert names(turned) == ["table"]


def test_lines_of_a_page_read_across_keep_their_order_beside_lines_in_another_direction() -> None:
    """Only turned lines are sorted top down; these are listed bottom line first, as mupdf may list them."""
    body = block("body", 20, 20, 90, 40, "Croup causes", "a barking cough.")
    body["lines"].reverse()
    note = {"name": "note", "bbox": (90, 50, 100, 150), "lines": [vertical_line("x", 90, 50, 60)]}
    turned, _, _ = pdf_text._upright([body, note], 100, 200)
    assert turned[0]["lines"] == body["lines"]


def test_a_line_in_another_direction_does_not_drop_the_lines_after_it_in_its_block() -> None:
    upright = block("body", 20, 20, 90, 30, "Croup causes a barking cough.")
    mixed = {"name": "mixed", "bbox": (20, 20, 100, 60), "lines": [vertical_line("x", 90, 50, 60), *upright["lines"]]}
    turned, _, _ = pdf_text._upright([mixed], 100, 200)
    assert turned[0]["lines"] == upright["lines"]


def test_turned_lines_starting_at_one_height_are_read_left_to_right() -> None:
    """A row of a table running up the page: `Dose`, in a larger font, 20 points high once turned, lies lower on the
    page than `500 mg`, so further left once turned; both start at the same height."""
    dose, amount = vertical_line("Dose", 10, 100, 150), vertical_line("500 mg", 10, 50, 90)
    dose["bbox"] = (10, 100, 30, 150)
    turned, _, _ = pdf_text._upright([{"bbox": (10, 50, 30, 150), "lines": [amount, dose]}], 100, 200)
    assert [(line["spans"][0]["text"], line["bbox"]) for line in turned[0]["lines"]] == [
        ("Dose", (50, 10, 100, 30)),
        ("500 mg", (110, 10, 150, 20)),
    ]


# --- adverts -------------------------------------------------------------------------------------------------------

SUBMIT = "Submit your next manuscript to BioMed Central"


def advert_page(*extra: dict) -> list[dict]:
    """A page of guideline text with a two-phrase advert spanning x 300-500, y 600-700."""
    return [
        block("body", 72, 100, 500, 200, "Guideline panels reassess the evidence every five years."),
        block("submit", 300, 600, 500, 620, SUBMIT),
        block("review", 300, 680, 500, 700, "Thorough peer review"),
        *extra,
    ]


def test_an_advert_of_two_phrases_is_dropped_with_everything_inside_it() -> None:
    blocks = advert_page(block("inside", 310, 640, 490, 660, "Figures in colour at no charge"))
    assert names(pdf_text._drop_adverts(blocks)) == ["body"]


@pytest.mark.parametrize(
    "box, dropped",
    [
        ((280, 640, 320, 660), True),
        ((279, 640, 320, 660), False),
        ((480, 640, 520, 660), True),
        ((481, 640, 520, 660), False),
        ((350, 590, 450, 610), True),
        ((350, 589, 450, 610), False),
        ((350, 690, 450, 710), True),
        ((350, 691, 450, 710), False),
    ],
    ids=[
        "middle-on-left",
        "left-of-it",
        "middle-on-right",
        "right-of-it",
        "middle-on-top",
        "above",
        "on-bottom",
        "below",
    ],
)
def test_a_block_whose_middle_lies_on_the_advert_edge_is_dropped_and_one_beyond_is_kept(
    box: tuple[float, float, float, float], dropped: bool
) -> None:
    kept = names(pdf_text._drop_adverts(advert_page(block("edge", *box, "Notes"))))
    assert kept == (["body"] if dropped else ["body", "edge"])


@pytest.mark.parametrize(
    "advert",
    [
        [block("submit", 300, 600, 500, 620, SUBMIT)],
        [block("a", 300, 600, 500, 620, SUBMIT), block("b", 300, 680, 500, 700, SUBMIT)],
    ],
    ids=["one-phrase", "one-phrase-twice"],
)
def test_a_single_advert_phrase_is_not_an_advert(advert: list[dict]) -> None:
    blocks = [block("body", 72, 100, 500, 200, "Body text."), *advert]
    assert pdf_text._drop_adverts(blocks) == blocks


def test_advert_phrases_are_found_across_the_lines_of_a_block() -> None:
    blocks = [
        block("body", 72, 100, 500, 200, "Body text."),
        block("advert", 300, 600, 500, 700, "take full", "advantage of", "Thorough peer review"),
    ]
    assert names(pdf_text._drop_adverts(blocks)) == ["body"]


# --- gutters -------------------------------------------------------------------------------------------------------


def test_characters_crossing_each_place_are_counted_inside_a_line_only() -> None:
    assert pdf_text._crossings([(10, 20, 5)], 8, 22) == [0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0]


def test_a_line_with_fractional_ends_crosses_the_whole_numbers_it_covers() -> None:
    assert pdf_text._crossings([(9.9, 20.1, 5)], 8, 22) == [0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0]


def test_crossings_are_counted_between_the_limits_and_summed() -> None:
    assert pdf_text._crossings([(0, 100, 3), (10, 12, 4), (10, 11, 7), (30, 40, 9)], 9, 14) == [3, 3, 7, 3, 3, 3]


def test_two_columns_have_a_gutter_in_the_middle_of_the_gap_between_them() -> None:
    assert pdf_text._gutters(column_lines(*two_columns()), 300) == [150]


def test_a_gap_of_an_odd_number_of_places_has_its_gutter_half_way_between_two() -> None:
    """The gap runs from x=140 to x=161 (the right column starts at 161): its middle is 150.5."""
    assert pdf_text._gutters(column_lines(*two_columns(right=(161, 280))), 300) == [150.5]


def test_a_right_column_ending_at_the_page_edge_has_a_gutter_before_it() -> None:
    """On a 400-point page the right column runs from x=200 to 400, 200 points wide (at least 15% of the page and
    at most 55%), the left one from 20 to 180: the gap from 180 to 200 has its gutter at 190."""
    assert pdf_text._gutters(column_lines(*two_columns(left=(20, 180), right=(200, 400))), 400) == [190]


def test_columns_touching_at_a_whole_point_have_their_gutter_there() -> None:
    """Neither column's lines cross x=150, where one ends and the other starts: the gap is that one place."""
    assert pdf_text._gutters(column_lines(*two_columns(left=(20, 150), right=(150, 280))), 300) == [150]


def test_a_page_without_lines_has_no_gutter() -> None:
    assert pdf_text._gutters([], 300) == []


@pytest.mark.parametrize("chars, gutters", [(20, [150]), (21, [])])
def test_a_gap_crossed_by_at_most_a_fifth_of_the_busiest_place_is_a_gutter(chars: int, gutters: list) -> None:
    """The busiest place is crossed by two column lines of 50 characters: 100."""
    assert pdf_text._gutters(column_lines(*two_columns(), (145, 155, chars)), 300) == gutters


@pytest.mark.parametrize("right, gutters", [(185, []), (185.5, [150])], ids=["0.55-of-the-page", "wider"])
def test_a_line_wider_than_55_percent_of_the_page_runs_across_the_gutter(right: float, gutters: list) -> None:
    assert pdf_text._gutters(column_lines(*two_columns(), (20, right, 30)), 300) == gutters


@pytest.mark.parametrize("left, gutters", [(95, [150]), (95.5, [])], ids=["0.15-of-the-page", "narrower"])
def test_column_lines_are_at_least_15_percent_of_the_page_wide(left: float, gutters: list) -> None:
    assert pdf_text._gutters(column_lines(*two_columns(left=(left, 140))), 300) == gutters


@pytest.mark.parametrize("right, gutters", [(205, [150]), (204.5, [])], ids=["0.15-of-the-page", "narrower"])
def test_column_lines_right_of_the_gutter_are_at_least_15_percent_of_the_page_wide(right: float, gutters: list) -> None:
    assert pdf_text._gutters(column_lines(*two_columns(right=(160, right))), 300) == gutters


@pytest.mark.parametrize("distance, gutters", [(15, [150]), (15.5, [])], ids=["0.05-of-the-page", "further"])
def test_column_lines_reach_to_within_5_percent_of_the_page_of_the_gutter(distance: float, gutters: list) -> None:
    layout = two_columns(left=(20, 150 - distance), right=(150 + distance, 280))
    assert pdf_text._gutters(column_lines(*layout), 300) == gutters


@pytest.mark.parametrize(
    "layout, gutters",
    [
        ([(20, 140, 50), (20, 140, 50), (160, 280, 50), (160, 280, 50)], [150]),
        ([(20, 140, 50), (160, 280, 50), (160, 280, 50)], []),
        ([(20, 140, 50), (20, 140, 50), (160, 280, 50)], []),
    ],
    ids=["two-each", "one-left", "one-right"],
)
def test_a_gutter_has_two_column_lines_on_each_side(layout: list, gutters: list) -> None:
    assert pdf_text._gutters(column_lines(*layout), 300) == gutters


@pytest.mark.parametrize(
    "left, right, gutters",
    [
        ((10, 60), (70, 200), [65]),
        ((0, 45), (55, 200), []),
        ((100, 230), (240, 290), [235]),
        ((100, 245), (255, 300), []),
    ],
    ids=["gap-from-0.2", "gap-before-0.2", "gap-to-0.8", "gap-after-0.8"],
)
def test_gutters_are_looked_for_between_20_and_80_percent_of_the_page_width(
    left: tuple[float, float], right: tuple[float, float], gutters: list
) -> None:
    assert pdf_text._gutters(column_lines(*two_columns(left=left, right=right)), 300) == gutters


THREE_COLUMNS = ((40, 208), (228, 367), (387, 555))  # on an A4 page, 595 points wide


def test_a_page_in_three_columns_has_a_gutter_in_each_gap() -> None:
    """The second gap lies over 256 points into the search, which starts at x=119."""
    layout = [(x0, x1, 50) for x0, x1 in THREE_COLUMNS for _ in range(2)]
    assert pdf_text._gutters(column_lines(*layout), 595) == [218, 377]


def test_a_page_too_narrow_to_search_has_no_gutter() -> None:
    """A page a point wide: 20 % and 80 % of its width round down to the same whole point, so nothing is searched,
    though two column-wide lines stand on each side of x=0 (a page no real PDF has)."""
    layout = [(-0.2, 0, 1), (-0.2, 0, 1), (0, 0.2, 1), (0, 0.2, 1)]
    assert pdf_text._gutters(column_lines(*layout), 1) == []


# --- reading order -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("above", "below", "stacked"),
    [
        ((0, 0, 100, 100), (49, 100, 149, 150), True),
        ((0, 0, 100, 100), (50, 100, 150, 150), False),
        ((0, 0, 200, 20), (149, 20, 249, 70), True),
        ((0, 0, 200, 20), (150, 20, 250, 70), False),
        ((100, 0, 200, 20), (149, 20, 349, 70), True),
        ((100, 0, 200, 20), (150, 20, 350, 70), False),
        ((0, 0, 101, 100), (50.4, 100, 151.4, 150), True),
        ((0, 0, 101, 100), (50.5, 100, 151.5, 150), False),
    ],
    ids=[
        "same-width-over-half",
        "same-width-half",
        "narrower-below-over-half",
        "narrower-below-half",
        "wider-below-over-half",
        "wider-below-half",
        "odd-width-over-half",
        "odd-width-half-not-rounded-down",
    ],
)
def test_a_block_continues_the_one_above_when_they_overlap_by_over_half_the_narrower_width(
    above: tuple[float, float, float, float], below: tuple[float, float, float, float], stacked: bool
) -> None:
    """Over half of 100 points is over 50; of 101 points, over 50.5."""
    stacks = pdf_text._stacks([block("a", *above), block("b", *below)])
    assert [names(stack) for stack in stacks] == ([["a", "b"]] if stacked else [["a"], ["b"]])


def test_a_block_ending_left_of_the_one_above_continues_it() -> None:
    """The short last line of a paragraph, split off into a block of its own."""
    blocks = [block("a", 0, 0, 200, 20), block("b", 0, 20, 120, 30)]
    assert [names(stack) for stack in pdf_text._stacks(blocks)] == [["a", "b"]]


@pytest.mark.parametrize(
    "top, stacked",
    [(98.5, False), (99, True), (105, True), (105.5, False)],
    ids=["over-a-point-up", "a-point-up", "half-a-line-down", "over-half-a-line-down"],
)
def test_a_block_continues_the_one_above_when_it_starts_within_a_point_up_or_half_a_line_down(
    top: float, stacked: bool
) -> None:
    stacks = pdf_text._stacks([block("a", 0, 0, 100, 100), block("b", 0, top, 100, top + 50)])
    assert [names(stack) for stack in stacks] == ([["a", "b"]] if stacked else [["a"], ["b"]])


def test_half_a_line_is_measured_by_the_first_line_of_the_lower_block() -> None:
    """`b` starts 6 points under `a`: over half its 10-point first line, under half its 30-point second line."""
    lower = block("b", 0, 106, 100, 146, "first", "second")
    lower["lines"][1]["bbox"] = (0, 116, 100, 146)
    assert [names(stack) for stack in pdf_text._stacks([block("a", 0, 0, 100, 100), lower])] == [["a"], ["b"]]


def test_a_block_continues_the_last_block_of_a_stack() -> None:
    blocks = [block("a", 0, 0, 100, 100), block("b", 0, 100, 100, 150), block("c", 0, 150, 100, 200)]
    assert [names(stack) for stack in pdf_text._stacks(blocks)] == [["a", "b", "c"]]


def test_a_block_continues_the_latest_stack_it_fits_under() -> None:
    blocks = [block("a", 0, 0, 100, 100), block("c", 200, 0, 300, 100), block("b", 0, 100, 100, 150)]
    assert [names(stack) for stack in pdf_text._stacks(blocks)] == [["a", "b"], ["c"]]


@pytest.mark.parametrize("top, stacked", [(105.5, True), (106, False)], ids=["half-a-line-down", "lower"])
def test_half_an_odd_line_height_is_not_rounded_down_for_a_stack(top: float, stacked: bool) -> None:
    """`b`'s line is 11 points high: it continues `a` (ending at y=100) starting up to 5.5 points under it."""
    stacks = pdf_text._stacks([block("a", 0, 0, 100, 100), one_line_block("b", 0, top, 100, 11)])
    assert [names(stack) for stack in stacks] == ([["a", "b"]] if stacked else [["a"], ["b"]])


def test_blocks_starting_at_one_height_are_stacked_left_to_right_so_a_block_under_both_continues_the_right_one() -> (
    None
):
    blocks = [block("right", 100, 0, 150, 50), block("left", 0, 0, 50, 50), block("under", 0, 50, 200, 60)]
    assert [names(stack) for stack in pdf_text._stacks(blocks)] == [["left"], ["right", "under"]]


@pytest.mark.parametrize(
    "top, order",
    [(3, ["b", "a"]), (5, ["b", "a"]), (5.5, ["a", "b"])],
    ids=["within-half-a-line", "half-a-line-down", "lower"],
)
def test_blocks_starting_within_half_a_line_of_each_other_are_one_row_read_left_to_right(
    top: float, order: list[str]
) -> None:
    assert names(pdf_text._rows([block("a", 200, 0, 300, 50), block("b", 0, top, 100, top + 50)])) == order


@pytest.mark.parametrize(
    "blocks, order",
    [
        ([block("a", 200, 0, 300, 50), block("b", 0, 5, 100, 55), block("c", 110, 8, 190, 58)], ["b", "a", "c"]),
        (
            [block("a", 200, 0, 300, 50), block("a, below", 200, 50, 300, 90), block("b", 0, 10, 100, 60)],
            ["a", "a, below", "b"],
        ),
    ],
    ids=["not-from-its-last-stack", "not-from-the-last-block-of-its-first-stack"],
)
def test_a_row_holds_the_stacks_starting_within_half_a_line_of_its_first_block(
    blocks: list[dict], order: list[str]
) -> None:
    assert names(pdf_text._rows(blocks)) == order


@pytest.mark.parametrize("top, order", [(5.5, ["b", "a"]), (6, ["a", "b"])], ids=["half-a-line-down", "lower"])
def test_half_an_odd_line_height_is_not_rounded_down_for_a_row(top: float, order: list[str]) -> None:
    """`a`'s line is 11 points high: `b`, left of it, is on its row starting up to 5.5 points under its top."""
    assert names(pdf_text._rows([one_line_block("a", 200, 0, 300, 11), block("b", 0, top, 100, top + 50)])) == order


def test_half_a_line_of_a_row_is_measured_by_the_first_block_of_its_first_stack_not_the_last() -> None:
    """`a` (a 10-point line) is continued by `a, below` (a 20-point line): `b` starting 7 points under `a`, more
    than half of `a`'s line, starts a row of its own, though less than half of the line of `a, below`."""
    blocks = [
        one_line_block("a", 100, 0, 200, 10),
        one_line_block("a, below", 100, 10, 200, 20),
        block("b", 0, 7, 50, 17),
    ]
    assert names(pdf_text._rows(blocks)) == ["a", "a, below", "b"]


def test_half_a_line_of_a_row_is_measured_by_the_first_line_of_its_first_block() -> None:
    """`a` starts the row with a 20-point first line, so the row takes stacks starting up to 10 points lower, though
    `b`, taken in first, has 10-point lines."""
    first = block("a", 200, 0, 300, 50)
    first["lines"][0]["bbox"] = (200, 0, 300, 20)
    blocks = [first, block("b", 100, 6, 150, 56), block("c", 0, 8, 50, 58)]
    assert names(pdf_text._rows(blocks)) == ["c", "b", "a"]


def test_the_first_stack_of_a_row_is_the_one_whose_first_block_starts_furthest_left() -> None:
    """`a` (a 20-point line) and `b` start the page side by side; `b` goes on in blocks drifting left, under and past
    `a`. The row is measured by `a`, the stack starting further left, and so takes `c`, starting 8 points down."""
    first = block("a", 50, 0, 100, 20)
    first["lines"][0]["bbox"] = (50, 0, 100, 20)
    drifting = [
        block(f"b{index}", x0, 10 * index, x0 + 100, 10 * index + 10) for index, x0 in enumerate((110, 110, 65, 20))
    ]
    blocks = [first, *drifting, block("c", 0, 8, 30, 18)]
    assert names(pdf_text._rows(blocks)) == ["c", "a", "b0", "b1", "b2", "b3"]


def test_stacks_on_a_row_are_read_in_the_order_their_first_blocks_start() -> None:
    """`a` goes on in a block starting left of `b`; `c` starts the next row."""
    blocks = [
        block("b", 140, 0, 190, 40),
        block("a", 200, 0, 300, 50),
        block("a, below", 120, 50, 260, 90),
        block("c", 0, 200, 100, 250),
    ]
    assert names(pdf_text._rows(blocks)) == ["b", "a", "a, below", "c"]


def test_a_row_is_read_stack_by_stack() -> None:
    blocks = [block("right", 200, 0, 300, 50), block("left", 0, 0, 100, 50), block("left, below", 0, 50, 100, 90)]
    assert names(pdf_text._rows(blocks)) == ["left", "left, below", "right"]


def column_page(*extra: dict) -> list[dict]:
    """A 300-point wide page: a title across it, two columns of two blocks each under it, and a footer across."""
    return [
        block("title", 20, 20, 280, 40, "t" * 80),
        block("left 1", 20, 100, 140, 150, "a" * 50, "a" * 50),
        block("right 1", 160, 100, 280, 150, "a" * 50, "a" * 50),
        block("left 2", 20, 200, 140, 250, "a" * 50, "a" * 50),
        block("right 2", 160, 200, 280, 250, "a" * 50, "a" * 50),
        block("footer", 20, 300, 280, 320, "f" * 80),
        *extra,
    ]


def test_columns_are_read_left_then_right_between_blocks_across_them() -> None:
    assert names(pdf_text._reading_order(column_page(), 300)) == [
        "title",
        "left 1",
        "left 2",
        "right 1",
        "right 2",
        "footer",
    ]


def test_a_block_across_the_gutter_between_column_blocks_cuts_the_page_into_bands() -> None:
    order = names(pdf_text._reading_order(column_page(block("middle", 20, 170, 280, 180, "m" * 80)), 300))
    assert order == ["title", "left 1", "right 1", "middle", "left 2", "right 2", "footer"]


def test_blocks_in_one_column_starting_at_one_height_are_read_left_to_right() -> None:
    """Two cells side by side in the left column, the left one the longer."""
    cells = [block("cell 1", 20, 260, 70, 290, "a" * 10, "a" * 10, "a" * 10), block("cell 2", 80, 260, 140, 280)]
    assert names(pdf_text._reading_order(column_page(*cells), 300)) == [
        "title",
        "left 1",
        "left 2",
        "cell 1",
        "cell 2",
        "right 1",
        "right 2",
        "footer",
    ]


@pytest.mark.parametrize(
    "bottom, order",
    [
        (100, ["title", "right 0", "left 1", "left 2", "right 1", "right 2", "footer"]),
        (100.5, ["title", "left 1", "left 2", "right 0", "right 1", "right 2", "footer"]),
        (90, ["title", "right 0", "left 1", "left 2", "right 1", "right 2", "footer"]),
    ],
    ids=["ending-at-the-left-top", "ending-lower", "ending-higher"],
)
def test_a_column_block_above_everything_in_the_other_column_is_read_first(bottom: float, order: list[str]) -> None:
    assert names(pdf_text._reading_order(column_page(block("right 0", 160, 50, 280, bottom)), 300)) == order


@pytest.mark.parametrize(
    "name, x0, x1, order",
    [
        ("left 2", 20, 153, ["left 1", "left 2", "right 1", "right 2"]),
        ("left 2", 20, 153.5, ["left 1", "right 1", "left 2", "right 2"]),
        ("right 1", 147, 280, ["left 1", "left 2", "right 1", "right 2"]),
        ("right 1", 146.5, 280, ["left 1", "right 1", "left 2", "right 2"]),
    ],
    ids=["left-1-percent-past", "left-further", "right-1-percent-past", "right-further"],
)
def test_a_line_over_1_percent_of_the_page_past_the_gutter_puts_its_block_across_the_columns(
    name: str, x0: float, x1: float, order: list[str]
) -> None:
    """The gutter lies at x=150 of a 300-point page; one column block holds a short line reaching over it."""
    blocks = [piece for piece in column_page() if piece["name"] not in ("title", "footer")]
    reaching = next(piece for piece in blocks if piece["name"] == name)
    reaching["lines"].append(block("", x0, reaching["bbox"][1] + 30, x1, reaching["bbox"][1] + 40, "aaaaa")["lines"][0])
    assert names(pdf_text._reading_order(blocks, 300)) == order


@pytest.mark.parametrize(
    "lines",
    [block("", 20, 170, 280, 180, " " * 80)["lines"], []],
    ids=["a-blank-line-across-the-gutter", "no-lines"],
)
def test_a_block_without_characters_is_read_with_the_first_column(lines: list[dict]) -> None:
    empty = {"name": "empty", "bbox": (20, 170, 280, 180), "lines": lines}
    assert names(pdf_text._reading_order(column_page(empty), 300)) == [
        "title",
        "left 1",
        "empty",
        "left 2",
        "right 1",
        "right 2",
        "footer",
    ]


@pytest.mark.parametrize("listed_backwards", [False, True], ids=["listed-left-first", "listed-right-first"])
def test_blocks_starting_at_one_height_are_taken_left_to_right(listed_backwards: bool) -> None:
    """`left 0` lies above everything in the right column and `across` crosses the gutter: both cut the page, the
    one further left first, though the other ends higher, in whichever order mupdf lists them."""
    extra = [block("left 0", 20, 50, 130, 90, "a" * 10), block("across", 140, 50, 280, 60, "m" * 20)]
    if listed_backwards:
        extra.reverse()
    assert names(pdf_text._reading_order(column_page(*extra), 300)) == [
        "title",
        "left 0",
        "across",
        "left 1",
        "left 2",
        "right 1",
        "right 2",
        "footer",
    ]


def test_a_mark_fitting_in_both_columns_within_1_percent_of_the_page_is_read_with_the_left_column() -> None:
    """The gutter lies at x=150 of a 300-point page: a mark from 148 to 152 fits in either column."""
    order = names(pdf_text._reading_order(column_page(block("mark", 148, 160, 152, 170, "*")), 300))
    assert order == ["title", "left 1", "mark", "left 2", "right 1", "right 2", "footer"]


def test_a_line_starting_left_of_the_page_edge_is_in_the_first_column() -> None:
    """A glyph sticking out 10 points past the left edge of the page."""
    order = names(pdf_text._reading_order(column_page(block("bleed", -10, 160, 100, 170, "b" * 40)), 300))
    assert order == ["title", "left 1", "bleed", "left 2", "right 1", "right 2", "footer"]


def test_a_page_in_three_columns_is_read_column_by_column() -> None:
    blocks = [
        block(f"{name} {row}", x0, 100 * row, x1, 100 * row + 20, "a" * 50, "a" * 50)
        for row in (1, 2)
        for name, (x0, x1) in zip(("left", "middle", "right"), THREE_COLUMNS, strict=True)
    ]
    assert names(pdf_text._reading_order(blocks, 595)) == [
        "left 1",
        "left 2",
        "middle 1",
        "middle 2",
        "right 1",
        "right 2",
    ]


def test_a_page_without_columns_is_read_row_by_row() -> None:
    blocks = [
        block("right", 200, 100, 280, 120, "Dose"),
        block("left", 20, 100, 120, 120, "Drug"),
        block("top", 20, 20, 280, 40),
    ]
    assert names(pdf_text._reading_order(blocks, 300)) == ["top", "left", "right"]


def page_with(*runs: tuple[float, float, str]) -> pymupdf.Page:
    """An A4 page of 10-point text runs (x, baseline, text), in a document kept open for the test."""
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)
    for x, y, text in runs:
        page.insert_text((x, y), text, fontsize=10)
    return page


def test_pieces_of_a_block_on_one_baseline_are_one_line_and_the_next_baseline_another() -> None:
    lines, height = pdf_text._page_lines(page_with((72, 100, "Dose"), (110, 100, "500 mg"), (72, 113, "daily")))
    assert ([item.text for item in lines], height) == (["Dose 500 mg", "daily"], 842)


def stub_page(*pieces: tuple[float, float, float, str]) -> SimpleNamespace:
    """A 595 x 842 page as `_page_lines` reads it: one text block of a mupdf line per piece (x0, top, bottom,
    text), 10-point text 10 points a character."""
    lines = [
        {
            "dir": (1.0, 0.0),
            "bbox": (x0, top, x0 + 10 * len(text), bottom),
            "spans": [raw_span(text, x0, x0 + 10 * len(text), baseline=bottom - 2)],
        }
        for x0, top, bottom, text in pieces
    ]
    box = (min(x0 for x0, *_ in pieces), min(top for _, top, *_ in pieces), 595, max(b for *_, b, _ in pieces))
    content = {"blocks": [{"type": 0, "bbox": box, "lines": lines}]}
    return SimpleNamespace(get_text=lambda *_, **__: content, rect=SimpleNamespace(width=595, height=842), number=0)


@pytest.mark.parametrize(
    "top, bottom, merged",
    [(95, 105, True), (94.5, 104.5, False), (105, 115, True), (105.5, 115.5, False)],
    ids=["middle-on-its-top", "above-it", "middle-on-its-bottom", "below-it"],
)
def test_a_piece_of_a_block_whose_middle_lies_within_the_line_before_is_on_that_line(
    top: float, bottom: float, merged: bool
) -> None:
    """`Dose` runs from y=100 to 110."""
    lines, _ = pdf_text._page_lines(stub_page((72, 100, 110, "Dose"), (120, top, bottom, "500 mg")))
    assert [item.text for item in lines] == (["Dose 500 mg"] if merged else ["Dose", "500 mg"])


def test_a_piece_of_a_block_joins_the_line_just_before_it_not_the_first() -> None:
    page = stub_page((72, 100, 110, "Take"), (72, 120, 130, "Dose"), (120, 120, 130, "500 mg"))
    assert [item.text for item in pdf_text._page_lines(page)[0]] == ["Take", "Dose 500 mg"]


def test_a_piece_of_a_block_above_the_line_before_it_is_a_line_of_its_own_even_beside_an_earlier_line() -> None:
    """`500 mg`, listed after `Dose`, lies beside `Take`, above `Dose`."""
    page = stub_page((72, 100, 110, "Take"), (72, 120, 130, "Dose"), (120, 100, 110, "500 mg"))
    assert [item.text for item in pdf_text._page_lines(page)[0]] == ["Take", "Dose", "500 mg"]


# --- running headers and footers -----------------------------------------------------------------------------------


def test_a_text_block_without_lines_is_left_out() -> None:
    """mupdf is not known to give a text block without lines: this guards the filter, not a real page."""
    page = stub_page((72, 100, 110, "Croup"))
    page.get_text()["blocks"].append({"type": 0, "bbox": (72, 110, 200, 120), "lines": []})
    assert [found.text for found in pdf_text._page_lines(page)[0]] == ["Croup"]


@pytest.mark.parametrize(
    "top, bottom, inside",
    [(70, 80, True), (70.5, 80.5, False), (920, 930, True), (919.5, 929.5, False)],
    ids=["top-8-percent", "below-it", "bottom-8-percent", "above-it"],
)
def test_the_margins_are_the_top_and_bottom_8_percent_of_the_page(top: float, bottom: float, inside: bool) -> None:
    assert pdf_text._in_margin(_Line("Croup", 10, False, top, bottom, (0, 0)), 1000) is inside


@pytest.mark.parametrize(
    "text, key",
    [
        ("12 | Croup guideline", "croup guideline"),
        ("Croup guideline | 13", "croup guideline"),
        ("Chapter 2: Croup", "chapter #: croup"),
    ],
)
def test_margin_lines_are_compared_without_edge_page_numbers_and_digits(text: str, key: str) -> None:
    assert pdf_text._margin_key(text) == key


def pages_with_header(count: int, repeats: int, header: str = "Croup guideline") -> list[tuple[list[_Line], float]]:
    """`count` pages 1000 points high, the first `repeats` of them with `header` in the top margin."""
    return [
        (
            [line(header, top=40, block=(number, 0))] * (number < repeats)
            + [line("Croup causes a barking cough.", block=(number, 1))],
            1000,
        )
        for number in range(count)
    ]


@pytest.mark.parametrize(
    "count, repeats, running",
    [
        (1, 1, False),
        (2, 1, False),
        (2, 2, True),
        (4, 1, False),
        (4, 2, True),
        (5, 2, False),
        (5, 3, True),
        (10, 2, False),
        (10, 3, True),
    ],
)
def test_a_margin_line_on_half_the_pages_or_on_3_of_them_and_at_least_2_is_running(
    count: int, repeats: int, running: bool
) -> None:
    kept = pdf_text._drop_running_lines(pages_with_header(count, repeats))
    assert [[item.text for item in page] for page in kept] == [
        ["Croup guideline"] * (number < repeats and not running) + ["Croup causes a barking cough."]
        for number in range(count)
    ]


def test_running_lines_differing_in_digits_are_one_running_line() -> None:
    pages = [([line(f"Chapter {number}: Croup", top=930, block=(number, 0))], 1000) for number in (1, 2)]
    assert pdf_text._drop_running_lines(pages) == [[], []]


def test_a_running_line_in_the_body_of_a_page_is_kept() -> None:
    pages = pages_with_header(2, 2)
    pages[1][0].append(line("Croup guideline", top=500, block=(1, 2)))
    assert [item.text for item in pdf_text._drop_running_lines(pages)[1]] == [
        "Croup causes a barking cough.",
        "Croup guideline",
    ]


@pytest.mark.parametrize("number", ["12", "Page 3", "page 3 of 12", "3/12", "iv", "xii"])
def test_a_page_number_in_a_margin_is_dropped_even_once(number: str) -> None:
    pages = [([line(number, top=930), line("Croup causes a barking cough.")], 1000)]
    assert [item.text for item in pdf_text._drop_running_lines(pages)[0]] == ["Croup causes a barking cough."]


@pytest.mark.parametrize("text, top", [("12", 500), ("Annex", 930)], ids=["number-in-the-body", "word-in-the-margin"])
def test_a_number_in_the_body_and_a_one_off_margin_word_are_kept(text: str, top: float) -> None:
    pages = [([line(text, top=top)], 1000)]
    assert [item.text for item in pdf_text._drop_running_lines(pages)[0]] == [text]


def test_a_blank_margin_line_is_not_a_running_line_whatever_the_other_pages_hold() -> None:
    """Nothing is left of a blank line to compare across pages: its key is empty, and empty keys are not counted."""
    body = line("Croup causes a barking cough.")
    pages = [([line(" ", top=40), body], 1000), ([body], 1000), ([body], 1000)]
    assert [[item.text for item in page] for page in pdf_text._drop_running_lines(pages)] == [
        [" ", body.text],
        [body.text],
        [body.text],
    ]


def test_the_body_size_is_the_size_of_most_characters() -> None:
    lines = [line("a" * 10), line("b" * 10), line("c" * 21, size=12)]
    assert pdf_text._body_size(lines) == 12
    assert pdf_text._body_size([*lines[:2], line("c" * 19, size=12)]) == 10
    assert pdf_text._body_size([]) == 0.0


# --- hyphenation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, word",
    [("Indoor residual spray-", "spray"), ("third-party-", "third-party"), ("COVID-", "COVID"), ("Geneva -", None)],
)
def test_a_line_ending_in_a_hyphen_after_a_word_breaks_that_word(text: str, word: str | None) -> None:
    match = pdf_text._broken_word(text)
    assert (match.group(1) if match else None) == word


def test_a_broken_word_is_looked_for_in_the_last_100_characters() -> None:
    assert pdf_text._broken_word("x" * 150 + "-").group(1) == "x" * 99


def test_the_vocabulary_holds_words_and_parts_of_hyphenated_words_but_not_broken_pieces() -> None:
    vocabulary = pdf_text._vocabulary(["Third-party care-", "associated Infection", "is rare"])
    assert vocabulary == {"third-party", "third", "party", "infection", "is", "rare"}


@pytest.mark.parametrize(
    "head, tail, vocabulary, keep",
    [
        ("care", "associated", {"care-associated"}, True),
        ("Care", "Associated", {"care-associated"}, True),
        ("care", "associated", {"care-associated", "careassociated"}, False),
        ("preven", "tion", set(), False),
        ("third-party", "owned", {"third", "party"}, True),
        ("third-party", "owned", {"third", "party", "partyowned"}, False),
        ("life-threa", "tening", {"life"}, False),
        ("life-threa", "tening", {"life-threatening", "life"}, False),
        ("sign-off", "sheet", {"sign", "off"}, True),
        ("follow-up", "visits", {"follow", "up"}, False),
        ("over-the-counter", "drugs", {"counter"}, True),
    ],
    ids=[
        "spelled-hyphenated",
        "case-folded",
        "spelled-both-ways",
        "no-evidence",
        "compound-part",
        "part-runs-on",
        "part-not-a-word",
        "spelled-closed",
        "part-of-3-letters",
        "part-of-2-letters",
        "last-of-3-parts",
    ],
)
def test_a_hyphen_at_a_break_stays_only_on_evidence_of_a_compound(
    head: str, tail: str, vocabulary: set[str], keep: bool
) -> None:
    assert pdf_text._keeps_hyphen(head, tail, vocabulary) is keep


@pytest.mark.parametrize(
    "text, following, joined",
    [
        ("preven\u00ad", "tion", "prevention"),
        ("free of charge to every", "household", "free of charge to every household"),
        ("residual spray-", "ing is", "residual spraying is"),
        ("care-", "associated", "care-associated"),
        ("Wisconsin-", "Madison", "Wisconsin-Madison"),
        ("COVID-", "19 cases", "COVID-19 cases"),
        ("12-", "month", "12-month"),
        ("Geneva -", "Switzerland", "Geneva - Switzerland"),
        ("see spray-", "(annex)", "see spray- (annex)"),
        ("COVID-19-", "related", "COVID-19-related"),
        ("type-", "2 diabetes", "type-2 diabetes"),
        ("H1N1-", "like illness", "H1N1-like illness"),
    ],
    ids=[
        "soft",
        "plain",
        "syllable",
        "compound",
        "capital",
        "digit-after",
        "digit-before",
        "dash",
        "not-a-word-next",
        "digit-ending-a-compound",
        "digit-then-space-after",
        "digit-ending-a-mixed-word",
    ],
)
def test_lines_of_a_paragraph_join_with_a_space_or_rejoin_a_broken_word(text: str, following: str, joined: str) -> None:
    assert pdf_text._join_pair(text, following, {"care-associated"}) == joined


def test_all_lines_of_a_paragraph_are_joined_in_order() -> None:
    assert pdf_text._join_lines(["Indoor residual spray-", "ing is an", "alternative."], set()) == (
        "Indoor residual spraying is an alternative."
    )


# --- list items, headings and paragraphs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, item",
    [
        ("• Wash hands", "Wash hands"),
        ("- Wash hands", "Wash hands"),
        ("› Wash hands", "Wash hands"),
        ("›› Wash hands", "Wash hands"),
        ("››› Wash hands", None),
        ("• ✓ Wash hands", "Wash hands"),
        ("-Wash hands", None),
        ("Wash hands", None),
    ],
)
def test_a_list_item_starts_with_a_bullet_and_a_space(text: str, item: str | None) -> None:
    assert pdf_text._bullet_text(text) == item


def headings(*lines: _Line, body: float = 10) -> set[int]:
    """The indexes of the lines read as headings over the body size."""
    return pdf_text._heading_runs(list(lines), body)


@pytest.mark.parametrize("size, heading", [(11.5, True), (11.4, False)], ids=["1.15-times-body", "smaller"])
def test_a_heading_is_set_at_least_115_percent_of_the_body_size(size: float, heading: bool) -> None:
    assert headings(line("Treatment", size=size, block=(0, 1)), line("Body text.", block=(0, 2))) == (
        {0} if heading else set()
    )


@pytest.mark.parametrize("words, heading", [(20, True), (21, False)])
def test_a_heading_runs_to_at_most_20_words(words: int, heading: bool) -> None:
    assert headings(line(" ".join(["word"] * words), size=14)) == ({0} if heading else set())


@pytest.mark.parametrize(
    "text, heading",
    [
        ("Care of young children", True),
        ("Care of young children.", False),
        ("Care of young children,", False),
        ("Care of young children;", False),
        ("2024", False),
        ("2024 update", True),
        ("Key points.", True),
        ("Summary of recommendations.", True),
        ("Summary of the recommendations.", False),
    ],
)
def test_a_heading_does_not_end_like_a_sentence_and_has_letters(text: str, heading: bool) -> None:
    assert headings(line(text, size=14)) == ({0} if heading else set())


def test_a_heading_run_stops_at_a_smaller_line_of_its_block() -> None:
    assert headings(line("Croup", size=14, block=(0, 1)), line("Barking cough", block=(0, 1))) == {0}


def test_no_heading_without_a_body_size() -> None:
    assert headings(line("Treatment", size=14), body=0) == set()


def test_heading_lines_in_one_block_count_their_words_together() -> None:
    eleven = " ".join(["word"] * 11)
    assert headings(line(eleven, size=14, block=(0, 1)), line(eleven, size=14, block=(0, 1))) == set()
    assert headings(line(eleven, size=14, block=(0, 1)), line(eleven, size=14, block=(0, 2))) == {0, 1}


def test_headings_are_found_in_a_document_of_hundreds_of_lines() -> None:
    body = [line(f"Line {number} of the text.", block=(0, number)) for number in range(299)]
    assert headings(*body, line("Annex", size=14, block=(0, 299))) == {299}


def items(*lines: _Line) -> list[tuple[str, list[str]]]:
    """The items lines are grouped into (10-point body), as (kind, lines)."""
    return [(item.kind, item.lines) for item in pdf_text._items([list(lines)], 10)]


@pytest.mark.parametrize(
    "second, together",
    [
        (line("Second sentence.", block=(0, 0)), True),
        (line("goes on here.", block=(0, 1)), True),
        (line("Goes on here.", block=(0, 1)), False),
        (line("goes on here.", size=11, block=(0, 0)), False),
        (line("goes on here.", size=9, block=(0, 0)), False),
        (line("goes on here.", bold=True, block=(0, 1)), False),
        (line("mRNA vaccines.", block=(0, 1)), True),
    ],
    ids=[
        "same-block",
        "lower-case-in-next-block",
        "capital-in-next-block",
        "larger-size",
        "smaller-size",
        "bold-in-next-block",
        "lower-case-then-capital-in-next-block",
    ],
)
def test_a_paragraph_carries_on_in_its_block_or_mid_sentence_in_its_style(second: _Line, together: bool) -> None:
    first = line("The first line", block=(0, 0))
    expected = (
        [("paragraph", [first.text, second.text])]
        if together
        else [
            ("paragraph", [first.text]),
            ("paragraph", [second.text]),
        ]
    )
    assert items(first, second) == expected


@pytest.mark.parametrize(
    "lead, block, together",
    [("Dosage", (0, 1), True), ("Dosage.", (0, 1), False), ("Dosage", (0, 2), False), ("Dosage", (0, 0), False)],
    ids=["mid-sentence", "sentence-ended", "later-block", "earlier-block"],
)
def test_a_bold_lead_in_runs_on_only_in_its_block_mid_sentence(
    lead: str, block: tuple[int, int], together: bool
) -> None:
    first, second = line(lead, bold=True, block=(0, 1)), line("is given daily.", block=block)
    assert len(items(first, second)) == (1 if together else 2)


def test_a_paragraph_ending_a_page_mid_sentence_carries_on_over_the_page() -> None:
    pages = [[line("The dose is", block=(0, 3))], [line("given daily.", block=(1, 0))]]
    assert [item.lines for item in pdf_text._items(pages, 10)] == [["The dose is", "given daily."]]


def test_a_paragraph_carries_on_into_the_next_block_by_how_its_last_line_ends() -> None:
    """The first line ends mid-sentence, the last one ends the sentence: the next block starts a new paragraph."""
    assert items(
        line("The child had a cough", block=(0, 0)),
        line("and fever.", block=(0, 0)),
        line("treated at home.", block=(0, 1)),
    ) == [("paragraph", ["The child had a cough", "and fever."]), ("paragraph", ["treated at home."])]


@pytest.mark.parametrize(
    "end, continues", [(".", False), (":", False), (";", False), ("!", False), ("?", False), (",", True), ("s", True)]
)
def test_a_paragraph_ending_in_sentence_punctuation_does_not_continue(end: str, continues: bool) -> None:
    assert pdf_text._continues(_Item("paragraph", [f"The dose{end}"]), line("given daily.")) is continues


def test_list_items_are_items_of_their_own_and_take_the_lines_that_carry_them_on() -> None:
    assert items(
        line("• Wash hands", block=(0, 0)),
        line("before eating.", block=(0, 0)),
        line("• Dry them.", block=(0, 0)),
    ) == [("bullet", ["Wash hands", "before eating."]), ("bullet", ["Dry them."])]


def test_heading_lines_in_one_size_make_one_heading_and_a_new_size_another() -> None:
    assert items(
        line("Croup in", size=24, block=(0, 0)),
        line("children", size=24, block=(0, 1)),
        line("Treatment", size=14, block=(0, 2)),
        line("Give dexamethasone.", block=(0, 3)),
    ) == [
        ("heading", ["Croup in", "children"]),
        ("heading", ["Treatment"]),
        ("paragraph", ["Give dexamethasone."]),
    ]


def test_heading_lines_in_one_size_before_body_text_make_one_heading() -> None:
    assert items(
        line("Croup in", size=24, block=(0, 0)),
        line("children", size=24, block=(0, 0)),
        line("Give dexamethasone.", block=(0, 1)),
    ) == [("heading", ["Croup in", "children"]), ("paragraph", ["Give dexamethasone."])]


def test_a_heading_line_in_a_larger_size_after_a_heading_starts_another() -> None:
    assert items(
        line("Guideline", size=14, block=(0, 0)),
        line("Croup", size=24, block=(0, 1)),
        line("Give dexamethasone.", block=(0, 2)),
    ) == [("heading", ["Guideline"]), ("heading", ["Croup"]), ("paragraph", ["Give dexamethasone."])]


def test_heading_lines_in_one_size_after_paragraphs_make_one_heading() -> None:
    assert items(
        line("First.", block=(0, 0)),
        line("Second.", block=(0, 1)),
        line("Third.", block=(0, 2)),
        line("Croup in", size=14, block=(0, 3)),
        line("children", size=14, block=(0, 3)),
    ) == [
        ("paragraph", ["First."]),
        ("paragraph", ["Second."]),
        ("paragraph", ["Third."]),
        ("heading", ["Croup in", "children"]),
    ]


def test_headings_separated_by_text_are_separate() -> None:
    assert items(
        line("Treatment", size=14, block=(0, 0)),
        line("Give dexamethasone.", block=(0, 1)),
        line("Follow-up", size=14, block=(0, 2)),
    ) == [("heading", ["Treatment"]), ("paragraph", ["Give dexamethasone."]), ("heading", ["Follow-up"])]


def test_the_largest_heading_is_a_title_others_are_sections_and_list_items_stay_together() -> None:
    rendered = pdf_text._render(
        [
            _Item("heading", ["Croup"], 24),
            _Item("heading", ["Treatment"], 14),
            _Item("paragraph", ["Give oral", "dexamethasone."]),
            _Item("bullet", ["Keep calm"]),
            _Item("bullet", ["Sit upright"]),
            _Item("heading", ["Follow-up"], 16),
            _Item("paragraph", ["Review in a day."]),
        ],
        set(),
    )
    assert rendered == (
        "# Croup\n\n## Treatment\n\nGive oral dexamethasone.\n\n- Keep calm\n- Sit upright\n\n## Follow-up\n\n"
        "Review in a day."
    )


def test_the_title_level_goes_to_the_largest_heading_whatever_the_size_of_other_items() -> None:
    rendered = pdf_text._render(
        [
            _Item("paragraph", ["Croup is common."], 30),
            _Item("bullet", ["Keep calm"], 30),
            _Item("heading", ["Croup"], 24),
        ],
        set(),
    )
    assert rendered == "Croup is common.\n\n- Keep calm\n\n# Croup"


# --- titles --------------------------------------------------------------------------------------------------------


def test_the_first_page_title_is_its_largest_text_with_letters_in_one_block() -> None:
    lines = [
        line("2024", size=30, block=(0, 0)),
        line("Croup in", size=24, block=(0, 1)),
        line("children", size=24, block=(0, 1)),
        line("Guideline", size=24, block=(0, 2)),
    ]
    assert pdf_text._first_page_title(lines) == "Croup in children"


def test_the_first_page_title_after_smaller_text_is_read_from_its_first_line() -> None:
    lines = [
        line("Journal of Paediatrics", size=12, block=(0, 0)),
        line("Croup in", size=24, block=(0, 1)),
        line("children", size=24, block=(0, 1)),
    ]
    assert pdf_text._first_page_title(lines) == "Croup in children"


def test_the_first_page_title_stops_at_a_line_of_another_size() -> None:
    lines = [line("Croup in", size=24), line("assessment", size=18), line("children", size=24)]
    assert pdf_text._first_page_title(lines) == "Croup in"


def test_the_first_page_title_stops_at_a_line_of_an_earlier_block() -> None:
    """Pages list their lines block by block, in reading order: this guards the rule, not a layout of a real page."""
    lines = [line("Croup in", size=24, block=(0, 2)), line("Annex", size=24, block=(0, 1))]
    assert pdf_text._first_page_title(lines) == "Croup in"


@pytest.mark.parametrize("lines", [[], [line("2024", size=30)]], ids=["empty", "no-letters"])
def test_a_first_page_without_words_has_no_title(lines: list[_Line]) -> None:
    assert pdf_text._first_page_title(lines) is None


@pytest.mark.parametrize(
    "title, junk",
    [
        ("Flu", False),
        ("Fl", True),
        ("  Fl  ", True),
        ("Tuberculosis", False),
        ("12 34", True),
        ("Croup_v3", True),
        ("guideline/2024", True),
        ("Asthma in 2024", False),
        ("Document 2", True),
        ("croup.pdf", True),
    ],
)
def test_a_metadata_title_is_junk_when_short_wordless_a_placeholder_or_a_file_name(title: str, junk: bool) -> None:
    assert pdf_text._is_junk_title(title) is junk


# --- whole PDFs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding, readable", [(1019, True), (1020, False)])
def test_the_pdf_header_must_start_within_the_first_1024_bytes(padding: int, readable: bool) -> None:
    data = b" " * padding + pdf_bytes()
    if readable:
        assert pdf_text.pdf_to_markdown(data).text == "Croup causes a barking cough."
    else:
        with pytest.raises(ParseError, match="not a PDF"):
            pdf_text.pdf_to_markdown(data)


@pytest.mark.parametrize("padding, readable", [(1019, True), (1020, False)])
def test_the_end_of_file_marker_must_start_within_the_last_1024_bytes(padding: int, readable: bool) -> None:
    data = pdf_bytes().rstrip() + b" " * padding
    assert data.rstrip().endswith(b"%%EOF")
    if readable:
        assert pdf_text.pdf_to_markdown(data).text == "Croup causes a barking cough."
    else:
        with pytest.raises(ParseError, match="truncated"):
            pdf_text.pdf_to_markdown(data)


def test_a_pdf_without_pages_raises_parse_error() -> None:
    empty = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    with pytest.raises(ParseError, match="no pages"):
        pdf_text.pdf_to_markdown(empty + b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_a_pdf_whose_page_tree_cannot_be_read_raises_parse_error() -> None:
    looped = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[2 0 R]/Count 1>>endobj\n"
    with pytest.raises(ParseError, match="damaged PDF"):
        pdf_text.pdf_to_markdown(looped + b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_the_creation_date_comes_from_the_metadata() -> None:
    assert pdf_text.pdf_to_markdown(pdf_bytes(created="D:20231105120000Z")).date == "2023-11-05"


@pytest.mark.parametrize("created", ["", "2023-11-05"], ids=["none", "not-a-pdf-date"])
def test_no_date_without_a_pdf_date_in_the_metadata(created: str) -> None:
    assert pdf_text.pdf_to_markdown(pdf_bytes(created=created)).date is None


def test_a_pdf_without_a_title_or_words_has_no_title() -> None:
    extracted = pdf_text.pdf_to_markdown(pdf_bytes("2024", title="untitled"))
    assert (extracted.title, extracted.pages) == (None, 1)


def test_a_title_of_two_lines_in_one_block_of_the_first_page_is_read_whole() -> None:
    data = pdf_of_runs(
        (72, 100, "Croup in", 24, "helv"),
        (72, 130, "children", 24, "helv"),
        (72, 200, "Croup causes a barking cough.", 10, "helv"),
    )
    assert pdf_text.pdf_to_markdown(data).title == "Croup in children"


def test_headings_of_the_largest_size_are_titles_and_a_heading_of_two_lines_is_one() -> None:
    data = pdf_of_runs(
        (72, 100, "Croup in", 24, "helv"),
        (72, 130, "children", 24, "helv"),
        (72, 200, "Croup causes a barking cough.", 10, "helv"),
        (72, 300, "Treatment", 24, "helv"),
        (72, 400, "Give dexamethasone.", 10, "helv"),
    )
    assert pdf_text.pdf_to_markdown(data).text == (
        "# Croup in children\n\nCroup causes a barking cough.\n\n# Treatment\n\nGive dexamethasone."
    )


def test_a_bold_lead_in_line_runs_on_into_its_sentence() -> None:
    data = pdf_of_runs((72, 200, "Dosage", 10, "hebo"), (72, 212, "is given daily.", 10, "helv"))
    assert pdf_text.pdf_to_markdown(data).text == "Dosage is given daily."


def test_a_real_metadata_title_is_kept_stripped() -> None:
    assert pdf_text.pdf_to_markdown(pdf_bytes(title="  Croup in children  ")).title == "Croup in children"


@pytest.mark.parametrize(
    ("text", "line", "joined"),
    [
        ("treat\u00ad", "ment", "treatment"),
        ("dose of 5\u00ad", "10 mg", "dose of 510 mg"),
        ("a\u00ad", "(b)", "a (b)"),
        ("see the\u00ad", "(annex)", "see the (annex)"),
        ("word\u00ad", "s, and more", "words, and more"),
    ],
)
def test_a_soft_hyphen_ending_a_line_always_goes(text: str, line: str, joined: str) -> None:
    assert pdf_text._join_pair(text, line, set()) == joined


def test_an_extracted_pdf_cannot_be_changed() -> None:
    extracted = pdf_text.ExtractedPdf(title="Croup", text="Croup causes a barking cough.", pages=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        extracted.title = "Other"  # type: ignore[misc]
