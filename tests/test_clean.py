from pathlib import Path

import pytest

from gap_replay.documents import Document
from gap_replay.recipe import CleanConfig
from gap_replay.text.clean import clean_document, compile_patterns, drop_lines, normalize_text

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="real sample files (../shared/samples) not present")

GUIDELINE = """# Community-acquired pneumonia in children

## Recommendations

- Offer oral amoxicillin for 5 days to children with non-severe pneumonia.
  - Use 40 mg/kg per day in 2 divided doses.
- Admit children with oxygen saturation below 92%.

| Drug | Dose | Frequency |
|---|---|---|
| Amoxicillin | 40 mg/kg/day | every 12 hours |

BMI = weight (kg) / height (m)^2"""


def test_markdown_headings_bullets_tables_and_nested_items_are_kept():
    assert normalize_text(GUIDELINE) == GUIDELINE


def test_crlf_and_lone_cr_become_newlines():
    assert normalize_text("first line\r\nsecond line\rthird line") == "first line\nsecond line\nthird line"


def test_odd_spaces_and_tabs_become_one_space():
    assert normalize_text("5\u00a0mg\tevery\u2009day,\u202fthen\u3000stop") == "5 mg every day, then stop"


def test_zero_width_characters_and_soft_hyphens_are_removed():
    assert normalize_text("\ufeffparac\u00adeta\u200bmol in\u200dfusion") == "paracetamol infusion"


def test_control_characters_are_dropped_but_page_breaks_separate_lines():
    assert normalize_text("dose\x00 adjusted\x07\x1b\fnext page") == "dose adjusted\nnext page"


@pytest.mark.parametrize(
    ("char", "kept"),
    [
        ("\x1f", False),  # the last C0 control
        (" ", True),  # the first printable ASCII character
        ("~", True),  # the last printable ASCII character
        ("\x7f", False),  # DEL, the first character dropped above ASCII
        ("\x9f", False),  # the last C1 control
        ("\xa1", True),  # the first printable Latin-1 character after the no-break space
    ],
)
def test_control_character_ranges_end_where_printable_text_starts(char, kept):
    assert normalize_text(f"a{char}b") == (f"a{char}b" if kept else "ab")


def test_text_is_composed_to_nfc():
    assert normalize_text("Sjo\u0308gren syndrome") == "Sj\u00f6gren syndrome"


def test_inner_space_runs_collapse_and_trailing_spaces_go():
    assert normalize_text("| Drug   |  Dose |   \nTake  two   tablets.  ") == "| Drug | Dose |\nTake two tablets."


def test_blank_line_runs_are_limited():
    text = "Heading\n\n\n\n\nParagraph\n \n\t\nEnd"
    assert normalize_text(text) == "Heading\n\nParagraph\n\nEnd"
    assert normalize_text(text, max_blank_lines=2) == "Heading\n\n\nParagraph\n\n\nEnd"


@pytest.mark.parametrize(
    ("blank_lines", "kept"),
    [(2, 2), (3, 3), (4, 3), (6, 3)],  # up to the limit of 3 blank lines stays; more becomes 3
)
def test_the_blank_line_limit_is_exact_on_both_sides(blank_lines, kept):
    text = "Heading" + "\n" * (blank_lines + 1) + "End"
    assert normalize_text(text, max_blank_lines=3) == "Heading" + "\n" * (kept + 1) + "End"


def test_text_is_stripped_at_both_ends():
    assert normalize_text("\n\n  Key facts\n\n") == "Key facts"


def test_normalising_twice_changes_nothing():
    once = normalize_text("A\u00a0 b\r\n\r\n\r\n\tc\u200b  d \n")
    assert normalize_text(once) == once


def test_drop_lines_removes_only_whole_line_matches_and_counts_them():
    patterns = compile_patterns([r"Page \d+ of \d+", r"(?i)accept all cookies"])
    text = "Intro.\nPage 3 of 12\nSee Page 3 of 12 for doses.\n  Accept all cookies  \nEnd."
    assert drop_lines(text, patterns) == ("Intro.\nSee Page 3 of 12 for doses.\nEnd.", 2)


def test_drop_lines_without_patterns_returns_the_text_unchanged():
    assert drop_lines("a\nb", []) == ("a\nb", 0)


def test_a_bad_line_pattern_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"'\(unclosed'"):
        compile_patterns(["fine", "(unclosed"])


def test_clean_document_normalises_title_and_text_and_drops_boilerplate():
    doc = Document(
        id="guidelines/who:malaria",
        source="guidelines",
        subsource="who",
        title="  Malaria:\r\n key\u00a0facts ",
        text="Malaria is preventable.\r\n\r\nShare this page\r\n\r\nMalaria is curable.",
        license="CC-BY-NC-SA-3.0-IGO",
        meta={"version": 2},
    )
    cleaned = clean_document(doc, CleanConfig(drop_line_patterns=["Share this page"]))
    assert cleaned.title == "Malaria: key facts"
    assert cleaned.text == "Malaria is preventable.\n\nMalaria is curable."
    assert (cleaned.id, cleaned.license, cleaned.meta) == (doc.id, doc.license, doc.meta)


def test_clean_document_keeps_a_missing_title_missing():
    doc = Document(id="pubmed:1", source="pubmed", subsource="pubmed", text="Text.", title=None)
    assert clean_document(doc, CleanConfig()).title is None


@needs_samples
def test_real_page_with_mixed_line_ends_normalises_to_plain_newlines():
    page = SAMPLES / "guidelines/html/who.int_infectious-diseases-factsheet-index_2016.html"
    raw = page.read_bytes().decode("utf-8")
    assert "\r\n" in raw and "\t" in raw
    text = normalize_text(raw)
    assert "\r" not in text and "\t" not in text and "\n\n\n" not in text
    assert normalize_text(text) == text
