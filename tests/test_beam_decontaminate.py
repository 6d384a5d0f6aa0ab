"""Benchmark decontamination on Beam: benchmark files (JSONL, Hugging Face dataset folders, id blocklists) read
into the index, and the step on a `beam.Create([...])` with its counters, reject records and report; then the four
real benchmarks when `../shared/benchmarks` is present."""

import gzip
import hashlib
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from gap_replay.beam import counters
from gap_replay.beam.decontaminate import Decontaminate, load_benchmark, load_index, read_ids
from gap_replay.beam.rejects import REJECTS
from gap_replay.documents import Document
from gap_replay.pipelines.options import pipeline_options
from gap_replay.recipe import BenchmarkConfig, DecontaminationConfig
from gap_replay.text.decontaminate import decontamination_report, find_matches

FIXTURES = Path(__file__).parent / "fixtures" / "decontamination"
QUIZ = FIXTURES / "quiz.jsonl"
PMIDS = FIXTURES / "quiz_pmids.json"
ROWS = [json.loads(line) for line in QUIZ.read_text(encoding="utf-8").splitlines()]
QUESTION = ROWS[0]["question"]
LEFT = " ".join(f"left{number}" for number in range(20))
RIGHT = " ".join(f"right{number}" for number in range(20))
CLEAN = (
    "Hypertension affects about one in three adults and remains the leading modifiable risk factor for stroke. "
    "Team-based titration of antihypertensive drugs by pharmacists improves blood pressure control in primary care."
)
BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_benchmarks = pytest.mark.skipif(
    not BENCHMARKS.is_dir(), reason="real benchmark files (../shared/benchmarks) not present"
)


def config(**settings) -> DecontaminationConfig:
    quiz = BenchmarkConfig(name="quiz", path=str(QUIZ), ids=str(PMIDS))
    return DecontaminationConfig(enabled=True, benchmarks=[quiz], **settings)


def doc(doc_id: str, text: str) -> Document:
    source = doc_id.split(":")[0]
    return Document(id=doc_id, source=source, subsource=source, text=text)


def removal(record: dict) -> tuple:
    return record["id"], record["reason"], record["action"], record["benchmark"], record["item"]


def run(docs, settings: DecontaminationConfig, kept, rejected, project=removal):
    """Run the step; check the kept (id, text) and the projected reject records; returns the counters."""
    pipeline = beam.Pipeline(options=pipeline_options())
    outputs = pipeline | beam.Create(docs) | Decontaminate(settings)
    assert_that(outputs.documents | beam.Map(lambda d: (d.id, d.text)), equal_to(kept), label="kept")
    assert_that(outputs[REJECTS] | beam.Map(project), equal_to(rejected), label="rejected")
    return counters.collect(pipeline.run())


# Reading benchmark files


def test_jsonl_items_take_realidx_else_their_line_number():
    benchmark = load_benchmark(BenchmarkConfig(name="quiz", path=str(QUIZ)))
    assert [item for item, _ in benchmark.rows] == ["101", "102", "line 3", "12345678"]
    assert benchmark.sha256 == hashlib.sha256(QUIZ.read_bytes()).hexdigest()
    assert benchmark.ids == [] and benchmark.ids_path is None


def test_a_gzipped_jsonl_reads_the_same(tmp_path):
    packed = tmp_path / "quiz.jsonl.gz"
    packed.write_bytes(gzip.compress(QUIZ.read_bytes()))
    assert (
        load_benchmark(BenchmarkConfig(name="quiz", path=str(packed))).rows
        == load_benchmark(BenchmarkConfig(name="quiz", path=str(QUIZ))).rows
    )


def test_a_pmid_object_blocklist_gives_its_keys():
    ids, sha256 = read_ids(str(PMIDS))
    assert ids == ["12345678", "23456789"]
    assert sha256 == hashlib.sha256(PMIDS.read_bytes()).hexdigest()


def test_a_blocklist_may_be_a_json_list_or_one_id_a_line(tmp_path):
    (tmp_path / "ids.json").write_text("[123, 456]")
    (tmp_path / "ids.txt").write_text("123\n\n456\n")
    assert read_ids(str(tmp_path / "ids.json"))[0] == read_ids(str(tmp_path / "ids.txt"))[0] == ["123", "456"]


def dataset_rows() -> list[dict]:
    """The fixture rows as Arrow can hold them: every option letter in each row, no mixed-type ids."""
    return [{"question": row["question"], "options": {k: row["options"].get(k) for k in "ABCD"}} for row in ROWS]


