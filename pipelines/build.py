"""The build pipeline: curated Parquet -> split -> tokenize -> epochs -> replay by token share -> seeded shuffle ->
Megatron `.bin/.idx` shards -> `manifest.json`, written last (a folder with a manifest is complete).

Build reads exactly the curated files curate's completion record lists (and refuses to start without one, or when
curate ran with other settings or did not cover a source the recipe enables), writes under its staging folder, and
publishes `tokens/` and its record only once the pipeline has finished (`stages`).

Documents travel through Beam in batches, column by column, never one element per document (Beam's per-element
cost would otherwise exceed the tokenizer's), and without their tokens: the tokenizer appends them to spill files in
the staging folder (one per Beam bundle; one copy of the tokens on disk until the shards are written), and each
shard writer reads the documents it takes from there. So no runner holds the corpus's tokens in memory (the
in-process and multi-process runners keep every PCollection in the driver), and only ids and counts are shuffled.
Every choice is still made per document copy by the same hashes, so the shards do not depend on the batching.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import io
import itertools
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from gap_replay import stages
from gap_replay.files import write_atomic
from gap_replay.lengths import length_summary
from gap_replay.mix import epoch_copies, replay_target, replay_threshold, shard_count, split_of, stable_unit
from gap_replay.pipelines.options import pipeline_options, run_to_completion, stored_bytes
from gap_replay.pipelines.stats import write_stats
from gap_replay.progress import Progress, Whole
from gap_replay.recipe import Recipe
from gap_replay.shards.indexed import IndexedDatasetWriter, dtype_for_vocab
from gap_replay.shards.manifest import SPLITS, ShardEntry, build_manifest, shard_name, write_manifest
from gap_replay.shards.tokenizer import LoadedTokenizer, load_tokenizer, train_bpe

log = logging.getLogger(__name__)

STAGE = "build"
TOKENIZER_FILE = "tokenizer.json"
MAX_SHARDS = 100_000  # per split: more means `shards.tokens_per_shard` is far too small for the corpus
SLICE_DOCUMENTS = 2048  # rows per work item: few enough that workers share a file evenly
READ_ROWS = 256  # Parquet rows decoded at a time
READ_BUFFER = 1 << 20  # Parquet bytes read at a time (not a whole row group at once)
FOOTERS_KEPT = 16  # curated files whose Parquet footer a tokenizing worker keeps
BATCH_DOCUMENTS = 256  # texts per tokenizer call (and per TokenizedBatch), or fewer when they reach
BATCH_CHARACTERS = 1 << 19  # characters: the tokenizer's memory stays small whatever the document lengths
# Threads that encode batches, and as many batches handed to them before the oldest is taken back. The tokenizer
# leaves the GIL while it encodes (on its own thread pool) but holds it to hand back the ids, so with two threads one
# batch is encoded while the last one's ids are made into arrays, and this thread spills and reads meanwhile (5% less
# wall time on 2 cores than one thread; a third gains nothing).
ENCODE_THREADS = 2
SPILL_WINDOW = 8 << 20  # bytes of a spill file mapped at a time while a shard's documents are read from it
WRITE_TOKENS = 1 << 18  # at most the tokens (and index arrays of that length) of each write to a shard
# Beside each shard's entry in the staging folder: its copies' lengths, an array per source, and under REPLAY_IDS
# the ids of the replay documents drawn into it.
EXTRAS = ".extras.npz"
REPLAY_IDS = "replay_ids"  # not a source name: sources are lower-case words
REPLAY_DRAWN = "replay_drawn.tsv"  # in the tokens folder: split and id of every replay document in the shards
SPILL = "tokenized"  # staging folder of the spill files and shard entries, deleted once the shards are written
COLUMNS = ["id", "source", "text"]
UNKNOWN_LICENSE = "unknown"  # a document's licence in the shards' counts when curate recorded none


class BuildError(RuntimeError):
    """Build cannot start (no curated corpus) or did not finish."""


def checked_shard_count(split: str, tokens: int, tokens_per_shard: int) -> int:
    """The shard count of a split, refused when absurd (it sizes files and memory)."""
    count = shard_count(tokens, tokens_per_shard)
    if count > MAX_SHARDS:
        raise BuildError(
            f"{split}: {tokens:,} tokens at {tokens_per_shard:,} per shard would make {count:,} shards "
            f"(at most {MAX_SHARDS:,}): raise shards.tokens_per_shard"
        )
    return count


@dataclass(frozen=True)
class CuratedSlice:
    """Rows `start` to `stop` of one row group of a curated file: the unit of work that Beam spreads over workers."""

    path: str
    row_group: int
    start: int
    stop: int


def curated_slices(paths: Sequence[str], documents: int = SLICE_DOCUMENTS) -> list[CuratedSlice]:
    """The curated files cut into slices of at most `documents` rows, from their Parquet footers."""
    slices = []
    for path in paths:
        metadata = read_footer(path)
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            parts = -(-rows // documents)
            bounds = [rows * part // parts for part in range(parts + 1)]
            slices += [CuratedSlice(path, group, start, stop) for start, stop in itertools.pairwise(bounds)]
    return slices


def read_footer(path: str) -> pq.FileMetaData:
    """A Parquet file's footer (its schema and row groups), through Beam's FileSystems."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
        return pq.ParquetFile(stream).metadata


