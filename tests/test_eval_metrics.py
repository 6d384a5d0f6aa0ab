"""Accuracy, its bootstrap interval and the grouping by subject, on rigged predictions."""

import math

import pytest

from gap_replay.eval.methods import Prediction, best
from gap_replay.eval.metrics import accuracy, bootstrap_interval, summarize


def prediction(n: int, correct: bool, subject: str | None = None, norm: bool | None = None) -> Prediction:
    chosen = "A" if correct else "B"
    scores = {"A": 0.0, "B": -1.0} if correct else {"A": -1.0, "B": 0.0}
    if norm is None:
        return Prediction("mmlu_medical", str(n), subject, "A", chosen, scores)
    return Prediction("mmlu_medical", str(n), subject, "A", chosen, scores, "A" if norm else "B", scores)


def test_accuracy_is_the_share_correct():
    assert accuracy([True, True, True, False]) == 0.75
    assert accuracy([False]) == 0.0
    with pytest.raises(ValueError, match="no items"):
        accuracy([])


@pytest.mark.parametrize(("outcome", "interval"), [(True, (1.0, 1.0)), (False, (0.0, 0.0))])
def test_all_right_or_all_wrong_has_no_spread(outcome, interval):
    assert bootstrap_interval([outcome] * 30, resamples=200, seed=1) == interval


def test_the_interval_is_about_the_normal_approximation_and_holds_the_accuracy():
    # 100 items at 50%: the normal approximation gives 0.5 +- 1.96 * sqrt(0.25 / 100) = 0.402 .. 0.598.
    low, high = bootstrap_interval([True, False] * 50, resamples=2000, seed=7)
    assert low < 0.5 < high
    assert low == pytest.approx(0.5 - 1.96 * math.sqrt(0.25 / 100), abs=0.025)
    assert high == pytest.approx(0.5 + 1.96 * math.sqrt(0.25 / 100), abs=0.025)


def test_the_interval_is_the_same_for_the_same_seed_and_moves_with_another():
    outcomes = [n % 3 == 0 for n in range(60)]
    assert bootstrap_interval(outcomes, 500, seed=3) == bootstrap_interval(outcomes, 500, seed=3)
    assert len({bootstrap_interval(outcomes, 500, seed=seed) for seed in range(6)}) > 1


def test_a_task_summary_counts_items_and_groups_subjects():
    predictions = [
        prediction(0, True, "anatomy"),
        prediction(1, False, "anatomy"),
        prediction(2, True, "medical_genetics"),
        prediction(3, True, "medical_genetics"),
        prediction(4, True, "medical_genetics"),
    ]
    summary = summarize(predictions, resamples=100, seed=0)
    assert (summary["items"], summary["correct"], summary["accuracy"]) == (5, 4, 0.8)
    assert {name: (s["items"], s["accuracy"]) for name, s in summary["subjects"].items()} == {
        "anatomy": (2, 0.5),
        "medical_genetics": (3, 1.0),
    }
    assert "norm" not in summary and "unanswered" not in summary


def test_loglik_summaries_carry_the_length_normalised_accuracy_too():
    predictions = [prediction(0, True, norm=False), prediction(1, False, norm=True), prediction(2, False, norm=True)]
    summary = summarize(predictions, resamples=100, seed=0)
    assert (summary["accuracy"], summary["norm"]["accuracy"]) == (round(1 / 3, 6), round(2 / 3, 6))
    assert "subjects" not in summary


def test_an_item_without_a_choice_counts_wrong_and_is_reported():
    unanswered = Prediction("medqa", "9", None, "A", None, {})
    summary = summarize([prediction(0, True), unanswered], resamples=50, seed=0)
    assert (summary["accuracy"], summary["unanswered"]) == (0.5, 1)


def test_the_best_option_breaks_ties_towards_the_earliest_letter():
    assert best({"C": -1.0, "B": -1.0, "A": -2.0}) == "B"
    assert best({"A": -3.0, "D": -0.5}) == "D"
