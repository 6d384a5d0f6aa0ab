"""A collection of one's own (the `local` source): fields mapped onto the record, ids kept, malformed rows reported,
and a whole collection curated and built like any other source, on every worker."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gap_replay.cli import main
from gap_replay.pipelines.build import run_build
from gap_replay.pipelines.curate import Curate, run_curate
from gap_replay.recipe import LocalConfig, parse_recipe
from gap_replay.sources import local
from gap_replay.sources.base import ParseError

FIELDS = {"id": "doc_id", "text": "body", "title": "heading", "url": None, "date": "issued", "license": None}


def rows_of(data: bytes, name: str, **options) -> list:
    return list(local.parse(io.BytesIO(data), name, **options))


def jsonl(*rows: dict) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def test_a_row_becomes_a_record_with_its_own_id_under_the_collection_name():
    data = jsonl({"doc_id": "G-17", "body": "Give oral rehydration salts.", "heading": "Diarrhoea", "ward": "4B"})
    (doc,) = rows_of(data, "lab.jsonl", collection="lab", fields=FIELDS, license="CC-BY-4.0", redistributable=True)
    assert (doc.id, doc.source, doc.subsource) == ("local/lab:G-17", "local", "lab")
    assert (doc.title, doc.text, doc.license, doc.url) == (
        "Diarrhoea",
        "Give oral rehydration salts.",
        "CC-BY-4.0",
        None,
    )
    assert doc.meta == {"redistributable": True, "ward": "4B"}, "fields the mapping does not name stay in meta"


def test_a_rows_own_licence_wins_over_the_collections_and_dates_are_iso_days():
    row = {"id": 7, "text": "Text.", "license": "CC0-1.0", "date": "2024-03-05T10:00:00Z"}
    (doc,) = rows_of(jsonl(row), "c.jsonl", license="CC-BY-4.0")
    assert (doc.id, doc.license, doc.date) == ("local/local:7", "CC0-1.0", "2024-03-05")
    (undated,) = rows_of(jsonl({**row, "date": "last spring"}), "c.jsonl")
    assert undated.date is None


def test_malformed_rows_are_reported_by_line_after_the_good_ones():
    data = jsonl({"id": "a", "text": "kept"}, {"text": "no id"}, {"id": "b"}, {"id": True, "text": "x"})
    data += b"{broken\n" + jsonl({"id": "c", "text": "also kept"})
    parsed = []
    with pytest.raises(ParseError) as error:
        parsed.extend(local.parse(io.BytesIO(data), "c.jsonl"))
    assert [doc.id for doc in parsed] == ["local/local:a", "local/local:c"]
    assert "skipped 4 malformed record(s): line 2: no 'id' id; line 3: no 'text' text; line 4: no 'id' id" in str(
        error.value
    )
    assert "line 5: not JSON" in str(error.value)


def test_an_empty_text_yields_nothing_and_gzip_and_parquet_read_alike(tmp_path):
    rows = [{"id": "1", "text": "First."}, {"id": "2", "text": "  "}]
    assert [doc.id for doc in rows_of(gzip.compress(jsonl(*rows)), "c.jsonl.gz")] == ["local/local:1"]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    assert [doc.id for doc in rows_of(buffer.getvalue(), "c.parquet")] == ["local/local:1"]


def test_paths_and_globs_name_the_files_and_a_pattern_matching_nothing_is_an_error(tmp_path):
    for name in ("a.jsonl", "b.jsonl.gz", "c.parquet"):
        (tmp_path / name).write_bytes(b"{}")
    config = LocalConfig(enabled=True, paths=[str(tmp_path / "*.jsonl*"), str(tmp_path / "c.parquet")])
    assert [Path(path).name for path, _ in local.input_files(config)] == ["a.jsonl", "b.jsonl.gz", "c.parquet"]
    with pytest.raises(local.LocalInputError, match=r"sources.local.paths: .*none\*\.jsonl matches no file"):
        local.input_files(LocalConfig(enabled=True, paths=[str(tmp_path / "none*.jsonl")]))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(local.LocalInputError, match=r"notes\.txt: not a JSONL, JSONL\.gz or Parquet file"):
        local.input_files(LocalConfig(enabled=True, paths=[str(tmp_path / "notes.txt")]))


def test_an_enabled_local_source_must_name_its_files():
    with pytest.raises(ValueError, match="an enabled local source names its files in `paths`"):
        LocalConfig(enabled=True)


SENTENCES = [
    "Metformin remains the first-line therapy for type 2 diabetes in adults without contraindications.",
    "Children with fever and a stiff neck need urgent assessment for bacterial meningitis.",
    "Hand hygiene before and after patient contact prevents most healthcare-associated infections.",
    "A systolic pressure above 140 mm Hg on repeated readings confirms hypertension in most adults.",
    "Oral rehydration salts and zinc shorten acute watery diarrhoea in young children.",
    "Screening for latent tuberculosis is advised before starting anti-TNF therapy.",
    "Iron supplements taken on alternate days are absorbed as well and cause fewer side effects.",
]


def collection(path: Path, documents: int) -> None:
    """A single-file collection of distinct, English, well-formed guidance paragraphs."""
    rows = []
    for number in range(documents):
        picked = [SENTENCES[(number * 3 + k) % len(SENTENCES)] for k in range(5)]
        text = f"Protocol {number}, reviewed in ward {number % 13}. " + " ".join(picked)
        text += f" Audit {number}: {number * 7 % 100} of {number % 50 + 50} patients met the standard this year."
        rows.append({"doc_id": f"P{number:04d}", "body": text, "heading": f"Ward protocol {number}"})
    path.write_bytes(jsonl(*rows))


def local_recipe(output: Path, source: Path):
    return parse_recipe(
        {
            "name": "lab",
            "output": str(output),
            "sources": {
                **{name: {"enabled": False} for name in ("pubmed", "pmc", "guidelines", "replay")},
                "local": {"enabled": True, "name": "lab", "paths": [str(source)], "fields": FIELDS},
            },
            "dedup": {"minhash": {"enabled": False}},
            "tokenizer": {"vocab_size": 400},
            "shards": {"tokens_per_shard": 5000},
            "split": {"valid_fraction": 0.1},
        }
    )


@pytest.mark.slow
def test_a_local_collection_curates_and_builds_with_its_own_ids_on_every_worker(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("GAP_REPLAY_PROGRESS_SECONDS", "0")  # the workers' progress lines at every step
    source = tmp_path / "protocols.jsonl"
    collection(source, 120)
    recipe = local_recipe(tmp_path / "out", source)
    workers = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    stats = run_curate(recipe, "sha", workers)  # no fetch: the collection is read where it is
    assert "curate: parsing: 1 files of 1 files (100%)" in capfd.readouterr().err, "the job's total, over the workers"
    assert not (tmp_path / "out" / "progress").exists(), "the workers' counts are not an output"
    assert stats["sources"]["local"]["kept"] == 120
    assert stats["local_files"] == [{"path": str(source), "bytes": source.stat().st_size}]
    curated = pq.read_table(tmp_path / "out" / "curated" / "local").column("id").to_pylist()
    assert sorted(curated) == [f"local/lab:P{number:04d}" for number in range(120)]
    manifest = run_build(recipe, "sha", workers)
    assert " documents of 120 documents (" in capfd.readouterr().err, "build's progress counts every curated document"
    totals = manifest["totals"]
    assert totals["train"]["sources"]["local"]["documents"] + totals["valid"]["sources"]["local"]["documents"] == 120
    assert totals["train"]["sources"]["local"]["tokens"] > 0


def test_curate_spreads_what_one_file_holds_across_workers_right_after_parsing_by_grouping_it_by_id(tmp_path):
    import apache_beam as beam

    source = tmp_path / "protocols.jsonl"
    collection(source, 3)
    pipeline = beam.Pipeline()
    _ = pipeline | beam.Create([("local", str(source))]) | "Curate" >> Curate(local_recipe(tmp_path, source))
    steps = [node.full_label for node in pipeline.transforms_stack[0].parts[-1].parts]
    assert steps.index("Curate/LatestVersion") == steps.index("Curate/Parse") + 1, "grouped by id right after parsing"


def test_gap_replay_parse_reads_a_local_collection(tmp_path, capsys):
    source = tmp_path / "c.jsonl"
    source.write_bytes(jsonl({"id": "x1", "text": "A line of guidance."}))
    assert main(["parse", "local", str(source), "--out", str(tmp_path / "out.jsonl")]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["id"] == "local/local:x1"
