"""Every check of the shard writer and reader on both sides of its boundary; the files are packed by hand here
(`megatron_idx`), never by the code under test."""

import os
import struct

import numpy as np
import pytest
from test_indexed import megatron_idx, write_shard

from gap_replay.shards import indexed
from gap_replay.shards.indexed import (
    DTYPE_CODES,
    HEADER,
    IndexedDataset,
    IndexedDatasetWriter,
    dtype_for_vocab,
    validate,
)


@pytest.mark.parametrize(
    ("vocab", "dtype"), [(1, np.uint16), (65_499, np.uint16), (65_500, np.int32), (2**31 - 1, np.int32)]
)
def test_uint16_up_to_65499_ids_then_int32(vocab, dtype):
    assert dtype_for_vocab(vocab) == np.dtype(dtype)


def test_a_vocabulary_needs_an_id():
    with pytest.raises(ValueError, match="vocab_size must be positive, got 0"):
        dtype_for_vocab(0)


@pytest.mark.parametrize(("dtype", "low", "high"), [(np.uint16, 0, 65_535), (np.int32, -(2**31), 2**31 - 1)])
def test_ids_at_the_ends_of_the_dtype_fit_and_one_beyond_does_not(tmp_path, dtype, low, high):
    files = write_shard(tmp_path / "ok", [[low, high]], dtype)
    assert files.tokens == 2
    for outside in (low - 1, high + 1):
        with (
            pytest.raises(ValueError, match=f"token id {outside} does not fit"),
            IndexedDatasetWriter(tmp_path / "bad", np.dtype(dtype)) as writer,
        ):
            writer.add_documents(np.array([outside], dtype=np.int64), np.array([1]))


def test_sizes_must_cover_the_tokens_exactly_and_none_be_negative(tmp_path):
    with IndexedDatasetWriter(tmp_path / "s", np.dtype(np.uint16)) as writer:
        writer.add_documents(np.array([1, 2, 3]), np.array([0, 3]))  # an empty document is a document
        for sizes in ([2], [4], [4, -1]):
            with pytest.raises(ValueError, match="do not split into documents"):
                writer.add_documents(np.array([1, 2, 3]), np.array(sizes))
    assert list(IndexedDataset(tmp_path / "s").sizes) == [0, 3]


def test_more_documents_than_the_first_allocation_are_all_kept(tmp_path):
    count = 1024 + 1
    with IndexedDatasetWriter(tmp_path / "many", np.dtype(np.uint16)) as writer:
        writer.add_documents(np.arange(count, dtype=np.int64) % 7, np.ones(count, dtype=np.int64))
        writer.add_document([5, 5])
    shard = IndexedDataset(tmp_path / "many")
    assert len(shard) == count + 1 and shard.sizes[-1] == 2 and list(shard[-1]) == [5, 5]


def test_a_closed_or_aborted_writer_takes_no_more_documents(tmp_path):
    writer = IndexedDatasetWriter(tmp_path / "c", np.dtype(np.uint16))
    writer.close()
    with pytest.raises(ValueError, match="writer is already closed"):
        writer.add_document([1])
    aborted = IndexedDatasetWriter(tmp_path / "a", np.dtype(np.uint16))
    aborted.abort()
    with pytest.raises(ValueError, match="writer is already closed"):
        aborted.add_document([1])
    with pytest.raises(ValueError, match="writer was aborted"):
        aborted.close()


def write_files(folder, idx: bytes, tokens: int, itemsize: int = 2):
    (folder / "h.idx").write_bytes(idx)
    (folder / "h.bin").write_bytes(bytes(tokens * itemsize))
    return folder / "h"


def test_an_index_of_exactly_the_header_size_is_read_and_one_byte_less_is_not(tmp_path):
    header = HEADER.pack(b"MMIDIDX\x00\x00", 1, 8, 0, 0)
    assert validate(write_files(tmp_path, header, 0)) == [
        f"{tmp_path / 'h.idx'}: document count is 0; an index holds at least the leading document index 0"
    ]
    assert validate(write_files(tmp_path, header[:-1], 0)) == [
        f"{tmp_path / 'h.idx'}: 33 bytes, too short for the 34-byte header"
    ]


def test_one_document_index_is_enough_for_an_empty_shard(tmp_path):
    idx = megatron_idx(8, 2, [])
    shard = IndexedDataset(write_files(tmp_path, idx, 0))
    assert (len(shard), shard.num_documents, shard.num_tokens) == (0, 0, 0)


@pytest.mark.parametrize("extra", [b"", b"\x00"])
def test_an_index_must_be_exactly_as_long_as_its_counts_say(tmp_path, extra):
    problems = validate(write_files(tmp_path, megatron_idx(8, 2, [2, 3]) + extra, 5))
    # 34 header bytes + 2 sizes of 4 + 2 pointers of 8 + 3 document indices of 8 = 82
    expected = f"{tmp_path / 'h.idx'}: 83 bytes, but 2 sequences and 3 document indices need 82"
    assert problems == ([expected] if extra else [])


@pytest.mark.parametrize(("tokens", "problem"), [(5, None), (4, "truncated"), (6, "")])
def test_the_bin_must_hold_exactly_the_indexed_tokens(tmp_path, tokens, problem):
    problems = validate(write_files(tmp_path, megatron_idx(8, 2, [2, 3]), tokens))
    if problem is None:
        assert problems == []
    else:
        expected = f"{tmp_path / 'h.bin'}: {tokens * 2} bytes, but the index describes 5 uint16 tokens (10 bytes)"
        assert problems == [expected + ("; truncated" if problem else "")]


def test_a_negative_size_is_named_by_its_sequence(tmp_path):
    data = bytearray(megatron_idx(8, 2, [2, 3, 1]))
    struct.pack_into("<i", data, 34 + 4 * 1, -3)
    assert validate(write_files(tmp_path, bytes(data), 6)) == [f"{tmp_path / 'h.idx'}: sequence 1 has negative size -3"]


def test_a_size_of_zero_is_a_sequence_like_any_other(tmp_path):
    shard = IndexedDataset(write_files(tmp_path, megatron_idx(8, 2, [2, 0, 1]), 3))
    assert [list(shard[i]) for i in range(3)] == [[0, 0], [], [0]]


def test_the_first_pointer_must_be_zero(tmp_path):
    data = bytearray(megatron_idx(8, 2, [2, 3]))
    struct.pack_into("<q", data, 34 + 4 * 2, 2)
    assert validate(write_files(tmp_path, bytes(data), 5)) == [
        f"{tmp_path / 'h.idx'}: sequence 0 points at byte 2, but the sizes before it end at byte 0"
    ]


@pytest.mark.parametrize(
    ("indices", "sound"),
    [
        ([0, 1, 2], True),
        ([0, 2, 2], True),  # a document of two sequences and an empty one: rising, not strictly
        ([1, 1, 2], False),  # not from 0
        ([0, 1, 1], False),  # not to the sequence count
        ([0, 2, 1, 2], False),  # falling
    ],
)
def test_document_indices_rise_from_zero_to_the_sequence_count(tmp_path, indices, sound):
    count = 2
    idx = (
        HEADER.pack(b"MMIDIDX\x00\x00", 1, 8, count, len(indices))
        + struct.pack("<2i", 1, 1)
        + struct.pack("<2q", 0, 2)
        + struct.pack(f"<{len(indices)}q", *indices)
    )
    problems = validate(write_files(tmp_path, idx, 2))
    expected = f"{tmp_path / 'h.idx'}: document indices must rise from 0 to the sequence count 2"
    assert problems == ([] if sound else [expected])


@pytest.fixture
def three(tmp_path):
    write_shard(tmp_path / "g", [[1, 2, 3], [4, 5], [6]])
    return IndexedDataset(tmp_path / "g")


@pytest.mark.parametrize(("i", "tokens"), [(0, [1, 2, 3]), (2, [6]), (-1, [6]), (-3, [1, 2, 3])])
def test_sequences_are_indexed_from_either_end(three, i, tokens):
    assert list(three.get(i)) == tokens


@pytest.mark.parametrize("i", [3, -4])
def test_a_sequence_beyond_either_end_is_out_of_range(three, i):
    with pytest.raises(IndexError, match=f"sequence {i} out of range for 3 sequences"):
        three.get(i)


@pytest.mark.parametrize(
    ("offset", "length", "tokens"), [(0, 3, [1, 2, 3]), (1, 2, [2, 3]), (3, 0, []), (2, None, [3]), (0, 0, [])]
)
def test_any_part_of_a_sequence_up_to_its_end_can_be_read(three, offset, length, tokens):
    assert list(three.get(0, offset, length)) == tokens


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, 4), (3, 1), (1, -1), (4, None)])
def test_a_part_beyond_the_sequence_is_out_of_range(three, offset, length):
    with pytest.raises(IndexError, match="out of range for sequence 0 of 3"):
        three.get(0, offset, length)


def test_the_document_count_excludes_the_leading_index(three):
    assert (three.num_documents, len(three), three.num_tokens) == (3, 3, 6)


def test_dtype_codes_are_megatrons():
    # Megatron-LM's DType enum: uint8 1, int8 2, int16 3, int32 4, int64 5, float64 6, float32 7, uint16 8.
    expected = {1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float64", 7: "float32", 8: "uint16"}
    assert {code: dtype.name for code, dtype in DTYPE_CODES.items()} == expected
    assert all(dtype.byteorder in "<|=" for dtype in DTYPE_CODES.values())


@pytest.mark.parametrize("bad", [None, 3])  # None: sound; 3: a pointer wrong in the second chunk
def test_validation_in_chunks_carries_the_byte_count_across_them(tmp_path, monkeypatch, bad):
    monkeypatch.setattr(indexed, "_CHECK_CHUNK", 2)
    data = bytearray(megatron_idx(8, 2, [1, 2, 3, 4, 5]))
    if bad is not None:
        struct.pack_into("<q", data, 34 + 4 * 5 + 8 * bad, 7)  # should be 2 * (1 + 2 + 3) = 12
    problems = validate(write_files(tmp_path, bytes(data), 15))
    expected = [f"{tmp_path / 'h.idx'}: sequence 3 points at byte 7, but the sizes before it end at byte 12"]
    assert problems == ([] if bad is None else expected)
    if bad is None:
        assert IndexedDataset(tmp_path / "h").num_tokens == 15


def test_a_shard_whose_index_cannot_be_moved_into_place_leaves_neither_file(tmp_path, monkeypatch):
    real_replace = os.replace
    moves = []

    def second_move_fails(source, target):
        moves.append(target)
        if len(moves) == 2:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(indexed.os, "replace", second_move_fails)
    writer = IndexedDatasetWriter(tmp_path / "full", np.dtype(np.uint16))
    writer.add_document([1, 2])
    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert sorted(path.name for path in tmp_path.iterdir()) == []
