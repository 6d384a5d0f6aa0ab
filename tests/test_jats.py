"""JATS to text: structure, what is dropped, citation removal, tables, formulas and article metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gap_replay.sources import jats
from gap_replay.sources.base import ParseError

FIXTURES = Path(__file__).parent / "fixtures" / "pmc"
MML = 'xmlns:mml="http://www.w3.org/1998/Math/MathML"'


@pytest.fixture(scope="module")
def study() -> jats.Article:
    return jats.read_article((FIXTURES / "study.nxml").read_bytes())


def article(body: str, front: str = "", attributes: str = "") -> bytes:
    """A minimal JATS article around a body (and extra article-meta) fragment."""
    return (
        f'<article xmlns:xlink="http://www.w3.org/1999/xlink" {MML} {attributes}>'
        f"<front><article-meta><title-group><article-title>T</article-title></title-group>{front}</article-meta></front>"
        f"<body>{body}</body></article>"
    ).encode()


def paragraph(xml: str) -> str:
    """The text one `<p>` becomes."""
    text = jats.read_article(article(f"<p>{xml}</p>")).text
    return text.split("\n\n", 1)[1]


def cite(number: str) -> str:
    return f'<xref ref-type="bibr" rid="r{number}">{number}</xref>'


# --- structure -----------------------------------------------------------------------------------------------------


def test_text_starts_with_title_then_abstract_sections_as_subheadings(study: jats.Article) -> None:
    assert study.text.startswith(
        "Tracer uptake in treated lymph nodes\n\n# Abstract\n\n## Background\n\nNodal staging guides therapy.\n\n"
        "## Results\n\nUptake fell after treatment.\n\n# Author summary\n\nWe measured tracer uptake in lymph nodes."
    )


def test_teaser_abstract_is_dropped(study: jats.Article) -> None:
    assert "Teaser" not in study.text


def test_section_headings_follow_nesting_in_document_order(study: jats.Article) -> None:
    headings = [line for line in study.text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Abstract",
        "## Background",
        "## Results",
        "# Author summary",
        "# Introduction",
        "# Methods",
        "## Imaging",
        "### Reconstruction",
        "# Results",
        "# Abbreviations",
    ]


def test_list_items_become_dashes_with_nested_items_indented(study: jats.Article) -> None:
    assert (
        "Eligible patients met these criteria:\n\n- age 18 years or older;\n- biopsy-proven disease, either\n"
        "  - primary or\n  - recurrent;\n- written consent."
    ) in study.text


def test_small_table_is_a_markdown_table_after_its_caption_with_notes_after_it(study: jats.Article) -> None:
    assert (
        "Table 1. Uptake by node group.\n\n"
        "| Group | SUV Before | SUV After |\n"
        "| --- | --- | --- |\n"
        "| Cervical | 6.1 | 3.4 |\n"
        "| Thoracic nodes | | |\n"
        "| Hilar | 5.2 | 2.9 |\n\n"
        "a Values are medians."
    ) in study.text


def test_table_over_the_cell_limit_keeps_only_caption_and_notes() -> None:
    text = jats.read_article((FIXTURES / "study.nxml").read_bytes(), max_table_cells=4).text
    assert "Table 1. Uptake by node group.\n\na Values are medians." in text
    assert "|" not in text


def test_figure_caption_is_labelled(study: jats.Article) -> None:
    assert "Figure 1. Uptake maps. Coronal images before and after treatment." in study.text


def test_boxed_text_and_glossary_are_kept(study: jats.Article) -> None:
    assert "Key points.\n\nUptake falls early." in study.text
    assert study.text.endswith("# Abbreviations\n\n- SUV: standardised uptake value")


@pytest.mark.parametrize(
    "dropped",
    [
        "Example University Hospital",  # affiliation
        "Quill",  # author
        "ada.quill@example.org",  # author notes
        "imaging staff",  # acknowledgements
        "Nodal imaging in practice",  # reference list
        "Tracer kinetics revisited",
        "imaginary meeting",  # footnote
        "Scanner settings",  # appendix
        "competing interests",  # conflict statement
        "Supplementary",  # supplementary material and its section
        "Data S1",
    ],
)
def test_back_matter_and_author_blocks_are_dropped(study: jats.Article, dropped: str) -> None:
    assert dropped.lower() not in study.text.lower()


def test_footnote_marker_in_title_is_dropped(study: jats.Article) -> None:
    assert study.title == "Tracer uptake in treated lymph nodes"


def test_paragraph_whitespace_is_normalised() -> None:
    assert paragraph("Blood  pressure\n   was <bold>measured</bold>\ttwice.") == "Blood pressure was measured twice."


def test_empty_article_has_no_content() -> None:
    assert not jats.read_article(article("<sec><title>Results</title></sec>")).has_content


def test_malformed_xml_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="malformed XML"):
        jats.read_article(b"<article><body><p>unclosed</body></article>")


def test_other_root_element_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="root element is <html>"):
        jats.read_article(b"<html><body/></html>")


# --- citations -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (f"as shown [{cite('3')}, {cite('4')}-{cite('7')}].", "as shown."),
        (f"as shown ({cite('3')},{cite('4')}).", "as shown."),
        (f"as shown<sup>{cite('3')},{cite('4')}</sup>.", "as shown."),
        (f"Smith et al. [{cite('12')}] found", "Smith et al. found"),
        (
            f"as reported [{cite('2')}]; later work [{cite('5')}–{cite('8')}] disagreed.",
            "as reported; later work disagreed.",
        ),
        (f"as shown (e.g., {cite('5')}).", "as shown."),
        (f"markers [{cite('1')}], [{cite('2')}] and more", "markers and more"),
        (f"change (Fig. 1; {cite('3')}) was seen", "change (Fig. 1) was seen"),
        (f"over time ({cite('9')})—as expected", "over time—as expected"),
        (
            'patients <xref ref-type="bibr" rid="b3">[3]</xref>–<xref ref-type="bibr" rid="b5">[5]</xref>.',
            "patients.",
        ),
    ],
)
def test_citation_is_removed_with_the_punctuation_that_served_it(xml: str, expected: str) -> None:
    assert paragraph(xml) == expected


def test_author_year_group_is_removed_but_narrative_citation_is_kept() -> None:
    xml = (
        'Crows form flocks (<xref ref-type="bibr" rid="a">Marr et al. 2001</xref>; '
        '<xref ref-type="bibr" rid="b">Ode 2003</xref>). <xref ref-type="bibr" rid="a">Marr et al. (2001)</xref> '
        "counted them."
    )
    assert paragraph(xml) == "Crows form flocks. Marr et al. (2001) counted them."


@pytest.mark.parametrize(
    "kept",
    ["[<sup>18</sup>F]FDG", "[Ca<sup>2+</sup>]<sub>i</sub>", "(n = 12)", "(95% CI 1.2, 3.4)", "[see Methods]", "(2)"],
)
def test_brackets_without_citations_are_untouched(kept: str) -> None:
    text = paragraph(f"Uptake of {kept} was high [{cite('4')}].")
    expected = {"[<sup>18</sup>F]FDG": "[18F]FDG", "[Ca<sup>2+</sup>]<sub>i</sub>": "[Ca2+]i"}.get(kept, kept)
    assert text == f"Uptake of {expected} was high."


def test_no_double_spaces_or_space_before_punctuation_remain() -> None:
    text = paragraph(f"First {cite('1')} , then ( {cite('2')} ) . End")
    assert "  " not in text and " ." not in text and " ," not in text


# --- formulas ------------------------------------------------------------------------------------------------------


def test_mathml_and_tex_formulas_are_readable_and_image_formulas_dropped(study: jats.Article) -> None:
    assert "computed as SUV = (C)/(D/w) for each node." in study.text
    assert "kernel of width $\\sigma^2$ millimetres." in study.text
    assert "eq3" not in study.text


@pytest.mark.parametrize(
    ("mathml", "expected"),
    [
        ("<mml:msup><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msup>", "x^2"),
        ("<mml:msub><mml:mi>x</mml:mi><mml:mi>i</mml:mi></mml:msub>", "x_i"),
        (
            "<mml:msup><mml:mi>e</mml:mi><mml:mrow><mml:mo>−</mml:mo><mml:mi>k</mml:mi><mml:mi>t</mml:mi></mml:mrow>"
            "</mml:msup>",
            "e^−kt",
        ),
        (
            "<mml:msup><mml:mi>e</mml:mi><mml:mrow><mml:mi>a</mml:mi><mml:mo>+</mml:mo><mml:mi>b</mml:mi></mml:mrow>"
            "</mml:msup>",
            "e^(a+b)",
        ),
        ("<mml:mfrac><mml:mi>a</mml:mi><mml:mi>b</mml:mi></mml:mfrac>", "(a)/(b)"),
        ("<mml:msqrt><mml:mi>x</mml:mi><mml:mo>+</mml:mo><mml:mn>1</mml:mn></mml:msqrt>", "sqrt(x+1)"),
        ("<mml:mi>y</mml:mi><mml:mo>≤</mml:mo><mml:mn>0.05</mml:mn>", "y ≤ 0.05"),
        ("<mml:mover><mml:mi>x</mml:mi><mml:mo>¯</mml:mo></mml:mover>", "x¯"),
    ],
)
def test_mathml_is_linearised(mathml: str, expected: str) -> None:
    math = etree.fromstring(f"<mml:math {MML}>{mathml}</mml:math>")
    assert jats.mathml_text(math) == expected


def test_tex_and_mathml_alternatives_prefer_tex() -> None:
    xml = (
        "Resistance <inline-formula><alternatives><tex-math>$$R_{ct}$$</tex-math>"
        "<mml:math><mml:msub><mml:mi>R</mml:mi><mml:mi>ct</mml:mi></mml:msub></mml:math>"
        '<inline-graphic xlink:href="i1.gif"/></alternatives></inline-formula> rose.'
    )
    assert paragraph(xml) == "Resistance $$R_{ct}$$ rose."


# --- metadata ------------------------------------------------------------------------------------------------------


def test_metadata_is_read_from_the_front_matter(study: jats.Article) -> None:
    assert (study.pmcid, study.pmid, study.doi) == ("PMC9900001", "39000999", "10.0000/tjm.2026.001")
    assert (study.article_type, study.journal, study.lang) == ("research-article", "Test Journal of Medicine", "en")
    assert study.date == "2026-01-14"  # epub wins over ppub
    assert study.license == "CC-BY-3.0"


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ('<pub-date pub-type="collection"><year>2019</year></pub-date>', "2019"),
        ('<pub-date pub-type="ppub"><season>Jan-Feb</season><year>2019</year></pub-date>', "2019"),
        ('<pub-date pub-type="ppub"><month>Mar</month><year>2019</year></pub-date>', "2019-03"),
        ('<pub-date date-type="pub" publication-format="electronic" iso-8601-date="2021-05-04"/>', "2021-05-04"),
    ],
)
def test_publication_date_is_iso(dates: str, expected: str) -> None:
    assert jats.read_article(article("<p>x</p>", dates)).date == expected


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        ('<license xlink:href="http://creativecommons.org/licenses/by-nc/3.0">x</license>', "CC-BY-NC-3.0"),
        ('<license xlink:href="https://creativecommons.org/publicdomain/zero/1.0/">x</license>', "CC0-1.0"),
        ('<license xlink:href="http://creativecommons.org/publicdomain/mark/1.0/">x</license>', "public-domain"),
        (
            "<license><license-p>Licensed under a Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 "
            "International License.</license-p></license>",
            "CC-BY-NC-ND-4.0",
        ),
        ("<license><license-p>Creative Commons Attribution License</license-p></license>", "CC-BY"),
        ("<license><license-p>Creative Commons Attribution 2.5 License</license-p></license>", "CC-BY-2.5"),
        ("<license><license-p>Distributed under CC BY-NC.</license-p></license>", "CC-BY-NC"),
        ("<license><license-p>Distributed under CC BY-NC 4.0.</license-p></license>", "CC-BY-NC-4.0"),
        ('<license xlink:href="https://creativecommons.org/licenses/by/">x</license>', "CC-BY"),
        ('<license xlink:href="https://creativecommons.org/licenses/by/3.0/igo/">x</license>', "CC-BY-3.0-IGO"),
        ("<license><license-p>All rights reserved.</license-p></license>", None),
    ],
)
def test_licence_from_xml(permissions: str, expected: str | None) -> None:
    front = f"<permissions>{permissions}</permissions>"
    assert jats.read_article(article("<p>x</p>", front)).license == expected


def test_licence_from_copyright_statement_of_old_articles() -> None:
    front = "<copyright-statement>Open access under the Creative Commons Attribution License.</copyright-statement>"
    assert jats.read_article(article("<p>x</p>", front)).license == "CC-BY"


def test_language_is_the_primary_subtag_of_xml_lang() -> None:
    assert jats.read_article(article("<p>x</p>", attributes='xml:lang="pt-BR"')).lang == "pt"
    assert jats.read_article(article("<p>x</p>")).lang is None
