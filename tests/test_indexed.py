import hashlib
import pickle
import struct

import numpy as np
import pytest

from gap_replay.shards.indexed import (
    IndexedDataset,
    IndexedDatasetError,
    IndexedDatasetWriter,
    dtype_code,
    dtype_for_vocab,
    shard_paths,
    validate,
)


def megatron_idx(code: int, itemsize: int, sizes: list[int]) -> bytes:
    """The .idx bytes as Megatron-LM's `_IndexWriter` lays them out, packed field by field."""
    pointers, position = [], 0
    for size in sizes:
        pointers.append(position)
        position += size * itemsize
    count = len(sizes)
    return (
        b"MMIDIDX\x00\x00"
        + struct.pack("<Q", 1)
        + struct.pack("<B", code)
        + struct.pack("<Q", count)
        + struct.pack("<Q", count + 1)
        + struct.pack(f"<{count}i", *sizes)
        + struct.pack(f"<{count}q", *pointers)
        + struct.pack(f"<{count + 1}q", *range(count + 1))
    )


def write_shard(prefix, documents, dtype=np.uint16):
    with IndexedDatasetWriter(prefix, np.dtype(dtype)) as writer:
        for document in documents:
            writer.add_document(document)
    return writer.close()


def test_dtype_for_vocab_follows_megatron_threshold():
    assert dtype_for_vocab(32000) == np.uint16
    assert dtype_for_vocab(65499) == np.uint16
    assert dtype_for_vocab(65500) == np.int32
    assert dtype_for_vocab(128256) == np.int32
    assert (dtype_code(np.uint16), dtype_code(np.int32), dtype_code(np.uint8)) == (8, 4, 1)


def test_idx_and_bin_are_byte_identical_to_megatron_layout(tmp_path):
    documents = [[5, 6, 0], [7, 0], [65000, 1, 2, 3, 0]]
    write_shard(tmp_path / "s", documents)

    assert (tmp_path / "s.idx").read_bytes() == megatron_idx(8, 2, [3, 2, 5])
    tokens = [token for document in documents for token in document]
    assert (tmp_path / "s.bin").read_bytes() == struct.pack(f"<{len(tokens)}H", *tokens)


def test_add_documents_writes_the_bytes_of_one_add_document_per_document(tmp_path):
    documents = [[5, 6, 0], [], [7, 0], [65000, 1, 2, 3, 0]]
    one_by_one = write_shard(tmp_path / "one", documents)

    with IndexedDatasetWriter(tmp_path / "all", np.dtype(np.uint16)) as writer:
        writer.add_documents(np.array([5, 6, 0], dtype=np.uint16), np.array([3]))
        writer.add_documents(np.array([7, 0, 65000, 1, 2, 3, 0], dtype=np.uint16), np.array([0, 2, 5]))
    together = writer.close()

    assert (tmp_path / "all.bin").read_bytes() == (tmp_path / "one.bin").read_bytes()
    assert (tmp_path / "all.idx").read_bytes() == (tmp_path / "one.idx").read_bytes()
    assert (together.documents, together.tokens, together.bin_sha256) == (4, 10, one_by_one.bin_sha256)


def test_add_documents_refuses_sizes_that_do_not_cover_the_tokens(tmp_path):
    with IndexedDatasetWriter(tmp_path / "s", np.dtype(np.uint16)) as writer:
        with pytest.raises(ValueError, match="do not split into documents"):
            writer.add_documents(np.array([1, 2, 3], dtype=np.uint16), np.array([1, 1]))
        with pytest.raises(ValueError, match="does not fit"):
            writer.add_documents(np.array([70000, 0], dtype=np.int64), np.array([2]))
        writer.add_document([1])


def test_int32_idx_is_byte_identical_to_megatron_layout(tmp_path):
    write_shard(tmp_path / "s", [[100000, 2], [3]], dtype=np.int32)

    assert (tmp_path / "s.idx").read_bytes() == megatron_idx(4, 4, [2, 1])
    assert (tmp_path / "s.bin").read_bytes() == struct.pack("<3i", 100000, 2, 3)


