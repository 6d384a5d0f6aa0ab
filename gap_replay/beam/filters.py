"""Thin Beam wrappers around the pure text functions: clean, language, quality. Each drop is counted and rejected."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from gap_replay.beam import counters
from gap_replay.beam.rejects import REJECTS, reject_record
from gap_replay.documents import Document
from gap_replay.progress import Progress, Whole
from gap_replay.recipe import CleanConfig, FilterConfig, LanguageConfig
from gap_replay.text.clean import clean_document
from gap_replay.text.lang import Detector, language_verdict, load_detector
from gap_replay.text.quality import build_rules, first_failure


def _reject(doc: Document, reason: str, detail: str | None = None) -> TaggedOutput:
    counters.dropped(doc.source, reason)
    return TaggedOutput(REJECTS, reject_record(reason, detail, document=doc))


class CleanDocuments(beam.DoFn):
    """Per-source clean-up; a document left with no text is dropped as `empty`. As the first step after the shuffle
    by id, fused with the language and quality steps and MinHash, it also reports this worker's progress."""

    def __init__(self, configs: dict[str, CleanConfig], whole: Whole | None = None) -> None:
        self._configs = configs
        self._whole = whole

    def setup(self) -> None:
        self._progress = Progress("curate: cleaning", "documents", whole=self._whole)

    def process(self, doc: Document) -> Iterator[Document | TaggedOutput]:
        self._progress.add(documents=1)
        cleaned = clean_document(doc, self._configs.get(doc.source, CleanConfig()))
        if not cleaned.text.strip():
            yield _reject(doc, "empty")
        else:
            yield cleaned


class DetectLanguage(beam.DoFn):
    """Sets `lang` (from the text, or as stated by a trusted source) and drops documents whose language the recipe
    does not keep or whose detected language falls below its confidence threshold."""

    def __init__(self, config: LanguageConfig) -> None:
        self._config = config
        self._detector: Detector | None = None

    def setup(self) -> None:
        self._detector = load_detector(self._config.detector)

    def process(self, doc: Document) -> Iterator[Document | TaggedOutput]:
        doc, drop = language_verdict(doc, self._config, self._detector)
        if drop is not None:
            yield _reject(doc, "language", drop)
        else:
            yield doc


class ApplyQualityRules(beam.DoFn):
    """Per-source quality rules; the first rule that fails names the drop reason."""

    def __init__(self, configs: dict[str, FilterConfig]) -> None:
        self._configs = configs
        self._rules: dict = {}

    def setup(self) -> None:
        self._rules = {source: build_rules(config) for source, config in self._configs.items()}
        self._default = build_rules(FilterConfig())

    def process(self, doc: Document) -> Iterator[Document | TaggedOutput]:
        reason = first_failure(doc, self._rules.get(doc.source, self._default))
        if reason is not None:
            yield _reject(doc, reason)
        else:
            yield doc
