"""Decontamination's rules on both sides of their boundaries, with expected values computed here by other means:
gram hashes by plain-Python arithmetic, cut ranges from the words' own character spans."""

import hashlib

import numpy as np
import pytest

from gap_replay.text.decontaminate import (
    FILTER_BITS,
    Benchmark,
    Match,
    Part,
    _runs,
    build_index,
    cut,
    find_matches,
    gram_hashes,
    item_texts,
    word_hashes,
    word_spans,
)

MIX = 0x9E3779B97F4A7C15
WORDS = [f"w{number}" for number in range(12)]


def plain_grams(words: list[int], length: int) -> list[int]:
    """The polynomial hash of each run of `length` words, modulo 2**64, one multiplication at a time."""
    grams = []
    for start in range(len(words) - length + 1):
        value = 0
        for word in words[start : start + length]:
            value = (value * MIX + word) % (1 << 64)
        grams.append(value)
    return grams


def test_gram_hashes_are_the_polynomial_hash_of_each_run():
    words = np.random.default_rng(5).integers(0, 2**63, size=9, dtype=np.uint64)
    grams = gram_hashes(words, [1, 3, 9])
    for length in (1, 3, 9):
        assert grams[length].tolist() == plain_grams([int(word) for word in words], length)


def test_a_text_shorter_than_a_gram_length_has_no_grams_of_that_length():
    words = np.arange(1, 6, dtype=np.uint64)
    assert list(gram_hashes(words, [7])) == []
    assert list(gram_hashes(words, [5, 7])) == [5]


def words(count: int, stem: str = "word") -> str:
    return " ".join(f"{stem}{number}" for number in range(count))


@pytest.mark.parametrize(("length", "indexed"), [(4, True), (3, False)])
def test_an_option_is_indexed_alone_from_exactly_one_ngram(length, indexed):
    row = {"question": words(6, "q"), "options": {"A": words(length, "a"), "B": "no"}}
    labels = [label for label, _ in item_texts(row, ngram=4)]
    assert ("option A" in labels) == indexed


@pytest.mark.parametrize(("length", "label"), [(4, "question"), (3, "question and options")])
def test_a_question_is_indexed_alone_from_exactly_one_ngram(length, label):
    row = {"question": words(length, "q"), "options": {"A": "yes", "B": "no", "C": "maybe"}}
    assert item_texts(row, ngram=4)[0][0] == label


@pytest.mark.parametrize(("each", "indexed"), [(2, True), (1, False)])
def test_the_options_together_are_indexed_from_exactly_one_ngram(each, indexed):
    row = {"question": words(8, "q"), "options": {"A": words(each, "a"), "B": words(each, "b")}}
    labels = [label for label, _ in item_texts(row, ngram=4)]
    assert ("options" in labels) == indexed


def benchmark(name: str, rows: list[dict]) -> Benchmark:
    return Benchmark(name, f"{name}.jsonl", "0" * 64, [(str(number), row) for number, row in enumerate(rows)])


def test_each_benchmark_counts_its_own_parts_even_after_hundreds_of_another():
    many = [{"question": words(6, f"x{number}q")} for number in range(300)]
    empty = [{"question": "too short"}]
    index = build_index([benchmark("many", many), benchmark("empty", empty)], ngram=4)
    assert [(entry["name"], entry["parts"], entry["items"]) for entry in index.benchmarks] == [
        ("many", 300, 300),
        ("empty", 0, 0),
    ]
    assert index.benchmarks[1]["ngrams"] == 0


def long_index():
    return build_index([benchmark("b", [{"question": words(8, "q")}])], ngram=4)


def test_a_hash_sharing_a_keys_low_bits_is_not_taken_for_it():
    index = long_index()
    largest, smallest = int(index.keys[-1]), int(index.keys[0])
    step = 1 << FILTER_BITS
    aliases = [value for value in (largest + step, smallest - step) if 0 <= value < 1 << 64]
    assert aliases, "no alias fits in 64 bits"
    hits, _ = index.candidates(np.array(aliases, dtype=np.uint64))
    assert hits.tolist() == []
    hits, keys = index.candidates(np.array([largest, smallest], dtype=np.uint64))
    assert (hits.tolist(), keys.tolist()) == ([0, 1], [len(index.keys) - 1, 0])


def test_an_index_without_grams_finds_nothing():
    index = build_index([benchmark("b", [{"question": "too short"}])], ngram=4)
    assert find_matches(index, words(30), 0.5) == []


@pytest.mark.parametrize(
    ("windows", "runs"),
    [
        ([(0, 4), (8, 12)], ((0, 4), (8, 12))),  # four words apart: two runs
        ([(0, 4), (7, 11)], ((0, 11),)),  # three words apart: one run
        ([(7, 11), (0, 4), (2, 6)], ((0, 11),)),  # in any order, overlapping
        ([(0, 4), (12, 16), (14, 18)], ((0, 4), (12, 18))),
    ],
)
def test_windows_closer_than_one_ngram_make_one_run(windows, runs):
    assert _runs(windows, ngram=4) == runs


def match(*runs: tuple[int, int]) -> Match:
    return Match(Part("b", "1", "question", 1), 1.0, runs, "")


def test_cuts_whose_margins_overlap_are_one_removed_range():
    text = " ".join(WORDS)
    spans = word_spans(text)
    _, removed = cut(text, [match((2, 4), (6, 8))], margin_words=1)  # words 1-4 and 5-8: next to each other
    assert removed == [(spans[1][0], spans[4][1]), (spans[5][0], spans[8][1])]
    _, removed = cut(text, [match((2, 4), (5, 8))], margin_words=1)  # words 1-4 and 4-8: they share word 4
    assert removed == [(spans[1][0], spans[8][1])]


def test_margins_stop_at_the_texts_edges():
    text = " ".join(WORDS)
    spans = word_spans(text)
    kept, removed = cut(text, [match((0, 2)), match((10, 12))], margin_words=3)
    assert removed == [(spans[0][0], spans[4][1]), (spans[7][0], spans[11][1])]
    assert kept == "w5 w6"


def test_a_word_hash_is_the_8_byte_blake2b_of_the_normalised_word_read_little_endian():
    expected = [
        int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little") for word in ("aspirin", "81")
    ]
    assert word_hashes("Aspirin, 81").tolist() == expected


def test_an_option_of_blank_text_is_no_option():
    row = {"question": words(6, "q"), "options": {"A": "   ", "B": words(4, "b")}}
    assert [label for label, _ in item_texts(row, ngram=4)] == ["question", "option B", "lettered options"]
