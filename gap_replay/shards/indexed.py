"""Megatron indexed datasets (`P.bin` + `P.idx`): the token shards that Megatron-LM and the bundled trainer read.

`.idx` layout (little-endian, no padding), exactly as Megatron-LM's `IndexedDataset` writes and reads it:
magic `MMIDIDX\\x00\\x00`, uint64 version 1, uint8 dtype code, uint64 sequence count S, uint64 document count D,
int32 sizes[S], int64 byte pointers[S], int64 document indices[D]. `.bin` holds the tokens back to back.
This project writes one sequence per document, so D = S + 1 and the document indices are 0..S.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER = struct.Struct("<9sQBQQ")  # magic, version, dtype code, sequence count, document count: 34 bytes

DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype("u1"),
    2: np.dtype("i1"),
    3: np.dtype("<i2"),
    4: np.dtype("<i4"),
    5: np.dtype("<i8"),
    6: np.dtype("<f8"),
    7: np.dtype("<f4"),
    8: np.dtype("<u2"),
}

_BUFFER_BYTES = 1 << 20
_CHECK_CHUNK = 1 << 20  # sequences checked per step, so validating a huge index needs bounded memory


class IndexedDatasetError(ValueError):
    """A `.bin`/`.idx` pair is missing, truncated or inconsistent; each problem names the file and the reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """Token dtype as Megatron picks it: uint16 below 65,500 ids, else int32."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return DTYPE_CODES[8] if vocab_size < 65500 else DTYPE_CODES[4]


def dtype_code(dtype: np.dtype | type) -> int:
    """Megatron's numeric code for a dtype (8 for uint16, 4 for int32, ...)."""
    wanted = np.dtype(dtype).newbyteorder("<")
    for code, known in DTYPE_CODES.items():
        if known == wanted:
            return code
    raise ValueError(f"dtype {np.dtype(dtype)} has no Megatron code (known: {', '.join(_dtype_names())})")


def shard_paths(prefix: str | Path) -> tuple[Path, Path]:
    """The `.bin` and `.idx` paths of a shard given its prefix, or either of its two files."""
    prefix = Path(prefix)
    if prefix.suffix in (".bin", ".idx"):
        prefix = prefix.with_suffix("")
    return prefix.with_name(prefix.name + ".bin"), prefix.with_name(prefix.name + ".idx")


@dataclass(frozen=True)
class ShardFiles:
    """What a finished shard holds and what its two files hash to (computed while writing)."""

    bin_path: Path
    idx_path: Path
    bin_bytes: int
    idx_bytes: int
    bin_sha256: str
    idx_sha256: str
    documents: int
    tokens: int