def read_slice(
    piece: CuratedSlice, columns: Sequence[str] = COLUMNS, footer: pq.FileMetaData | None = None
) -> Iterator[pa.RecordBatch]:
    """The slice's rows, a few hundred at a time. The rows before it in its row group are decoded and skipped
    (Parquet has no row offsets), which costs little: curate writes small, uncompressed row groups. `footer`, the
    file's footer when already read, spares reading it again (it grows with the file's row groups)."""
    with FileSystems.open(piece.path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
        row = 0
        parquet = pq.ParquetFile(stream, metadata=footer, pre_buffer=False, buffer_size=READ_BUFFER)
        batches = parquet.iter_batches(READ_ROWS, row_groups=[piece.row_group], columns=list(columns))
        for batch in batches:
            start, stop = max(row, piece.start), min(row + batch.num_rows, piece.stop)
            if start < stop:
                yield batch.slice(start - row, stop - start)
            row += batch.num_rows
            if row >= piece.stop:
                return


def _columns(batch: pa.RecordBatch) -> tuple[list[str], list[str], list[str]]:
    """(ids, sources, texts) of a batch of curated rows; a row without one of them is not a document."""
    columns = [batch.column(name) for name in COLUMNS]
    if any(column.null_count for column in columns):
        missing = [name for name, column in zip(COLUMNS, columns, strict=True) if column.null_count]
        raise ValueError(f"document row lacks required field(s) {', '.join(missing)}")
    ids, sources, texts = (column.to_pylist() for column in columns)
    return ids, sources, texts


def _licenses(batch: pa.RecordBatch) -> list[str]:
    """The licence of each row of a batch read with the `license` column; `unknown` where it states none."""
    return [license or UNKNOWN_LICENSE for license in batch.column("license").to_pylist()]


class BatchColumns(NamedTuple):
    """What build keeps of a batch of curated rows besides their texts: ids, sources, licences (`unknown` where
    curate recorded none) and the texts' lengths in characters."""

    ids: list[str]
    sources: list[str]
    licenses: list[str]
    characters: list[int]


@dataclass(frozen=True)
class TokenizedBatch:
    """Documents tokenized together, column by column (`licenses` and `characters`, the text's length, are for the
    shards' counts): document i goes to `splits[i]` by a hash of its id, is
    repeated `copies[i]` times (`mix.epochs`), and its tokens (EOS last) are tokens `offsets[i]` to `offsets[i + 1]`
    of the spill file `path`."""

    path: str
    ids: list[str]
    sources: list[str]
    licenses: list[str]
    characters: list[int]
    splits: list[str]
    copies: list[int]
    offsets: np.ndarray

    def copy_keys(self, i: int) -> Iterator[str]:
        """The key of each copy of document i, unique in the corpus: `<id>#<epoch>`."""
        return (f"{self.ids[i]}#{epoch}" for epoch in range(self.copies[i]))

    def size(self, i: int) -> int:
        return int(self.offsets[i + 1] - self.offsets[i])


class TokenizeSlices(beam.DoFn):
    """CuratedSlice -> TokenizedBatch of a few hundred documents (or a few hundred KB of text) each, their tokens
    appended to the bundle's spill file under `spill_dir`.

    One file per bundle, not per slice, keeps the files few for the shard writers to open. The file is closed when
    the bundle finishes, before any of its outputs count (a failed bundle's file is never referenced; a retried one
    writes a new file), and nothing reads a spill file before every bundle of this step has finished: the shard
    writers wait for the mix plan, which needs every batch.
    """

    def __init__(
        self,
        spill_dir: str,
        tokenizer_path: str,
        eos_token: str,
        seed: int,
        valid_fraction: float,
        epochs: dict[str, float],
        whole: Whole | None = None,
    ) -> None:
        self._spill_dir = spill_dir
        self._whole = whole
        self._path = tokenizer_path
        self._eos_token = eos_token
        self._seed = seed
        self._valid_fraction = valid_fraction
        self._epochs = epochs

    def setup(self) -> None:
        self._tokenizer = load_tokenizer(self._path, eos_token=self._eos_token)
        self._dtype = dtype_for_vocab(self._tokenizer.vocab_size)
        self._progress = Progress("build: tokenizing", "documents", whole=self._whole)
        self._encoder = ThreadPoolExecutor(max_workers=ENCODE_THREADS, thread_name_prefix="encode")
        self._footers: collections.OrderedDict[str, pq.FileMetaData] = collections.OrderedDict()

    def start_bundle(self) -> None:
        self._spill: BinaryIO | None = None
        self._written = 0
        self._pending: collections.deque[tuple[BatchColumns, Future]] = collections.deque()

    def process(self, piece: CuratedSlice) -> Iterator[TokenizedBatch]:
        if self._spill is None:
            self._spill = open(os.path.join(self._spill_dir, f"{uuid.uuid4().hex}.bin"), "xb")  # noqa: SIM115
        for columns, texts in _text_batches(piece, self._footer(piece.path)):
            encoding = self._encoder.submit(self._tokenizer.encode_concatenated, texts, self._dtype)
            self._pending.append((columns, encoding))
            while len(self._pending) > ENCODE_THREADS:
                yield self._spilled(*self._pending.popleft())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        while self._pending:
            yield GlobalWindows.windowed_value(self._spilled(*self._pending.popleft()))
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def teardown(self) -> None:
        if getattr(self, "_spill", None) is not None:
            self._spill.close()
        if getattr(self, "_encoder", None) is not None:
            self._encoder.shutdown(cancel_futures=True)

    def _footer(self, path: str) -> pq.FileMetaData:
        """The footer of a curated file, read once for the last few files this worker read: a file has many slices,
        and reading its footer for each made the cost of a file grow with the square of its row groups."""
        footer = self._footers.pop(path, None)
        self._footers[path] = footer = read_footer(path) if footer is None else footer
        while len(self._footers) > FOOTERS_KEPT:
            self._footers.popitem(last=False)
        return footer

    def _spilled(self, columns: BatchColumns, encoding: Future) -> TokenizedBatch:
        """A batch whose encoding is done: its tokens appended to the spill file, its batch described."""
        assert self._spill is not None
        tokens, offsets = encoding.result()
        self._spill.write(tokens.data.cast("B"))
        batch = self._batch(self._spill.name, columns, offsets + self._written)
        self._written += tokens.size
        self._progress.add(documents=len(columns.ids), tokens=int(tokens.size))
        return batch

    def _batch(self, path: str, columns: BatchColumns, offsets: np.ndarray) -> TokenizedBatch:
        seed, fraction = self._seed, self._valid_fraction
        ids, sources = columns.ids, columns.sources
        return TokenizedBatch(
            path=path,
            ids=ids,
            sources=sources,
            licenses=columns.licenses,
            characters=columns.characters,
            splits=[split_of(doc_id, seed, fraction) for doc_id in ids],
            copies=[
                epoch_copies(doc_id, self._epochs.get(source, 1.0), seed)
                for doc_id, source in zip(ids, sources, strict=True)
            ],
            offsets=offsets,
        )


def _text_batches(
    piece: CuratedSlice, footer: pq.FileMetaData | None = None
) -> Iterator[tuple[BatchColumns, list[str]]]:
    """(columns, texts) of a slice, at most `BATCH_DOCUMENTS` texts or about `BATCH_CHARACTERS` characters at a
    time (a few long texts make a batch of their own)."""
    for batch in read_slice(piece, [*COLUMNS, "license"], footer):
        ids, sources, texts = _columns(batch)
        licenses = _licenses(batch)
        lengths = [len(text) for text in texts]
        start = characters = 0
        for end, text in enumerate(texts, 1):
            characters += len(text)
            if characters >= BATCH_CHARACTERS or end - start >= BATCH_DOCUMENTS or end == len(texts):
                part = slice(start, end)
                yield BatchColumns(ids[part], sources[part], licenses[part], lengths[part]), texts[part]
                start, characters = end, 0


class Tokenize(beam.PTransform):
    """Curated slices -> TokenizedBatch; the slices are spread over the workers (Create reshuffles them)."""

    def __init__(self, slices: Sequence[CuratedSlice], tokenize: TokenizeSlices) -> None:
        super().__init__()
        self._slices = list(slices)
        self._tokenize = tokenize

    def expand(self, pipeline: beam.pvalue.PBegin) -> beam.PCollection:
        return pipeline | "Slices" >> beam.Create(self._slices) | "Encode" >> beam.ParDo(self._tokenize)


@dataclass(frozen=True)
class MixCounts:
    """What the mix needs to know of some documents: medical tokens per split (copies counted), and each replay
    copy's stable draw and tokens per split."""

    medical: dict[str, int]
    replay: dict[str, list[tuple[float, int]]]


def mix_counts(batch: TokenizedBatch, seed: int) -> MixCounts:
    """A batch's part of the counts the mix plan sums (replay copies are drawn by a hash of their key)."""
    medical: dict[str, int] = {}
    replay: dict[str, list[tuple[float, int]]] = {}
    for i, (source, split) in enumerate(zip(batch.sources, batch.splits, strict=True)):
        if source == "replay":
            draws = replay.setdefault(split, [])
            draws += [(stable_unit(seed, "replay", key), batch.size(i)) for key in batch.copy_keys(i)]
        elif batch.copies[i]:
            medical[split] = medical.get(split, 0) + batch.copies[i] * batch.size(i)
    return MixCounts(medical, replay)


@dataclass(frozen=True)
class MixPlan:
    """The mix, decided: replay copies drawn at or below `replay_limits[split]` are taken (-1: none), and each
    split with documents is cut into `shard_counts[split]` shards."""

    replay_limits: dict[str, float]
    shard_counts: dict[str, int]


def mix_plan(counts: Iterable[MixCounts], share: float, tokens_per_shard: int) -> MixPlan:
    """Replay is taken in the order of its draws until it is `share` of each split's tokens; shards hold about
    `tokens_per_shard` tokens of the mixed split."""
    medical: dict[str, int] = {}
    replay: dict[str, list[tuple[float, int]]] = {}
    for part in counts:
        for split, tokens in part.medical.items():
            medical[split] = medical.get(split, 0) + tokens
        for split, draws in part.replay.items():
            replay.setdefault(split, []).extend(draws)
    limits = {
        split: replay_threshold(draws, replay_target(medical.get(split, 0), share)) for split, draws in replay.items()
    }
    totals = dict(medical)
    for split, draws in replay.items():
        taken = sum(tokens for draw, tokens in draws if draw <= limits[split])
        if taken:
            totals[split] = totals.get(split, 0) + taken
    return MixPlan(
        replay_limits=limits,
        shard_counts={split: checked_shard_count(split, tokens, tokens_per_shard) for split, tokens in totals.items()},
    )


class PlanMix(beam.PTransform):
    """TokenizedBatch -> the MixPlan, a single element: how much replay each split takes and its shard count."""

    def __init__(self, replay_share: float, tokens_per_shard: int, seed: int) -> None:
        super().__init__()
        self._share = replay_share
        self._tokens_per_shard = tokens_per_shard
        self._seed = seed

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return (
            batches
            | "Counts" >> beam.Map(mix_counts, self._seed)
            | "AllCounts" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(mix_plan, self._share, self._tokens_per_shard)
        )


@dataclass(frozen=True)
class ShardPiece:
    """The copies of one batch that go to one shard: copy j is `sizes[j]` tokens from token `starts[j]` of the spill
    file `path`, placed in the shard by its seeded shuffle draw `draws[j]`, ties broken by its key `keys[j]`."""

    path: str
    draws: np.ndarray
    keys: list[str]
    sources: list[str]
    licenses: list[str]
    characters: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray


def shard_pieces(batch: TokenizedBatch, plan: MixPlan, seed: int) -> Iterator[tuple[tuple[str, int, int], ShardPiece]]:
    """Every copy the plan takes goes to a shard by a seeded hash of its key; one piece per shard it reaches."""
    chosen: dict[tuple[str, int, int], list[tuple[float, str, int]]] = {}
    for i, (source, split) in enumerate(zip(batch.sources, batch.splits, strict=True)):
        for key in batch.copy_keys(i):
            if source == "replay" and stable_unit(seed, "replay", key) > plan.replay_limits.get(split, -1.0):
                continue
            count = plan.shard_counts[split]
            shard = (split, int(stable_unit(seed, "shard", key) * count), count)
            chosen.setdefault(shard, []).append((stable_unit(seed, "shuffle", key), key, i))
    characters = np.asarray(batch.characters, dtype=np.int64)
    for shard, copies in chosen.items():
        documents = np.array([i for *_, i in copies], dtype=np.int64)
        starts = batch.offsets[documents]
        yield (
            shard,
            ShardPiece(
                path=batch.path,
                draws=np.array([draw for draw, *_ in copies], dtype=np.float64),
                keys=[key for _, key, _ in copies],
                sources=[batch.sources[i] for *_, i in copies],
                licenses=[batch.licenses[i] for *_, i in copies],
                characters=characters[documents],
                starts=starts,
                sizes=batch.offsets[documents + 1] - starts,
            ),
        )


class ShardCopies(NamedTuple):
    """Every copy a shard holds, column by column in the shard's order: copy j, keyed `keys[j]`, is `sizes[j]`
    tokens from token `starts[j]` of the spill file `paths[files[j]]`."""

    keys: list[str]
    sources: list[str]
    licenses: list[str]
    characters: np.ndarray
    paths: list[str]
    files: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray


def shuffled_copies(pieces: Sequence[ShardPiece]) -> ShardCopies:
    """The pieces' copies together, in seeded-shuffle order: by draw, ties by key."""
    paths = sorted({piece.path for piece in pieces})
    number = {path: n for n, path in enumerate(paths)}
    keys = [key for piece in pieces for key in piece.keys]
    order = np.lexsort((np.array(keys, dtype=str), _joined([piece.draws for piece in pieces], np.float64)))
    counts = [len(piece.keys) for piece in pieces]
    files = np.repeat(np.array([number[piece.path] for piece in pieces], dtype=np.int64), counts)
    taken = order.tolist()
    sources = [source for piece in pieces for source in piece.sources]
    licenses = [license for piece in pieces for license in piece.licenses]
    return ShardCopies(
        keys=[keys[j] for j in taken],
        sources=[sources[j] for j in taken],
        licenses=[licenses[j] for j in taken],
        characters=_joined([piece.characters for piece in pieces], np.int64)[order],
        paths=paths,
        files=files[order],
        starts=_joined([piece.starts for piece in pieces], np.int64)[order],
        sizes=_joined([piece.sizes for piece in pieces], np.int64)[order],
    )


def _joined(arrays: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    """Arrays end to end as `dtype` (an empty array of it when there are none)."""
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)


class WrittenShard(NamedTuple):
    """A shard's manifest entry, the lengths of its document copies per source (a (2, copies) array of their texts'
    characters, row 0, and tokens with EOS, row 1), and the ids of the replay documents drawn into it."""

    entry: ShardEntry
    lengths: dict[str, np.ndarray]
    replay_ids: list[str]


def write_split_shard(
    directory: str, split: str, index: int, count: int, pieces: Iterable[ShardPiece], dtype: np.dtype
) -> WrittenShard:
    """Write shard `index` of `count` of a split, its copies in seeded-shuffle order, and describe it."""
    copies = shuffled_copies(list(pieces))
    path = shard_name(split, index, count)
    with IndexedDatasetWriter(Path(directory) / path, dtype) as writer:
        ends = np.cumsum(copies.sizes)
        for run in windows(ends - copies.sizes, ends, WRITE_TOKENS):
            sizes = copies.sizes[run]
            writer.add_documents(read_spilled(copies.paths, copies.files[run], copies.starts[run], sizes, dtype), sizes)
    names = sorted(set(copies.sources))
    sources = np.array(copies.sources, dtype=str)
    of_source = {name: sources == name for name in names}
    licenses = collections.Counter(zip(copies.sources, copies.licenses, strict=True))
    entry = ShardEntry.from_files(
        path,
        split,
        writer.close(),
        {name: int(copies.sizes[mask].sum()) for name, mask in of_source.items()},
        {name: int(mask.sum()) for name, mask in of_source.items()},
        {
            name: dict(sorted((license, n) for (source, license), n in licenses.items() if source == name))
            for name in names
        },
    )
    lengths = {
        name: np.stack([copies.characters[mask], copies.sizes[mask]]).astype(np.int32)
        for name, mask in of_source.items()
    }
    replay_ids = {
        key.rsplit("#", 1)[0] for key, source in zip(copies.keys, copies.sources, strict=True) if source == "replay"
    }
    return WrittenShard(entry, lengths, sorted(replay_ids))


def read_spilled(
    paths: Sequence[str], files: np.ndarray, starts: np.ndarray, sizes: np.ndarray, dtype: np.dtype
) -> np.ndarray:
    """The tokens of documents given by spill file (`paths[files[k]]`), first token and size, back to back in the
    order given. Each file is mapped a window of about SPILL_WINDOW bytes at a time (mapped pages count as the
    process's memory), and the documents in a window are copied out by one gather, not a read each."""
    tokens = np.empty(int(sizes.sum()), dtype=dtype)
    placed = np.cumsum(sizes) - sizes
    for number in np.unique(files).tolist():
        wanted = np.flatnonzero(files == number)
        wanted = wanted[np.argsort(starts[wanted], kind="stable")]
        path, first = paths[number], starts[wanted]
        reach = np.maximum.accumulate(first + sizes[wanted])  # the furthest token needed so far, in file order
        if int(reach[-1]) * dtype.itemsize > os.path.getsize(path):
            raise BuildError(f"{path}: spill file ends before token {int(reach[-1])}")
        for window in windows(first, reach, SPILL_WINDOW // dtype.itemsize):
            taken = wanted[window]
            offset, stop = int(first[window.start]), int(reach[window.stop - 1])
            spilled = np.memmap(path, dtype=dtype, mode="r", offset=offset * dtype.itemsize, shape=(stop - offset,))
            tokens[ranges(placed[taken], sizes[taken])] = spilled[ranges(starts[taken] - offset, sizes[taken])]
            del spilled  # unmapped before the next window is mapped
    return tokens


def windows(first: np.ndarray, reach: np.ndarray, tokens: int) -> Iterator[slice]:
    """Runs of token ranges in order (range k starts at `first[k]`; the furthest any reaches by k is `reach[k]`),
    each spanning at most `tokens` tokens from its first range's start, or a range alone that is longer."""
    start = 0
    while start < len(first):
        stop = max(int(np.searchsorted(reach, first[start] + tokens, side="right")), start + 1)
        yield slice(start, stop)
        start = stop


def ranges(begins: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions `begins[k] + i` for every i below `lengths[k]`, range after range."""
    return np.repeat(begins - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))


class WriteShard(beam.DoFn):
    """((split, index, count), pieces) -> one shard in `directory`, and its manifest entry as `<shard>.json` in
    `entries` (a sink of a few files costs less than Beam's text sink; a retried shard writes the same bytes)."""

    def __init__(self, directory: str, entries: str, dtype: str) -> None:
        self._directory = directory
        self._entries = entries
        self._dtype = np.dtype(dtype)

    def setup(self) -> None:
        self._progress = Progress("build: writing shards", "tokens")

    def process(self, group: tuple[tuple[str, int, int], Iterable[ShardPiece]]) -> None:
        (split, index, count), pieces = group
        entry, lengths, replay_ids = write_split_shard(self._directory, split, index, count, pieces, self._dtype)
        extras = io.BytesIO()
        np.savez(extras, **lengths, **{REPLAY_IDS: np.array(replay_ids, dtype=str)})
        write_atomic(os.path.join(self._entries, f"{entry.path}{EXTRAS}"), extras.getvalue())
        write_atomic(os.path.join(self._entries, f"{entry.path}.json"), json.dumps(entry.__dict__))
        self._progress.add(shards=1, tokens=entry.tokens)


def read_entries(entries: Path) -> list[ShardEntry]:
    """The manifest entries WriteShard left in `entries`."""
    return [ShardEntry(**json.loads(path.read_bytes())) for path in sorted(entries.glob("*.json"))]


def read_extras(entries: Path, shards: Iterable[ShardEntry]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What WriteShard left beside each entry, read once: per split and source the length summaries
    (`length_summary`) of the document copies' characters and tokens, and (split, id) of every replay document
    drawn into the shards, sorted."""
    gathered: dict[str, dict[str, list[np.ndarray]]] = {}
    drawn: set[tuple[str, str]] = set()
    for shard in shards:
        path = entries / f"{shard.path}{EXTRAS}"
        if not path.is_file():  # an empty shard written after the pipeline has none
            continue
        with np.load(path) as arrays:
            for name in arrays.files:
                if name == REPLAY_IDS:
                    drawn.update((shard.split, doc_id) for doc_id in arrays[name].tolist())
                else:
                    gathered.setdefault(shard.split, {}).setdefault(name, []).append(arrays[name])
    lengths: dict[str, Any] = {}
    for split in sorted(gathered, key=SPLITS.index):
        for source in sorted(gathered[split]):
            characters, tokens = np.concatenate(gathered[split][source], axis=1)
            lengths.setdefault(split, {})[source] = {
                "characters": length_summary(characters),
                "tokens": length_summary(tokens),
            }
    return lengths, sorted(drawn, key=lambda pair: (SPLITS.index(pair[0]), pair[1]))


class Shard(beam.PTransform):
    """TokenizedBatch and the MixPlan -> shards of about `tokens_per_shard` tokens, with their manifest entries."""

    def __init__(self, plan: beam.PCollection, directory: str, entries: str, dtype: str, seed: int) -> None:
        super().__init__()
        self._plan = plan
        self._directory = directory
        self._entries = entries
        self._dtype = dtype
        self._seed = seed

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return (
            batches
            | "Pieces" >> beam.FlatMap(shard_pieces, beam.pvalue.AsSingleton(self._plan), self._seed)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(WriteShard(self._directory, self._entries, self._dtype))
        )


def _read_columns(paths: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """(id, source, text) of every curated document, through Beam's FileSystems (local, gs://, s3://)."""
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
            parquet = pq.ParquetFile(stream, pre_buffer=False, buffer_size=READ_BUFFER)
            for batch in parquet.iter_batches(READ_ROWS, columns=COLUMNS):
                yield from zip(*_columns(batch), strict=True)


def _training_texts(paths: Sequence[str], recipe: Recipe) -> list[str]:
    """The tokenizer's training texts: up to N train-split medical documents, chosen by a stable draw, in id order."""
    docs = (
        (doc_id, text)
        for doc_id, source, text in _read_columns(paths)
        if source != "replay" and split_of(doc_id, recipe.seed, recipe.split.valid_fraction) == "train"
    )
    limit = recipe.tokenizer.train_max_documents or 2**62
    chosen = heapq.nsmallest(limit, ((stable_unit(recipe.seed, "tokenizer", i), i, text) for i, text in docs))
    return [text for _, _, text in sorted(chosen, key=lambda entry: entry[1])]


def prepare_tokenizer(recipe: Recipe, paths: Sequence[str], tokens_dir: Path) -> LoadedTokenizer:
    """Load the recipe's tokenizer, or train a byte-level BPE on the curated train split; saved beside the shards."""
    target = tokens_dir / TOKENIZER_FILE
    if recipe.tokenizer.path:
        loaded = load_tokenizer(recipe.tokenizer.path, eos_token=recipe.tokenizer.eos_token)
        loaded.tokenizer.save(str(target))
        return dataclasses.replace(load_tokenizer(str(target), eos_token=loaded.eos_token), name=loaded.name)
    texts = _training_texts(paths, recipe)
    if not texts:
        raise BuildError(f"no curated training documents in {recipe.output_dir / 'curated'} to train a tokenizer on")
    vocabulary = recipe.tokenizer.vocab_size
    print(f"build: training the tokenizer (vocabulary {vocabulary:,}) on {len(texts):,} documents", file=sys.stderr)
    return train_bpe(texts, vocabulary, target, name=f"{recipe.name}-bpe-{vocabulary}")


def _missing_shards(entries: list[ShardEntry], directory: Path, dtype: np.dtype) -> list[ShardEntry]:
    """A hash partition can leave a shard empty on a tiny corpus; write it empty so the numbering stays whole."""
    counts = {entry.split: int(entry.path.rsplit("-", 1)[1]) for entry in entries}
    present = {entry.path for entry in entries}
    return [
        write_split_shard(str(directory), split, index, count, [], dtype).entry
        for split, count in sorted(counts.items())
        for index in range(count)
        if shard_name(split, index, count) not in present
    ]


def _mix_summary(recipe: Recipe, entries: list[ShardEntry]) -> dict[str, Any]:
    achieved: dict[str, dict[str, float]] = {}
    for split in sorted({entry.split for entry in entries}):
        tokens: dict[str, int] = {}
        for entry in entries:
            if entry.split == split:
                for source, count in entry.sources.items():
                    tokens[source] = tokens.get(source, 0) + count
        total = sum(tokens.values()) or 1
        achieved[split] = {source: round(count / total, 6) for source, count in sorted(tokens.items())}
    return {
        "replay_share_target": recipe.mix.replay_share,
        "epochs": dict(sorted(recipe.mix.epochs.items())),
        "valid_fraction": recipe.split.valid_fraction,
        "achieved_token_shares": achieved,
    }


def require_curated(recipe: Recipe) -> tuple[dict[str, Any], str]:
    """Curate's record, when curate finished with this recipe's settings and covered every enabled source; otherwise
    a StageError that names the missing sources and says to rerun curate."""
    output = recipe.output_dir
    enabled = recipe.sources.enabled()
    try:
        record, sha256 = stages.require(output, "curate", needed_by=STAGE)
    except stages.StageError as error:
        absent = [source for source in enabled if not any((output / "curated" / source).glob("*.parquet"))]
        if absent and stages.read_record(output, "curate") is None:
            raise stages.StageError(f"{error} (no curated documents of {', '.join(absent)})") from None
        raise
    missing = [source for source in enabled if source not in record["summary"].get("sources", {})]
    if missing:
        raise stages.StageError(
            f"curate did not cover {', '.join(missing)}, which the recipe enables: run `gap-replay curate`"
        )
    stages.check_settings(record, recipe.curate_settings())
    fetched = stages.read_record(output, "fetch")
    if fetched is None or fetched[1] != record["inputs"].get("fetch"):
        log.warning("the raw files changed since curate ran (fetch ran again): run `gap-replay curate` to use them")
    return record, sha256


def run_build(recipe: Recipe, recipe_sha256: str, beam_args: Sequence[str] = (), force: bool = False) -> dict[str, Any]:
    """Run build for a recipe and publish its output; returns the manifest (`<output>/tokens/manifest.json`)."""
    output = recipe.output_dir
    with stages.claim(output, force):
        curated, curate_sha256 = require_curated(recipe)
        paths = [str(path) for path in stages.file_paths(output, curated) if path.suffix == ".parquet"]
        with stages.Publisher(output, STAGE) as publisher:
            tokens_dir = publisher.path("tokens")
            tokens_dir.mkdir(parents=True)
            tokenizer = prepare_tokenizer(recipe, paths, tokens_dir)
            dtype = dtype_for_vocab(tokenizer.vocab_size)
            replay_share = recipe.mix.replay_share if recipe.sources.replay.enabled else 0.0

            slices = curated_slices(paths)
            spill_dir = publisher.path(SPILL)
            spill_dir.mkdir()
            progress_dir = spill_dir / "progress"  # each worker's counts, for progress lines over all of them
            progress_dir.mkdir()
            tokenize = TokenizeSlices(
                str(spill_dir),
                str(tokens_dir / TOKENIZER_FILE),
                tokenizer.eos_token,
                recipe.seed,
                recipe.split.valid_fraction,
                dict(recipe.mix.epochs),
                Whole(str(progress_dir), sum(piece.stop - piece.start for piece in slices), time.time()),
            )
            pipeline = beam.Pipeline(options=pipeline_options(beam_args, stored_bytes(paths)))
            batches = pipeline | "Tokenize" >> Tokenize(slices, tokenize)
            plan = batches | "PlanMix" >> PlanMix(replay_share, recipe.shards.tokens_per_shard, recipe.seed)
            _ = batches | "Shard" >> Shard(plan, str(tokens_dir), str(spill_dir), dtype.name, recipe.seed)
            run_to_completion(pipeline, STAGE)
            entries = read_entries(spill_dir)
            lengths, drawn = read_extras(spill_dir, entries)
            write_atomic(tokens_dir / REPLAY_DRAWN, "".join(f"{split}\t{doc_id}\n" for split, doc_id in drawn))
            shutil.rmtree(spill_dir)
            entries += _missing_shards(entries, tokens_dir, dtype)
            manifest = build_manifest(
                recipe.name,
                recipe.model_dump(mode="json"),
                recipe_sha256,
                tokenizer.to_manifest(),
                dtype.name,
                entries,
                mix=_mix_summary(recipe, entries),
            )
            manifest["lengths"] = lengths
            if "decontamination" in curated["summary"]:
                manifest["decontamination"] = curated["summary"]["decontamination"]
            write_manifest(manifest, tokens_dir / "manifest.json")
            known = {
                f"tokens/{entry.path}.{kind}": (size, sha256)
                for entry in entries
                for kind, size, sha256 in (
                    ("bin", entry.bin_bytes, entry.bin_sha256),
                    ("idx", entry.idx_bytes, entry.idx_sha256),
                )
            }
            publisher.publish(
                settings=recipe.build_settings(),
                inputs={"curate": curate_sha256},
                summary={"totals": manifest["totals"], "mix": manifest["mix"]},
                recipe={"name": recipe.name, "sha256": recipe_sha256},
                only=[*known, f"tokens/{TOKENIZER_FILE}", f"tokens/{REPLAY_DRAWN}", "tokens/manifest.json"],
                known=known,
            )
        write_stats(output)
    return manifest
