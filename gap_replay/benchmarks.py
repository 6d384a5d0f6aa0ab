"""Benchmark files, read the same way for decontaminating the corpus and for evaluating a model: JSONL rows (as in
the local MedQA, MedMCQA, PubMedQA and MMLU copies: `question`, `options`, `answer_idx`, `realidx`, ...) or a
Hugging Face dataset folder, each with the sha256 that says which file was read.

Where the bytes come from is the caller's: curate reads through Beam's FileSystems (local, gs://, s3://),
evaluation reads local files. A file is hashed as stored (never decompressed), a folder by its files' hashes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A benchmark path with one of these endings is a JSONL file; any other path is a Hugging Face dataset folder.
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
# A folder holding one of these was written by `save_to_disk`; another folder holds data files for `load_dataset`.
SAVED_DATASET_FILES = ("dataset_dict.json", "state.json")

Row = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Storage:
    """How to reach files: read one's bytes, list every file under a folder, and tell whether a path exists."""

    read: Callable[[str], bytes]
    files: Callable[[str], list[str]]
    exists: Callable[[str], bool]


LOCAL = Storage(
    read=lambda path: Path(path).read_bytes(),
    files=lambda root: [str(path) for path in sorted(Path(root).rglob("*")) if path.is_file()],
    exists=lambda path: Path(path).exists(),
)


def item_id(row: Mapping[str, Any], fallback: str) -> str:
    """The benchmark's own id of a row (`realidx`, else `id`), else where the row is."""
    for key in ("realidx", "id"):
        if row.get(key) is not None:
            return str(row[key])
    return fallback


def jsonl_rows(path: str, storage: Storage = LOCAL) -> tuple[list[Row], str]:
    """(item id, row) of a JSONL file (gzipped when its name ends in .gz), ids falling back to line numbers, and
    the file's sha256. A line that is not a JSON object is an error naming the file and the line."""
    data = storage.read(path)
    lines = (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8").split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error}") from error
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: a row must be a JSON object, not {type(row).__name__}")
        rows.append((item_id(row, f"line {number}"), row))
    return rows, hashlib.sha256(data).hexdigest()


def folder_sha256(path: str, storage: Storage = LOCAL) -> str:
    """sha256 of a folder: of each file's path (relative to the folder) and sha256, one line each, sorted."""
    root = path.rstrip("/") + "/"
    lines = [f"{file[len(root) :]}\t{hashlib.sha256(storage.read(file)).hexdigest()}\n" for file in storage.files(root)]
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def dataset_rows(path: str, storage: Storage = LOCAL) -> tuple[list[Row], str]:
    """(item id, row) of every split of a Hugging Face dataset folder (splits in name order, ids falling back to
    `<split> row <n>`), and the folder's sha256. Needs the `datasets` package."""
    import datasets

    root = path.rstrip("/")
    saved = any(storage.exists(f"{root}/{name}") for name in SAVED_DATASET_FILES)
    loaded = datasets.load_from_disk(root) if saved else datasets.load_dataset(root)
    splits = loaded if isinstance(loaded, datasets.DatasetDict) else {"": loaded}
    rows = [
        (item_id(row, f"{split} row {number}".strip()), row)
        for split in sorted(splits)
        for number, row in enumerate(splits[split])
    ]
    return rows, folder_sha256(root, storage)


def benchmark_rows(path: str, storage: Storage = LOCAL) -> tuple[list[Row], str]:
    """The rows of a JSONL file or of a dataset folder, by the path's ending, and its sha256."""
    return jsonl_rows(path, storage) if path.endswith(JSONL_SUFFIXES) else dataset_rows(path, storage)


def read_ids(path: str, storage: Storage = LOCAL) -> tuple[list[str], str]:
    """The ids of a blocklist file and its sha256: a JSON object's keys (PubMedQA's PMID -> answer), a JSON list's
    items, or else one id a line."""
    data = storage.read(path)
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8").split()
    ids = list(parsed) if isinstance(parsed, (dict, list)) else [parsed]
    return [str(value).strip() for value in ids if str(value).strip()], hashlib.sha256(data).hexdigest()
