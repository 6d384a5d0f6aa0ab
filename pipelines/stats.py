"""`stats.json`: what curate and build did, gathered from their completion records; the input of the data cards.

Deterministic (no timestamps). A build section appears only when build ran on the current curate. The file is a
convenience copy written after each stage; the cards read the records themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gap_replay import stages
from gap_replay.files import write_atomic


def stats_path(output: str | Path) -> Path:
    return Path(output) / "stats.json"


def read_stats(output: str | Path) -> dict[str, Any]:
    """The stats.json last written under `output` ({} when there is none)."""
    path = stats_path(output)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def collect_stats(output: str | Path) -> dict[str, Any]:
    """The name and recipe of the current curate, its counts, and build's totals and mix when build read it."""
    curate = stages.read_record(output, "curate")
    if curate is None:
        return {}
    record, sha256 = curate
    stats = {
        "name": record["recipe"].get("name"),
        "recipe_sha256": record["recipe"].get("sha256"),
        "curate": record["summary"],
    }
    build = stages.read_record(output, "build")
    if build is not None and build[0]["inputs"].get("curate") == sha256:
        stats["build"] = build[0]["summary"]
    return stats


def write_stats(output: str | Path) -> dict[str, Any]:
    """Rewrite stats.json from the completion records, atomically; returns what it wrote."""
    stats = collect_stats(output)
    write_atomic(stats_path(output), json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats
