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


def _label(axes: plt.Axes, title: str, xlabel: str, series: int) -> None:
    """Title, x label, categories top down, and a legend beside the plot when there is more than one series."""
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.invert_yaxis()
    if series > 1:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)


def _stacked_bars(title: str, categories: Sequence[str], series: dict[str, list[float]], xlabel: str) -> plt.Figure:
    """Horizontal bars, one per category, stacked by series."""
    figure, axes = plt.subplots(figsize=(7, 0.6 * len(categories) + 1.4))
    left = [0.0] * len(categories)
    for name, values in series.items():
        axes.barh(categories, values, left=left, label=name)
        left = [start + value for start, value in zip(left, values, strict=True)]
    _label(axes, title, xlabel, len(series))
    return figure


def token_plot(manifest: dict[str, Any], sources: Sequence[str], path: Path) -> Path:
    """Training and validation tokens per source."""
    series = {
        split: [manifest["totals"][split]["sources"].get(source, {}).get("tokens", 0) for source in sources]
        for split in ("train", "valid")
    }
    return _save(_stacked_bars("Tokens per source", sources, series, "tokens"), path)


def drop_series(stats: dict[str, Any], sources: Sequence[str]) -> tuple[list[str], dict[str, list[int]]]:
    """("kept" and every drop reason, {source: documents per category}): what the drop plot draws."""
    curate = stats["curate"]["sources"]
    reasons = sorted({reason for source in sources for reason in curate.get(source, {}).get("dropped", {})})
    series = {
        source: [curate.get(source, {}).get("kept", 0)]
        + [curate.get(source, {}).get("dropped", {}).get(reason, 0) for reason in reasons]
        for source in sources
    }
    return ["kept", *reasons], series


def _grouped_log_bars(title: str, categories: Sequence[str], series: dict[str, list[int]], xlabel: str) -> plt.Figure:
    """Horizontal bars on a log scale, a group per category, a bar per series: one drop in a million documents
    stays as visible as the rest."""
    figure, axes = plt.subplots(figsize=(7, 0.14 * len(categories) * max(len(series), 1) + 1.4))
    height = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        offset = (index - (len(series) - 1) / 2) * height
        axes.barh([row + offset for row in range(len(categories))], values, height=height, label=name)
    axes.set_yticks(range(len(categories)), categories)
    axes.set_xscale("log")
    axes.set_xlim(left=0.5)  # a count of one is a bar, not a line on the axis
    _label(axes, title, xlabel, len(series))
    return figure


def drop_plot(stats: dict[str, Any], sources: Sequence[str], path: Path) -> Path:
    """Documents kept and dropped per reason and source, on a log scale."""
    categories, series = drop_series(stats, sources)
    title = "Documents kept and dropped, per reason (log scale)"
    return _save(_grouped_log_bars(title, categories, series, "documents"), path)
