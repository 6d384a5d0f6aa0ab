"""The Beam wrappers of curate, each on a `beam.Create([...])`, with their counters."""

import gzip
import zlib

import apache_beam as beam
import pytest
from apache_beam.pvalue import TaggedOutput
from apache_beam.testing.util import assert_that, equal_to

from gap_replay.beam import counters
from gap_replay.beam import dedup as dedup_module
from gap_replay.beam.dedup import (
    EXACT_BAND,
    EXACT_EDGES,
    KEYS,
    ExactDedup,
    LatestVersion,
    NearDedup,
    PreferFullText,
    _bucket_pairs,
    near_dedup_stats,
)
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


@pytest.mark.parametrize("components", ["beam", "driver"])
def test_near_duplicates_collapse_to_the_rule_survivor_with_its_cluster(components):
    near = ABSTRACT.replace("twelve primary care", "ten primary care").replace("rare", "uncommon")
    other = "Influenza vaccination of health workers reduces sickness absence. " * 12
    docs = [
        doc("pubmed:1", date="2024-01-01"),
        doc("pubmed:2", near, date="2025-06-01"),
        doc("guidelines/who:x", other, source="guidelines", subsource="who"),
    ]
    pipeline = beam.Pipeline(options=pipeline_options())
    config = MinHashConfig(components=components, max_rounds=4)
    outputs = pipeline | beam.Create(docs) | NearDedup(config, PRIORITY)
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
    result = pipeline.run()
    stats = counters.collect(result)
    assert stats["pubmed"]["dropped"] == {"near_duplicate": 1}
    assert stats["pubmed"]["clusters"] == {"near": 1}
    near_dedup = near_dedup_stats(result)
    assert near_dedup["edges"] == ({"beam": 1, "driver": 0} if components == "beam" else {"beam": 0, "driver": 1})
    # One edge is already a star: one Beam round confirms it; the driver runs none.
    assert near_dedup["rounds"] == (1 if components == "beam" else 0)


def test_a_cluster_of_three_keeps_one_survivor_whichever_way_components_are_resolved():
    base = ABSTRACT + " Blood pressure was measured at every visit by trained nurses."
    texts = [base, base.replace("twelve primary", "eleven primary"), base.replace("rare", "uncommon")]
    docs = [doc(f"pubmed:{n}", text, date=f"202{n}-01-01") for n, text in enumerate(texts, 1)]
    dropped = {}
    for components in ("beam", "driver"):
        pipeline = beam.Pipeline(options=pipeline_options())
        config = MinHashConfig(components=components, max_rounds=4)
        outputs = pipeline | beam.Create(docs) | NearDedup(config, PRIORITY)
        assert_that(
            outputs.documents | beam.Map(lambda d: (d.id, d.meta["cluster_id"], d.meta["cluster_size"])),
            equal_to([("pubmed:3", "pubmed:1", 3)]),
        )
        dropped[components] = counters.collect(pipeline.run())["pubmed"]["dropped"]
    assert dropped["beam"] == dropped["driver"] == {"near_duplicate": 2}


@pytest.mark.parametrize("verify", [None, 0.9])
def test_near_dedup_puts_exact_copies_in_the_cluster_and_names_them_exact_duplicates(verify):
    near = ABSTRACT.replace("twelve primary care", "ten primary care")
    docs = [
        doc("pubmed:1", date="2024-01-01"),
        doc("pubmed:2", ABSTRACT.upper(), date="2023-01-01"),  # the same text once normalised
        doc("pubmed:3", near, date="2022-01-01"),
        doc("pubmed:4", near.replace(" ", "  "), date="2021-01-01"),  # a copy of the near text, not of the survivor
    ]
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = pipeline | beam.Create(docs) | NearDedup(MinHashConfig(verify_jaccard=verify), PRIORITY)
    assert_that(
        outputs.documents | beam.Map(lambda d: (d.id, d.meta["cluster_id"], d.meta["cluster_size"])),
        equal_to([("pubmed:1", "pubmed:1", 4)]),
        label="survivor",
    )
    assert_that(
        outputs[REJECTS] | beam.Map(lambda r: (r["id"], r["reason"], r["detail"])),
        equal_to(
            [
                ("pubmed:2", "exact_duplicate", "kept pubmed:1"),
                ("pubmed:3", "near_duplicate", "kept pubmed:1"),
                ("pubmed:4", "near_duplicate", "kept pubmed:1"),
            ]
        ),
        label="rejects",
    )
    assert counters.collect(pipeline.run())["pubmed"]["dropped"] == {"exact_duplicate": 1, "near_duplicate": 2}


