"""Quality thresholds calibrated per source on a labelled set of medical text and junk, the rule fixes that medical
text needed, and the bench that prints the calibration (`python -m gap_replay.bench_quality`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from gap_replay import bench_quality
from gap_replay.bench_quality import Item, load_items, outcome, threshold_limit
from gap_replay.documents import Document
from gap_replay.recipe import FilterConfig
from gap_replay.text.clean import normalize_text
from gap_replay.text.quality import LinePunctuation, build_rules, first_failure

LABELLED = Path(__file__).parent / "fixtures" / "quality" / "labelled.jsonl"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="real sample files (../shared/samples) not present")

SOURCES = ("guidelines", "pubmed", "pmc", "replay")
MUST_PASS = {
    "dosing_table",
    "numbered_recommendations",
    "structured_abstract",
    "formula",
    "bullet_guidance",
    "drug_monograph",
}
# Junk made of lines, links and repeats: what the rules measure (line shape, punctuation, repetition, length).
STRUCTURAL = {"navigation", "link_list", "table_of_contents", "repeated_lines"}
# Junk that reads as prose (terms and privacy pages, cookie policies, lorem ipsum, "X near me" sentences, a 404
# explained in sentences): no statistic of line shape or word form tells it from an article; it needs content rules
# (C4's policy phrases and "lorem ipsum", Gopher's repeated n-grams) that the rule set does not have.
PROSE = {"boilerplate", "cookie_page", "error_page", "filler", "keyword_stuffing"}

# The recommended thresholds, per source.
RECOMMENDED = {
    "guidelines": FilterConfig(
        min_words=40, min_alpha_word_ratio=0.5, max_duplicate_line_ratio=0.35, min_line_punctuation_ratio=0.1
    ),
    "pubmed": FilterConfig(min_words=50),
    "pmc": FilterConfig(min_alpha_word_ratio=0.5, min_line_punctuation_ratio=0.1),
    "replay": FilterConfig(),
}
# Shares of the must-fail items the recommended thresholds must catch. Structural junk: 41 of 48 are caught; the
# misses are items written at the rules' edges (link lists whose entries are questions or sentences, titles with
# subtitles that read as fields, a print header repeating on a third of the lines, a menu with two full sentences).
# Prose junk is 10 of 41 (the short pages, the keyword runs with few words or no sentence ends), so all junk is at
# least half (51 of 89). A fall below either share is a rule or a threshold that has stopped catching structure.
MIN_STRUCTURAL_CAUGHT = 0.8
MIN_CAUGHT = 0.55


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_items(LABELLED)


def words(text: str) -> int:
    """Whitespace-separated tokens holding a letter or a digit, counted without the rules' own regular expressions."""
    return sum(any(char.isalnum() for char in token) for token in text.split())


def doc(text: str, source: str = "guidelines") -> Document:
    return Document(id=f"{source}:test", source=source, subsource=source, text=text)


# --- the labelled set ----------------------------------------------------------------------------------------------


def test_the_set_has_about_two_hundred_items_with_both_labels_in_every_source(items):
    assert 180 <= len(items) <= 220
    counts = Counter((item.source, item.keep) for item in items)
    assert all(counts[source, keep] >= 15 for source in SOURCES for keep in (True, False)), counts


def test_every_row_has_exactly_source_text_keep_and_kind():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert {frozenset(row) for row in rows} == {frozenset({"source", "text", "keep", "kind"})}
    assert {row["source"] for row in rows} == set(SOURCES)


def test_kinds_are_the_named_ones_and_each_label_has_its_own(items):
    assert {item.kind for item in items if item.keep} == MUST_PASS
    assert {item.kind for item in items if not item.keep} == STRUCTURAL | PROSE


# A section label opens a paragraph, a line or a sentence: "BACKGROUND: ", "METHODS AND RESULTS: ".
ABSTRACT_LABEL = re.compile(r"(?:^|(?<=\. ))([A-Z][A-Za-z ,]{1,40}): ", re.MULTILINE)
OPENING = {"background", "objective", "objectives", "aims", "purpose", "introduction", "context", "importance"}
CLOSING = {"conclusion", "conclusions", "interpretation"}


def test_short_structured_abstracts_are_50_to_120_words_with_labels(items):
    abstracts = [item for item in items if item.source == "pubmed" and item.kind == "structured_abstract"]
    assert len(abstracts) >= 15
    for item in abstracts:
        assert 50 <= words(item.text) <= 120, item.line
        labels = {word for label in ABSTRACT_LABEL.findall(item.text) for word in label.lower().split()}
        assert labels & OPENING and labels & {"results", "findings"} and labels & CLOSING, item.line
    assert min(words(item.text) for item in abstracts) == 50, "one sits on the boundary"


