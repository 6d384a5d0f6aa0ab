"""The Beam wrappers of curate, each on a `beam.Create([...])`, with their counters."""

import gzip

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from gap_replay.beam import counters
from gap_replay.beam.dedup import ExactDedup, LatestVersion, NearDedup, PreferFullText
from gap_replay.beam.filters import ApplyQualityRules, DetectLanguage
from gap_replay.beam.parse import ParseFiles
from gap_replay.beam.rejects import REJECTS
from gap_replay.documents import Document
from gap_replay.pipelines.options import pipeline_options
from gap_replay.recipe import FilterConfig, LanguageConfig, MinHashConfig
from gap_replay.sources.base import Deletion

PRIORITY = ["pmc", "guidelines", "pubmed", "replay"]

ABSTRACT = (
    "Hypertension affects about one in three adults and remains the leading modifiable risk factor for stroke, "
    "myocardial infarction and chronic kidney disease. We randomly assigned 1,204 adults with uncontrolled blood "
    "pressure to a pharmacist-led titration protocol or to usual care in twelve primary care clinics. After twelve "
    "months, systolic pressure fell by 14.2 mm Hg with the protocol and by 6.1 mm Hg with usual care, and more "
    "patients reached the target of 130/80 mm Hg. Adverse events, mostly dizziness and hyperkalaemia, were rare "
    "and similar between groups. Team-based titration is a practical way to improve blood pressure control."
)


def doc(doc_id: str, text: str = ABSTRACT, **fields) -> Document:
    source = fields.pop("source", doc_id.split(":")[0].split("/")[0])
    return Document(id=doc_id, source=source, subsource=fields.pop("subsource", source), text=text, **fields)


def run(docs, transform, kept, rejected):
    """Run `transform` on the documents, check kept ids and (id, reason) rejects; returns the counters."""
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = pipeline | beam.Create(docs) | transform
    assert_that(outputs.documents | beam.Map(lambda d: d.id), equal_to(kept), label="kept")
    assert_that(outputs[REJECTS] | beam.Map(lambda r: (r["id"], r["reason"])), equal_to(rejected), label="rejected")
    return counters.collect(pipeline.run())


def test_exact_duplicates_keep_full_text_over_abstract_and_are_counted():
    docs = [doc("pubmed:1"), doc("pmc:PMC1", ABSTRACT.upper().replace(" ", "  ")), doc("pubmed:2", ABSTRACT + " More.")]
    stats = run(docs, ExactDedup(PRIORITY), ["pmc:PMC1", "pubmed:2"], [("pubmed:1", "exact_duplicate")])
    assert stats["pubmed"]["dropped"] == {"exact_duplicate": 1}


def test_exact_dedup_keeps_digits_apart():
    docs = [doc("pubmed:1", ABSTRACT), doc("pubmed:2", ABSTRACT.replace("14.2 mm Hg", "24.2 mm Hg"))]
    run(docs, ExactDedup(PRIORITY), ["pubmed:1", "pubmed:2"], [])


def test_near_duplicates_collapse_to_the_rule_survivor_with_its_cluster():
    near = ABSTRACT.replace("twelve primary care", "ten primary care").replace("rare", "uncommon")
    other = "Influenza vaccination of health workers reduces sickness absence. " * 12
    docs = [
        doc("pubmed:1", date="2024-01-01"),
        doc("pubmed:2", near, date="2025-06-01"),
        doc("guidelines/who:x", other, source="guidelines", subsource="who"),
    ]
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = pipeline | beam.Create(docs) | NearDedup(MinHashConfig(), PRIORITY)
    assert_that(
        outputs.documents | beam.Map(lambda d: (d.id, d.meta.get("cluster_id"), d.meta.get("cluster_size"))),
        equal_to([("pubmed:2", "pubmed:1", 2), ("guidelines/who:x", None, None)]),
        label="survivors",
    )
    assert_that(
        outputs[REJECTS] | beam.Map(lambda r: (r["id"], r["reason"], r["detail"])),
        equal_to([("pubmed:1", "near_duplicate", "kept pubmed:2")]),
        label="rejects",
    )
    stats = counters.collect(pipeline.run())
    assert stats["pubmed"]["dropped"] == {"near_duplicate": 1}
    assert stats["pubmed"]["clusters"] == {"near": 1}


def test_latest_version_of_an_id_wins():
    docs = [doc("pubmed:7", meta={"version": 1}), doc("pubmed:7", ABSTRACT + " Revised.", meta={"version": 2})]
    pipeline = beam.Pipeline(options=pipeline_options())
    inputs = {"documents": pipeline | "Docs" >> beam.Create(docs), "deletions": pipeline | "None" >> beam.Create([])}
    outputs = inputs | LatestVersion(PRIORITY)
    assert_that(outputs.documents | beam.Map(lambda d: d.meta["version"]), equal_to([2]))
    pipeline.run().wait_until_finish()


