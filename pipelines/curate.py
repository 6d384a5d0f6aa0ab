"""The curate pipeline: raw files -> parse -> latest version -> clean -> language -> quality -> full text over
abstract -> exact dedup -> near dedup -> benchmark decontamination -> Parquet per source, with every drop counted by
reason and (optionally) written to `rejects/`.

Curate reads exactly the raw files fetch's completion record lists, writes under its staging folder, and publishes
`curated/`, `rejects/` and its record only when the pipeline has finished (`stages`): a failed run, a dry run or a
kill leaves the previous curated corpus as it was.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from gap_replay import stages
from gap_replay.beam import counters
from gap_replay.beam.decontaminate import Decontaminate, load_index
from gap_replay.beam.dedup import ExactDedup, LatestVersion, NearDedup, PreferFullText, near_dedup_stats
from gap_replay.beam.filters import ApplyQualityRules, CleanDocuments, DetectLanguage
from gap_replay.beam.io import WriteCurated, match_paths
from gap_replay.beam.parse import DELETIONS, ParseFiles
from gap_replay.beam.rejects import REJECTS, WriteRejects
from gap_replay.cards import dataset_card
from gap_replay.documents import Document
from gap_replay.pipelines.options import pipeline_options, run_to_completion, stored_bytes
from gap_replay.pipelines.stats import write_stats
from gap_replay.progress import Whole
from gap_replay.recipe import MinHashConfig, Recipe
from gap_replay.sources import local, parser_key, source_module
from gap_replay.text.decontaminate import decontamination_report

log = logging.getLogger(__name__)

STAGE = "curate"
PROGRESS = "progress"  # in the staging folder while curate runs: each worker's counts, for the progress lines
# Below this much raw input, `components: auto` resolves near-dedup clusters on the driver without waiting for the
# edge count: a gigabyte of raw files holds about a million documents at most, whose duplicate edges stay far under
# `driver_max_edges`, and the Beam rounds that would otherwise sit in the graph cost seconds of stages run empty.
AUTO_DRIVER_BYTES = 1 << 30
LOCAL = local.NAME
PARSE_ERRORS = "parse_errors"


def matches(relative: str, pattern: str) -> bool:
    """Whether a path under `raw/<source>/` fits a RAW_PATTERNS glob; `**/` matches any folders, or none."""
    if pattern.startswith("**/"):
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], pattern[3:])
    parts, wanted = relative.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def raw_inputs(recipe: Recipe, fetched: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(parser key, path) of every raw file of the enabled sources that fetch's record lists, and of the local
    collection's files, sorted. A fetched source without any raw file is an error: fetch failed for it, or never
    ran for it."""
    output = recipe.output_dir
    inputs = (
        [(LOCAL, path) for path, _ in local.input_files(recipe.sources.local)] if recipe.sources.local.enabled else []
    )
    for source in fetched_sources(recipe):
        prefix = f"raw/{source}/"
        patterns = source_module(source).RAW_PATTERNS
        found = [
            (parser_key(source, entry["path"][len(prefix) :]), str(output / entry["path"]))
            for entry in fetched["files"]
            if entry["path"].startswith(prefix) and any(matches(entry["path"][len(prefix) :], p) for p in patterns)
        ]
        if not found:
            raise stages.StageError(
                f"fetch recorded no raw file of {source} under {output / 'raw' / source} (it failed, or did not run "
                f"for {source}): run `gap-replay fetch --sources {source}`"
            )
        inputs += found
    return sorted(inputs)


def input_bytes(inputs: Sequence[tuple[str, str]]) -> int:
    """The size of the raw files curate reads, as stored (compressed files count compressed)."""
    return stored_bytes(path for _, path in inputs)


def components_mode(config: MinHashConfig, raw_bytes: int) -> str:
    """How near dedup resolves its clusters: the recipe's way, with `auto` settled as `driver` on a small input."""
    return "driver" if config.components == "auto" and raw_bytes < AUTO_DRIVER_BYTES else config.components


def _count_kept(doc: Document) -> Document:
    counters.count(doc.source, "kept")
    return doc


def fetched_sources(recipe: Recipe) -> list[str]:
    """The enabled sources fetch downloads (all but a local collection, which is read where it is)."""
    return [source for source in recipe.sources.enabled() if source != LOCAL]


