"""The card stage: data cards from curate's and build's completion records, the curated Parquet, the manifest and
the evaluations of models trained on the corpus.

Card renders only a finished build of the current curate (refusing otherwise), stages the cards and publishes them
into the cards folder with its own record, removing only cards an earlier card run wrote (`stages`).
"""

from __future__ import annotations

from pathlib import Path

from gap_replay import stages
from gap_replay.cards import write_cards
from gap_replay.eval.report import read_evaluations
from gap_replay.pipelines.stats import collect_stats, write_stats
from gap_replay.recipe import Recipe
from gap_replay.shards.manifest import read_manifest

STAGE = "card"
# Evaluations kept here (`gap-replay eval --out <output>/eval/<run>`) are of models trained on this corpus: the
# corpus card shows their tables.
EVALUATIONS = "eval"


def run_card(recipe: Recipe, force: bool = False) -> list[Path]:
    """Write the data cards of a recipe's finished corpus into its cards folder; returns their paths."""
    output = recipe.output_dir
    cards = Path(recipe.cards)
    with stages.claim(output, force):
        curated, curate_sha256 = stages.require(output, "curate", needed_by=STAGE)
        built, build_sha256 = stages.require(output, "build", needed_by=STAGE)
        if built["inputs"].get("curate") != curate_sha256:
            raise stages.StageError(
                "curate ran again after build, so the shards are not of the current curated corpus: "
                "run `gap-replay build`, then `gap-replay card`"
            )
        stages.adopt(cards, force)
        with stages.Publisher(output, STAGE, root=cards) as publisher:
            manifest = read_manifest(output / "tokens" / "manifest.json")
            parquet = [path for path in stages.file_paths(output, curated) if path.suffix == ".parquet"]
            evaluations = read_evaluations(output / EVALUATIONS)
            stats = collect_stats(output)
            written = write_cards(stats, manifest, parquet, publisher.staging, output / "tokens", evaluations)
            publisher.publish(inputs={"curate": curate_sha256, "build": build_sha256})
        write_stats(output)
    return [cards / path.name for path in written]
