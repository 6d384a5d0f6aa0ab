"""Answer extraction from generated chains of thought, and the vote over several chains."""

import pytest

from gap_replay.eval.answers import extract_answer, majority

ABCD = ("A", "B", "C", "D")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amlodipine is a calcium channel blocker. The answer is (B).", ("B", "answer is")),
        ("So the answer is B", ("B", "answer is")),
        ("Answer: C", ("C", "answer is")),
        ("answer: [d]", ("D", "answer is")),
        ("First I thought the answer is A, but on reflection the answer is (C).", ("C", "answer is")),
        ("B.", ("B", "leading letter")),
        ("(A) insulin", ("A", "leading letter")),
        ("  D) aspirin is wrong", ("D", "leading letter")),
        ("C", ("C", "leading letter")),
        ("B: amlodipine", ("B", "leading letter")),
    ],
)
def test_the_usual_answer_forms_are_read(text, expected):
    assert extract_answer(text, ABCD) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The patient should be monitored closely.",
        "The answer is (E).",  # not one of this item's letters
        "The answer is Amlodipine.",  # a word, not a letter
        "Answers vary by guideline.",
        "A patient presents with fever.",  # "A" as an article starts a sentence
        "",
    ],
)
def test_no_answer_is_said_rather_than_guessed(text):
    assert extract_answer(text, ABCD) == (None, "none")


def test_only_the_items_letters_count():
    assert extract_answer("The answer is (D).", ("A", "B", "C")) == (None, "none")
    assert extract_answer("The answer is (C).", ("A", "B", "C")) == ("C", "answer is")


def test_the_majority_answer_wins_and_ties_go_to_the_earliest_letter():
    assert majority(["B", "C", "B", None, "A"]) == ("B", {"A": 1, "B": 2, "C": 1})
    assert majority(["C", "A", "C", "A"]) == ("A", {"A": 2, "C": 2})
    assert majority([None, None]) == (None, {})
