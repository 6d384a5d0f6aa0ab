"""Length summaries of documents (in characters or tokens): the figures the manifest and the data cards print."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILES = (10, 50, 90)


def length_summary(values: Sequence[int] | np.ndarray) -> dict[str, float]:
    """documents, the 10th, 50th and 90th percentiles (the lower of two ranks, so each is a length that occurs),
    the longest and the mean (rounded to a whole length) of some lengths; an empty input has 0 documents only."""
    lengths = np.asarray(values)
    if lengths.size == 0:
        return {"documents": 0}
    p10, p50, p90 = np.percentile(lengths, QUANTILES, method="lower").astype(int).tolist()
    return {
        "documents": int(lengths.size),
        "p10": p10,
        "p50": p50,
        "p90": p90,
        "max": int(lengths.max()),
        "mean": round(float(lengths.mean())),
    }
