"""WriteCurated: one Parquet file set per source, in row groups small enough that build's slices decode little
more than their own rows."""

import apache_beam as beam
import pyarrow.parquet as pq

from gap_replay.beam.io import RECORD_BATCH_ROWS, ROW_GROUP_BYTES, WriteCurated, match_paths
from gap_replay.documents import Document
from gap_replay.mix import split_of


def _write(tmp_path, docs):
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        _ = pipeline | beam.Create(docs, reshuffle=False) | WriteCurated(str(tmp_path), ["pubmed"], 0, 0.0, 1)
    (path,) = match_paths(str(tmp_path / "curated" / "pubmed" / "train-*.parquet"))
    return pq.ParquetFile(path).metadata


def _abstracts(count, size):
    return [Document(f"pubmed:{n}", "pubmed", "pubmed", f"{n:08d} " + "x" * size) for n in range(count)]


def test_rows_that_fill_the_buffer_are_cut_into_row_groups_of_about_its_size(tmp_path):
    # 2,048 rows of 4 KB: 8 MB of text, about four buffers' worth.
    metadata = _write(tmp_path, _abstracts(2048, 4000))
    groups = [metadata.row_group(index) for index in range(metadata.num_row_groups)]
    assert sum(group.num_rows for group in groups) == 2048
    assert len(groups) >= 3
    batch_bytes = RECORD_BATCH_ROWS * 4009  # the text of one record batch
    for group in groups[:-1]:
        assert group.num_rows % RECORD_BATCH_ROWS == 0, "a group grows a record batch at a time"
        # Closed in the batch that filled the buffer: within a batch of the buffer's size either way.
        assert ROW_GROUP_BYTES - batch_bytes <= group.num_rows * 4009 <= ROW_GROUP_BYTES + batch_bytes


def test_rows_under_the_buffer_make_one_row_group(tmp_path):
    metadata = _write(tmp_path, _abstracts(300, 1000))  # 0.3 MB
    assert metadata.num_row_groups == 1
    assert metadata.num_rows == 300


def test_each_document_is_written_to_the_split_build_puts_it_in(tmp_path):
    docs = _abstracts(400, 10)
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        _ = pipeline | beam.Create(docs, reshuffle=False) | WriteCurated(str(tmp_path), ["pubmed"], 7, 0.25, 1)
    folder = tmp_path / "curated" / "pubmed"
    ids = {
        split: set(pq.read_table(folder / f"{split}-00000-of-00001.parquet")["id"].to_pylist())
        for split in ("train", "validation")
    }
    # split_of is a uniform draw per (seed, id): about a quarter of 400 ids land in validation.
    assert 60 < len(ids["validation"]) < 140 and len(ids["train"]) + len(ids["validation"]) == 400
    for split, name in (("train", "train"), ("valid", "validation")):
        assert all(split_of(doc_id, 7, 0.25) == split for doc_id in ids[name])


def test_a_split_with_no_document_is_still_a_readable_file(tmp_path):
    docs = _abstracts(20, 10)
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        _ = pipeline | beam.Create(docs, reshuffle=False) | WriteCurated(str(tmp_path), ["pubmed"], 0, 0.0, 0)
    (validation,) = match_paths(str(tmp_path / "curated" / "pubmed" / "validation-*.parquet"))
    assert pq.ParquetFile(validation).metadata.num_rows == 0