def test_a_later_update_file_revises_and_a_later_deletion_removes():
    docs = [
        doc("pubmed:1", meta={"revision": 1}),
        doc("pubmed:1", ABSTRACT + " Corrected.", meta={"revision": 3}),
        doc("pubmed:2", meta={"revision": 1}),
        doc("pubmed:3", meta={"revision": 5}),
    ]
    deletions = [Deletion("pubmed:2", 3), Deletion("pubmed:3", 4)]
    pipeline = beam.Pipeline(options=pipeline_options())
    inputs = {
        "documents": pipeline | "Docs" >> beam.Create(docs),
        "deletions": pipeline | "Dels" >> beam.Create(deletions),
    }
    outputs = inputs | LatestVersion(PRIORITY)
    assert_that(
        outputs.documents | beam.Map(lambda d: (d.id, d.meta["revision"])),
        equal_to([("pubmed:1", 3), ("pubmed:3", 5)]),
        "kept",
    )
    assert_that(
        outputs[REJECTS] | beam.Map(lambda r: (r["id"], r["reason"])),
        equal_to([("pubmed:1", "superseded_version"), ("pubmed:2", "deleted")]),
        "rejected",
    )
    stats = counters.collect(pipeline.run())
    assert stats["pubmed"]["dropped"] == {"superseded_version": 1, "deleted": 1}


def test_an_abstract_whose_full_text_is_in_the_corpus_is_dropped():
    docs = [
        doc("pubmed:11", meta={"pmid": "11", "pmcid": None}),
        doc("pubmed:12", meta={"pmid": "12", "pmcid": "PMC9"}),
        doc("pubmed:13", meta={"pmid": "13"}),
        doc("pmc:PMC1", "Full text one.", meta={"pmid": "11", "pmcid": "PMC1"}),
        doc("pmc:PMC9", "Full text nine.", meta={"pmid": None, "pmcid": "PMC9"}),
    ]
    run(
        docs,
        PreferFullText(),
        ["pmc:PMC1", "pmc:PMC9", "pubmed:13"],
        [("pubmed:11", "full_text_available"), ("pubmed:12", "full_text_available")],
    )


def test_language_filter_drops_what_the_recipe_does_not_keep():
    french = (
        "L'hypertension artérielle touche environ un adulte sur trois et reste le principal facteur de risque "
        "modifiable d'accident vasculaire cérébral. Nous avons suivi les patients pendant douze mois."
    )
    docs = [doc("pubmed:1"), doc("guidelines/who:fr", french, source="guidelines", subsource="who")]
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = (
        pipeline
        | beam.Create(docs)
        | beam.ParDo(DetectLanguage(LanguageConfig())).with_outputs(REJECTS, main="documents")
    )
    assert_that(outputs.documents | beam.Map(lambda d: (d.id, d.lang)), equal_to([("pubmed:1", "en")]), "kept")
    assert_that(
        outputs[REJECTS] | beam.Map(lambda r: (r["id"], r["detail"])),
        equal_to([("guidelines/who:fr", "fr (detected)")]),
        "rejected",
    )
    stats = counters.collect(pipeline.run())
    assert stats["guidelines"]["dropped"] == {"language": 1}


def test_quality_rules_use_each_sources_thresholds():
    short = "Hypertension is common and treatable in adults with modern medicines today."
    docs = [doc("pubmed:1", short), doc("guidelines/who:a", short, source="guidelines", subsource="who")]
    configs = {"pubmed": FilterConfig(min_words=5), "guidelines": FilterConfig(min_words=50)}
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = (
        pipeline | beam.Create(docs) | beam.ParDo(ApplyQualityRules(configs)).with_outputs(REJECTS, main="documents")
    )
    assert_that(outputs.documents | beam.Map(lambda d: d.id), equal_to(["pubmed:1"]), "kept")
    stats = counters.collect(pipeline.run())
    assert stats["guidelines"]["dropped"] == {"too_few_words": 1}


def test_a_damaged_file_is_a_counted_reject_and_its_good_records_stay(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "first record", "meta": {}}\n{"text": "second record", "meta": {}}\n')
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"text": "kept before the break", "meta": {}}\n' * 50)[:-20])
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = (
        pipeline
        | beam.Create([("replay", str(good)), ("replay", str(broken))])
        | beam.ParDo(ParseFiles()).with_outputs(REJECTS, main="documents")
    )
    assert_that(
        outputs[REJECTS] | beam.Map(lambda r: (r["file"], r["reason"])),
        equal_to([(str(broken), "parse_error")]),
        "rejects",
    )
    stats = counters.collect(pipeline.run())
    assert stats["replay"]["files"] == 2
    assert stats["replay"]["dropped"] == {"parse_error": 1}
    assert stats["replay"]["parsed"] >= 2


@pytest.mark.parametrize("limit", [1, 2])
def test_parse_files_caps_documents_per_file(tmp_path, limit):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(f'{{"text": "record {n}", "meta": {{}}}}\n' for n in range(5)))
    outputs = list(ParseFiles({"replay": limit}).process(("replay", str(path))))
    assert len(outputs) == limit