class _HashingWriter:
    """A buffered binary file that hashes and counts the bytes as they are written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[bytes] = open(path, "xb", buffering=_BUFFER_BYTES)  # noqa: SIM115 - closed by finish/discard
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes | memoryview) -> None:
        self.file.write(data)
        self.sha256.update(data)
        self.bytes += len(data)

    def finish(self) -> None:
        """Flush to disk so that the rename that follows never exposes a partial file."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class IndexedDatasetWriter:
    """Writes one shard, a document at a time, under temporary names renamed to `prefix.bin`/`.idx` on close.

    Used as a context manager: an exception inside the block removes the temporary files, leaving nothing behind.
    Memory is 4 bytes per document (the sizes); the tokens go straight to a buffered file.
    """

    def __init__(self, prefix: str | Path, dtype: np.dtype) -> None:
        self.bin_path, self.idx_path = shard_paths(prefix)
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self._code = dtype_code(self.dtype)
        if self.dtype.kind not in "iu":
            raise ValueError(f"{self.bin_path}: token dtype must be an integer type, got {self.dtype}")
        self._low, self._high = int(np.iinfo(self.dtype).min), int(np.iinfo(self.dtype).max)
        tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._bin = _HashingWriter(self.bin_path.with_name(self.bin_path.name + tag))
        self._idx_tmp = self.idx_path.with_name(self.idx_path.name + tag)
        self._sizes = np.zeros(1024, dtype="<i4")
        self._count = 0
        self._tokens = 0
        self._result: ShardFiles | None = None
        self._aborted = False

    def __enter__(self) -> IndexedDatasetWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add_document(self, tokens: Sequence[int] | np.ndarray) -> None:
        """Append one document as one sequence; every id must fit the shard's dtype."""
        array = np.asarray(tokens)
        if array.ndim != 1:
            raise ValueError(f"{self.bin_path}: a document must be a flat list of token ids, got shape {array.shape}")
        self.add_documents(array, np.array([array.size], dtype=np.int64))

    def add_documents(self, tokens: np.ndarray, sizes: np.ndarray) -> None:
        """Append documents given back to back, `sizes[i]` tokens each (the same bytes as one `add_document` per
        document, in one write)."""
        if self._result is not None or self._aborted:
            raise ValueError(f"{self.bin_path}: writer is already closed")
        array = np.asarray(tokens)
        sizes = np.asarray(sizes, dtype=np.int64)
        if array.ndim != 1 or sizes.ndim != 1 or int(sizes.sum()) != array.size or (sizes < 0).any():
            raise ValueError(
                f"{self.bin_path}: {array.size} tokens do not split into documents of sizes {sizes.tolist()[:8]}..."
            )
        if array.size:
            if array.dtype.kind not in "iu":
                raise ValueError(f"{self.bin_path}: token ids must be integers, got {array.dtype}")
            low, high = int(array.min()), int(array.max())
            if low < self._low or high > self._high:
                raise ValueError(
                    f"{self.bin_path}: token id {high if high > self._high else low} does not fit {self.dtype} "
                    f"(range {self._low}..{self._high}); pick the dtype with dtype_for_vocab(vocab_size)"
                )
        if sizes.size and int(sizes.max()) > np.iinfo(np.int32).max:
            raise ValueError(f"{self.bin_path}: a document of {int(sizes.max())} tokens exceeds the int32 size field")
        self._bin.write(np.ascontiguousarray(array, dtype=self.dtype).data.cast("B"))
        if self._count + sizes.size > len(self._sizes):
            self._sizes = np.resize(self._sizes, max(2 * len(self._sizes), self._count + sizes.size))
        self._sizes[self._count : self._count + sizes.size] = sizes
        self._count += sizes.size
        self._tokens += array.size

    def close(self) -> ShardFiles:
        """Write the index, move both files into place (`.bin` first) and return their sizes and hashes."""
        if self._result is not None:
            return self._result
        if self._aborted:
            raise ValueError(f"{self.bin_path}: writer was aborted")
        idx = None
        bin_moved = False
        try:
            self._bin.finish()
            idx = _HashingWriter(self._idx_tmp)
            for block in index_blocks(self._code, self._sizes[: self._count]):
                idx.write(block)
            idx.finish()
            os.replace(self._bin.path, self.bin_path)
            bin_moved = True
            os.replace(idx.path, self.idx_path)
        except BaseException:
            if idx is not None:
                idx.discard()
            if bin_moved:  # a .bin without its .idx must not look like a shard
                self.bin_path.unlink(missing_ok=True)
            self.abort()
            raise
        self._result = ShardFiles(
            bin_path=self.bin_path,
            idx_path=self.idx_path,
            bin_bytes=self._bin.bytes,
            idx_bytes=idx.bytes,
            bin_sha256=self._bin.sha256.hexdigest(),
            idx_sha256=idx.sha256.hexdigest(),
            documents=self._count,
            tokens=self._tokens,
        )
        return self._result

    def abort(self) -> None:
        """Drop the shard: close and remove the temporary files; the final names are never touched."""
        self._aborted = True
        self._bin.discard()
        self._idx_tmp.unlink(missing_ok=True)


def index_blocks(code: int, sizes: np.ndarray) -> Iterator[bytes]:
    """The `.idx` bytes for sequences of the given sizes, one per document, in a few blocks."""
    itemsize = DTYPE_CODES[code].itemsize
    count = len(sizes)
    yield HEADER.pack(MAGIC, VERSION, code, count, count + 1)
    yield np.asarray(sizes, dtype="<i4").tobytes()
    pointers = np.zeros(count, dtype="<i8")
    np.cumsum(np.asarray(sizes[:-1], dtype="<i8") * itemsize, out=pointers[1:])
    yield pointers.tobytes()
    yield np.arange(count + 1, dtype="<i8").tobytes()


