"""API fragments (NICE chapters, MAGIC recommendations, MediaWiki pages) to Markdown, element by element."""

import json
from pathlib import Path

import pytest

from gap_replay.sources.guidelines.fragments import fragment_to_markdown

NICE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "guidelines" / "real" / "nice"


def test_headings_paragraphs_lists_and_tables_keep_their_structure():
    html = """<h3>Dosing</h3><p>Give <b>amoxicillin</b>
    twice daily.</p><ul><li>Adults: 500 mg</li><li>Children:<ul><li>under 5: 125 mg</li></ul></li></ul>
    <table><tr><th>Age</th><th>Dose</th></tr><tr><td>1-4</td><td>125 mg</td></tr></table>"""
    assert fragment_to_markdown(html) == (
        "## Dosing\n\nGive amoxicillin twice daily.\n\n- Adults: 500 mg\n- Children:\n  - under 5: 125 mg\n\n"
        "| Age | Dose |\n| --- | --- |\n| 1-4 | 125 mg |"
    )


def test_citations_go_and_sub_and_superscripts_keep_their_meaning():
    html = (
        '<p>Stroke units save lives<span class="magic-ref"><cite class="magic-cite" data-label="1">[1]</cite></span>'
        "<sup>2,3</sup>. Clearance was 10<sup>-4</sup> s<sup>-1</sup> in CO<sub>2</sub>.</p>"
    )
    assert fragment_to_markdown(html) == "Stroke units save lives. Clearance was 10^-4 s^-1 in CO_2."


def test_line_breaks_split_lines_and_scripts_vanish():
    assert fragment_to_markdown("<br>\nWe suggest alpha blockers.<br><script>x()</script>Off-label use.") == (
        "We suggest alpha blockers.\nOff-label use."
    )


@pytest.mark.parametrize("html", ["", "   ", "<div></div>"])
def test_an_empty_fragment_is_empty_text(html):
    assert fragment_to_markdown(html) == ""


@pytest.mark.skipif(not NICE.exists(), reason="needs ../shared/samples/guidelines/real/nice (a saved NICE chapter)")
def test_a_real_nice_chapter_keeps_every_numbered_recommendation_in_order():
    chapter = json.loads((NICE / "nice_publications-feed_ng100_chapter_recommendations.json").read_text())
    text = fragment_to_markdown(chapter["Content"])
    numbers = [line.split(" ", 1)[0] for line in text.splitlines() if line[:2] == "1." and line[2:3].isdigit()]
    assert numbers[:3] == ["1.1.1", "1.1.2", "1.1.3"] and len(numbers) == len(set(numbers)) >= 40
    assert "### 1.1 Referral, diagnosis and investigations" in text
    assert "<" not in text and "\ufffd" not in text


def test_a_dropped_citation_leaves_no_space_before_punctuation_and_zero_width_spaces_go():
    html = '<p>Follow up at six weeks <cite class="magic-cite">[4]</cite>. Review\u200b the dose <cite>(2012)</cite>'
    html += ", then stop.</p>"
    assert fragment_to_markdown(html) == "Follow up at six weeks. Review the dose, then stop."


def test_a_table_caption_comes_before_its_table():
    html = "<table><caption>Table 1. Doses</caption><tr><th>Age</th></tr><tr><td>2</td></tr></table>"
    assert fragment_to_markdown(html) == "Table 1. Doses\n\n| Age |\n| --- |\n| 2 |"