# --- the recommended thresholds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_every_must_pass_item_passes_the_recommended_thresholds(items, source):
    rules = build_rules(RECOMMENDED[source])
    dropped = [
        (item.line, item.kind, reason)
        for item in items
        if item.source == source and item.keep and (reason := first_failure(item.document(), rules))
    ]
    assert dropped == []


def caught_share(items: list[Item], kinds: set[str]) -> float:
    junk = [item for item in items if item.kind in kinds]
    caught = [item for item in junk if first_failure(item.document(), build_rules(RECOMMENDED[item.source]))]
    return len(caught) / len(junk)


def test_most_structural_junk_is_caught(items):
    assert caught_share(items, STRUCTURAL) >= MIN_STRUCTURAL_CAUGHT


def test_at_least_the_stated_share_of_all_junk_is_caught(items):
    assert caught_share(items, STRUCTURAL | PROSE) >= MIN_CAUGHT


def test_the_bench_prints_the_thresholds_tested_here():
    assert bench_quality.RECOMMENDED == RECOMMENDED


@needs_samples
def test_real_documents_pass_the_recommended_thresholds():
    from gap_replay.sources import jats, pubmed
    from gap_replay.sources.guidelines.extract import html_to_markdown, pdf_to_markdown

    def reason(text: str, source: str) -> str | None:
        return first_failure(doc(normalize_text(text), source), build_rules(RECOMMENDED[source]))

    for path in sorted((SAMPLES / "pmc").glob("*.nxml")):
        assert reason(jats.read_article(path.read_bytes()).text, "pmc") is None, path.name
    pages = {
        path.stem: reason(html_to_markdown(path.read_bytes()).text, "guidelines")
        for path in SAMPLES.glob("guidelines/html/*.html")
    }
    assert pages.pop("who.int_infectious-diseases-factsheet-index_2016") == "line_punctuation"
    assert set(pages.values()) == {None}
    for path in sorted((SAMPLES / "guidelines" / "pdf").glob("*.pdf")):
        assert reason(pdf_to_markdown(path.read_bytes()).text, "guidelines") is None, path.name
    with open(SAMPLES / "pubmed" / "pubmed21n1298_slice1023.xml.gz", "rb") as stream:
        english = [
            d.text for d in pubmed.parse(stream, "slice") if isinstance(d, Document) and d.meta["languages"] == ["eng"]
        ]
    reasons = [reason(text, "pubmed") for text in english]
    assert len(reasons) > 500
    assert set(reasons) <= {None, "too_few_words"}
    assert reasons.count("too_few_words") < 0.01 * len(reasons)


# --- LinePunctuation: what medical text needed -----------------------------------------------------------------------

PUNCTUATION = LinePunctuation(FilterConfig().min_line_punctuation_ratio)

MONOGRAPH_FIELDS = """# Amoxicillin

Class: aminopenicillin

Adult dose: 500 mg every 8 hours

Child dose: 40-90 mg/kg/day in 2-3 doses

Renal impairment: 500 mg every 12 hours when CrCl is 10-30 mL/min

Adverse effects: diarrhoea, nausea, rash

Pregnancy: compatible"""


def test_a_drug_monographs_fields_count_as_statements():
    assert PUNCTUATION(doc(MONOGRAPH_FIELDS)) is None


def test_the_same_values_without_their_labels_read_as_a_menu():
    unlabelled = "\n".join(line.split(": ", 1)[-1].capitalize() for line in MONOGRAPH_FIELDS.splitlines())
    assert PUNCTUATION(doc(unlabelled)) == "line_punctuation"


SESSIONS = ["Neonatal pulmonology", "Developmental biology", "Infectious diseases", "Neonatal cardiology", "Nutrition"]
NUMBER_WORDS = ["one", "two", "three", "four", "five"]


def test_a_label_with_a_number_is_a_heading_not_a_field():
    programme = "\n".join(f"Session {n}: {topic}" for n, topic in enumerate(SESSIONS, start=1))
    assert PUNCTUATION(doc(programme)) == "line_punctuation"
    spelled = "\n".join(f"Session {word}: {topic}" for word, topic in zip(NUMBER_WORDS, SESSIONS, strict=True))
    assert PUNCTUATION(doc(spelled)) is None