class Curate(beam.PTransform):
    """(parser key, raw path) pairs -> {"documents": curated Documents, "rejects": reject records}."""

    def __init__(
        self, recipe: Recipe, raw_bytes: int | None = None, progress: Path | None = None, files: int | None = None
    ) -> None:
        """`progress`: a local folder where the workers leave their counts, for progress lines over all of them
        (`files`: how many raw files there are)."""
        super().__init__()
        self._recipe = recipe
        self._raw_bytes = raw_bytes
        self._progress = progress
        self._files = files
        self._started = time.time()

    def _whole(self, part: str, total: int | None) -> Whole | None:
        """The shared counts of one step, when there is a folder for them."""
        if self._progress is None:
            return None
        (self._progress / part).mkdir(parents=True, exist_ok=True)
        return Whole(str(self._progress / part), total, self._started)

    def expand(self, files: beam.PCollection) -> dict[str, beam.PCollection]:
        recipe, sources = self._recipe, self._recipe.sources
        names = sources.enabled()
        configs = {name: getattr(sources, name) for name in names}
        limits = {"replay": sources.replay.max_documents_per_file}
        priority = recipe.dedup.source_priority

        options = {
            "pmc": {"max_table_cells": sources.pmc.max_table_cells},
            LOCAL: {
                "collection": sources.local.name,
                "fields": sources.local.fields.model_dump(),
                "license": sources.local.license,
                "redistributable": sources.local.redistributable,
            },
        }
        parsing = ParseFiles(limits, options, self._whole("parse", self._files))
        parsed = files | "Parse" >> beam.ParDo(parsing).with_outputs(REJECTS, DELETIONS, main="documents")
        # Grouping by id is the first shuffle: it keeps one version per id, and spreads a file's documents over
        # every worker, so one large file (a local collection) is cleaned and filtered on all of them.
        latest = {"documents": parsed.documents, "deletions": parsed[DELETIONS]} | "LatestVersion" >> LatestVersion(
            priority
        )
        cleaned = latest.documents | "Clean" >> beam.ParDo(
            CleanDocuments({name: config.clean for name, config in configs.items()}, self._whole("clean", None))
        ).with_outputs(REJECTS, main="documents")
        languages = cleaned.documents | "Language" >> beam.ParDo(DetectLanguage(recipe.language)).with_outputs(
            REJECTS, main="documents"
        )
        quality = languages.documents | "Quality" >> beam.ParDo(
            ApplyQualityRules({name: config.filters for name, config in configs.items()})
        ).with_outputs(REJECTS, main="documents")
        stages = [parsed, latest, cleaned, languages, quality]
        if recipe.dedup.prefer_full_text and {"pubmed", "pmc"} <= set(names):
            stages.append(stages[-1].documents | "PreferFullText" >> PreferFullText())
        # Near dedup puts exact duplicates in its clusters too (its exact-key bucket), so exact dedup runs on its own
        # only without it: one shuffle of the documents fewer.
        if recipe.dedup.exact and not recipe.dedup.minhash.enabled:
            stages.append(stages[-1].documents | "ExactDedup" >> ExactDedup(priority))
        if recipe.dedup.minhash.enabled:
            minhash = recipe.dedup.minhash
            if self._raw_bytes is not None:
                minhash = minhash.model_copy(update={"components": components_mode(minhash, self._raw_bytes)})
            stages.append(stages[-1].documents | "NearDedup" >> NearDedup(minhash, priority))
        if recipe.decontamination.enabled:
            stages.append(stages[-1].documents | "Decontaminate" >> Decontaminate(recipe.decontamination))
        documents = stages[-1].documents | "CountKept" >> beam.Map(_count_kept)
        rejects = [stage[REJECTS] for stage in stages] | "AllRejects" >> beam.Flatten()
        return {"documents": documents, "rejects": rejects}


def _parse_errors(output: str) -> list[dict[str, Any]]:
    """The unreadable files of this run (file and reason), read back for stats.json."""
    errors = []
    for path in match_paths(FileSystems.join(output, "rejects", f"{PARSE_ERRORS}-*.jsonl")):
        with FileSystems.open(path) as lines:
            for line in lines:
                record = json.loads(line)
                errors.append({key: record.get(key) for key in ("source", "file", "detail")})
    return sorted(errors, key=lambda error: (error["source"], error["file"]))


def run_curate(
    recipe: Recipe, recipe_sha256: str, beam_args: Sequence[str] = (), force: bool = False
) -> dict[str, Any]:
    """Run curate for a recipe and publish its output; returns (and writes to `stats.json`) the per-source counts."""
    output = recipe.output_dir
    with stages.claim(output, force):
        fetched, fetch_sha256 = {"files": []}, None
        if fetched_sources(recipe):
            fetched, fetch_sha256 = stages.require(output, "fetch", needed_by=STAGE)
        inputs = raw_inputs(recipe, fetched)
        with stages.Publisher(output, STAGE) as publisher:
            staging = str(publisher.staging)
            log.info("curating %d raw files", len(inputs))
            raw_bytes = input_bytes(inputs)
            pipeline = beam.Pipeline(options=pipeline_options(beam_args, raw_bytes))
            progress = publisher.path(PROGRESS)
            curate = Curate(recipe, raw_bytes, progress, len(inputs))
            curated = pipeline | "RawFiles" >> beam.Create(inputs) | "Curate" >> curate
            curated["documents"] | "WriteCurated" >> WriteCurated(
                staging, recipe.sources.enabled(), recipe.seed, recipe.split.valid_fraction, recipe.curated_shards
            )
            unreadable, dropped = curated["rejects"] | "SplitRejects" >> beam.Partition(
                lambda record, _: 0 if record["reason"] == "parse_error" else 1, 2
            )
            rejects_dir = FileSystems.join(staging, "rejects")
            unreadable | "WriteParseErrors" >> WriteRejects(rejects_dir, PARSE_ERRORS)
            if recipe.write_rejects:
                dropped | "WriteRejects" >> WriteRejects(rejects_dir)
            result = run_to_completion(pipeline, STAGE)
            shutil.rmtree(progress, ignore_errors=True)  # the workers' counts: not an output
            sources = counters.collect(result)
            for name in recipe.sources.enabled():
                sources.setdefault(name, {})
            publisher.path("curated/README.md").write_text(
                dataset_card(recipe.name, recipe.sources.enabled()), encoding="utf-8"
            )
            summary = {"raw_files": len(inputs), "sources": sources, "parse_errors": _parse_errors(staging)}
            if recipe.dedup.minhash.enabled:
                summary["near_dedup"] = near_dedup_stats(result)
            if recipe.decontamination.enabled:
                benchmarks = load_index(recipe.decontamination).benchmarks
                summary["decontamination"] = decontamination_report(benchmarks, recipe.decontamination, sources)
            if recipe.sources.local.enabled:
                summary["local_files"] = [
                    {"path": path, "bytes": size} for path, size in local.input_files(recipe.sources.local)
                ]
            publisher.publish(
                settings=recipe.curate_settings(),
                inputs={"fetch": fetch_sha256} if fetch_sha256 else {},
                summary=summary,
                recipe={"name": recipe.name, "sha256": recipe_sha256},
            )
        write_stats(output)
    return summary
