"""The data cards' plots: tokens per source and split, and drops per source and reason, as byte-stable PNGs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt

from gap_replay.files import write_atomic

# PNG metadata matplotlib would otherwise stamp (its version) is left out, so equal data give equal bytes.
PNG_METADATA = {"Software": None}


def _save(figure: plt.Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA, bbox_inches="tight")
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return path


def _stacked_bars(title: str, categories: Sequence[str], series: dict[str, list[float]], xlabel: str) -> plt.Figure:
    """Horizontal bars, one per category, stacked by series."""
    figure, axes = plt.subplots(figsize=(7, 0.6 * len(categories) + 1.4))
    left = [0.0] * len(categories)
    for name, values in series.items():
        axes.barh(categories, values, left=left, label=name)
        left = [start + value for start, value in zip(left, values, strict=True)]
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.invert_yaxis()
    if len(series) > 1:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    return figure


def token_plot(manifest: dict[str, Any], sources: Sequence[str], path: Path) -> Path:
    """Training and validation tokens per source."""
    series = {
        split: [manifest["totals"][split]["sources"].get(source, {}).get("tokens", 0) for source in sources]
        for split in ("train", "valid")
    }
    return _save(_stacked_bars("Tokens per source", sources, series, "tokens"), path)


def drop_plot(stats: dict[str, Any], sources: Sequence[str], path: Path) -> Path:
    """Documents kept and dropped per source, drops split by reason."""
    curate = stats["curate"]["sources"]
    reasons = sorted({reason for source in sources for reason in curate.get(source, {}).get("dropped", {})})
    series = {"kept": [float(curate.get(source, {}).get("kept", 0)) for source in sources]}
    for reason in reasons:
        series[reason] = [float(curate.get(source, {}).get("dropped", {}).get(reason, 0)) for source in sources]
    return _save(_stacked_bars("Documents kept and dropped", sources, series, "documents"), path)
