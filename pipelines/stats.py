"""`stats.json`: what each stage of a recipe's run did, the input of the data cards. Deterministic: no timestamps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gap_replay.files import write_atomic
from gap_replay.recipe import Recipe


def stats_path(output: str | Path) -> Path:
    return Path(output) / "stats.json"


def read_stats(output: str | Path) -> dict[str, Any]:
    path = stats_path(output)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def update_stats(output: str | Path, recipe: Recipe, recipe_sha256: str, **sections: Any) -> dict[str, Any]:
    """Replace the given stage sections (`fetch`, `curate`, `build`) of stats.json, atomically."""
    stats = read_stats(output)
    if stats.get("recipe_sha256") != recipe_sha256:
        stats = {}
    stats.update({"name": recipe.name, "recipe_sha256": recipe_sha256, **sections})
    write_atomic(stats_path(output), json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats
