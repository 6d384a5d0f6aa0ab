"""Every quality rule on both sides of its boundary, with texts whose counts can be read off by eye."""

import pytest

from gap_replay.documents import Document
from gap_replay.recipe import FilterConfig
from gap_replay.text.quality import (
    AlphaWordRatio,
    DuplicateLines,
    EllipsisLines,
    License,
    LinePunctuation,
    MeanWordLength,
    Retracted,
    SymbolRatio,
    WordCount,
    _units,
    build_rules,
)


def doc(text: str, **meta) -> Document:
    return Document(id="t:1", source="guidelines", subsource="who", text=text, meta=meta)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("one two", "too_few_words"),
        ("one two three", None),  # exactly the minimum
        ("one two three four five", None),  # exactly the maximum
        ("one two three four five six", "too_many_words"),
    ],
)
def test_word_count_keeps_the_minimum_and_the_maximum(text, verdict):
    assert WordCount(min_words=3, max_words=5)(doc(text)) == verdict


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("ab abc", "mean_word_length"),  # 2.5
        ("abc abc", None),  # 3.0, the minimum
        ("abcde abcde", None),  # 5.0, the maximum
        ("abcde abcdef", "mean_word_length"),  # 5.5
    ],
)
def test_mean_word_length_keeps_both_bounds(text, verdict):
    assert MeanWordLength(minimum=3.0, maximum=5.0)(doc(text)) == verdict


def test_mean_word_length_is_not_rounded_down():
    assert MeanWordLength(minimum=3.0, maximum=3.4)(doc("abc abcd")) == "mean_word_length"  # 3.5, not 3


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("one two three four ##", None),  # two hashes for four words: exactly 0.5 a word
        ("one two three four ###", "symbol_ratio"),
        ("one two three four ...", None),  # one ellipsis
        ("12 34 56 78 ##", None),  # numbers are words too: the ratio is per word, not per word with a letter
        ("# Heading\n\none two three four #", None),  # a heading mark is not a hash
    ],
)
def test_symbol_ratio_keeps_exactly_the_maximum(text, verdict):
    assert SymbolRatio(maximum=0.5)(doc(text)) == verdict


@pytest.mark.parametrize(
    ("text", "verdict"),
    [("abc def 123 456", None), ("abc 123 456 789", "alpha_word_ratio")],  # 2 of 4 is the minimum; 1 of 4 is not
)
def test_alpha_word_ratio_keeps_exactly_the_minimum(text, verdict):
    assert AlphaWordRatio(minimum=0.5)(doc(text)) == verdict


@pytest.mark.parametrize(
    ("endings", "verdict"),
    [(("...", "...", ".", "."), None), (("...", "…", "...", "."), "ellipsis_lines")],  # 2 of 4 ok; 3 of 4 not
)
def test_ellipsis_lines_keep_exactly_the_maximum(endings, verdict):
    text = "\n".join(f"Line number {n}{ending}" for n, ending in enumerate(endings))
    assert EllipsisLines(maximum=0.5)(doc(text)) == verdict


@pytest.mark.parametrize(
    ("lines", "verdict"),
    [
        (["Take with food", "Take with food", "Store below 25C", "Keep dry please"], None),  # 1 repeat in 4
        (["Take with food", "Take with food", "Take with food", "Keep dry please"], "duplicate_lines"),  # 2 in 4
        (["abcdefghij", "abcdefghij", "abcdefghij", "Keep dry please"], "duplicate_lines"),  # 10 chars count
        (["abcdefghi", "abcdefghi", "abcdefghi", "Keep dry please"], None),  # 9 chars are too short to count
    ],
)
def test_duplicate_lines_keep_exactly_the_maximum_and_count_lines_from_ten_characters(lines, verdict):
    assert DuplicateLines(maximum=0.25)(doc("\n".join(lines))) == verdict


def units_text(ending: int, total: int) -> str:
    """`total` paragraphs, the first `ending` of them ending in a full stop."""
    return "\n\n".join(f"Paragraph {n} about dosing{'.' if n < ending else ''}" for n in range(total))


@pytest.mark.parametrize(
    ("ending", "total", "verdict"),
    [
        (3, 5, None),  # 3 of 5 is exactly the minimum
        (2, 5, "line_punctuation"),
        (0, 5, "line_punctuation"),  # five units: the rule judges
        (0, 4, None),  # four units: too few to judge
    ],
)
def test_line_punctuation_keeps_exactly_the_minimum_and_judges_from_five_units(ending, total, verdict):
    assert LinePunctuation(minimum=0.6)(doc(units_text(ending, total))) == verdict


def test_units_end_at_a_table_row_of_two_pipes_and_at_a_capitalised_line():
    assert _units("Intro text.\nx | y | z\nnext line") == [("Intro text.", True), ("next line", False)]
    assert _units("first line.\nSecond line") == [("first line.", True), ("Second line", False)]
    assert _units("first line\nsecond line.") == [("first line", True)]
    assert _units("one line.") == [("one line.", True)]
    assert _units("") == []


def test_only_a_true_flag_marks_a_document_retracted_or_redistributable():
    assert Retracted()(doc("x", retracted=True)) == "retracted"
    assert Retracted()(doc("x", retracted=1)) is None
    rule = License(None, redistributable_only=True)
    assert rule(doc("x", redistributable=True)) is None
    assert rule(doc("x", redistributable=1)) == "not_redistributable"


@pytest.mark.parametrize(
    ("setting", "rule"),
    [
        ({"min_alpha_word_ratio": 0.0}, AlphaWordRatio),
        ({"min_line_punctuation_ratio": 0.0}, LinePunctuation),
        ({"max_ellipsis_line_ratio": 1.0}, EllipsisLines),
        ({"max_duplicate_line_ratio": 1.0}, DuplicateLines),
    ],
)
def test_a_ratio_at_its_no_op_bound_turns_its_rule_off_and_just_inside_it_on(setting, rule):
    ((name, bound),) = setting.items()
    inside = 0.01 if bound == 0.0 else 0.99
    assert not any(isinstance(each, rule) for each in build_rules(FilterConfig(**setting)))
    assert any(isinstance(each, rule) for each in build_rules(FilterConfig(**{name: inside})))