def test_reader_reads_hand_packed_files(tmp_path):
    (tmp_path / "h.idx").write_bytes(megatron_idx(8, 2, [2, 3]))
    (tmp_path / "h.bin").write_bytes(struct.pack("<5H", 11, 12, 21, 22, 23))

    dataset = IndexedDataset(tmp_path / "h")

    assert len(dataset) == 2
    assert dataset.dtype == np.uint16
    assert dataset[0].tolist() == [11, 12]
    assert dataset[1].tolist() == [21, 22, 23]
    assert dataset[-1].tolist() == [21, 22, 23]
    assert dataset.sizes.tolist() == [2, 3]
    assert dataset.pointers.tolist() == [0, 4]
    assert dataset.document_indices.tolist() == [0, 1, 2]
    assert (dataset.sizes.dtype, dataset.pointers.dtype) == (np.int32, np.int64)


@pytest.mark.parametrize("dtype, high", [(np.uint16, 65499), (np.int32, 2**31 - 1)])
def test_random_documents_roundtrip(tmp_path, dtype, high):
    rng = np.random.default_rng(7)
    documents = [rng.integers(0, high, size=rng.integers(0, 300)) for _ in range(200)]

    files = write_shard(tmp_path / "r", documents, dtype=dtype)
    dataset = IndexedDataset(tmp_path / "r")

    assert len(dataset) == files.documents == 200
    assert dataset.sizes.sum() == files.tokens == sum(len(document) for document in documents)
    for i, document in enumerate(documents):
        np.testing.assert_array_equal(dataset[i], document)


def test_reader_accepts_either_file_as_the_prefix(tmp_path):
    write_shard(tmp_path / "train-00000-of-00001", [[1, 2]])

    assert IndexedDataset(tmp_path / "train-00000-of-00001.bin")[0].tolist() == [1, 2]
    assert IndexedDataset(str(tmp_path / "train-00000-of-00001.idx"))[0].tolist() == [1, 2]
    assert shard_paths("a/shard.v1")[0].name == "shard.v1.bin"


def test_token_id_too_large_for_uint16_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"token id 70000 does not fit uint16"):
        write_shard(tmp_path / "big", [[1, 2], [3, 70000]])

    assert list(tmp_path.iterdir()) == []


def test_negative_and_non_integer_ids_are_errors(tmp_path):
    with IndexedDatasetWriter(tmp_path / "n", np.dtype(np.uint16)) as writer:
        with pytest.raises(ValueError, match="does not fit"):
            writer.add_document([-1])
        with pytest.raises(ValueError, match="must be integers"):
            writer.add_document([1.5])
        writer.add_document([1])
    assert IndexedDataset(tmp_path / "n")[0].tolist() == [1]


def test_exception_inside_the_block_leaves_no_files(tmp_path):
    (tmp_path / "keep.txt").write_text("unrelated")
    with pytest.raises(RuntimeError), IndexedDatasetWriter(tmp_path / "x", np.dtype(np.uint16)) as writer:
        writer.add_document([1, 2, 3])
        raise RuntimeError("tokenizer crashed")

    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


def test_files_appear_only_on_close(tmp_path):
    writer = IndexedDatasetWriter(tmp_path / "late", np.dtype(np.uint16))
    writer.add_document([1])
    assert not (tmp_path / "late.bin").exists() and not (tmp_path / "late.idx").exists()

    files = writer.close()

    assert sorted(path.name for path in tmp_path.iterdir()) == ["late.bin", "late.idx"]
    assert writer.close() is files
    with pytest.raises(ValueError, match="already closed"):
        writer.add_document([2])


def test_writer_hashes_and_sizes_match_the_files(tmp_path):
    files = write_shard(tmp_path / "h", [[1, 2, 3], [4, 5]])

    assert files.bin_sha256 == hashlib.sha256(files.bin_path.read_bytes()).hexdigest()
    assert files.idx_sha256 == hashlib.sha256(files.idx_path.read_bytes()).hexdigest()
    assert (files.bin_bytes, files.idx_bytes) == (files.bin_path.stat().st_size, files.idx_path.stat().st_size)
    assert (files.documents, files.tokens) == (2, 5)


def test_empty_shard_roundtrips(tmp_path):
    files = write_shard(tmp_path / "e", [])

    assert (files.documents, files.tokens, files.bin_bytes) == (0, 0, 0)
    assert len(IndexedDataset(tmp_path / "e")) == 0
    assert validate(tmp_path / "e") == []


