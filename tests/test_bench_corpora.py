"""The synthetic corpora `make bench` times: seeded, of the stated size, and planting the work each curate step must
do (the duplicate and language ground truth itself is specified in test_bench_datatrove)."""

import gzip
import hashlib
import json

from gap_replay.beam.parse import parse_file
from gap_replay.bench_corpora import (
    NAVIGATION,
    jsonl_recipe,
    pubmed_recipe,
    row_kinds,
    synthetic_rows,
    write_synthetic_jsonl,
    write_synthetic_pubmed,
)
from gap_replay.documents import Document


def test_jsonl_rows_are_seeded_state_no_language_and_keep_their_size():
    rows = synthetic_rows(300, seed=1)

    assert rows == synthetic_rows(300, seed=1)
    assert rows != synthetic_rows(300, seed=2)
    assert [row["id"] for row in rows] == [f"doc-{index:07d}" for index in range(300)]
    assert all(set(row) == {"id", "title", "text"} for row in rows)
    english = [row for row in rows if row_kinds(rows)[row["id"]] == "english" and "Findings" not in row["text"]]
    assert all(1024 - 40 <= len(row["text"].encode()) <= 2048 for row in english)


def test_a_large_seeded_collection_plants_each_kind_near_its_share():
    rows = synthetic_rows(5000)
    kinds = row_kinds(rows)
    navigation = sum(set(row["text"].split("\n")) == {NAVIGATION} for row in rows)
    other = sum(kind == "other_language" for kind in kinds.values())

    assert 0.015 * 5000 < navigation < 0.03 * 5000  # 2%, and the copies of some
    assert 0.03 * 5000 < other < 0.055 * 5000  # 4%, and the copies of some


def test_the_collection_is_one_jsonl_file_by_default(tmp_path):
    written = write_synthetic_jsonl(tmp_path, 50)

    (path,) = tmp_path.iterdir()
    assert path.name == "collection-000.jsonl"
    assert written == path.stat().st_size
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == synthetic_rows(50)


def test_split_over_files_the_collection_keeps_every_row_once(tmp_path):
    write_synthetic_jsonl(tmp_path, 50, files=3)

    lines = [line for path in sorted(tmp_path.iterdir()) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [json.loads(line) for line in lines] == synthetic_rows(50)


def test_pubmed_files_parse_into_every_article_and_carry_ncbis_checksums(tmp_path):
    write_synthetic_pubmed(tmp_path, 103, files=4)

    files = sorted(tmp_path.glob("*.xml.gz"))
    assert [path.name for path in files] == [f"pubmed26n{number:04d}.xml.gz" for number in range(1, 5)]
    documents = [doc for path in files for doc in parse_file("pubmed", str(path)) if isinstance(doc, Document)]
    assert [doc.id for doc in documents] == [f"pubmed:{30_000_000 + index}" for index in range(103)]
    for path in files:
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        assert path.with_name(path.name + ".md5").read_text() == f"MD5({path.name})= {md5}\n"
    assert gzip.decompress(files[0].read_bytes()).startswith(b'<?xml version="1.0"')


def test_pubmed_files_repeat_some_abstracts(tmp_path):
    write_synthetic_pubmed(tmp_path, 2000, files=1)

    (path,) = tmp_path.glob("*.xml.gz")
    texts = [doc.text for doc in parse_file("pubmed", str(path)) if isinstance(doc, Document)]
    assert 0.01 * 2000 < len(texts) - len(set(texts)) < 0.03 * 2000


def test_the_recipes_enable_one_source_each(tmp_path):
    pubmed = pubmed_recipe(tmp_path / "pubmed")
    jsonl = jsonl_recipe(tmp_path / "jsonl", tmp_path / "collection")

    assert pubmed.sources.enabled() == ["pubmed"]
    assert pubmed.mirror is True
    assert jsonl.sources.enabled() == ["local"]
    assert jsonl.sources.local.paths == [str(tmp_path / "collection" / "*.jsonl")]
    assert not jsonl.decontamination.enabled
