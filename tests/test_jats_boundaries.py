"""JATS to text, each rule on both sides of its boundary: which elements are blocks or spaced, how deep headings and
lists go, what a citation gap leaves, MathML operands, table limits and spans, and which id, date or licence wins.
Expected values are worked out by hand from the rules in `sources/jats.py`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from lxml import etree

from gap_replay.sources import jats
from gap_replay.sources.base import ParseError

MML = 'xmlns:mml="http://www.w3.org/1998/Math/MathML"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


def article(body: str = "<p>x</p>", front: str = "", back: str = "", journal: str = "", attributes: str = "") -> bytes:
    """A minimal JATS article titled "T" around a body, extra article-meta, back matter and journal-meta."""
    return (
        f"<article {XLINK} {MML} {attributes}><front>{journal}<article-meta><title-group><article-title>T"
        f"</article-title></title-group>{front}</article-meta></front><body>{body}</body><back>{back}</back></article>"
    ).encode()


def body_text(body: str, back: str = "", **options: int) -> str:
    """The text an article with this body (and back matter) has after its title."""
    text = jats.read_article(article(body, back=back), **options).text
    assert text.startswith("T")
    return text.removeprefix("T").removeprefix("\n\n")


def paragraph(xml: str) -> str:
    """The text one `<p>` becomes."""
    return body_text(f"<p>{xml}</p>")


def cite(number: str) -> str:
    """A numbered citation of reference `number`."""
    return f'<xref ref-type="bibr" rid="r{number}">{number}</xref>'


def mathml(xml: str) -> str:
    """The linear text of a MathML fragment."""
    return jats.mathml_text(etree.fromstring(f'<math xmlns="http://www.w3.org/1998/Math/MathML">{xml}</math>'))


def front_matter(front: str, journal: str = "", attributes: str = "") -> jats.Article:
    """An article with this article-meta (and journal-meta) and a one-word body."""
    return jats.read_article(article(front=front, journal=journal, attributes=attributes))


def pipe(cells: list[str]) -> str:
    """One Markdown table row of non-empty cells."""
    return "| " + " | ".join(cells) + " |"


def numbered_rows(rows: int, columns: int) -> str:
    """`rows` table rows of `columns` cells, each holding its "row.column" position."""
    return "".join("<tr>" + "".join(f"<td>{r}.{c}</td>" for c in range(columns)) + "</tr>" for r in range(rows))


def table_text(rows: str, **options: int) -> str:
    """The text of a captioned table-wrap holding these rows."""
    body = f"<table-wrap><label>Table 1</label><caption><p>Doses.</p></caption><table>{rows}</table></table-wrap>"
    return body_text(body, **options)


# --- block elements, spaced elements and unknown wrappers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<p>Yes.</p><p>Mostly.</p>", "Yes.\n\nMostly."),
        ("<sec><title>Why</title><p>Because.</p></sec>", "# Why\n\nBecause."),
        (
            "<disp-formula><tex-math>a=b</tex-math></disp-formula><disp-formula><tex-math>c=d</tex-math></disp-formula>",
            "a=b\n\nc=d",
        ),
        (
            "<glossary><title>Terms</title><def-list><def-item><term>CT</term><def><p>computed tomography</p></def>"
            "</def-item></def-list></glossary>",
            "# Terms\n\n- CT: computed tomography",
        ),
        ("<list><list-item><p>one</p></list-item><list-item><p>two</p></list-item></list>", "- one\n- two"),
        ("<fig><label>Figure 2</label><caption><p>Maps.</p></caption></fig>", "Figure 2. Maps."),
    ],
)
def test_an_element_without_a_rule_of_its_own_holding_blocks_is_rendered_as_blocks(content: str, expected: str) -> None:
    assert body_text(f"<answer>{content}</answer>") == expected


def test_an_element_without_a_rule_of_its_own_holding_only_inline_text_is_one_paragraph() -> None:
    assert body_text("<answer>Yes, <italic>mostly</italic>.</answer>") == "Yes, mostly."


@pytest.mark.parametrize(
    "tag",
    [
        # blocks that interrupt a paragraph
        "array", "boxed-text", "code", "def-list", "disp-quote", "fig", "fig-group", "list", "preformat", "speech",
        "statement", "table-wrap", "table-wrap-group", "verse-group",
        # other blocks
        "p", "sec", "disp-formula", "glossary", "title", "caption",
        # parts of lists, definitions and tables
        "list-item", "def-item", "term", "def", "tr", "td", "th", "label",
    ],
)  # fmt: skip
def test_block_and_cell_elements_flattened_into_a_line_are_set_apart_by_spaces(tag: str) -> None:
    assert body_text(f"<sec><title>a<{tag}>b</{tag}>c</title><p>x</p></sec>") == "# a b c\n\nx"


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<bold>P</bold>-values", "P-values"),
        ("H<sub>2</sub>O", "H2O"),
        ("in<italic> vivo </italic>and", "in vivo and"),
        ('<underline>term<xref ref-type="fn" rid="f1">a</xref></underline> used', "term used"),
        ("<sc>Lorem</sc>ipsum", "Loremipsum"),
    ],
)
def test_inline_markup_is_joined_to_its_neighbours_as_written(xml: str, expected: str) -> None:
    assert paragraph(xml) == expected


def test_a_line_break_separates_words() -> None:
    assert paragraph("first<break/>second") == "first second"


def test_a_footnote_inside_a_paragraph_is_dropped() -> None:
    assert paragraph("Uptake rose<fn><p>Measured twice.</p></fn> overall.") == "Uptake rose overall."


def test_a_paragraph_that_starts_or_ends_with_a_block_leaves_no_empty_paragraph() -> None:
    item = "<list><list-item><p>one</p></list-item></list>"
    assert body_text(f"<p>{item}after</p>") == "- one\n\nafter"
    assert body_text(f"<p>before{item}</p>") == "before\n\n- one"


# --- sections and headings -----------------------------------------------------------------------------------------


def test_headings_deeper_than_three_levels_stay_at_three() -> None:
    body = (
        "<sec><title>A</title><sec><title>B</title><sec><title>C</title><sec><title>D</title><p>x</p>"
        "</sec></sec></sec></sec>"
    )
    assert body_text(body) == "# A\n\n## B\n\n### C\n\n### D\n\nx"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("<label>2</label><title>Methods</title>", "# 2 Methods\n\nx"),
        ("<label>2</label>", "# 2\n\nx"),
        ("<title>Methods</title>", "# Methods\n\nx"),
        ("", "x"),
    ],
)
def test_a_section_heading_is_its_label_and_title_and_an_untitled_section_has_none(heading: str, expected: str) -> None:
    assert body_text(f"<sec>{heading}<p>x</p></sec>") == expected


@pytest.mark.parametrize(
    "title",
    [
        "Funding",
        "Funding:",
        "Acknowledgements.",
        "Author’s contributions",
        "Conflicts of interest",
        "Declaration of competing interest",
        "Data availability statement",
        "Supplementary materials",
    ],
)
def test_a_back_matter_section_is_dropped_by_its_title(title: str) -> None:
    assert body_text(f"<sec><title>{title}</title><p>Dropped.</p></sec><p>Kept.</p>") == "Kept."


@pytest.mark.parametrize("title", ["Data analysis", "Sources of bias", "Funding and outcomes"])
def test_a_section_whose_title_only_resembles_back_matter_is_kept(title: str) -> None:
    assert body_text(f"<sec><title>{title}</title><p>Kept.</p></sec>") == f"# {title}\n\nKept."


@pytest.mark.parametrize("sec_type", ["Funding", "data-availability", "coi-statement"])
def test_a_back_matter_section_is_dropped_by_its_type_whatever_its_title(sec_type: str) -> None:
    body = f'<sec sec-type="{sec_type}"><title>Support</title><p>Dropped.</p></sec><p>Kept.</p>'
    assert body_text(body) == "Kept."


# --- other blocks --------------------------------------------------------------------------------------------------


def test_a_display_formula_is_its_own_paragraph_and_an_image_formula_leaves_nothing() -> None:
    body = (
        '<p>Before.</p><disp-formula><graphic xlink:href="e1.gif"/></disp-formula>'
        "<disp-formula><label>(1)</label><tex-math>E=mc^2</tex-math></disp-formula><p>After.</p>"
    )
    assert body_text(body) == "Before.\n\nE=mc^2\n\nAfter."


def test_a_formula_group_gives_each_formula_as_a_paragraph() -> None:
    body = (
        "<disp-formula-group><label>(2)</label><disp-formula><tex-math>a=b</tex-math></disp-formula>"
        '<disp-formula><graphic xlink:href="e2.gif"/></disp-formula>'
        "<disp-formula><tex-math>c=d</tex-math></disp-formula></disp-formula-group>"
    )
    assert body_text(body) == "a=b\n\nc=d"


def test_formulas_of_a_group_inside_a_group_are_each_a_paragraph_without_the_inner_label() -> None:
    body = (
        "<disp-formula-group><disp-formula-group><label>(5)</label><disp-formula><tex-math>a=b</tex-math>"
        "</disp-formula><disp-formula><tex-math>c=d</tex-math></disp-formula></disp-formula-group></disp-formula-group>"
    )
    assert body_text(body) == "a=b\n\nc=d"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("<array><tbody><tr><td>y</td><td>=</td><td>a + b</td></tr></tbody></array>", "y = a + b"),
        ("<preformat>y = a\n    + b</preformat>", "y = a + b"),
    ],
)
def test_a_display_formula_without_tex_or_mathml_is_one_line_even_when_laid_out_as_a_block(
    layout: str, expected: str
) -> None:
    assert body_text(f"<disp-formula><label>(6)</label>{layout}</disp-formula>") == expected


def test_a_formula_without_tex_or_mathml_is_its_text_without_its_label_or_footnote_mark() -> None:
    body = '<disp-formula><label>(3)</label> E = mc<sup>2</sup><xref ref-type="fn" rid="f1">*</xref></disp-formula>'
    assert body_text(body) == "E = mc2"


def test_mathml_among_alternatives_is_used_when_there_is_no_tex() -> None:
    body = (
        "<disp-formula><alternatives><mml:math><mml:msup><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:math>"
        '<graphic xlink:href="e4.gif"/></alternatives></disp-formula>'
    )
    assert body_text(body) == "x^2"


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("<mml:math><mml:msup><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:math>", "where x^2 holds"),
        ("<tex-math>$\\alpha$</tex-math>", "where $\\alpha$ holds"),
        (
            "<tex-math>\\documentclass{minimal}\\begin{document}$\\alpha$\\end{document}</tex-math>",
            "where $\\alpha$ holds",
        ),
    ],
)
def test_a_formula_inside_a_paragraph_stays_in_it(formula: str, expected: str) -> None:
    assert paragraph(f"where {formula} holds") == expected


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("<disp-formula><label>(1)</label><tex-math>x=1</tex-math></disp-formula>", "where x=1 holds"),
        ('<disp-formula><graphic xlink:href="e.gif"/></disp-formula>', "where holds"),
    ],
)
def test_a_display_formula_inside_a_paragraph_is_set_apart_by_spaces_without_its_label(
    formula: str, expected: str
) -> None:
    assert paragraph(f"where{formula}holds") == expected


@pytest.mark.parametrize("tag", ["preformat", "code"])
def test_preformatted_text_keeps_its_lines_and_indentation(tag: str) -> None:
    assert body_text(f"<{tag}>\nfor x in xs:\n    print(x)\n</{tag}>") == "for x in xs:\n    print(x)"
    assert body_text(f"<p>Before.</p><{tag}>\n</{tag}>") == "Before."


@pytest.mark.parametrize("tag", ["boxed-text", "statement", "disp-quote", "verse-group", "speech"])
def test_a_box_gives_its_caption_then_its_content(tag: str) -> None:
    captioned = f"<{tag}><caption><title>Note</title></caption><p>Inside.</p></{tag}>"
    assert body_text(captioned) == "Note.\n\nInside."
    assert body_text(f"<{tag}><label>Box 1</label><p>Inside.</p></{tag}>") == "Inside."


def test_a_box_without_a_caption_is_headed_by_its_own_title() -> None:
    body = (
        "<verse-group><title>Ode</title><verse-line>Line one</verse-line><verse-line>Line two</verse-line>"
        "</verse-group>"
    )
    assert body_text(body) == "Ode\n\nLine one\n\nLine two"


def test_a_box_with_a_caption_does_not_repeat_its_own_title() -> None:
    body = "<boxed-text><title>Own title</title><caption><p>Caption text.</p></caption><p>Inside.</p></boxed-text>"
    assert body_text(body) == "Caption text.\n\nInside."


def test_alternative_text_and_long_descriptions_of_a_box_are_not_text() -> None:
    body = "<boxed-text><alt-text>A box</alt-text><long-desc>A long description</long-desc><p>Inside.</p></boxed-text>"
    assert body_text(body) == "Inside."


# --- lists and definitions -----------------------------------------------------------------------------------------


def test_lists_nested_three_deep_are_indented_two_spaces_per_level() -> None:
    body = (
        "<list><list-item><p>a</p><list><list-item><p>b</p><list><list-item><p>c</p><list><list-item><p>d</p>"
        "</list-item></list></list-item></list></list-item></list></list-item></list>"
    )
    assert body_text(body) == "- a\n  - b\n    - c\n      - d"


def test_lists_nested_three_deep_inside_item_paragraphs_are_indented_two_spaces_per_level() -> None:
    body = (
        "<list><list-item><p>a<list><list-item><p>b<list><list-item><p>c<list><list-item><p>d</p>"
        "</list-item></list></p></list-item></list></p></list-item></list></p></list-item></list>"
    )
    assert body_text(body) == "- a\n  - b\n    - c\n      - d"


def test_an_item_paragraph_keeps_its_markup_text_and_loses_its_citations() -> None:
    body = f"<list><list-item><p>uptake <italic>rose</italic> sharply [{cite('3')}].</p></list-item></list>"
    assert body_text(body) == "- uptake rose sharply."


@pytest.mark.parametrize("bullet", ["•", "◦", "–", "-", "*", "■"])
def test_a_bullet_label_is_dropped(bullet: str) -> None:
    assert body_text(f"<list><list-item><label>{bullet}</label><p>dot</p></list-item></list>") == "- dot"


@pytest.mark.parametrize("label", ["a.", "1", "(iv)"])
def test_a_label_other_than_a_bullet_leads_the_item_once(label: str) -> None:
    assert body_text(f"<list><list-item><label>{label}</label><p>First</p></list-item></list>") == f"- {label} First"


@pytest.mark.parametrize("tag", ["disp-quote", "statement"])
def test_other_item_content_is_flattened_into_the_item_line(tag: str) -> None:
    body = f"<list><list-item><{tag}><p>One.</p><p>Two.</p></{tag}></list-item></list>"
    assert body_text(body) == "- One. Two."


def test_an_item_without_text_adds_no_line_of_its_own() -> None:
    body = (
        "<list><list-item><p/></list-item><list-item><list><list-item><p>inner</p></list-item></list></list-item>"
        "<list-item><p>outer</p></list-item></list>"
    )
    assert body_text(body) == "  - inner\n- outer"


def test_a_list_title_comes_before_its_items_and_stays_when_there_are_none() -> None:
    assert body_text("<list><title>Steps</title><list-item><p>mix</p></list-item></list>") == "Steps\n\n- mix"
    assert body_text("<list><title>Steps</title></list>") == "Steps"


def test_definitions_give_term_and_definition_or_whichever_there_is() -> None:
    body = (
        "<def-list><title>Terms</title>"
        "<def-item><term>CT</term><def><p>computed</p><p>tomography</p></def></def-item>"
        "<def-item><term>MRI</term><def><p>magnetic</p></def><def><p>resonance imaging</p></def></def-item>"
        "<def-item><term>PET</term></def-item>"
        "<def-item><def><p>an unnamed definition</p></def></def-item>"
        "<def-item><term/><def/></def-item></def-list>"
    )
    assert body_text(body) == (
        "Terms\n\n- CT: computed tomography\n- MRI: magnetic resonance imaging\n- PET\n- an unnamed definition"
    )


# --- glossaries ----------------------------------------------------------------------------------------------------

DEFINITION = "<def-list><def-item><term>CT</term><def><p>computed tomography</p></def></def-item></def-list>"


def test_a_section_inside_a_back_matter_glossary_is_one_level_below_it() -> None:
    back = f"<glossary><title>Abbreviations</title><sec><title>Imaging</title>{DEFINITION}</sec></glossary>"
    assert body_text("", back) == "# Abbreviations\n\n## Imaging\n\n- CT: computed tomography"


def test_a_glossary_inside_a_glossary_is_one_level_below_it() -> None:
    back = f"<glossary><title>Abbreviations</title><glossary><title>Imaging</title>{DEFINITION}</glossary></glossary>"
    assert body_text("", back) == "# Abbreviations\n\n## Imaging\n\n- CT: computed tomography"


def test_a_glossary_inside_a_section_is_a_subheading_called_glossary_when_untitled() -> None:
    body = f"<sec><title>Methods</title><glossary>{DEFINITION}</glossary></sec>"
    assert body_text(body) == "# Methods\n\n## Glossary\n\n- CT: computed tomography"


@pytest.mark.parametrize("depth", [2, 3])
def test_a_glossary_deeper_than_three_levels_stays_at_three(depth: int) -> None:
    body = "<sec><title>S</title>" * depth + f"<glossary>{DEFINITION}</glossary>" + "</sec>" * depth
    headings = "\n\n".join(["# S", "## S", "### S"][:depth])
    assert body_text(body) == f"{headings}\n\n### Glossary\n\n- CT: computed tomography"


def test_an_empty_glossary_leaves_no_heading() -> None:
    assert body_text("<p>Text.</p>", "<glossary><title>Abbreviations</title></glossary>") == "Text."


# --- captions, figures and tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Uptake maps", "Figure 1. Uptake maps."),
        ("Uptake maps.", "Figure 1. Uptake maps."),
        ("Why now?", "Figure 1. Why now?"),
        ("Done!", "Figure 1. Done!"),
        ("Legend:", "Figure 1. Legend:"),
    ],
)
def test_a_caption_title_ends_a_sentence_unless_it_already_does(title: str, expected: str) -> None:
    assert body_text(f"<fig><label>Figure 1</label><caption><title>{title}</title></caption></fig>") == expected


@pytest.mark.parametrize(("label", "expected"), [("Figure 1:", "Figure 1. Maps."), ("", "Maps.")])
def test_a_caption_is_led_by_its_label_as_a_sentence(label: str, expected: str) -> None:
    assert body_text(f"<fig><label>{label}</label><caption><p>Maps.</p></caption></fig>") == expected


def test_a_label_without_a_caption_is_dropped() -> None:
    assert body_text('<fig><label>Figure 3</label><graphic xlink:href="f3.jpg"/></fig><p>Text.</p>') == "Text."


def test_a_figure_group_gives_its_caption_then_each_figure() -> None:
    body = (
        "<fig-group><caption><title>Scans</title></caption>"
        "<fig><label>Figure 1A</label><caption><p>Before.</p></caption></fig>"
        '<fig><graphic xlink:href="f1b.jpg"/></fig>'
        "<fig><label>Figure 1C</label><caption><p>After.</p></caption></fig></fig-group>"
    )
    assert body_text(body) == "Scans.\n\nFigure 1A. Before.\n\nFigure 1C. After."


@pytest.mark.parametrize(("rows", "columns"), [(20, 20), (1, 400), (400, 1)])
def test_a_table_of_exactly_400_cells_is_written_out(rows: int, columns: int) -> None:
    lines = [pipe([f"0.{c}" for c in range(columns)]), pipe(["---"] * columns)]
    lines += [pipe([f"{r}.{c}" for c in range(columns)]) for r in range(1, rows)]
    assert table_text(numbered_rows(rows, columns)) == "Table 1. Doses.\n\n" + "\n".join(lines)


@pytest.mark.parametrize(("rows", "columns"), [(1, 401), (401, 1), (20, 21)])
def test_a_table_of_more_than_400_cells_keeps_only_its_caption(rows: int, columns: int) -> None:
    assert table_text(numbered_rows(rows, columns)) == "Table 1. Doses."


def test_cells_are_counted_over_the_full_grid_including_missing_ones() -> None:
    rows = "<tr><td>a</td><td>b</td><td>c</td></tr><tr><td>d</td></tr>"
    assert table_text(rows, max_table_cells=5) == "Table 1. Doses."
    assert table_text(rows, max_table_cells=6) == "Table 1. Doses.\n\n| a | b | c |\n| --- | --- | --- |\n| d | | |"


def test_a_cell_spanning_more_columns_than_the_limit_drops_the_table() -> None:
    assert table_text('<tr><td colspan="5">wide</td></tr>', max_table_cells=5) == (
        "Table 1. Doses.\n\n| wide | wide | wide | wide | wide |\n| --- | --- | --- | --- | --- |"
    )
    assert table_text('<tr><td colspan="6">wide</td></tr>', max_table_cells=5) == "Table 1. Doses."


def test_a_table_of_as_many_rows_as_the_limit_is_kept() -> None:
    assert (
        table_text(numbered_rows(4, 1), max_table_cells=4)
        == "Table 1. Doses.\n\n| 0.0 |\n| --- |\n| 1.0 |\n| 2.0 |\n| 3.0 |"
    )
    assert table_text(numbered_rows(5, 1), max_table_cells=4) == "Table 1. Doses."


def test_a_row_span_past_the_last_row_ends_with_the_table() -> None:
    rows = '<tr><td>a</td><td>b</td></tr><tr><td rowspan="3">c</td><td>d</td></tr>'
    assert table_text(rows, max_table_cells=4) == "Table 1. Doses.\n\n| a | b |\n| --- | --- |\n| c | d |"


def test_a_row_span_repeats_its_text_down_the_rows_it_covers() -> None:
    rows = (
        "<thead><tr><th>Group</th><th>Value</th></tr></thead>"
        '<tbody><tr><td rowspan="2">A</td><td>1</td></tr><tr><td>2</td></tr></tbody>'
    )
    assert table_text(rows) == "Table 1. Doses.\n\n| Group | Value |\n| --- | --- |\n| A | 1 |\n| A | 2 |"


def test_row_spans_side_by_side_push_the_next_rows_cell_past_both() -> None:
    rows = (
        "<tr><th>Group</th><th>Arm</th><th>Value</th></tr>"
        '<tr><td rowspan="2">A</td><td rowspan="2">B</td><td>1</td></tr><tr><td>2</td></tr>'
    )
    assert table_text(rows) == (
        "Table 1. Doses.\n\n| Group | Arm | Value |\n| --- | --- | --- |\n| A | B | 1 |\n| A | B | 2 |"
    )


def test_without_a_head_the_first_row_is_the_header_and_a_body_span_leaves_cells_empty() -> None:
    rows = (
        "<tr><td>Drug</td><td>Dose</td><td>Unit</td><td>Route</td></tr>"
        '<tr><td>A</td><td colspan="2">1 mg</td><td>oral</td></tr><tr><td>B</td><td>2</td><td>mg</td><td>iv</td></tr>'
    )
    assert table_text(rows) == (
        "Table 1. Doses.\n\n| Drug | Dose | Unit | Route |\n| --- | --- | --- | --- |\n| A | 1 mg | | oral |\n"
        "| B | 2 | mg | iv |"
    )


def test_an_empty_body_row_is_left_out_and_a_pipe_in_a_cell_is_escaped() -> None:
    rows = "<thead><tr><th>a|b</th></tr></thead><tbody><tr><td/></tr><tr><td>1</td></tr></tbody>"
    assert table_text(rows) == "Table 1. Doses.\n\n| a\\|b |\n| --- |\n| 1 |"


def test_a_cell_after_a_column_span_takes_the_next_column() -> None:
    rows = f'{numbered_rows(1, 6)}<tr><td>a</td><td>b</td><td>c</td><td colspan="2">d</td><td>e</td></tr>'
    assert table_text(rows) == (
        "Table 1. Doses.\n\n| 0.0 | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |\n| --- | --- | --- | --- | --- | --- |\n"
        "| a | b | c | d | | e |"
    )


def test_anything_in_a_row_but_a_cell_is_skipped() -> None:
    assert table_text("<tr><td>a</td><break/><td>b</td></tr>") == "Table 1. Doses.\n\n| a | b |\n| --- | --- |"


def test_a_cell_holding_only_an_author_year_citation_keeps_it() -> None:
    rows = '<tr><th>Study</th></tr><tr><td><xref ref-type="bibr" rid="r1">Smith 2001</xref></td></tr>'
    assert table_text(rows) == "Table 1. Doses.\n\n| Study |\n| --- |\n| Smith 2001 |"


def test_a_table_whose_rows_hold_no_cells_keeps_only_its_caption() -> None:
    assert table_text("<tr/><tr/>") == "Table 1. Doses."


@pytest.mark.parametrize(
    ("colspan", "row"),
    [
        ("0", "| a | b | |"),
        ("1", "| a | b | |"),
        ("2", "| a | | b |"),
        (" 2 ", "| a | | b |"),
        ("two", "| a | b | |"),
        ("-1", "| a | b | |"),
        ("1.5", "| a | b | |"),
    ],
)
def test_a_span_is_a_positive_whole_number_else_one_cell(colspan: str, row: str) -> None:
    rows = f'<tr><td>1</td><td>2</td><td>3</td></tr><tr><td colspan="{colspan}">a</td><td>b</td></tr>'
    assert table_text(rows) == f"Table 1. Doses.\n\n| 1 | 2 | 3 |\n| --- | --- | --- |\n{row}"


@pytest.mark.parametrize(("colspan", "columns"), [("999", 999), ("1000", 1000), ("1001", 1000), ("5000", 1000)])
def test_a_span_covers_at_most_1000_columns(colspan: str, columns: int) -> None:
    rows = f'<tr><td colspan="{colspan}">wide</td></tr><tr><td>x</td></tr>'
    expected = ["|" + " wide |" * columns, "|" + " --- |" * columns, "| x |" + " |" * (columns - 1)]
    assert table_text(rows, max_table_cells=5000) == "Table 1. Doses.\n\n" + "\n".join(expected)


def test_a_table_wrap_holding_two_tables_gives_two_tables() -> None:
    body = (
        "<table-wrap><caption><p>Doses.</p></caption><table><tr><td>a</td></tr></table>"
        "<table><tr><td>b</td></tr></table></table-wrap>"
    )
    assert body_text(body) == "Doses.\n\n| a |\n| --- |\n\n| b |\n| --- |"


def test_a_table_group_gives_its_caption_then_each_table_with_its_caption_and_notes() -> None:
    body = (
        "<table-wrap-group><caption><p>Both arms.</p></caption>"
        "<table-wrap><label>Table 2A</label><caption><p>Arm A.</p></caption><table><tr><td>a</td></tr></table>"
        "</table-wrap><table-wrap><label>Table 2B</label><caption><p>Arm B.</p></caption>"
        "<table><tr><td>b</td></tr></table><table-wrap-foot><p>Note B.</p></table-wrap-foot></table-wrap>"
        "</table-wrap-group>"
    )
    assert body_text(body) == (
        "Both arms.\n\nTable 2A. Arm A.\n\n| a |\n| --- |\n\nTable 2B. Arm B.\n\n| b |\n| --- |\n\nNote B."
    )


def test_an_array_is_a_table_of_its_own() -> None:
    body = "<array><tbody><tr><td>1</td><td>0</td></tr><tr><td>0</td><td>1</td></tr></tbody></array>"
    assert body_text(body) == "| 1 | 0 |\n| --- | --- |\n| 0 | 1 |"


def test_table_notes_keep_loose_paragraphs_and_labelled_or_grouped_footnotes_but_not_their_title() -> None:
    body = (
        "<table-wrap><caption><p>Doses.</p></caption><table-wrap-foot><title>Notes</title><p>Loose note.</p>"
        "<fn-group><fn><label>b</label><p>Grouped.</p></fn></fn-group><fn><p>Unlabelled.</p></fn>"
        "<fn><label>c</label></fn><fn><label>d</label><p>Abbreviations:</p><def-list><def-item><term>SD</term>"
        "<def><p>standard deviation</p></def></def-item></def-list></fn><attrib>Source: registry.</attrib>"
        "</table-wrap-foot></table-wrap>"
    )
    assert body_text(body) == (
        "Doses.\n\nLoose note.\n\nb Grouped.\n\nUnlabelled.\n\nd Abbreviations: SD standard deviation\n\n"
        "Source: registry."
    )


# --- citations and the gaps they leave -----------------------------------------------------------------------------


def test_a_citation_group_inside_brackets_empties_them_too() -> None:
    assert paragraph(f"as shown ([{cite('3')}]).") == "as shown."


@pytest.mark.parametrize("separator", [", ", ",", "; "])
def test_a_gap_after_an_opening_bracket_takes_the_separators_after_it(separator: str) -> None:
    assert paragraph(f"values ([{cite('3')}]{separator}see Table 1) rose") == "values (see Table 1) rose"


@pytest.mark.parametrize("before", ["an aside", "a long aside " * 25])
def test_a_gap_after_an_unclosed_bracket_at_the_end_is_removed(before: str) -> None:
    # 25 repeats put the gap past position 256, beyond the small integers Python shares
    assert paragraph(f"{before} ([{cite('3')}]") == f"{before.strip()} ("


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (f"as shown [{cite('3')}]. Next", "as shown. Next"),
        (f"as shown [{cite('3')}], then", "as shown, then"),
        (f"as follows [{cite('3')}]: a", "as follows: a"),
        (f"as shown [{cite('3')}]! Next", "as shown! Next"),
        (f"as shown [{cite('3')}]? Next", "as shown? Next"),
        (f"(Fig. 1 [{cite('3')}]) next", "(Fig. 1) next"),
        (f"[Fig. 1 ({cite('3')})] next", "[Fig. 1] next"),
        (f"{{Fig. 1 [{cite('3')}]}} next", "{Fig. 1} next"),
        (f"as shown [{cite('3')}]", "as shown"),
        (f"[{cite('3')}] Uptake rose.", "Uptake rose."),
    ],
)
def test_a_removed_citation_leaves_no_space_before_punctuation_or_at_either_end(xml: str, expected: str) -> None:
    assert paragraph(xml) == expected


@pytest.mark.parametrize("kept", ["Call f() twice.", "Missing values (–) were imputed.", "Read on (see also)."])
def test_a_bracket_group_of_only_separators_or_lead_words_but_no_citation_stays(kept: str) -> None:
    assert paragraph(kept) == kept


def test_a_numbered_citation_with_one_letter_is_removed() -> None:
    assert paragraph('as shown [<xref ref-type="bibr" rid="r12">12a</xref>].') == "as shown."


def test_a_superscript_holding_only_an_author_year_citation_is_removed() -> None:
    assert paragraph('as shown<sup><xref ref-type="bibr" rid="r1">Smith 2001</xref></sup>.') == "as shown."


def test_a_superscript_holding_a_footnote_mark_and_a_citation_keeps_the_mark() -> None:
    assert paragraph(f"as shown<sup>†,{cite('3')}</sup>.") == "as shown†."


def test_an_author_year_citation_in_italics_outside_brackets_is_kept() -> None:
    xml = 'as <italic><xref ref-type="bibr" rid="r1">Smith 2001</xref></italic> showed'
    assert paragraph(xml) == "as Smith 2001 showed"


def test_two_narrative_author_year_citations_are_both_kept_in_order() -> None:
    xml = '<xref ref-type="bibr" rid="a">Smith 2001</xref> and <xref ref-type="bibr" rid="b">Jones 2002</xref> agree'
    assert paragraph(xml) == "Smith 2001 and Jones 2002 agree"


def test_a_superscript_of_only_a_charge_sign_is_kept() -> None:
    assert paragraph("Cl<sup>-</sup> and Na<sup>+</sup> ions") == "Cl- and Na+ ions"


@pytest.mark.parametrize("kind", ["fig", "table", "app", "sec", "supplementary-material", "disp-formula"])
def test_a_cross_reference_other_than_a_citation_or_footnote_is_kept_even_in_brackets(kind: str) -> None:
    assert paragraph(f'uptake (<xref ref-type="{kind}" rid="x1">Figure 2</xref>) fell') == "uptake (Figure 2) fell"


def test_a_footnote_reference_is_dropped() -> None:
    assert paragraph('effect<xref ref-type="fn" rid="fn1">a</xref> was') == "effect was"


# --- MathML --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<mi>a</mi><mspace/><mi>b</mi>", "a b"),
        ("<mtext>if</mtext><mspace/><mi>x</mi>", "if x"),
        ("<ms>abc</ms>", "abc"),
        ("<mi>a</mi><mi>b</mi>", "ab"),
        ("<mrow><mi>a</mi><mi>b</mi></mrow>", "ab"),
        ('<mstyle displaystyle="true"><mi>x</mi><mo>+</mo><mi>y</mi></mstyle>', "x+y"),
        ("<mi>a</mi><mphantom><mi>b</mi></mphantom>", "a"),
        (
            '<semantics><mrow><mi>x</mi><mo>+</mo><mn>1</mn></mrow><annotation encoding="TeX">x+1</annotation>'
            "</semantics>",
            "x+1",
        ),
        ("<mi>y</mi><semantics/>", "y"),
        ("<semantics><mi>x</mi><mtext>as typed</mtext></semantics>", "x"),
    ],
)
def test_mathml_tokens_rows_and_semantics_are_their_text(xml: str, expected: str) -> None:
    assert mathml(xml) == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<msup><mi>x</mi><mo>*</mo></msup>", "x^*"),
        ("<msup><mi>x</mi></msup>", "x"),
        ("<mi>a</mi><munder><mo>=</mo></munder><mi>b</mi>", "a = b"),
        ("<msubsup><mi>x</mi><mi>i</mi><mn>2</mn><mi>y</mi></msubsup>", "x_i^2"),
        ("<munder><mo>lim</mo><mrow><mi>n</mi><mo>→</mo><mi>∞</mi></mrow></munder>", "lim_(n → ∞)"),
        ("<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>", "x_i^2"),
        ("<munderover><mi>F</mi><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>", "F_(i = 1)^n"),
        ("<msubsup><mi>x</mi><mi>i</mi></msubsup>", "xi"),
        ('<mover accent="true"><mi>v</mi><mtext>→</mtext></mover>', "v→"),
        ("<mover><mi>x</mi><mi>n</mi></mover>", "x^n"),
        ('<mover accent="false"><mi>x</mi><mi>n</mi></mover>', "x^n"),
        ("<mover><mi>x</mi><mrow><mi>n</mi><mo>+</mo><mn>1</mn></mrow></mover>", "x^(n+1)"),
    ],
)
def test_mathml_scripts_and_accents(xml: str, expected: str) -> None:
    assert mathml(xml) == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<mroot><mi>x</mi><mn>3</mn></mroot>", "root(x, 3)"),
        ("<mfrac><mi>a</mi></mfrac>", "a"),
        ("<mfrac><mi>a</mi><mi>b</mi><mi>c</mi></mfrac>", "abc"),
        ("<mroot><mi>x</mi></mroot>", "x"),
        ("<mroot><mi>x</mi><mn>3</mn><mi>y</mi></mroot>", "x3y"),
    ],
)
def test_a_fraction_or_root_of_exactly_two_parts_is_written_out_and_any_other_is_its_parts(
    xml: str, expected: str
) -> None:
    assert mathml(xml) == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<mfenced><mi>a</mi><mi>b</mi><mi>c</mi></mfenced>", "(a, b, c)"),
        ('<mfenced open="[" close="]"><mi>a</mi><mi>b</mi></mfenced>', "[a, b]"),
        ('<mfenced separators=";"><mi>a</mi><mi>b</mi></mfenced>', "(a; b)"),
        ('<mfenced separators=";,"><mi>a</mi><mi>b</mi></mfenced>', "(a; b)"),
        ('<mfenced separators=" "><mi>a</mi><mi>b</mi></mfenced>', "(ab)"),
        (
            "<mtable><mtr><mtd><mi>a</mi></mtd><mtd><mi>b</mi></mtd></mtr>"
            "<mtr><mtd><mi>c</mi></mtd><mtd><mi>d</mi></mtd></mtr></mtable>",
            "a, b; c, d",
        ),
    ],
)
def test_mathml_fences_and_tables(xml: str, expected: str) -> None:
    assert mathml(xml) == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<msup><mn>10</mn><mrow><mo>−</mo><mn>3</mn></mrow></msup>", "10^−3"),
        ("<msup><mi>e</mi><mfenced><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow></mfenced></msup>", "e^(a+b)"),
        (
            "<msup><mi>x</mi><mrow><mo>(</mo><mo>(</mo><mi>a</mi><mo>)</mo><mo>+</mo><mi>b</mi><mo>)</mo></mrow></msup>",
            "x^((a)+b)",
        ),
        (
            "<msup><mi>x</mi><mrow><mo>(</mo><mi>a</mi><mo>)</mo><mo>+</mo><mo>(</mo><mi>b</mi><mo>)</mo></mrow></msup>",
            "x^((a)+(b))",
        ),
        ("<msup><mi>e</mi><mfenced><mrow><mi>n</mi><mo>+</mo><mn>10</mn></mrow></mfenced></msup>", "e^(n+10)"),
        (f"<msup><mi>e</mi><mfenced><mi>{'k' * 300}</mi></mfenced></msup>", f"e^({'k' * 300})"),
        (
            "<msup><mi>x</mi><mrow><mfenced><mrow><mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi></mrow></mfenced>"
            "<mfenced><mi>d</mi></mfenced></mrow></msup>",
            "x^((a+b+c)(d))",
        ),
        ('<msub><mi>x</mi><mfenced open="(" close="]"><mn>0</mn><mn>1</mn></mfenced></msub>', "x_((0, 1])"),
        ("<msup><mi>x</mi><mrow><mo>(</mo><mi>a</mi><mo>)</mo><mo>)</mo></mrow></msup>", "x^((a)))"),
    ],
)
def test_an_operand_is_bracketed_once_unless_one_round_bracket_pair_already_encloses_it(
    xml: str, expected: str
) -> None:
    assert mathml(xml) == expected


# --- article structure and metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["abstract", "articles", "pmc-articleset"])
def test_a_root_element_other_than_article_is_a_parse_error(root: str) -> None:
    with pytest.raises(ParseError, match=f"root element is <{root}>"):
        jats.read_article(f"<{root}><body><p>x</p></body></{root}>".encode())


@pytest.mark.parametrize("marker", ["<!-- check -->", "<?page 3?>"])
def test_comments_and_processing_instructions_do_not_cut_a_paragraph(marker: str) -> None:
    assert paragraph(f"Uptake {marker}rose.") == "Uptake rose."


def test_an_external_entity_is_never_read_and_the_text_after_it_stays(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret words")
    xml = (
        f'<!DOCTYPE article [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
        "<article><body><p>Before &leak; after.</p></body></article>"
    )
    assert jats.read_article(xml.encode()).text == "Before after."


@pytest.mark.parametrize(
    "declaration",
    ['<!ENTITY e SYSTEM "">', '<!ENTITY e PUBLIC "-//X//ENTITIES Words//EN" "">', '<!ENTITY e SYSTEM "words.ent">'],
)
def test_an_external_entity_becomes_nothing_even_with_an_empty_system_identifier(declaration: str) -> None:
    data = f"<!DOCTYPE article [{declaration}]>".encode() + article("<p>Before &e; after.</p>")

    assert jats.read_article(data).text == "T\n\nBefore after."


PMC_DOCTYPE = (
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN" '
    '"JATS-archivearticle1.dtd">'
)


@pytest.mark.parametrize(
    ("xml", "text"),
    [
        ("a &ndash; b", "a – b"),
        ("&alpha;-blockers", "α-blockers"),
        ("<i>in vitro</i> &amp; <i>in vivo</i> &times; 2", "in vitro & in vivo × 2"),
        ("dose &le; 5 mg&nbsp;daily", "dose ≤ 5 mg daily"),  # a no-break space reads as a space
        ("an &unknownentity; name", "an name"),
    ],
)
def test_a_named_entity_becomes_its_character_and_the_text_after_it_stays(xml: str, text: str) -> None:
    data = PMC_DOCTYPE.encode() + article(f"<p>{xml}</p>")

    assert jats.read_article(data).text == f"T\n\n{text}"


def test_an_entity_the_article_declares_becomes_its_replacement_text() -> None:
    data = b'<!DOCTYPE article [<!ENTITY who "the authors">]>' + article("<p>Written by &who; in 2020.</p>")

    assert jats.read_article(data).text == "T\n\nWritten by the authors in 2020."


def test_an_external_dtd_is_never_read(tmp_path: Path) -> None:
    dtd = tmp_path / "broken.dtd"
    dtd.write_text("this is <not a dtd")
    xml = f'<!DOCTYPE article SYSTEM "{dtd.as_uri()}"><article><body><p>Text.</p></body></article>'
    assert jats.read_article(xml.encode()).text == "Text."


def test_an_article_read_cannot_be_changed() -> None:
    found = jats.read_article(article())
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.text = "changed"  # type: ignore[misc]


def test_an_article_without_front_matter_is_its_body_without_metadata() -> None:
    found = jats.read_article(b'<article article-type=""><body><p>Only text.</p></body></article>')
    assert (found.text, found.has_content) == ("Only text.", True)
    assert (found.title, found.pmcid, found.pmid, found.doi, found.article_type) == (None, None, None, None, None)
    assert (found.journal, found.date, found.lang, found.license) == (None, None, None, None)


def test_the_untyped_abstract_is_the_abstract_even_after_a_typed_one() -> None:
    front = '<abstract abstract-type="summary"><p>Plain words.</p></abstract><abstract><p>The abstract.</p></abstract>'
    text = jats.read_article(article("<p>Body.</p>", front)).text
    assert text == "T\n\n# Abstract\n\nThe abstract.\n\n# Author summary\n\nPlain words.\n\nBody."


def test_without_an_untyped_abstract_the_first_one_but_a_teaser_or_summary_is_the_abstract() -> None:
    front = (
        '<abstract abstract-type="teaser"><p>Tease.</p></abstract><abstract abstract-type="short"><p>Short.</p>'
        '</abstract><abstract abstract-type="summary"><sec><title>Why</title><p>Reason.</p></sec></abstract>'
    )
    text = jats.read_article(article("<p>Body.</p>", front)).text
    assert text == "T\n\n# Abstract\n\nShort.\n\n# Author summary\n\n## Why\n\nReason.\n\nBody."


def test_floating_figures_follow_the_body() -> None:
    xml = (
        "<article><body><p>Text.</p></body><floats-group><fig><label>Figure 1</label><caption><p>Map.</p></caption>"
        "</fig></floats-group></article>"
    )
    assert jats.read_article(xml.encode()).text == "Text.\n\nFigure 1. Map."


@pytest.mark.parametrize(
    ("front", "body", "back", "expected"),
    [
        ("<abstract><p>Only an abstract.</p></abstract>", "", "", True),
        ('<abstract abstract-type="summary"><p>Only a summary.</p></abstract>', "", "", True),
        ("", "<p>Only a body.</p>", "", True),
        ("", "", f"<glossary>{DEFINITION}</glossary>", False),
    ],
)
def test_an_article_has_content_when_it_has_an_abstract_a_summary_or_a_body(
    front: str, body: str, back: str, expected: bool
) -> None:
    assert jats.read_article(article(body, front, back)).has_content is expected


def test_each_identifier_comes_from_its_own_id_type_whatever_the_order() -> None:
    found = front_matter(
        '<article-id pub-id-type="art-access-id">10023</article-id>'
        '<article-id pub-id-type="publisher-id">e0212345</article-id>'
        '<article-id pub-id-type="pmid">31000001</article-id>'
        '<article-id pub-id-type="pmc">7000001</article-id>'
        '<article-id pub-id-type="doi">10.1000/x.1</article-id>'
    )
    assert (found.pmcid, found.pmid, found.doi) == ("PMC7000001", "31000001", "10.1000/x.1")


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ('<article-id pub-id-type="pmcid">PMC7000002</article-id>', "PMC7000002"),
        ('<article-id pub-id-type="pmcaid">7000003</article-id>', "PMC7000003"),
        (
            '<article-id pub-id-type="pmcid">PMC7000002</article-id><article-id pub-id-type="pmc">7000001</article-id>',
            "PMC7000001",
        ),
        (
            '<article-id pub-id-type="pmc">n/a</article-id><article-id pub-id-type="pmcid">PMC7000002</article-id>',
            "PMC7000002",
        ),
        ('<article-id pub-id-type="pmc">PMC-7000001</article-id>', None),
    ],
)
def test_the_pmcid_is_the_first_well_formed_pmc_then_pmcid_then_pmcaid(ids: str, expected: str | None) -> None:
    assert front_matter(ids).pmcid == expected


def test_an_empty_identifier_is_skipped() -> None:
    ids = '<article-id pub-id-type="doi"> </article-id><article-id pub-id-type="doi">10.1000/x.2</article-id>'
    assert front_matter(ids).doi == "10.1000/x.2"


@pytest.mark.parametrize("publication_format", ["electronic", "online-only", "video"])
def test_a_publication_date_in_any_format_but_print_is_the_electronic_one(publication_format: str) -> None:
    dates = (
        '<pub-date date-type="pub" publication-format="print"><year>2020</year></pub-date>'
        f'<pub-date date-type="pub" publication-format="{publication_format}"><year>2021</year></pub-date>'
    )
    assert front_matter(dates).date == "2021"


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (
            '<pub-date date-type="pub" publication-format="print"><year>2020</year></pub-date>'
            '<pub-date pub-type="collection"><year>2019</year></pub-date>',
            "2020",
        ),
        (
            '<pub-date pub-type="collection"><year>2019</year></pub-date>'
            '<pub-date pub-type="ppub"><year>2020</year></pub-date>',
            "2020",
        ),
        (
            '<pub-date pub-type="collection"><year>2019</year></pub-date>'
            '<pub-date pub-type="epub-ppub"><year>2020</year></pub-date>',
            "2020",
        ),
        (
            '<pub-date pub-type="epub"><year>2021</year></pub-date>'
            '<pub-date pub-type="epub"><year>2022</year></pub-date>',
            "2021",
        ),
        (
            '<pub-date pub-type="epub"><year>21</year></pub-date>'
            '<pub-date pub-type="ppub"><year>2020</year></pub-date>',
            "2020",
        ),
        ('<pub-date pub-type="received"><year>2018</year></pub-date>', None),
    ],
)
def test_the_date_is_the_first_usable_epub_then_ppub_then_collection_date(dates: str, expected: str | None) -> None:
    assert front_matter(dates).date == expected


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ('<pub-date pub-type="epub" iso-8601-date="2021-05"/>', "2021-05"),
        ('<pub-date pub-type="epub" iso-8601-date="2021-00-00"><year>2021</year></pub-date>', "2021"),
        (
            '<pub-date pub-type="epub" iso-8601-date="2021-05-00"><month>5</month><year>2021</year></pub-date>',
            "2021-05",
        ),
        ('<pub-date pub-type="epub" iso-8601-date="May 2021"><year>2021</year></pub-date>', "2021"),
        ('<pub-date pub-type="epub"><month>0</month><year>2019</year></pub-date>', "2019"),
        ('<pub-date pub-type="epub"><month>1</month><year>2019</year></pub-date>', "2019-01"),
        ('<pub-date pub-type="epub"><month>12</month><year>2019</year></pub-date>', "2019-12"),
        ('<pub-date pub-type="epub"><month>13</month><year>2019</year></pub-date>', "2019"),
        ('<pub-date pub-type="epub"><month>September</month><year>2019</year></pub-date>', "2019-09"),
        ('<pub-date pub-type="epub"><month>Sept</month><year>2019</year></pub-date>', "2019-09"),
        ('<pub-date pub-type="epub"><month>Spring</month><year>2019</year></pub-date>', "2019"),
        ('<pub-date pub-type="epub"><day>30</day><month>4</month><year>2019</year></pub-date>', "2019-04-30"),
        ('<pub-date pub-type="epub"><day>31</day><month>4</month><year>2019</year></pub-date>', "2019-04"),
        ('<pub-date pub-type="epub"><day>29</day><month>2</month><year>2020</year></pub-date>', "2020-02-29"),
        ('<pub-date pub-type="epub"><day>29</day><month>2</month><year>2019</year></pub-date>', "2019-02"),
    ],
)
def test_a_date_is_as_precise_as_its_valid_parts(date: str, expected: str) -> None:
    assert front_matter(date).date == expected


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        ("<license><license-p>Dedicated to the public domain under CC0.</license-p></license>", "CC0-1.0"),
        ("<license><license-p>Public Domain Dedication</license-p></license>", "CC0-1.0"),
        ("<license><license-p>This article is in the public domain.</license-p></license>", "public-domain"),
        (
            "<license><license-p>See https://creativecommons.org/licenses/by-sa/4.0/ for terms.</license-p></license>",
            "CC-BY-SA-4.0",
        ),
        (
            '<license xlink:href="https://example.org/terms"><license-p>Journal terms.</license-p></license>'
            '<license xlink:href="https://creativecommons.org/licenses/by-nd/4.0/">x</license>',
            "CC-BY-ND-4.0",
        ),
        (
            '<license><ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0/">'
            "www.creativecommons.org/licenses/by-nc/4.0/</ali:license_ref></license>",
            "CC-BY-NC-4.0",
        ),
        ('<license license-type="public-domain"><license-p>Free to use.</license-p></license>', "public-domain"),
        ('<license license-type="open-access"><license-p>Free to read.</license-p></license>', None),
        ('<license license-type="unrestricted"><license-p>Free to read.</license-p></license>', None),
        ("<copyright-statement>© 2020 The Authors. Published under CC BY 4.0.</copyright-statement>", "CC-BY-4.0"),
        (
            "<copyright-statement>Open access under CC BY.</copyright-statement>"
            "<license><license-p>See the journal site.</license-p></license>",
            "CC-BY",
        ),
        ("", None),
    ],
)
def test_licence_from_urls_text_type_then_copyright_statement(permissions: str, expected: str | None) -> None:
    assert front_matter(f"<permissions>{permissions}</permissions>").license == expected


@pytest.mark.parametrize(("kind", "family"), [("cc-by-nc", "CC-BY-NC"), ("CC BY", "CC-BY"), ("cc by-sa", "CC-BY-SA")])
def test_a_licence_type_names_the_creative_commons_licence_when_nothing_else_does(kind: str, family: str) -> None:
    found = front_matter(
        f'<permissions><license license-type="{kind}"><license-p>x</license-p></license></permissions>'
    )
    assert found.license == family  # the type states no version, and none is added


@pytest.mark.parametrize(("lang", "expected"), [("pt-BR", "pt"), ("EN", "en"), ("en-GB-oxendict", "en"), ("eng", None)])
def test_language_is_a_two_letter_primary_subtag(lang: str, expected: str | None) -> None:
    assert front_matter("", attributes=f'xml:lang="{lang}"').lang == expected


@pytest.mark.parametrize(
    ("journal", "expected"),
    [
        ('<journal-id journal-id-type="nlm-ta">J Abbr</journal-id>', "J Abbr"),
        (
            '<journal-id journal-id-type="nlm-ta">J Abbr</journal-id><journal-title>Old Journal</journal-title>',
            "Old Journal",
        ),
        ('<journal-id journal-id-type="iso-abbrev">J. Abbr.</journal-id>', None),
    ],
)
def test_journal_is_its_title_else_its_nlm_abbreviation(journal: str, expected: str | None) -> None:
    assert front_matter("", journal=f"<journal-meta>{journal}</journal-meta>").journal == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>", "∑_(i = 1)^n"),
        ("<msub><mo>∫</mo><mn>0</mn></msub>", "∫_0"),
        ("<msub><mi>x</mi><mo>∞</mo></msub>", "x_∞"),
        ("<msub><mi>x</mi><mrow><mo>∞</mo><mo>∞</mo></mrow></msub>", "x_(∞∞)"),
    ],
)
def test_a_one_symbol_operand_takes_no_brackets_and_two_symbols_do(xml: str, expected: str) -> None:
    assert mathml(xml) == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("", "(a, b, c)"),
        ('separators=""', "(abc)"),
        ('separators=";"', "(a; b; c)"),
        ('separators=";,"', "(a; b, c)"),
        ('separators=" ; , "', "(a; b, c)"),
        ('separators=";,|"', "(a; b, c)"),
    ],
)
def test_fence_separators_go_one_per_gap_the_last_repeating_and_none_when_empty(attributes: str, expected: str) -> None:
    assert mathml(f"<mfenced {attributes}><mi>a</mi><mi>b</mi><mi>c</mi></mfenced>") == expected


@pytest.mark.parametrize(
    ("separators", "parts", "expected"),
    [
        (",;:", "abcd", "(a, b; c: d)"),
        (",;:", "abcde", "(a, b; c: d: e)"),
        (",;:|", "abcde", "(a, b; c: d| e)"),
        (",;:|", "abcdef", "(a, b; c: d| e| f)"),
    ],
)
def test_three_or_more_fence_separators_are_each_used_once_before_the_last_repeats(
    separators: str, parts: str, expected: str
) -> None:
    operands = "".join(f"<mi>{part}</mi>" for part in parts)
    assert mathml(f'<mfenced separators="{separators}">{operands}</mfenced>') == expected


def test_a_formula_group_inside_a_formula_group_gives_its_formulas() -> None:
    body = (
        "<disp-formula-group><disp-formula><tex-math>a=b</tex-math></disp-formula><disp-formula-group>"
        "<disp-formula><tex-math>c=d</tex-math></disp-formula></disp-formula-group></disp-formula-group>"
    )

    assert body_text(body) == "a=b\n\nc=d"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<answer>Loose text<p>Para.</p> after <i>it</i>.</answer>", "Loose text\n\nPara.\n\nafter it."),
        ("<question><label>Q1</label><title>Which?</title>Pick one.<p>A or B.</p></question>", "Pick one.\n\nA or B."),
        ("<answer><p>Only a block.</p></answer>", "Only a block."),
    ],
)
def test_an_element_of_no_rule_holding_blocks_keeps_its_loose_text_around_them(body: str, expected: str) -> None:
    assert body_text(body) == expected


def test_without_a_head_a_span_in_the_first_row_repeats_across_the_header() -> None:
    rows = '<tr><td colspan="2">Dose</td></tr><tr><td>1</td><td>2</td></tr><tr><td colspan="2">x</td></tr>'

    assert table_text(rows) == "Table 1. Doses.\n\n| Dose | Dose |\n| --- | --- |\n| 1 | 2 |\n| x | |"