def test_band_entries_from_several_batches_meet_in_their_buckets_and_singletons_leave():
    a, b, c = ("a", ("ka",), "ta"), ("b", ("kb",), "tb"), ("c", ("kc",), "tc")
    batches = [([(0, b"x"), (1, b"y")], [a, a]), ([(0, b"x"), (2, b"z")], [b, c]), ([(1, b"y")], [c])]
    assert sorted(dedup_module._buckets((7, batches))) == [((0, b"x"), [a, b]), ((1, b"y"), [a, c])]


def test_a_bucket_s_entries_share_a_partition_whatever_document_they_come_from():
    key = (3, bytes(range(16)))
    assert dedup_module.band_partition(key) == (int.from_bytes(bytes(range(4)), "little") + 3) % 1024
    assert 0 <= dedup_module.band_partition((EXACT_BAND, b"\xff" * 20)) < dedup_module.BAND_PARTITIONS


def test_near_dedup_finds_the_same_clusters_when_band_batches_are_flushed_every_few_entries(monkeypatch):
    monkeypatch.setattr(dedup_module, "FLUSH_ENTRIES", 3)
    test_near_dedup_puts_exact_copies_in_the_cluster_and_names_them_exact_duplicates(None)


# Two texts of distinct words whose 5-word shingles are easy to count: one word of 200 changed changes the 5
# shingles that hold it, so 191 of 196 are shared and the exact Jaccard similarity is 191 / (196 + 196 - 191).
WORDS = [f"term{number}" for number in range(200)]
SIMILAR = " ".join([*WORDS[:100], "changed", *WORDS[101:]])


def shingle_jaccard(a, b, n=5):
    first = {tuple(a.split()[i : i + n]) for i in range(len(a.split()) - n + 1)}
    second = {tuple(b.split()[i : i + n]) for i in range(len(b.split()) - n + 1)}
    return len(first & second) / len(first | second)


@pytest.mark.parametrize(("threshold", "clustered"), [(191 / 201, True), (192 / 201, False)])
def test_exact_jaccard_verification_keeps_a_candidate_pair_only_at_the_threshold(threshold, clustered):
    assert shingle_jaccard(" ".join(WORDS), SIMILAR) == 191 / 201
    docs = [doc("pubmed:1", " ".join(WORDS)), doc("pubmed:2", SIMILAR)]
    pipeline = beam.Pipeline(options=pipeline_options())
    config = MinHashConfig(verify_jaccard=threshold, components="driver")
    outputs = pipeline | beam.Create(docs) | NearDedup(config, PRIORITY)
    # Equal but for their ids, the pair keeps the smaller id.
    kept = ["pubmed:1"] if clustered else ["pubmed:1", "pubmed:2"]
    assert_that(outputs.documents | beam.Map(lambda d: d.id), equal_to(kept))
    near_dedup = near_dedup_stats(pipeline.run())
    assert near_dedup["jaccard"] == {"checked": 1, "dissimilar": 0 if clustered else 1}


def test_without_verification_every_band_bucket_is_linked_by_a_star_and_with_it_every_pair_is_a_candidate():
    members = [("c", ("key c",), "text c"), ("a", ("key a",), "text a"), ("b", ("key b",), "text b")]
    bucket = ((0, b"band"), [*members, ("a", ("key a",), "text a")])
    star = [pair for pair in _bucket_pairs(bucket, every_pair=False) if not isinstance(pair, TaggedOutput)]
    pairs = [pair for pair in _bucket_pairs(bucket, every_pair=True) if not isinstance(pair, TaggedOutput)]
    keys = [output.value for output in _bucket_pairs(bucket, every_pair=False) if isinstance(output, TaggedOutput)]
    assert sorted(star) == [("a", "b"), ("a", "c")]
    assert sorted(pairs) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert sorted(keys) == [("a", (("key a",), "text a")), ("b", (("key b",), "text b")), ("c", (("key c",), "text c"))]


