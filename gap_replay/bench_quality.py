"""`python -m gap_replay.bench_quality`: the quality rules measured on a labelled set of medical text and junk.

The set (`tests/fixtures/quality/labelled.jsonl`, written for this project) holds about 200 documents of the four
sources, each labelled `keep` (medical text the rules must pass: dosing tables, numbered recommendations, short
structured abstracts, formulas, bullet guidance, drug monographs) or not (navigation, link lists, error and cookie
pages, boilerplate, tables of contents, keyword stuffing, repeated lines, filler). Per source and rule it prints the
must-pass items the rule drops (false drops) and the must-fail items it catches, under the thresholds the full
recipe sets now and under those recommended here; per source, the false-drop rate, the miss rate (must-fail items
no rule drops) and the misses by kind; and per threshold its limit on this set: the tightest value that drops no
must-pass item of the source, with the must-fail items that value would catch.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gap_replay.documents import Document
from gap_replay.recipe import FilterConfig, load_recipe
from gap_replay.text.quality import Rule, build_rules

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "quality" / "labelled.jsonl"
RECIPE = "recipes/gap_replay.yaml"  # in gap_replay.pipelines: the full corpus, whose thresholds are the current ones
SOURCES = ("guidelines", "pubmed", "pmc", "replay")

# The thresholds this set supports, per source, as a recipe would set them (the fields not named keep FilterConfig's
# defaults); tests/test_quality_calibration.py holds them to the set.
RECOMMENDED = {
    "guidelines": FilterConfig(
        min_words=40, min_alpha_word_ratio=0.5, max_duplicate_line_ratio=0.35, min_line_punctuation_ratio=0.1
    ),
    "pubmed": FilterConfig(min_words=50),
    "pmc": FilterConfig(min_alpha_word_ratio=0.5, min_line_punctuation_ratio=0.1),
    "replay": FilterConfig(),
}

# The thresholds each rule reads, in the order build_rules applies the rules.
RULE_FIELDS = {
    "WordCount": ("min_words", "max_words"),
    "MeanWordLength": ("min_mean_word_length", "max_mean_word_length"),
    "SymbolRatio": ("max_symbol_ratio",),
    "AlphaWordRatio": ("min_alpha_word_ratio",),
    "EllipsisLines": ("max_ellipsis_line_ratio",),
    "DuplicateLines": ("max_duplicate_line_ratio",),
    "LinePunctuation": ("min_line_punctuation_ratio",),
}
_PERCENT = [step / 100 for step in range(101)]
# The values each threshold's limit is searched over, loosest first.
SWEEPS = {
    "min_words": list(range(201)),
    "min_mean_word_length": [step / 10 for step in range(51)],
    "max_mean_word_length": [step / 10 for step in range(300, 49, -1)],
    "max_symbol_ratio": _PERCENT[::-1],
    "min_alpha_word_ratio": _PERCENT,
    "max_ellipsis_line_ratio": _PERCENT[::-1],
    "max_duplicate_line_ratio": _PERCENT[::-1],
    "min_line_punctuation_ratio": _PERCENT,
}
# Every bound at its loosest: a sweep moves one threshold from here, so the other bound of its rule never fires.
LOOSEST = FilterConfig(min_words=0, max_words=100_000_000, min_mean_word_length=0.0, max_mean_word_length=100.0)


@dataclass(frozen=True)
class Item:
    """One labelled document; `line` is its line in the set, to find it again."""

    line: int
    source: str
    kind: str
    keep: bool
    text: str

    def document(self) -> Document:
        return Document(id=f"labelled:{self.line}", source=self.source, subsource=self.source, text=self.text)


def load_items(path: Path = LABELLED) -> list[Item]:
    """The labelled set, in file order."""
    with open(path, encoding="utf-8") as lines:
        return [Item(line=number, **json.loads(row)) for number, row in enumerate(lines, start=1) if row.strip()]


def thresholds_only(config: FilterConfig) -> FilterConfig:
    """A source's filters without its licence settings: the labelled documents carry no licence."""
    return config.model_copy(update={"allowed_licenses": None, "redistributable_only": False})


def current_filters(recipe: Path | None = None) -> dict[str, FilterConfig]:
    """Each source's filters as a recipe sets them: the given one, else the full corpus recipe."""
    if recipe is None:
        with resources.as_file(resources.files("gap_replay.pipelines").joinpath(RECIPE)) as path:
            loaded, _ = load_recipe(path)
    else:
        loaded, _ = load_recipe(recipe)
    return {source: thresholds_only(getattr(loaded.sources, source).filters) for source in SOURCES}


def failing_rules(doc: Document, rules: Sequence[Rule]) -> set[str]:
    """The names of every rule the document fails (not only the first)."""
    return {type(rule).__name__ for rule in rules if rule(doc) is not None}


@dataclass(frozen=True)
class Outcome:
    """What one source's rules do to its labelled items: per rule, the must-pass and must-fail items it drops."""

    keep: int
    drop: int
    false_drops: dict[str, list[Item]]
    caught: dict[str, list[Item]]
    dropped_keep: list[Item]
    missed: list[Item]


