"""Benchmark decontamination, the text rules: what is indexed, which planted items are found and which look-alikes
are not, coverage on both sides of `min_coverage`, cuts with their margin, id blocklists and the report.

`fixtures/decontamination/quiz.jsonl` holds four rows written for these tests in the benchmarks' shape: a long
question with short options (101), a short question with short options (102), a short question with one long
option and no `realidx` (line 3), and an abstract-style question with yes/no/maybe options (12345678).
"""

import json
from pathlib import Path

import pytest

from gap_replay.recipe import DecontaminationConfig
from gap_replay.text.decontaminate import (
    Benchmark,
    build_index,
    cut,
    decontamination_report,
    find_matches,
    item_texts,
    word_hashes,
    word_spans,
)

FIXTURES = Path(__file__).parent / "fixtures" / "decontamination"
ROWS = [json.loads(line) for line in (FIXTURES / "quiz.jsonl").read_text(encoding="utf-8").splitlines()]
QUESTION = ROWS[0]["question"]
# 40 distinct words: 40 - 13 + 1 = 28 13-grams, so a text holding its first k words holds k - 12 of them.
LONG = (
    "Adults presenting within four hours of ischaemic stroke onset should receive intravenous alteplase unless "
    "contraindicated because earlier reperfusion improves functional independence at ninety days while "
    "symptomatic intracranial haemorrhage remains uncommon among carefully selected patients treated promptly "
    "using standard imaging protocols"
)
LONG_WORDS = LONG.split()
LEFT = " ".join(f"left{number}" for number in range(20))
RIGHT = " ".join(f"right{number}" for number in range(20))


def quiz(ngram: int = 13, ids: tuple[str, ...] = ()):
    rows = [(str(row.get("realidx", f"line {number}")), row) for number, row in enumerate(ROWS, start=1)]
    return build_index([Benchmark("quiz", "quiz.jsonl", "0" * 64, rows, ids, "ids.json", "1" * 64)], ngram)


def long_item():
    return build_index([Benchmark("long", "long.jsonl", "0" * 64, [("7", {"question": LONG})])], 13)


def found(text: str, min_coverage: float = 0.5, index=None) -> list[tuple[str, str, str]]:
    matches = find_matches(index or quiz(), text, min_coverage)
    return [(match.part.benchmark, match.part.item, match.part.label) for match in matches]


def test_long_item_has_forty_distinct_words():
    assert len(LONG_WORDS) == 40 and len(set(LONG_WORDS)) == 40


# Words


def test_words_are_normalised_like_exact_dedup_with_digits_kept():
    assert list(word_hashes("Aspirin, 5 MG!")) == list(word_hashes("aspirin   5 mg"))
    assert list(word_hashes("aspirin 5 mg")) != list(word_hashes("aspirin 50 mg"))


def test_each_word_keeps_the_span_of_its_whitespace_token():
    assert word_spans("anti-TNF  therapy. —") == [(0, 8), (0, 8), (10, 18)]


# What is indexed


def test_a_long_question_is_indexed_with_its_options_plain_and_lettered():
    assert [label for label, _ in item_texts(ROWS[0], 13)] == ["question", "options", "lettered options"]


def test_an_option_is_indexed_alone_when_it_has_one_ngram():
    assert ("option A", ROWS[2]["options"]["A"]) in item_texts(ROWS[2], 13)
    assert not any(label.startswith("option ") for label, _ in item_texts(ROWS[0], 13))


def test_a_short_question_is_indexed_only_followed_by_its_options():
    texts = item_texts(ROWS[1], 13)
    assert texts == [
        ("question and options", "Which nerve supplies the deltoid muscle? Axillary Radial Median Ulnar"),
        (
            "question and lettered options",
            "Which nerve supplies the deltoid muscle? A Axillary B Radial C Median D Ulnar",
        ),
    ]


def test_options_too_short_together_are_not_indexed():
    assert [label for label, _ in item_texts(ROWS[3], 13)] == ["question"]


def test_an_item_under_six_words_is_not_indexed_even_with_letters():
    assert item_texts({"question": "Is it benign?", "options": {"A": "Yes", "B": "No"}}, 13) == []
    assert item_texts({"question": "Is it benign now?", "options": {"A": "Yes", "B": "No"}}, 13) != []


def test_options_may_be_a_list_of_texts_or_of_key_value_pairs():
    listed = {"question": ROWS[0]["question"], "options": list(ROWS[0]["options"].values())}
    pairs = {
        "question": ROWS[0]["question"],
        "options": [{"key": k, "value": v} for k, v in ROWS[0]["options"].items()],
    }
    assert item_texts(listed, 13) == item_texts(pairs, 13) == item_texts(ROWS[0], 13)


