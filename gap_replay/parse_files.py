"""`gap-replay parse`: one source's parser over local files into one JSONL, on every core where the source can cut
its files into batches of whole records (PubMed's `batches`).

The batches are parsed by worker processes and written in the order of the files and of their records, so the
output is byte for byte the one a single process writes; the next file's batches are handed out while a file's last
ones are parsed, and a file of one batch is read here in its turn. When anything goes wrong with a file read in
batches (a batch that does not parse, a file that breaks off, a worker that dies), the file is read again whole in
this process, past the documents already written, so its output and its error are exactly those of the plain
parser.
"""

from __future__ import annotations

import collections
import io
import itertools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from gap_replay.documents import Document, json_line, jsonl_sink
from gap_replay.sources import Parser
from gap_replay.sources.base import Deletion, failure_detail

Batcher = Callable[[BinaryIO], Iterator[bytes]]
# Batches handed out and not yet written, per worker: enough to keep each busy while one is written, few enough
# that memory stays a few MB a worker whatever the file's size.
BATCHES_AHEAD = 2
PARENT_CHECK_SECONDS = 0.5  # how often a worker looks whether the main process is still there


@dataclass
class FileCount:
    """What one file gave: documents written, deletions seen, why it failed (None when it did not), and whether it
    is to be read whole by the plain parser (not cut into batches, or a batch or the cut failed)."""

    path: str
    documents: int = 0
    deletions: int = 0
    failure: str | None = None
    whole: bool = False

    @property
    def items(self) -> int:
        return self.documents + self.deletions


def available_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_items(items: Iterable[Document | Deletion], write: Callable[[bytes], object], count: FileCount) -> None:
    """Each document written as a JSON line and counted in `count`; deletions only counted."""
    for item in items:
        if isinstance(item, Deletion):
            count.deletions += 1
        else:
            write(json_line(item))
            count.documents += 1


def parse_batch(parse: Parser, batch: bytes, name: str) -> tuple[bytes, int, int, bool]:
    """A worker's share: (the batch's documents as JSONL, documents, deletions, whether it parsed to its end)."""
    lines: list[bytes] = []
    count = FileCount(name)
    try:
        write_items(parse(io.BytesIO(batch), name), lines.append, count)
    except Exception:  # the file is then read whole in the main process, which reports the error
        return b"", 0, 0, False
    return b"".join(lines), count.documents, count.deletions, True


def end_with_parent(parent: int) -> None:
    """Worker initializer: the worker ends once the main process is gone, as when it was killed outright (SIGKILL)
    and could not stop its workers; otherwise they would wait on their queue for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


class Workers:
    """A pool of forked worker processes, started when a file first needs it, and anew after one died."""

    def __init__(self, count: int):
        self.count = count
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, parse: Parser, batch: bytes, name: str) -> Future:
        """Hand a batch to the pool, starting one when there is none. After a worker died its pool refuses work
        (BrokenProcessPool): it is dropped, and the next batch starts a new one."""
        if self._pool is None:
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(self.count, context, end_with_parent, (os.getpid(),))
        try:
            return self._pool.submit(parse_batch, parse, batch, name)
        except BrokenProcessPool:
            self.close()
            raise

    def close(self) -> None:
        """Stop the workers, dropping the batches they have not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


Handed = tuple[FileCount, Future | None]


def handed_out(files: Iterable[str], parse: Parser, batcher: Batcher | None, workers: Workers) -> Iterator[Handed]:
    """Each file's batches as they are handed to the workers, then (file, None) once all of them are. A file of one
    batch (or with no batcher, or one worker) is marked to be read whole, as is one that breaks off while cut."""
    for path in files:
        count = FileCount(path)
        try:
            with open(path, "rb") as stream:
                batches = batcher(stream) if batcher is not None and workers.count > 1 else iter(())
                first = list(itertools.islice(batches, 2))
                count.whole = len(first) < 2
                if not count.whole:
                    for batch in itertools.chain(first, batches):
                        yield count, workers.submit(parse, batch, path)
        except Exception:  # unreadable, broken off while being cut, or refused by a broken pool: read it whole
            count.whole = True
        yield count, None


def _write_plain(count: FileCount, parse: Parser, sink: BinaryIO) -> None:
    """The plain parser over the whole file, past the `count.items` items already written."""
    count.failure = None
    try:
        with open(count.path, "rb") as stream:
            write_items(itertools.islice(parse(stream, count.path), count.items, None), sink.write, count)
    except Exception as error:  # any parser failure is this file's, never the end of the command
        count.failure = failure_detail(error, count.path)


def written_in_order(handed: Iterable[Handed], parse: Parser, sink: BinaryIO, ahead: int) -> Iterator[FileCount]:
    """Write the batches' documents in the order handed out, at most `ahead` batches behind, and the files marked
    whole with the plain parser at their turn; yield each file once written. After a batch fails, the rest of its
    file's batches are dropped and the file is read whole."""
    pending = collections.deque[Handed]()

    def settle() -> FileCount | None:
        count, future = pending.popleft()
        if future is None:
            if count.whole:
                _write_plain(count, parse, sink)
            return count
        if count.whole:
            future.cancel()
            return None
        try:
            lines, documents, deletions, parsed = future.result()
        except Exception:  # its worker died (killed, out of memory)
            parsed = False
        if parsed:
            sink.write(lines)
            count.documents += documents
            count.deletions += deletions
        else:
            count.whole = True
        return None

    for entry in handed:
        pending.append(entry)
        if len(pending) > ahead and (done := settle()):
            yield done
    while pending:
        if done := settle():
            yield done


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
    workers_pool = Workers(max(1, workers))
    total = failures = 0
    try:
        with jsonl_sink(out) as sink:
            handed = handed_out(map(str, files), parse, batcher, workers_pool)
            for count in written_in_order(handed, parse, sink, workers_pool.count * BATCHES_AHEAD):
                if count.failure is not None:
                    failures += 1
                    print(f"{count.path}: {count.failure}", file=log)
                withdrawn = f", {count.deletions} deletions" if count.deletions else ""
                print(f"{count.path}: {count.documents} documents{withdrawn}", file=log, flush=True)
                total += count.documents
    finally:
        workers_pool.close()
    return total, failures
