"""length_summary: the length figures of the manifest and the cards, by the lower rank."""

import numpy as np

from gap_replay.lengths import length_summary


def test_percentiles_take_the_lower_rank_and_the_mean_is_rounded():
    # Five lengths sorted 2, 3, 5, 7, 11: the 10th percentile falls at rank 0.4 -> rank 0, the median at rank 2,
    # the 90th at rank 3.6 -> rank 3; the mean 28 / 5 = 5.6 -> 6.
    assert length_summary([11, 2, 7, 3, 5]) == {"documents": 5, "p10": 2, "p50": 5, "p90": 7, "max": 11, "mean": 6}


def test_one_length_is_every_figure():
    assert length_summary(np.array([42])) == {"documents": 1, "p10": 42, "p50": 42, "p90": 42, "max": 42, "mean": 42}


def test_no_length_is_no_document():
    assert length_summary([]) == {"documents": 0}