def test_the_index_describes_each_benchmark():
    index = quiz(ids=("12345678",))
    (described,) = index.benchmarks
    assert described["rows"] == described["items"] == 4
    # 101: question, options, lettered; 102: two whole items; line 3: option A and two blocks; 12345678: question.
    assert described["parts"] == 9
    assert described["ids"] == {"path": "ids.json", "sha256": "1" * 64, "count": 1}
    # Grams per part (words - 12, or 1 for a whole item): 101: 40 + 14 + 18; 102: 1 + 2; line 3: 2 + 26 + 30;
    # 12345678: 47; 180 in all, less option A's 2 grams, found again in both of line 3's blocks.
    assert described["ngrams"] == 180 - 2 * 2


def test_the_index_is_the_same_whatever_the_build():
    first, second = quiz(), quiz()
    assert first.keys.tolist() == second.keys.tolist() and first.owners.tolist() == second.owners.tolist()
    assert first.parts == second.parts


# Planted items are found


def test_a_verbatim_question_is_found_whole():
    (match,) = find_matches(quiz(), QUESTION, 0.5)
    assert (match.part.item, match.part.label, match.coverage) == ("101", "question", 1.0)
    assert match.text == QUESTION


def test_a_recased_respaced_repunctuated_question_is_found():
    variant = QUESTION.upper().replace(" ", "  \n ").replace(",", "").replace("?", " ...").replace("-", " ")
    assert found(variant) == [("quiz", "101", "question")]


def test_a_question_inside_a_longer_text_is_found_with_its_span():
    text = f"Case discussion from the cardiology teaching file. {QUESTION} Answer: A, see the 2023 guideline."
    (match,) = find_matches(quiz(), text, 0.5)
    assert match.runs == ((7, 59),)
    assert match.text == QUESTION


def test_a_question_without_its_options_is_found():
    assert ("quiz", "101", "question") in found(f"Practice case. {QUESTION}")


def test_options_without_their_question_are_found():
    listed = "\n".join(f"({letter}) {option}." for letter, option in ROWS[0]["options"].items())
    plain = "; ".join(ROWS[0]["options"].values())
    assert found(listed) == [("quiz", "101", "lettered options")]
    assert found(plain) == [("quiz", "101", "options")]


def test_a_long_option_alone_is_found():
    assert found(f"Mechanism: {ROWS[2]['options']['A']}.") == [("quiz", "line 3", "option A")]


def test_a_short_item_is_found_only_whole():
    whole = "Which nerve supplies the deltoid muscle? Axillary, radial, median, ulnar."
    assert found(whole) == [("quiz", "102", "question and options")]
    assert found("Quiz: which nerve supplies the deltoid muscle? (A) axillary (B) radial (C) median (D) ulnar") == [
        ("quiz", "102", "question and lettered options")
    ]
    assert found("Which nerve supplies the deltoid muscle? Axillary, radial or median.") == []


# Clean look-alikes are not


def test_the_same_topic_in_other_words_is_clean():
    text = (
        "A man in his fifties developed severe central chest pain while clearing snow two hours earlier. He was "
        "tachycardic at 112 beats per minute and hypotensive at 88/56 mm Hg. Guidelines favour aspirin and "
        "immediate percutaneous coronary intervention for such patients."
    )
    assert found(text, 0.01) == []


def test_a_stock_phrase_below_one_ngram_is_clean():
    text = "Which of the following is the most appropriate next step in management? Consider the patient's wishes."
    assert found(text, 0.01) == []


def test_a_medical_sentence_sharing_twelve_words_is_clean():
    shared = "crushing substernal chest pain that began two hours ago while he was"
    assert len(shared.split()) == 12 and shared in QUESTION
    assert found(f"Typical features include {shared} at rest, according to the registry.", 0.01) == []


def test_a_short_question_alone_is_clean():
    assert found("Which nerve supplies the deltoid muscle? The axillary nerve, from C5 and C6.") == []


# Coverage


def test_coverage_reaching_min_coverage_is_present():
    text = " ".join(LONG_WORDS[:26])  # 14 of 28 grams
    (match,) = find_matches(long_item(), text, 0.5)
    assert match.coverage == 14 / 28


def test_coverage_just_below_min_coverage_is_absent():
    text = " ".join(LONG_WORDS[:25])  # 13 of 28 grams
    assert find_matches(long_item(), text, 0.5) == []
    (match,) = find_matches(long_item(), text, 0.46)
    assert match.coverage == 13 / 28


def test_an_edited_word_lowers_coverage_but_leaves_one_run():
    words = [*LONG_WORDS[:20], "urgently", *LONG_WORDS[21:]]
    (match,) = find_matches(long_item(), " ".join(words), 0.5)
    assert match.coverage == 15 / 28  # the 13 grams holding word 20 are gone
    assert match.runs == ((0, 40),)


def test_a_digit_change_is_a_different_word():
    changed = QUESTION.replace("88/56", "98/56")
    (match,) = find_matches(quiz(), changed, 0.5)
    assert match.coverage < 1.0


