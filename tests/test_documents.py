import gzip
import json

import pyarrow.parquet as pq
import pytest

from gap_replay.documents import Document, read_documents, read_jsonl, write_jsonl
from gap_replay.parquet import write_parquet


def sample_docs():
    return [
        Document(
            id="pubmed:1",
            source="pubmed",
            subsource="pubmed",
            text="Title\n\nBACKGROUND: text.",
            title="Title",
            license="NLM-PubMed-terms",
            date="2025-01-02",
            lang="en",
            meta={"pmid": "1", "mesh": ["Humans"], "version": 2},
        ),
        Document(id="guidelines/who:x", source="guidelines", subsource="who", text="# Heading\n\n- bullet"),
    ]


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz", "docs.parquet"])
def test_roundtrip_keeps_every_field(tmp_path, name):
    path = tmp_path / name
    writer = write_parquet if name.endswith(".parquet") else write_jsonl
    assert writer(sample_docs(), path) == 2
    assert list(read_documents(path)) == sample_docs()
    assert not list(tmp_path.glob("*.tmp"))


def test_jsonl_lines_are_compact_sorted_utf8_whatever_the_field_order(tmp_path):
    doc = Document(
        id="pmc:7", source="pmc", subsource="pmc", text="Ménière’s\ndisease", meta={"z": 1, "a": [None, True]}
    )
    write_jsonl([doc], tmp_path / "d.jsonl")

    assert (tmp_path / "d.jsonl").read_bytes() == (
        '{"date":null,"id":"pmc:7","lang":null,"license":null,"meta":{"a":[null,true],"z":1},"source":"pmc",'
        '"subsource":"pmc","text":"Ménière’s\\ndisease","title":null,"url":null}\n'
    ).encode()


def test_jsonl_gz_is_really_gzip(tmp_path):
    write_jsonl(sample_docs(), tmp_path / "d.jsonl.gz")
    with gzip.open(tmp_path / "d.jsonl.gz", "rt") as lines:
        assert json.loads(next(lines))["id"] == "pubmed:1"


def test_parquet_stores_meta_as_json_text(tmp_path):
    write_parquet(sample_docs(), tmp_path / "d.parquet")
    table = pq.read_table(tmp_path / "d.parquet")
    assert table.schema.field("meta").type == "string"
    assert json.loads(table.column("meta")[0].as_py())["mesh"] == ["Humans"]


def test_empty_parquet_is_still_a_valid_file(tmp_path):
    assert write_parquet([], tmp_path / "empty.parquet") == 0
    assert list(read_documents(tmp_path / "empty.parquet")) == []


def test_meta_may_arrive_as_a_json_string():
    doc = Document.from_dict({"id": "replay/book:1", "source": "replay", "text": "t", "meta": '{"title": "B"}'})
    assert doc.meta == {"title": "B"}
    assert doc.subsource == "replay"


def test_bad_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "source": "pubmed", "text": "x"}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: .*text"):
        list(read_jsonl(path))


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown document file type"):
        read_documents(tmp_path / "x.csv")
