"""The curate pipeline: raw files -> parse -> clean -> language -> quality -> latest version -> exact dedup ->
near dedup -> Parquet per source, with every drop counted by reason and (optionally) written to `rejects/`."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from gap_replay.beam import counters
from gap_replay.beam.dedup import ExactDedup, LatestVersion, NearDedup, PreferFullText
from gap_replay.beam.filters import ApplyQualityRules, CleanDocuments, DetectLanguage
from gap_replay.beam.io import WriteCurated, match_paths
from gap_replay.beam.parse import DELETIONS, ParseFiles
from gap_replay.beam.rejects import REJECTS, WriteRejects
from gap_replay.cards import dataset_card
from gap_replay.documents import Document
from gap_replay.pipelines.options import pipeline_options
from gap_replay.pipelines.stats import update_stats
from gap_replay.recipe import Recipe
from gap_replay.sources import parser_key, source_module
from gap_replay.sources.base import FETCH_LOG

log = logging.getLogger(__name__)

PARSE_ERRORS = "parse_errors"


class CurateError(RuntimeError):
    """Curate cannot start (no raw files) or did not finish."""


def raw_inputs(recipe: Recipe) -> list[tuple[str, str]]:
    """(parser key, path) of every raw file of the enabled sources, sorted; `**/` also matches the top folder."""
    raw_root = FileSystems.join(str(recipe.output_dir), "raw")
    inputs: set[tuple[str, str]] = set()
    for source in recipe.sources.enabled():
        root = FileSystems.join(raw_root, source)
        for pattern in source_module(source).RAW_PATTERNS:
            patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
            for path in (found for each in patterns for found in match_paths(FileSystems.join(root, each))):
                if path.rsplit("/", 1)[-1] == FETCH_LOG:
                    continue
                relative = path[len(root) :].lstrip("/")
                inputs.add((parser_key(source, relative), path))
    return sorted(inputs)


def _count_kept(doc: Document) -> Document:
    counters.count(doc.source, "kept")
    return doc


class Curate(beam.PTransform):
    """(parser key, raw path) pairs -> {"documents": curated Documents, "rejects": reject records}."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        self._recipe = recipe

    def expand(self, files: beam.PCollection) -> dict[str, beam.PCollection]:
        recipe, sources = self._recipe, self._recipe.sources
        names = sources.enabled()
        configs = {name: getattr(sources, name) for name in names}
        limits = {"replay": sources.replay.max_documents_per_file}
        priority = recipe.dedup.source_priority

        options = {"pmc": {"max_table_cells": sources.pmc.max_table_cells}}
        parsed = files | "Parse" >> beam.ParDo(ParseFiles(limits, options)).with_outputs(
            REJECTS, DELETIONS, main="documents"
        )
        cleaned = parsed.documents | "Clean" >> beam.ParDo(
            CleanDocuments({name: config.clean for name, config in configs.items()})
        ).with_outputs(REJECTS, main="documents")
        languages = cleaned.documents | "Language" >> beam.ParDo(DetectLanguage(recipe.language)).with_outputs(
            REJECTS, main="documents"
        )
        quality = languages.documents | "Quality" >> beam.ParDo(
            ApplyQualityRules({name: config.filters for name, config in configs.items()})
        ).with_outputs(REJECTS, main="documents")
        stages = [parsed, cleaned, languages, quality]
        latest = {"documents": quality.documents, "deletions": parsed[DELETIONS]}
        stages.append(latest | "LatestVersion" >> LatestVersion(priority))
        if recipe.dedup.prefer_full_text:
            stages.append(stages[-1].documents | "PreferFullText" >> PreferFullText())
        if recipe.dedup.exact:
            stages.append(stages[-1].documents | "ExactDedup" >> ExactDedup(priority))
        if recipe.dedup.minhash.enabled:
            stages.append(stages[-1].documents | "NearDedup" >> NearDedup(recipe.dedup.minhash, priority))
        documents = stages[-1].documents | "CountKept" >> beam.Map(_count_kept)
        rejects = [stage[REJECTS] for stage in stages] | "AllRejects" >> beam.Flatten()
        return {"documents": documents, "rejects": rejects}


def _clear_previous(output: str) -> None:
    """Remove the curated Parquet and rejects of an earlier run, so no stale shard is read as current."""
    stale = match_paths(FileSystems.join(output, "curated", "*", "part-*.parquet"))
    stale += match_paths(FileSystems.join(output, "rejects", "*-*.jsonl"))
    if stale:
        FileSystems.delete(stale)


def _parse_errors(output: str) -> list[dict[str, Any]]:
    """The unreadable files of this run (file and reason), read back for stats.json."""
    errors = []
    for path in match_paths(FileSystems.join(output, "rejects", f"{PARSE_ERRORS}-*.jsonl")):
        with FileSystems.open(path) as lines:
            for line in lines:
                record = json.loads(line)
                errors.append({key: record.get(key) for key in ("source", "file", "detail")})
    return sorted(errors, key=lambda error: (error["source"], error["file"]))


def run_curate(recipe: Recipe, recipe_sha256: str, beam_args: Sequence[str] = ()) -> dict[str, Any]:
    """Run curate for a recipe; returns (and writes to `stats.json`) the per-source counts."""
    output = str(recipe.output_dir)
    inputs = raw_inputs(recipe)
    if not inputs:
        raise CurateError(f"no raw files under {FileSystems.join(output, 'raw')}: run `gap-replay fetch` first")
    _clear_previous(output)
    log.info("curating %d raw files", len(inputs))
    pipeline = beam.Pipeline(options=pipeline_options(beam_args))
    curated = pipeline | "RawFiles" >> beam.Create(inputs) | "Curate" >> Curate(recipe)
    curated["documents"] | "WriteCurated" >> WriteCurated(output, recipe.sources.enabled(), recipe.curated_shards)
    unreadable, dropped = curated["rejects"] | "SplitRejects" >> beam.Partition(
        lambda record, _: 0 if record["reason"] == "parse_error" else 1, 2
    )
    rejects_dir = FileSystems.join(output, "rejects")
    unreadable | "WriteParseErrors" >> WriteRejects(rejects_dir, PARSE_ERRORS)
    if recipe.write_rejects:
        dropped | "WriteRejects" >> WriteRejects(rejects_dir)
    result = pipeline.run()
    state = result.wait_until_finish()
    if state not in (None, "DONE"):
        raise CurateError(f"curate pipeline ended in state {state}")
    sources = counters.collect(result)
    for name in recipe.sources.enabled():
        sources.setdefault(name, {})
    card = FileSystems.create(FileSystems.join(output, "curated", "README.md"))
    card.write(dataset_card(recipe.name, recipe.sources.enabled()).encode("utf-8"))
    card.close()
    curate_stats = {"raw_files": len(inputs), "sources": sources, "parse_errors": _parse_errors(output)}
    update_stats(output, recipe, recipe_sha256, curate=curate_stats)
    return curate_stats