def test_get_reads_part_of_a_sequence(tmp_path):
    write_shard(tmp_path / "g", [[9], [10, 11, 12, 13, 14]])
    dataset = IndexedDataset(tmp_path / "g")

    assert dataset.get(1).tolist() == [10, 11, 12, 13, 14]
    assert dataset.get(1, offset=2).tolist() == [12, 13, 14]
    assert dataset.get(1, offset=1, length=3).tolist() == [11, 12, 13]
    assert dataset.get(1, offset=5).tolist() == []
    with pytest.raises(IndexError, match="out of range"):
        dataset.get(1, offset=3, length=3)
    with pytest.raises(IndexError, match="sequence 2 out of range"):
        dataset[2]


def test_sequences_are_read_only_views(tmp_path):
    write_shard(tmp_path / "v", [[1, 2]])
    sequence = IndexedDataset(tmp_path / "v")[0]

    with pytest.raises(ValueError, match="read-only"):
        sequence[0] = 5


def test_reader_pickles_as_its_prefix(tmp_path):
    write_shard(tmp_path / "p", [list(range(1000))])
    dataset = IndexedDataset(tmp_path / "p")

    payload = pickle.dumps(dataset)

    assert len(payload) < 500
    assert pickle.loads(payload)[0].tolist() == list(range(1000))


def test_reader_rejects_bad_magic_naming_the_file(tmp_path):
    write_shard(tmp_path / "m", [[1]])
    idx = tmp_path / "m.idx"
    idx.write_bytes(b"NOTANIDX\x00" + idx.read_bytes()[9:])

    with pytest.raises(IndexedDatasetError, match=r"m\.idx: bad magic"):
        IndexedDataset(tmp_path / "m")


def test_reader_rejects_wrong_version_naming_the_file(tmp_path):
    write_shard(tmp_path / "w", [[1]])
    idx = tmp_path / "w.idx"
    data = idx.read_bytes()
    idx.write_bytes(data[:9] + struct.pack("<Q", 2) + data[17:])

    with pytest.raises(IndexedDatasetError, match=r"w\.idx: unsupported index version 2"):
        IndexedDataset(tmp_path / "w")


def test_reader_rejects_unknown_dtype_code(tmp_path):
    write_shard(tmp_path / "d", [[1]])
    idx = tmp_path / "d.idx"
    data = idx.read_bytes()
    idx.write_bytes(data[:17] + bytes([9]) + data[18:])

    problems = validate(tmp_path / "d")

    assert len(problems) == 1
    assert problems[0].startswith(f"{idx}: unknown dtype code 9")


def test_reader_rejects_truncated_bin_naming_the_file(tmp_path):
    write_shard(tmp_path / "t", [[1, 2, 3], [4, 5, 6]])
    bin_path = tmp_path / "t.bin"
    bin_path.write_bytes(bin_path.read_bytes()[:-2])

    with pytest.raises(IndexedDatasetError, match=r"t\.bin: 10 bytes, but the index describes 6 uint16 tokens"):
        IndexedDataset(tmp_path / "t")


def test_reader_rejects_truncated_idx(tmp_path):
    write_shard(tmp_path / "i", [[1, 2, 3]])
    idx = tmp_path / "i.idx"
    idx.write_bytes(idx.read_bytes()[:-1])

    with pytest.raises(IndexedDatasetError, match=r"i\.idx: 61 bytes, but 1 sequences and 2 document indices need 62"):
        IndexedDataset(tmp_path / "i")


def test_validate_reports_inconsistent_pointers(tmp_path):
    sizes = [2, 2]
    data = bytearray(megatron_idx(8, 2, sizes))
    struct.pack_into("<q", data, 34 + 4 * 2 + 8, 6)  # second pointer should be 4
    (tmp_path / "c.idx").write_bytes(bytes(data))
    (tmp_path / "c.bin").write_bytes(bytes(8))

    assert validate(tmp_path / "c") == [
        f"{tmp_path / 'c.idx'}: sequence 1 points at byte 6, but the sizes before it end at byte 4"
    ]


def test_validate_reports_both_missing_files(tmp_path):
    problems = validate(tmp_path / "absent")

    assert problems == [f"{tmp_path / 'absent.idx'}: missing", f"{tmp_path / 'absent.bin'}: missing"]