MENU = """Patients and visitors
Find a doctor
Locations and directions
Clinical services
Research and clinical trials
Education and training
Careers and volunteering"""


def test_one_capitalised_item_per_line_is_judged_item_by_item():
    assert PUNCTUATION(doc(MENU)) == "line_punctuation"


def test_lines_continuing_in_lower_case_join_one_unit_of_too_few_to_judge():
    wrapped = "\n".join(line[0].lower() + line[1:] for line in MENU.splitlines())
    assert PUNCTUATION(doc(wrapped)) is None


GRADED = "\n\n".join(
    f"{number}. {advice}.\n(strong recommendation, moderate-quality evidence)"
    for number, advice in enumerate(
        [
            "Patients should bathe or shower before surgery",
            "Hair should not be removed, or only with a clipper",
            "Antibiotic prophylaxis should be given within 120 minutes before incision",
            "Chlorhexidine in alcohol should be used for skin preparation",
            "Antibiotic prophylaxis should not be prolonged after the operation",
        ],
        start=1,
    )
)


def test_a_grade_of_evidence_below_a_recommendation_does_not_hide_its_full_stop():
    assert PUNCTUATION(doc(GRADED)) is None
    assert PUNCTUATION(doc(GRADED.replace(".\n(", "\n("))) == "line_punctuation"


REFERENCE_RANGES = "Reference ranges vary between laboratories and with age and sex.\n" + "\n".join(
    f"{test} | {low}-{high} | {unit}"
    for test, low, high, unit in [
        ("Haemoglobin", 130, 170, "g/L"),
        ("Platelets", 150, 400, "x 10^9/L"),
        ("Sodium", 135, 145, "mmol/L"),
        ("Potassium", 3.5, 5.0, "mmol/L"),
        ("Creatinine", 60, 110, "umol/L"),
        ("Urea", 2.5, 7.8, "mmol/L"),
        ("Bilirubin", 3, 21, "umol/L"),
        ("Albumin", 35, 50, "g/L"),
        ("Calcium", 2.2, 2.6, "mmol/L"),
        ("Magnesium", 0.7, 1.0, "mmol/L"),
    ]
)


def test_a_table_without_outer_pipes_is_structure_not_units():
    assert PUNCTUATION(doc(REFERENCE_RANGES)) is None
    assert PUNCTUATION(doc(REFERENCE_RANGES.replace(" | ", ", "))) == "line_punctuation"


# --- the bench -----------------------------------------------------------------------------------------------------


def labelled(line: int, keep: bool, text: str, kind: str = "formula") -> Item:
    return Item(line=line, source="pubmed", kind=kind, keep=keep, text=text)


def test_a_thresholds_limit_is_the_tightest_value_that_drops_no_must_pass_item():
    items = [
        labelled(1, True, "word " * 45),
        labelled(2, True, "word " * 60),
        labelled(3, False, "word " * 30),
        labelled(4, False, "word " * 50),
    ]
    assert threshold_limit(items, "min_words") == (45, 1)


def test_an_outcome_counts_each_rule_on_its_own_and_the_misses():
    numbers = "Lot " + " ".join(str(n) for n in range(60))
    items = [labelled(1, True, numbers), labelled(2, False, "Too short."), labelled(3, False, "word " * 60)]
    result = outcome(items, FilterConfig())
    assert [item.line for item in result.false_drops["AlphaWordRatio"]] == [1]
    assert [item.line for item in result.caught["WordCount"]] == [2]
    assert [item.line for item in result.dropped_keep] == [1]
    assert [item.line for item in result.missed] == [3]


def test_current_thresholds_come_from_the_recipe_without_its_licence_settings(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: t\nsources:\n  pmc:\n    filters: {min_words: 7, allowed_licenses: biomistral}\n")
    current = bench_quality.current_filters(recipe)
    assert (current["pmc"].min_words, current["pmc"].allowed_licenses) == (7, None)
    assert current["pubmed"] == FilterConfig()


def test_the_bench_prints_a_table_per_source_and_the_recommended_recipe_block(capsys):
    assert bench_quality.main([]) == 0
    out = capsys.readouterr().out
    for source in SOURCES:
        assert f"== {source}: " in out
    assert out.count("LinePunctuation") == len(SOURCES)
    assert "recommended  all rules: false-drop rate 0/" in out
    assert "  guidelines:\n    filters: {min_words: 40, min_alpha_word_ratio: 0.5" in out
