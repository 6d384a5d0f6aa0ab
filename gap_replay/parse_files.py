"""`gap-replay parse`: one source's parser over local files into one JSONL, on every core where the source can cut
its files into batches of whole records (PubMed's `batches`).

The batches of a file are parsed by worker processes and written in file order, so the output is byte for byte the
one a single process writes. When anything goes wrong with a file read in batches (a batch that does not parse, a
file that breaks off, a worker that dies), the file is read again whole in this process, past the documents already
written, so its output and its error are exactly those of the plain parser.
"""

from __future__ import annotations

import collections
import gzip
import io
import itertools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson

from gap_replay.documents import JSON_OPTIONS, Document
from gap_replay.files import atomic_path
from gap_replay.sources import Parser
from gap_replay.sources.base import Deletion, failure_detail

Batcher = Callable[[BinaryIO], Iterator[bytes]]
# Batches handed out and not yet written, per worker: enough to keep each busy while one is written, few enough
# that memory stays a few MB a worker whatever the file's size.
BATCHES_AHEAD = 2


@dataclass
class FileCount:
    """What one file gave: documents written, deletions seen, and why it failed (None when it did not)."""

    documents: int = 0
    deletions: int = 0
    failure: str | None = None

    @property
    def items(self) -> int:
        return self.documents + self.deletions


def available_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def json_line(document: Document) -> bytes:
    """A document as one line of JSONL, as `write_jsonl` writes it."""
    return orjson.dumps(document.to_dict(), option=JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def parse_batch(parse: Parser, batch: bytes, name: str) -> tuple[bytes, int, int, bool]:
    """A worker's share: (the batch's documents as JSONL, documents, deletions, whether it parsed to its end)."""
    lines, deletions = [], 0
    try:
        for item in parse(io.BytesIO(batch), name):
            if isinstance(item, Deletion):
                deletions += 1
            else:
                lines.append(json_line(item))
    except Exception:  # the file is then read whole in the main process, which reports the error
        return b"", 0, 0, False
    return b"".join(lines), len(lines), deletions, True


class Workers:
    """A pool of forked worker processes, started when a file first needs it and again after one died."""

    def __init__(self, count: int):
        self.count = count
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, parse: Parser, batch: bytes, name: str) -> Future:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"))
        return self._pool.submit(parse_batch, parse, batch, name)

    def close(self) -> None:
        """Stop the workers, dropping batches not started; after a worker died, the next batch starts a new pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _write_batches(batches: Iterable[bytes], name: str, parse: Parser, workers: Workers, sink: BinaryIO) -> FileCount:
    """Hand the batches to the workers and write their documents in order, stopping at the first batch that does not
    parse; the count's `failure` then says only that, the reason being the plain parser's to give."""
    count, pending = FileCount(), collections.deque[Future]()

    def write_oldest() -> bool:
        try:
            lines, documents, deletions, whole = pending.popleft().result()
        except Exception:  # a worker died (killed, out of memory): its pool takes no more work
            workers.close()
            return False
        sink.write(lines)
        count.documents += documents
        count.deletions += deletions
        return whole

    try:
        for batch in batches:
            pending.append(workers.submit(parse, batch, name))
            if len(pending) > workers.count * BATCHES_AHEAD and not write_oldest():
                count.failure = "a batch did not parse"
                return count
        while pending:
            if not write_oldest():
                count.failure = "a batch did not parse"
                return count
    except Exception:  # the file broke off, or could not be read, while it was being cut
        count.failure = "the file could not be cut"
    finally:
        for future in pending:
            future.cancel()
    return count


def _write_plain(path: str, parse: Parser, sink: BinaryIO, count: FileCount) -> FileCount:
    """The plain parser over the whole file, past the `count.items` items already written."""
    skip, count.failure = count.items, None
    try:
        with open(path, "rb") as stream:
            for item in parse(stream, path):
                if skip:
                    skip -= 1
                elif isinstance(item, Deletion):
                    count.deletions += 1
                else:
                    sink.write(json_line(item))
                    count.documents += 1
    except Exception as error:  # any parser failure is this file's, never the end of the command
        count.failure = failure_detail(error, path)
    return count


def parse_file(path: str, parse: Parser, batcher: Batcher | None, workers: Workers, sink: BinaryIO) -> FileCount:
    """Write one file's documents to `sink`: in batches on the workers when it has more than one, else here."""
    count = FileCount()
    if batcher is not None and workers.count > 1:
        try:
            with open(path, "rb") as stream:
                batches = batcher(stream)
                first = list(itertools.islice(batches, 2))
                if len(first) == 2:
                    count = _write_batches(itertools.chain(first, batches), path, parse, workers, sink)
                    if count.failure is None:
                        return count
        except Exception:  # unreadable, or broken before its second batch: the plain parser below says why
            pass
    return _write_plain(path, parse, sink, count)


def parse_files(
    parse: Parser,
    files: Sequence[Path | str],
    out: Path,
    batcher: Batcher | None = None,
    workers: int = 1,
    log: TextIO | None = None,
) -> tuple[int, int]:
    """Parse `files` into the JSONL `out` (gzip when it ends in .gz), written atomically: (documents, failed files).
    Each file's count, or why it failed, goes to `log` (standard error by default) as it ends."""
    log = log or sys.stderr
    pool = Workers(max(1, workers))
    total = failures = 0
    try:
        with atomic_path(out) as temporary, (gzip.open if str(out).endswith(".gz") else open)(temporary, "wb") as sink:
            for path in map(str, files):
                count = parse_file(path, parse, batcher, pool, sink)
                if count.failure is not None:
                    failures += 1
                    print(f"{path}: {count.failure}", file=log)
                withdrawn = f", {count.deletions} deletions" if count.deletions else ""
                print(f"{path}: {count.documents} documents{withdrawn}", file=log, flush=True)
                total += count.documents
    finally:
        pool.close()
    return total, failures