class IndexedDataset:
    """Reads a shard without loading it: the `.bin` is memory-mapped and `sizes`/`pointers` are views of the `.idx`.

    Validated on open (magic, version, dtype, counts, pointer consistency, `.bin` size); pickles as its prefix so
    DataLoader workers reopen the files instead of copying them.
    """

    sizes: np.ndarray
    pointers: np.ndarray
    document_indices: np.ndarray
    dtype: np.dtype

    def __init__(self, prefix: str | Path) -> None:
        self.bin_path, self.idx_path = shard_paths(prefix)
        self.prefix = self.bin_path.with_suffix("")
        problems = self._open()
        if problems:
            raise IndexedDatasetError(problems)

    def _open(self) -> list[str]:
        """Map both files and check them; returns the problems found (empty when the shard is sound)."""
        problems = [f"{path}: missing" for path in (self.idx_path, self.bin_path) if not path.is_file()]
        if problems:
            return problems
        idx_size = self.idx_path.stat().st_size
        if idx_size < HEADER.size:
            return [f"{self.idx_path}: {idx_size} bytes, too short for the {HEADER.size}-byte header"]
        self._idx_map = np.memmap(self.idx_path, dtype=np.uint8, mode="r")
        magic, version, code, count, documents = HEADER.unpack(self._idx_map[: HEADER.size].tobytes())
        if magic != MAGIC:
            return [f"{self.idx_path}: bad magic {magic!r}, not a Megatron index (expected {MAGIC!r})"]
        if version != VERSION:
            return [f"{self.idx_path}: unsupported index version {version} (expected {VERSION})"]
        if code not in DTYPE_CODES:
            return [f"{self.idx_path}: unknown dtype code {code} (known: {', '.join(_dtype_names())})"]
        self.dtype = DTYPE_CODES[code]
        if documents < 1:
            return [f"{self.idx_path}: document count is 0; an index holds at least the leading document index 0"]
        expected = HEADER.size + 12 * count + 8 * documents
        if idx_size != expected:
            return [
                f"{self.idx_path}: {idx_size} bytes, but {count} sequences and {documents} document indices "
                f"need {expected}"
            ]
        buffer = memoryview(self._idx_map)
        self.sizes = np.frombuffer(buffer, dtype="<i4", count=count, offset=HEADER.size)
        self.pointers = np.frombuffer(buffer, dtype="<i8", count=count, offset=HEADER.size + 4 * count)
        self.document_indices = np.frombuffer(buffer, dtype="<i8", count=documents, offset=HEADER.size + 12 * count)
        problems = self._check_index()
        bin_size = self.bin_path.stat().st_size
        expected_bin = self.num_tokens * self.dtype.itemsize
        if not problems and bin_size != expected_bin:
            problems.append(
                f"{self.bin_path}: {bin_size} bytes, but the index describes {self.num_tokens} {self.dtype} tokens "
                f"({expected_bin} bytes){'; truncated' if bin_size < expected_bin else ''}"
            )
        if problems:
            return problems
        if bin_size:
            self._bin_map = np.memmap(self.bin_path, dtype=np.uint8, mode="r")
            self._tokens = np.frombuffer(memoryview(self._bin_map), dtype=self.dtype)
        else:  # an empty file cannot be memory-mapped
            self._tokens = np.zeros(0, dtype=self.dtype)
        return []

    def _check_index(self) -> list[str]:
        """Sizes non-negative, pointers contiguous from 0, document indices rising from 0 to the sequence count."""
        problems = []
        itemsize = self.dtype.itemsize
        running = 0
        for start in range(0, len(self.sizes), _CHECK_CHUNK):
            sizes = self.sizes[start : start + _CHECK_CHUNK].astype(np.int64)
            if (sizes < 0).any():
                bad = start + int(np.argmax(sizes < 0))
                problems.append(f"{self.idx_path}: sequence {bad} has negative size {int(self.sizes[bad])}")
                break
            ends = running + np.cumsum(sizes * itemsize)
            expected = np.concatenate(([running], ends[:-1]))
            mismatch = self.pointers[start : start + _CHECK_CHUNK] != expected
            if mismatch.any():
                bad = start + int(np.argmax(mismatch))
                problems.append(
                    f"{self.idx_path}: sequence {bad} points at byte {int(self.pointers[bad])}, "
                    f"but the sizes before it end at byte {int(expected[bad - start])}"
                )
                break
            running = int(ends[-1])
        self.num_tokens = running // itemsize
        indices = self.document_indices
        if indices[0] != 0 or indices[-1] != len(self.sizes) or (len(indices) > 1 and (np.diff(indices) < 0).any()):
            problems.append(
                f"{self.idx_path}: document indices must rise from 0 to the sequence count {len(self.sizes)}"
            )
        return problems

    def __len__(self) -> int:
        return len(self.sizes)

    @property
    def num_documents(self) -> int:
        return len(self.document_indices) - 1

    @property
    def tokens(self) -> np.ndarray:
        """Every token of the shard back to back (read-only, mapped): Megatron samples span document boundaries."""
        return self._tokens

    def __getitem__(self, i: int) -> np.ndarray:
        """Tokens of sequence `i` (negative counts from the end), a read-only view of the mapped `.bin`."""
        return self.get(i)

    def get(self, i: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """`length` tokens of sequence `i` starting at token `offset` (to its end by default), as in Megatron."""
        count = len(self.sizes)
        if not -count <= i < count:
            raise IndexError(f"{self.prefix}: sequence {i} out of range for {count} sequences")
        size = int(self.sizes[i])
        if length is None:
            length = size - offset
        if offset < 0 or length < 0 or offset + length > size:
            raise IndexError(
                f"{self.prefix}: tokens {offset}..{offset + length} out of range for sequence {i} of {size}"
            )
        start = int(self.pointers[i]) // self.dtype.itemsize + offset
        return self._tokens[start : start + length]

    def __getstate__(self) -> dict[str, str]:
        return {"prefix": str(self.prefix)}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["prefix"])


def validate(prefix: str | Path) -> list[str]:
    """Problems that make a shard unreadable or inconsistent, each naming the file; empty when it is sound."""
    try:
        IndexedDataset(prefix)
    except IndexedDatasetError as error:
        return error.problems
    except OSError as error:
        return [f"{error.filename or prefix}: {error.strerror or error}"]
    return []


def _dtype_names() -> list[str]:
    return [f"{code}={dtype.name}" for code, dtype in DTYPE_CODES.items()]