# Cuts


def cut_long(text: str, margin: int) -> str:
    return cut(text, find_matches(long_item(), text, 0.5), margin)[0]


def test_a_cut_removes_the_run_and_margin_words_either_side():
    assert cut_long(f"{LEFT} {LONG} {RIGHT}", 5) == f"{' '.join(LEFT.split()[:15])}\n\n{' '.join(RIGHT.split()[5:])}"


def test_a_cut_without_margin_removes_only_the_run():
    assert cut_long(f"{LEFT}. {LONG}. {RIGHT}", 0) == f"{LEFT}.\n\n{RIGHT}"


def test_a_cut_at_the_start_keeps_what_follows_the_margin():
    assert cut_long(f"{LONG} {RIGHT}", 3) == " ".join(RIGHT.split()[3:])


def test_a_cut_at_the_end_keeps_what_precedes_the_margin():
    assert cut_long(f"{LEFT} {LONG}", 3) == " ".join(LEFT.split()[:17])


def test_a_margin_wider_than_the_text_leaves_nothing():
    assert cut_long(f"{LEFT} {LONG} {RIGHT}", 50) == ""


def test_the_removed_ranges_are_character_offsets():
    text = f"{LEFT} {LONG} {RIGHT}"
    _, removed = cut(text, find_matches(long_item(), text, 0.5), 0)
    assert removed == [(len(LEFT) + 1, len(LEFT) + 1 + len(LONG))]


def test_two_items_whose_margins_overlap_are_one_cut():
    text = f"{LEFT} {QUESTION} {' '.join(RIGHT.split()[:4])} {ROWS[2]['options']['A']} {RIGHT}"
    assert (
        cut(text, find_matches(quiz(), text, 0.5), 5)[0]
        == f"{' '.join(LEFT.split()[:15])}\n\n{' '.join(RIGHT.split()[5:])}"
    )


# Id blocklists


def test_blocked_ids_take_the_prefix():
    index = build_index([Benchmark("qa", "qa.jsonl", "0" * 64, [], ["123", "456"], id_prefix="pubmed:")], 13)
    assert dict(index.blocked) == {"pubmed:123": ("qa", "123"), "pubmed:456": ("qa", "456")}


# The report


def test_the_report_counts_per_benchmark_action_and_source():
    sources = {
        "pubmed": {
            "kept": 10,
            "decontamination": {
                "quiz/drop/documents": 2,
                "quiz/drop/tokens": 300,
                "quiz/id/documents": 1,
                "quiz/id/tokens": 120,
                "drop/documents": 2,
                "drop/tokens": 300,
                "id/documents": 1,
                "id/tokens": 120,
            },
        },
        "pmc": {
            "decontamination": {"quiz/cut/documents": 1, "quiz/cut/tokens": 75, "cut/documents": 1, "cut/tokens": 75}
        },
        "guidelines": {"kept": 3},
    }
    config = DecontaminationConfig(ngram=13, min_coverage=0.5, action={"pmc": "cut"}, margin_words=50)
    report = decontamination_report(quiz().benchmarks, config, sources)
    (quiz_report,) = report["benchmarks"]
    assert quiz_report["sha256"] == "0" * 64 and quiz_report["items"] == 4
    assert quiz_report["removed"]["documents"] == {"drop": 2, "cut": 1, "id": 1}
    assert quiz_report["removed"]["tokens"] == {"drop": 300, "cut": 75, "id": 120}
    assert quiz_report["removed"]["sources"]["pmc"] == {
        "documents": {"drop": 0, "cut": 1, "id": 0},
        "tokens": {"drop": 0, "cut": 75, "id": 0},
    }
    assert report["removed"]["sources"]["guidelines"]["documents"] == {"drop": 0, "cut": 0, "id": 0}
    assert report["removed"]["tokens"] == {"drop": 300, "cut": 75, "id": 120}
    assert report["action"] == {"guidelines": "drop", "pmc": "cut", "pubmed": "drop"}
    assert report["tokens"] == "whitespace-separated words"


def test_a_document_of_two_benchmarks_counts_once_in_the_totals():
    two = [Benchmark(name, f"{name}.jsonl", "0" * 64, []) for name in ("a", "b")]
    counts = {"a/drop/documents": 1, "b/drop/documents": 1, "drop/documents": 1}
    report = decontamination_report(
        build_index(two, 13).benchmarks, DecontaminationConfig(), {"pubmed": {"decontamination": counts}}
    )
    assert [entry["removed"]["documents"]["drop"] for entry in report["benchmarks"]] == [1, 1]
    assert report["removed"]["documents"]["drop"] == 1


@pytest.mark.parametrize("ngram", [5, 13, 20])
def test_a_verbatim_question_is_found_at_any_ngram(ngram):
    assert ("quiz", "101", "question") in found(QUESTION, index=quiz(ngram))
