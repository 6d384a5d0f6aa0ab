"""Each curate step on its own: the pure function behind every Beam step, run over a corpus's documents in one
process on one core, in pipeline order (each step sees what the previous one kept), timed per step.

This says what each step costs per document without Beam; the whole curate (`bench.py`) says what the pipeline
costs with it. Steps that need the whole corpus at once (grouping by id, by text key, by LSH band) are timed on
their per-document work: the key, the signature and band keys, the index lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gap_replay.beam.decontaminate import load_index
from gap_replay.beam.parse import parse_file
from gap_replay.dedup.exact import exact_key
from gap_replay.dedup.minhash import band_keys, hashes_signature, shingle_hashes
from gap_replay.documents import Document
from gap_replay.recipe import CleanConfig, FilterConfig, Recipe
from gap_replay.text.clean import clean_document
from gap_replay.text.decontaminate import find_matches
from gap_replay.text.lang import language_verdict, load_detector
from gap_replay.text.quality import build_rules, first_failure


@dataclass(frozen=True)
class StepTime:
    """One step: documents in, documents kept, CPU seconds of this process."""

    name: str
    documents: int
    kept: int
    cpu_seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.cpu_seconds if self.cpu_seconds else float("inf")


def _timed(name: str, docs: list[Document], step: Callable[[Document], Document | None]) -> tuple[StepTime, list]:
    start = time.process_time()
    kept = [out for doc in docs if (out := step(doc)) is not None]
    return StepTime(name, len(docs), len(kept), time.process_time() - start), kept


def parsed_documents(inputs: Iterable[tuple[str, str]]) -> tuple[StepTime, list[Document]]:
    """Parse every raw input as curate does (its parser per file), keeping the Documents."""
    inputs = list(inputs)
    start = time.process_time()
    docs = [doc for key, path in inputs for doc in parse_file(key, path) if isinstance(doc, Document)]
    return StepTime("parse", len(inputs), len(docs), time.process_time() - start), docs


def step_times(recipe: Recipe, inputs: Iterable[tuple[str, str]]) -> list[StepTime]:
    """Parse, clean, language, quality, exact-dedup key, MinHash signature and band keys, and (when the recipe
    enables it) decontamination, each timed over the documents the step before it kept."""
    sources = recipe.sources
    cleans = {name: getattr(sources, name).clean for name in sources.enabled()}
    rules = {name: build_rules(getattr(sources, name).filters) for name in sources.enabled()}
    default_rules = build_rules(FilterConfig())
    detector = load_detector(recipe.language.detector)
    minhash = recipe.dedup.minhash

    def clean(doc: Document) -> Document | None:
        cleaned = clean_document(doc, cleans.get(doc.source, CleanConfig()))
        return cleaned if cleaned.text.strip() else None

    def language(doc: Document) -> Document | None:
        doc, drop = language_verdict(doc, recipe.language, detector)
        return doc if drop is None else None

    def quality(doc: Document) -> Document | None:
        return doc if first_failure(doc, rules.get(doc.source, default_rules)) is None else None

    def exact(doc: Document) -> Document:
        exact_key(doc.text)
        return doc

    def near(doc: Document) -> Document:
        band_keys(hashes_signature(shingle_hashes(doc.text, minhash.ngram), minhash), minhash.bands, minhash.rows)
        return doc

    parse, docs = parsed_documents(inputs)
    times = [parse]
    for name, step in (("clean", clean), ("language", language), ("quality", quality), ("exact key", exact)):
        timed, docs = _timed(name, docs, step)
        times.append(timed)
    if minhash.enabled:
        timed, docs = _timed("minhash", docs, near)
        times.append(timed)
    if recipe.decontamination.enabled:
        index = load_index(recipe.decontamination)

        def decontaminate(doc: Document) -> Document | None:
            blocked = doc.id in index.blocked
            return None if blocked or find_matches(index, doc.text, recipe.decontamination.min_coverage) else doc

        timed, docs = _timed("decontaminate", docs, decontaminate)
        times.append(timed)
    return times


def step_rows(corpus: str, times: list[StepTime]) -> list[str]:
    """One line per step: documents in and kept, CPU seconds, docs/s (parse: files in, documents out)."""
    rows = []
    for step in times:
        unit = "files" if step.name == "parse" else "docs"
        rate = (step.kept if step.name == "parse" else step.documents) / step.cpu_seconds if step.cpu_seconds else 0
        rows.append(
            f"{corpus:<18} {step.name:<14} {step.documents:>8,} {unit:<5} -> {step.kept:>8,}  "
            f"{step.cpu_seconds:>7.2f} s CPU  {rate:>10,.0f} docs/s"
        )
    total = sum(step.cpu_seconds for step in times)
    documents = times[0].kept
    rows.append(
        f"{corpus:<18} {'all steps':<14} {documents:>8,} docs  {'':<14}{total:>7.2f} s CPU  "
        f"{documents / total if total else 0:>10,.0f} docs/s"
    )
    return rows