def outcome(items: Sequence[Item], config: FilterConfig) -> Outcome:
    """Every rule of `config` applied to every item (each rule on its own, so each rule's rates are its own)."""
    rules = build_rules(config)
    false_drops: dict[str, list[Item]] = {name: [] for name in RULE_FIELDS}
    caught: dict[str, list[Item]] = {name: [] for name in RULE_FIELDS}
    dropped_keep, missed = [], []
    for item in items:
        failing = failing_rules(item.document(), rules)
        for name in failing & RULE_FIELDS.keys():
            (false_drops if item.keep else caught)[name].append(item)
        if item.keep and failing:
            dropped_keep.append(item)
        elif not item.keep and not failing:
            missed.append(item)
    keep = sum(item.keep for item in items)
    return Outcome(keep, len(items) - keep, false_drops, caught, dropped_keep, missed)


def threshold_limit(items: Sequence[Item], field: str) -> tuple[float, int]:
    """(the tightest value of `field` that drops no must-pass item, must-fail items that value drops) over the
    field's sweep, the rule's other bound held at its loosest."""
    name = next(name for name, fields in RULE_FIELDS.items() if field in fields)
    values = SWEEPS[field]
    rules = [
        next(
            (rule for rule in build_rules(LOOSEST.model_copy(update={field: value})) if type(rule).__name__ == name),
            None,
        )
        for value in values
    ]
    passes = {item.line: [rule is None or rule(item.document()) is None for rule in rules] for item in items}
    safe = 0
    while safe + 1 < len(values) and all(passes[item.line][safe + 1] for item in items if item.keep):
        safe += 1
    return values[safe], sum(not passes[item.line][safe] for item in items if not item.keep)


# --- report --------------------------------------------------------------------------------------------------------


def _value(config: FilterConfig, field: str) -> str:
    value = getattr(config, field)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _threshold(config: FilterConfig, name: str) -> str:
    rules = {type(rule).__name__ for rule in build_rules(config)}
    return "off" if name not in rules else "..".join(_value(config, field) for field in RULE_FIELDS[name])


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "-"


def source_report(
    source: str, items: Sequence[Item], current: FilterConfig, recommended: FilterConfig
) -> Iterator[str]:
    """The lines of one source's table."""
    now, then = outcome(items, current), outcome(items, recommended)
    yield f"== {source}: {now.keep} must pass, {now.drop} must fail"
    yield (
        f"{'rule':<16}{'current':>12}{'false drops':>14}{'caught':>14}   {'recommended':>12}{'false drops':>14}"
        f"{'caught':>14}   tightest value dropping no must-pass item (must-fail items it catches)"
    )
    for name, fields in RULE_FIELDS.items():
        limits = "; ".join(
            "{} {:g} ({})".format(field, *threshold_limit(items, field)) for field in fields if field in SWEEPS
        )
        yield (
            f"{name:<16}{_threshold(current, name):>12}{_rate(len(now.false_drops[name]), now.keep):>14}"
            f"{_rate(len(now.caught[name]), now.drop):>14}   {_threshold(recommended, name):>12}"
            f"{_rate(len(then.false_drops[name]), then.keep):>14}{_rate(len(then.caught[name]), then.drop):>14}   "
            f"{limits}"
        )
    kinds = Counter(item.kind for item in items if not item.keep)
    for label, result in (("current", now), ("recommended", then)):
        yield (
            f"{label:<12} all rules: false-drop rate {_rate(len(result.dropped_keep), result.keep)}, "
            f"miss rate {_rate(len(result.missed), result.drop)}"
        )
        if result.dropped_keep:
            yield "             dropped must-pass: " + ", ".join(f"line {i.line} {i.kind}" for i in result.dropped_keep)
        missed = Counter(item.kind for item in result.missed)
        if missed:
            yield "             missed by kind: " + ", ".join(f"{k} {missed[k]}/{kinds[k]}" for k in sorted(missed))


def recommended_yaml() -> Iterator[str]:
    """The recommended thresholds as a recipe's `sources:` block: the fields set here, the defaults otherwise."""
    yield "sources:"
    for source, config in RECOMMENDED.items():
        fields = ", ".join(f"{key}: {value}" for key, value in config.model_dump(exclude_unset=True).items())
        yield f"  {source}:\n    filters: {{{fields}}}" + ("" if fields else "  # the defaults")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=Path, default=LABELLED, help="the labelled set (JSONL)")
    parser.add_argument("--recipe", type=Path, default=None, help="the recipe whose thresholds are the current ones")
    args = parser.parse_args(argv)
    items = load_items(args.labelled)
    current = current_filters(args.recipe)
    for source in SOURCES:
        own = [item for item in items if item.source == source]
        print("\n".join(source_report(source, own, current[source], RECOMMENDED[source])), end="\n\n")
    print("\n".join(recommended_yaml()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