def test_a_saved_dataset_folder_indexes_like_its_jsonl(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.DatasetDict({"test": datasets.Dataset.from_list(dataset_rows())}).save_to_disk(str(tmp_path / "quiz"))
    from_disk = load_benchmark(BenchmarkConfig(name="quiz", path=str(tmp_path / "quiz")))
    assert [item for item, _ in from_disk.rows] == [f"test row {number}" for number in range(4)]
    jsonl = load_index(config())
    folder = load_index(DecontaminationConfig(benchmarks=[BenchmarkConfig(name="quiz", path=str(tmp_path / "quiz"))]))
    assert folder.keys.tolist() == jsonl.keys.tolist()


def test_a_folder_of_data_files_loads_with_load_dataset(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "quiz"
    folder.mkdir()
    lines = [json.dumps({**row, "realidx": f"q{number}"}) for number, row in enumerate(dataset_rows())]
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    benchmark = load_benchmark(BenchmarkConfig(name="quiz", path=str(folder)))
    assert [item for item, _ in benchmark.rows] == ["q0", "q1", "q2", "q3"]
    assert len(benchmark.sha256) == 64


def test_a_folders_sha256_changes_with_any_file(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(dataset_rows()).save_to_disk(str(tmp_path / "quiz"))
    before = load_benchmark(BenchmarkConfig(name="quiz", path=str(tmp_path / "quiz"))).sha256
    (tmp_path / "quiz" / "notes.txt").write_text("added")
    assert load_benchmark(BenchmarkConfig(name="quiz", path=str(tmp_path / "quiz"))).sha256 != before


# The step


def test_documents_holding_an_item_are_dropped_and_counted_by_benchmark():
    docs = [
        doc("pubmed:1", f"Teaching case. {QUESTION} The answer is A."),
        doc("pubmed:2", CLEAN),
        doc("guidelines:3", "\n".join(f"({k}) {v}" for k, v in ROWS[0]["options"].items())),
    ]
    stats = run(
        docs,
        config(),
        [("pubmed:2", CLEAN)],
        [
            ("guidelines:3", "decontaminated", "drop", "quiz", "101"),
            ("pubmed:1", "decontaminated", "drop", "quiz", "101"),
        ],
    )
    assert stats["pubmed"]["dropped"] == {"decontaminated": 1}
    assert stats["pubmed"]["decontamination"] == {
        "quiz/drop/documents": 1,
        "quiz/drop/tokens": len(docs[0].text.split()),
        "drop/documents": 1,
        "drop/tokens": len(docs[0].text.split()),
    }
    assert stats["guidelines"]["decontamination"]["quiz/drop/documents"] == 1


def test_a_reject_names_the_part_and_the_matched_text():
    docs = [doc("pubmed:1", f"Teaching case. {QUESTION} The answer is A.")]
    project = lambda r: (r["text"], [(m["benchmark"], m["item"], m["part"], m["coverage"]) for m in r["matches"]])  # noqa: E731
    run(docs, config(), [], [(QUESTION, [("quiz", "101", "question", 1.0)])], project)


def test_a_blocked_id_is_dropped_with_its_prefix_only():
    docs = [doc("pubmed:12345678", CLEAN), doc("pmc:12345678", CLEAN), doc("pubmed:1234567", CLEAN)]
    stats = run(
        docs,
        config(),
        [("pmc:12345678", CLEAN), ("pubmed:1234567", CLEAN)],
        [("pubmed:12345678", "decontaminated", "id", "quiz", "12345678")],
    )
    assert stats["pubmed"]["decontamination"]["quiz/id/documents"] == 1
    assert stats["pubmed"]["decontamination"]["quiz/id/tokens"] == len(CLEAN.split())


def test_a_cut_source_keeps_the_text_around_the_item_and_margin():
    text = f"{LEFT} {QUESTION} {RIGHT}"
    start, end = text.index("left17"), text.index("right3") - 1
    kept = f"{' '.join(LEFT.split()[:17])}\n\n{' '.join(RIGHT.split()[3:])}"
    project = lambda r: (r["reason"], r["action"], r["item"], [tuple(span) for span in r["removed"]])  # noqa: E731
    stats = run(
        [doc("pmc:1", text)],
        config(action={"pmc": "cut"}, margin_words=3),
        [("pmc:1", kept)],
        [("decontaminated_cut", "cut", "101", [(start, end)])],
        project,
    )
    removed_tokens = len(QUESTION.split()) + 3 + 3
    assert stats["pmc"]["decontamination"] == {
        "quiz/cut/documents": 1,
        "quiz/cut/tokens": removed_tokens,
        "cut/documents": 1,
        "cut/tokens": removed_tokens,
    }
    assert "dropped" not in stats["pmc"]


def test_a_cut_that_leaves_nothing_drops_the_document():
    stats = run(
        [doc("pmc:1", f"Question 12. {QUESTION}")],
        config(action={"pmc": "cut"}),
        [],
        [("pmc:1", "decontaminated", "drop", "quiz", "101")],
    )
    assert stats["pmc"]["dropped"] == {"decontaminated": 1}


def test_a_cut_that_leaves_only_punctuation_drops_the_document():
    run(
        [doc("pmc:1", f"— {QUESTION} —")],
        config(action={"pmc": "cut"}, margin_words=0),
        [],
        [("pmc:1", "decontaminated", "drop", "quiz", "101")],
    )


def test_sources_the_action_does_not_name_are_dropped():
    docs = [doc("pubmed:1", f"{LEFT} {QUESTION} {RIGHT}")]
    run(docs, config(action={"pmc": "cut"}), [], [("pubmed:1", "decontaminated", "drop", "quiz", "101")])


def test_the_report_reads_the_steps_counters():
    docs = [
        doc("pubmed:1", f"Teaching case. {QUESTION}"),
        doc("pubmed:12345678", CLEAN),
        doc("pmc:1", f"{LEFT} {QUESTION} {RIGHT}"),
        doc("pmc:2", CLEAN),
    ]
    settings = config(action={"pmc": "cut"}, margin_words=0)
    rejected = [
        ("pubmed:1", "decontaminated", "drop", "quiz", "101"),
        ("pubmed:12345678", "decontaminated", "id", "quiz", "12345678"),
        ("pmc:1", "decontaminated_cut", "cut", "quiz", "101"),
    ]
    stats = run(docs, settings, [("pmc:1", f"{LEFT}\n\n{RIGHT}"), ("pmc:2", CLEAN)], rejected)
    report = decontamination_report(load_index(settings).benchmarks, settings, stats)
    (quiz,) = report["benchmarks"]
    assert quiz["sha256"] == hashlib.sha256(QUIZ.read_bytes()).hexdigest()
    assert quiz["ids"]["sha256"] == hashlib.sha256(PMIDS.read_bytes()).hexdigest() and quiz["ids"]["count"] == 2
    assert quiz["removed"]["documents"] == {"drop": 1, "cut": 1, "id": 1}
    assert quiz["removed"]["tokens"] == {
        "drop": len(docs[0].text.split()),
        "cut": len(QUESTION.split()),
        "id": len(CLEAN.split()),
    }
    assert quiz["removed"]["sources"]["pmc"]["documents"] == {"drop": 0, "cut": 1, "id": 0}
    assert report["removed"]["documents"] == {"drop": 1, "cut": 1, "id": 1}


# The real benchmarks


@pytest.fixture(scope="module")
def real():
    files = [
        ("medqa", "medqa_test.jsonl", None),
        ("medmcqa", "medmcqa_dev_subset.jsonl", None),
        ("pubmedqa", "pubmedqa_test.jsonl", "pubmedqa_test_pmids.json"),
        ("mmlu", "mmlu_medical_test.jsonl", None),
    ]
    settings = DecontaminationConfig(
        enabled=True,
        benchmarks=[
            BenchmarkConfig(name=name, path=str(BENCHMARKS / path), ids=ids and str(BENCHMARKS / ids))
            for name, path, ids in files
        ],
    )
    return settings, load_index(settings)


@needs_benchmarks
def test_all_four_real_benchmarks_are_indexed_whole(real):
    _, index = real
    assert [(b["name"], b["rows"], b["items"]) for b in index.benchmarks] == [
        ("medqa", 1273, 1273),
        ("medmcqa", 2816, 2816),
        ("pubmedqa", 500, 500),
        ("mmlu", 1089, 1089),
    ]
    # The sha256 the benchmarks' README lists.
    assert index.benchmarks[0]["sha256"] == "b0536be0ff396be91eb0cf61a42056b0abef06a23e7e8be491d62fd959b77b72"
    assert index.benchmarks[2]["ids"]["count"] == 500


@needs_benchmarks
def test_a_real_medqa_question_in_a_guideline_paragraph_is_found(real):
    settings, index = real
    row = json.loads((BENCHMARKS / "medqa_test.jsonl").read_text(encoding="utf-8").splitlines()[42])
    paragraph = (
        "Recommendation 4.2. Clinicians should take a structured history and examine the patient before ordering "
        f"tests. Worked example: {row['question']} Discuss the options with the patient and document the decision."
    )
    matches = find_matches(index, paragraph, settings.min_coverage)
    assert ("medqa", str(row["realidx"]), "question") in [
        (m.part.benchmark, m.part.item, m.part.label) for m in matches
    ]


@needs_benchmarks
def test_a_real_pubmedqa_pmid_is_blocked(real):
    settings, _ = real
    pmid = next(iter(json.loads((BENCHMARKS / "pubmedqa_test_pmids.json").read_text(encoding="utf-8"))))
    run(
        [doc(f"pubmed:{pmid}", CLEAN), doc("pubmed:1", CLEAN)],
        settings,
        [("pubmed:1", CLEAN)],
        [(f"pubmed:{pmid}", "decontaminated", "id", "pubmedqa", pmid)],
    )


@needs_benchmarks
def test_real_pubmed_abstracts_of_other_papers_are_clean(real):
    settings, index = real
    from gap_replay.sources import pubmed

    sample = BENCHMARKS.parent / "samples" / "pubmed" / "pubmed21n1298_slice1023.xml.gz"
    if not sample.exists():
        pytest.skip("needs ../shared/samples/pubmed (real PubMed records)")
    with sample.open("rb") as stream:
        docs = [item for item in pubmed.parse(stream, sample.name) if isinstance(item, Document)]
    assert len(docs) > 500
    assert [d.id for d in docs if find_matches(index, d.text, settings.min_coverage)] == []