def test_a_band_bucket_of_one_document_gives_no_candidates():
    assert list(_bucket_pairs(((0, b"band"), [("a", ("key a",), "text a")]), every_pair=True)) == []


def test_copies_of_one_text_in_a_band_bucket_are_paired_once_through_their_smallest_id():
    copies = [(f"copy{n}", (f"key {n}",), "same text") for n in range(5)]
    bucket = ((3, b"band"), [*copies, ("other", ("key o",), "other text")])
    pairs = [pair for pair in _bucket_pairs(bucket, every_pair=True) if not isinstance(pair, TaggedOutput)]
    assert pairs == [("copy0", "other")], "five copies and one other text: one pair to verify, not fifteen"
    assert list(_bucket_pairs(((3, b"band"), copies), every_pair=True)) == [], "the copies' own bucket links them"


def test_an_exact_key_bucket_links_its_copies_in_a_star_of_sure_edges():
    copies = [("b", ("key b",), "same"), ("a", ("key a",), "same"), ("c", ("key c",), "same")]
    outputs = list(_bucket_pairs(((EXACT_BAND, b"digest"), copies), every_pair=True))
    sure = sorted(output.value for output in outputs if output.tag == EXACT_EDGES)
    keys = sorted(output.value for output in outputs if output.tag == KEYS)
    assert sure == [("a", "b"), ("a", "c")]
    assert keys == [("a", (("key a",), "same")), ("b", (("key b",), "same")), ("c", (("key c",), "same"))]
    assert all(isinstance(output, TaggedOutput) for output in outputs), "no pair goes to verification"


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
    # The records kept from the damaged file: the whole lines zlib can still inflate from its bytes.
    readable = zlib.decompressobj(wbits=31).decompress(broken.read_bytes()).count(b"\n")
    assert 0 < readable < 50
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
    expected = ["first record", "second record"] + ["kept before the break"] * readable
    assert_that(outputs.documents | beam.Map(lambda d: d.text), equal_to(expected), "kept")
    stats = counters.collect(pipeline.run())
    assert stats["replay"]["files"] == 2
    assert stats["replay"]["dropped"] == {"parse_error": 1}
    assert stats["replay"]["parsed"] == 2 + readable


@pytest.mark.parametrize("limit", [1, 2])
def test_parse_files_caps_documents_per_file(tmp_path, limit):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(f'{{"text": "record {n}", "meta": {{}}}}\n' for n in range(5)))
    parsing = ParseFiles({"replay": limit})
    parsing.setup()
    outputs = list(parsing.process(("replay", str(path))))
    assert len(outputs) == limit


def test_clusters_found_on_one_worker_merge_partial_sets_and_keep_the_smallest_key():
    combine = dedup_module._ClustersOnDriver()
    keys = {
        "a": ((2,), "ka"),
        "b": ((1,), "kb"),
        "c": ((3,), "kc"),
        "d": ((5,), "kd"),
        "e": ((4,), "ke"),
        "f": ((6,), "ke"),  # the text of "e"
    }
    first, second = combine.create_accumulator(), combine.create_accumulator()
    for item in [("edge", ("a", "b")), ("edge", ("b", "b")), ("key", ("a", keys["a"])), ("key", ("b", keys["b"]))]:
        first = combine.add_input(first, item)
    for item in [("edge", ("c", "b")), ("edge", ("e", "d")), ("edge", ("b", "a")), ("edge", ("e", "f"))]:
        second = combine.add_input(second, item)
    for member in "cdef":
        second = combine.add_input(second, ("key", (member, keys[member])))

    assigned = dict(combine.extract_output(combine.merge_accumulators([first, second])))

    # a-b-c is one cluster rooted at its smallest id, "b" survives by its key; d-e-f another, "e" survives, and "f",
    # which has its text, is its exact duplicate
    assert assigned == {
        "a": ("a", "b", 3, "near_duplicate"),
        "b": ("a", "b", 3, None),
        "c": ("a", "b", 3, "near_duplicate"),
        "d": ("d", "e", 3, "near_duplicate"),
        "e": ("d", "e", 3, None),
        "f": ("d", "e", 3, "exact_duplicate"),
    }
