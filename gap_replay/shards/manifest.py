"""`manifest.json`: what a tokens folder holds (DESIGN section 6), how to check it, and a one-screen summary.

The manifest is written last and atomically, so a folder with a manifest is complete. Totals are always computed
from the shard entries, never passed in, so they cannot disagree with the shards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from gap_replay.documents import SOURCES
from gap_replay.files import write_atomic
from gap_replay.shards.indexed import IndexedDataset, IndexedDatasetWriter, ShardFiles, shard_paths, validate

FORMAT = "gap-replay-manifest/1"
SPLITS = ("train", "valid")
REQUIRED_KEYS = ("format", "name", "created", "recipe", "recipe_sha256", "base_url", "tokenizer", "dtype", "totals")
TOKENIZER_KEYS = ("name", "vocab_size", "eos_id", "sha256")
SHARD_KEYS = ("path", "split", "documents", "tokens", "sources", "bin", "idx")
_HASH_CHUNK = 1 << 20
_EOS_CHUNK = 1 << 20


@dataclass
class ShardEntry:
    """One shard as the manifest lists it; `sources` are token counts, `source_documents` document counts, and
    `license_documents` document counts per source and licence."""

    path: str
    split: str
    documents: int
    tokens: int
    sources: dict[str, int]
    source_documents: dict[str, int]
    bin_bytes: int
    bin_sha256: str
    idx_bytes: int
    idx_sha256: str
    license_documents: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def from_files(
        cls,
        path: str,
        split: str,
        files: ShardFiles,
        sources: dict[str, int],
        source_documents: dict[str, int],
        license_documents: dict[str, dict[str, int]] | None = None,
    ) -> ShardEntry:
        """The entry for a shard the writer just closed; `path` is its prefix relative to the manifest."""
        return cls(
            path=path,
            split=split,
            documents=files.documents,
            tokens=files.tokens,
            sources=dict(sources),
            source_documents=dict(source_documents),
            bin_bytes=files.bin_bytes,
            bin_sha256=files.bin_sha256,
            idx_bytes=files.idx_bytes,
            idx_sha256=files.idx_sha256,
            license_documents={source: dict(counts) for source, counts in (license_documents or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "split": self.split,
            "documents": self.documents,
            "tokens": self.tokens,
            "sources": _in_source_order(self.sources),
            "source_documents": _in_source_order(self.source_documents),
            "license_documents": _in_source_order(self.license_documents),
            "bin": {"bytes": self.bin_bytes, "sha256": self.bin_sha256},
            "idx": {"bytes": self.idx_bytes, "sha256": self.idx_sha256},
        }


def shard_name(split: str, index: int, count: int) -> str:
    """The shard prefix `train-00000-of-00004`: sorts by split, then by index."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} out of range for {count} shards")
    return f"{split}-{index:05d}-of-{count:05d}"


def write_shard(
    directory: str | Path,
    path: str,
    split: str,
    documents: Iterable[tuple[str, Sequence[int] | np.ndarray]],
    dtype: np.dtype,
) -> ShardEntry:
    """Write (source, tokens) documents, in order, as shard `path` under `directory` and return its manifest entry."""
    sources: dict[str, int] = {}
    source_documents: dict[str, int] = {}
    with IndexedDatasetWriter(Path(directory) / path, dtype) as writer:
        for source, tokens in documents:
            writer.add_document(tokens)
            sources[source] = sources.get(source, 0) + len(tokens)
            source_documents[source] = source_documents.get(source, 0) + 1
    return ShardEntry.from_files(
        path, split, writer.close(), dict(sorted(sources.items())), dict(sorted(source_documents.items()))
    )


def build_manifest(
    name: str,
    recipe: dict,
    recipe_sha256: str,
    tokenizer: dict,
    dtype: str,
    shards: list[ShardEntry],
    mix: dict | None = None,
    created: str | None = None,
    base_url: str | None = None,
) -> dict:
    """The manifest for a finished tokens folder: shards sorted (train, then valid, by path), totals summed."""
    problems = _entry_problems(shards)
    if problems:
        raise ValueError("inconsistent shard entries: " + "; ".join(problems))
    ordered = sorted(shards, key=lambda shard: (SPLITS.index(shard.split), shard.path))
    entries = [shard.to_dict() for shard in ordered]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "created": created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recipe": recipe,
        "recipe_sha256": recipe_sha256,
        "base_url": base_url,
        "tokenizer": tokenizer,
        "dtype": dtype,
        "totals": compute_totals(entries),
    }
    if mix is not None:
        manifest["mix"] = mix
    manifest["shards"] = entries
    return manifest


def compute_totals(shards: list[dict]) -> dict:
    """Documents and tokens per split and per source, summed over manifest shard entries."""
    totals: dict[str, dict[str, Any]] = {split: {"documents": 0, "tokens": 0, "sources": {}} for split in SPLITS}
    for shard in shards:
        split = totals.setdefault(shard["split"], {"documents": 0, "tokens": 0, "sources": {}})
        split["documents"] += shard["documents"]
        split["tokens"] += shard["tokens"]
        source_documents = shard.get("source_documents", {})
        for source in {*shard["sources"], *source_documents}:
            counts = split["sources"].setdefault(source, {"documents": 0, "tokens": 0})
            counts["documents"] += source_documents.get(source, 0)
            counts["tokens"] += shard["sources"].get(source, 0)
    for split in totals.values():
        split["sources"] = _in_source_order(split["sources"])
    return totals


def write_manifest(manifest: dict, path: Path) -> None:
    """Write the manifest as indented JSON with a trailing newline, atomically: it marks the folder complete."""
    write_atomic(Path(path), (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_manifest(path_or_text: str | Path) -> dict:
    """Parse and check a manifest given as a file path or as JSON text; errors name the file and the problem."""
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
        origin, text = "manifest text", path_or_text
    else:
        origin = str(path_or_text)
        try:
            text = Path(path_or_text).read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{origin}: no such manifest") from error
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{origin}: not valid JSON ({error})") from error
    problems = _manifest_problems(manifest)
    if problems:
        raise ValueError(f"{origin}: " + "; ".join(problems))
    return manifest


def verify(manifest_path: Path) -> list[str]:
    """Check every shard against the manifest (sizes, sha256, index, counts, EOS) and the totals; [] = all good."""
    manifest_path = Path(manifest_path)
    try:
        manifest = read_manifest(manifest_path)
    except (OSError, ValueError) as error:
        return [str(error)]
    problems = []
    for shard in manifest["shards"]:
        problems += _verify_shard(manifest_path.parent, shard, manifest["dtype"], manifest["tokenizer"]["eos_id"])
    problems += _totals_problems(manifest["totals"], compute_totals(manifest["shards"]))
    return problems


def manifest_file(path: str | Path) -> Path:
    """The path, or the `manifest.json` inside it when it is a folder (a shard folder stands for its manifest)."""
    path = Path(path)
    return path / "manifest.json" if path.is_dir() else path


def verify_path(path: Path) -> tuple[str, list[str]]:
    """`verify` for what `inspect` accepts: a manifest or a folder holding one, or a shard by its prefix, `.bin` or
    `.idx`. A shard is checked against the manifest beside it when that lists it, else on its own (its index
    against its `.bin`). Returns what was checked, and the problems found ([] = all good)."""
    path = manifest_file(path)
    if path.suffix == ".json":
        return f"{path}: every shard's size, sha256, index, counts and EOS, and the totals", verify(path)
    bin_path, _ = shard_paths(path)
    prefix = bin_path.with_suffix("")
    beside = prefix.parent / "manifest.json"
    try:
        manifest = read_manifest(beside) if beside.is_file() else None
    except (OSError, ValueError) as error:
        return f"{prefix}: against {beside}", [str(error)]
    entry = next((shard for shard in (manifest or {}).get("shards", []) if shard["path"] == prefix.name), None)
    if entry is None:
        checked = f"{prefix}: its index against its .bin (no manifest beside it lists it: sha256 and EOS unchecked)"
        return checked, validate(prefix)
    problems = _verify_shard(prefix.parent, entry, manifest["dtype"], manifest["tokenizer"]["eos_id"])
    return f"{prefix}: size, sha256, index, counts and EOS against {beside}", problems


def summarize(path: Path) -> str:
    """A one-screen text summary of a manifest (or a folder holding one), or of a single shard prefix."""
    path = manifest_file(path)
    if path.suffix == ".json":
        return _summarize_manifest(path, read_manifest(path))
    return _summarize_shard(IndexedDataset(path))


def _entry_problems(shards: list[ShardEntry]) -> list[str]:
    """Wiring mistakes that would make a manifest lie: unknown splits, duplicate paths, counts that do not add up."""
    problems = []
    seen: set[str] = set()
    for shard in shards:
        if shard.split not in SPLITS:
            problems.append(f"{shard.path}: split {shard.split!r} is not one of {', '.join(SPLITS)}")
        if shard.path in seen:
            problems.append(f"{shard.path}: listed twice")
        seen.add(shard.path)
        if sum(shard.sources.values()) != shard.tokens:
            problems.append(f"{shard.path}: per-source tokens sum to {sum(shard.sources.values())}, not {shard.tokens}")
        if sum(shard.source_documents.values()) != shard.documents:
            problems.append(
                f"{shard.path}: per-source documents sum to {sum(shard.source_documents.values())}, "
                f"not {shard.documents}"
            )
    return problems


def _manifest_problems(manifest: Any) -> list[str]:
    """Shape checks: the format string and the keys every reader of a manifest relies on."""
    if not isinstance(manifest, dict):
        return ["not a JSON object"]
    if manifest.get("format") != FORMAT:
        return [f"format is {manifest.get('format')!r}, expected {FORMAT!r}"]
    problems = []
    missing = [key for key in (*REQUIRED_KEYS, "shards") if key not in manifest]
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    tokenizer = manifest.get("tokenizer")
    if isinstance(tokenizer, dict):
        missing = [key for key in TOKENIZER_KEYS if key not in tokenizer]
        if missing:
            problems.append(f"tokenizer lacks {', '.join(missing)}")
        elif not _is_count(tokenizer["eos_id"]):
            problems.append(f"tokenizer eos_id must be a non-negative integer, got {tokenizer['eos_id']!r}")
    elif "tokenizer" in manifest:
        problems.append("tokenizer is not an object")
    totals = manifest.get("totals")
    if "totals" in manifest and not (isinstance(totals, dict) and all(isinstance(totals.get(s), dict) for s in SPLITS)):
        problems.append(f"totals must hold an object per split ({', '.join(SPLITS)})")
    shards = manifest.get("shards")
    if "shards" in manifest and not isinstance(shards, list):
        problems.append("shards is not a list")
    for i, shard in enumerate(shards if isinstance(shards, list) else []):
        problems += [f"shards[{i}]: {problem}" for problem in _shard_shape_problems(shard)]
    return problems


def _shard_shape_problems(shard: Any) -> list[str]:
    if not isinstance(shard, dict):
        return ["not an object"]
    missing = [key for key in SHARD_KEYS if key not in shard]
    if missing:
        return [f"lacks {', '.join(missing)}"]
    problems = []
    if shard["split"] not in SPLITS:
        problems.append(f"split {shard['split']!r} is not one of {', '.join(SPLITS)}")
    if not all(_is_count(shard[key]) for key in ("documents", "tokens")):
        problems.append("documents and tokens must be non-negative integers")
    for key in ("sources", "source_documents"):
        counts = shard.get(key, {})
        if not (isinstance(counts, dict) and all(_is_count(value) for value in counts.values())):
            problems.append(f"{key} must map source names to non-negative integers")
    for kind in ("bin", "idx"):
        entry = shard[kind]
        if not (isinstance(entry, dict) and _is_count(entry.get("bytes")) and isinstance(entry.get("sha256"), str)):
            problems.append(f"{kind} must be an object with integer bytes and a sha256 string")
    path = PurePosixPath(str(shard["path"]))
    if path.is_absolute() or ".." in path.parts:
        problems.append(f"path {shard['path']!r} must be relative to the manifest, without '..'")
    return problems


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _verify_shard(root: Path, shard: dict, dtype: str, eos_id: int) -> list[str]:
    """Files present with the listed sizes and hashes, a sound index, and counts and EOS that match the entry."""
    prefix = root / shard["path"]
    problems = []
    missing = False
    for kind, file in zip(("bin", "idx"), shard_paths(prefix), strict=True):
        expected = shard[kind]
        if not file.is_file():
            missing = True
            problems.append(f"{file}: missing")
        elif file.stat().st_size != expected["bytes"]:
            problems.append(f"{file}: {file.stat().st_size} bytes, the manifest says {expected['bytes']}")
        else:
            digest = _sha256(file)
            if digest != expected["sha256"]:
                problems.append(f"{file}: sha256 {digest} does not match the manifest's {expected['sha256']}")
    if sum(shard["sources"].values()) != shard["tokens"]:
        problems.append(f"{prefix}: per-source tokens sum to {sum(shard['sources'].values())}, not {shard['tokens']}")
    if "source_documents" in shard and sum(shard["source_documents"].values()) != shard["documents"]:
        problems.append(
            f"{prefix}: per-source documents sum to {sum(shard['source_documents'].values())}, not {shard['documents']}"
        )
    if missing:
        return problems
    index_problems = validate(prefix)
    if index_problems:
        return problems + index_problems
    dataset = IndexedDataset(prefix)
    if dataset.dtype.name != dtype:
        problems.append(f"{prefix}: tokens are {dataset.dtype.name}, the manifest says {dtype}")
    if dataset.num_documents != shard["documents"]:
        problems.append(f"{prefix}: holds {dataset.num_documents} documents, the manifest says {shard['documents']}")
    if dataset.num_tokens != shard["tokens"]:
        problems.append(f"{prefix}: holds {dataset.num_tokens} tokens, the manifest says {shard['tokens']}")
    return problems + _eos_problems(dataset, eos_id)


def _eos_problems(dataset: IndexedDataset, eos_id: int) -> list[str]:
    """Every sequence must be non-empty and end with the EOS id; reads only the last token of each, in chunks."""
    first: list[int] = []
    total = 0
    for start in range(0, len(dataset), _EOS_CHUNK):
        sizes = dataset.sizes[start : start + _EOS_CHUNK].astype(np.int64)
        ends = dataset.pointers[start : start + _EOS_CHUNK] // dataset.dtype.itemsize + sizes - 1
        wrong = sizes == 0
        wrong[~wrong] = dataset.tokens[ends[~wrong]] != eos_id
        found = np.flatnonzero(wrong) + start
        total += found.size
        first += found[: max(0, 3 - len(first))].tolist()
    if not total:
        return []
    listed = ", ".join(map(str, first)) + (", ..." if total > len(first) else "")
    return [f"{dataset.prefix}: {total} document(s) do not end with the EOS id {eos_id} (sequence {listed})"]


def _totals_problems(listed: dict, computed: dict) -> list[str]:
    """Each figure in the manifest's totals that differs from the sum over its shards, by its dotted key."""
    problems = []
    for split in sorted(set(listed) | set(computed), key=_split_order):
        have, want = listed.get(split, {}), computed.get(split, {"documents": 0, "tokens": 0, "sources": {}})
        for key in ("documents", "tokens"):
            if have.get(key) != want[key]:
                problems.append(f"totals.{split}.{key} is {have.get(key)}, the shards sum to {want[key]}")
        have_sources = have.get("sources", {})
        for source in sorted(set(have_sources) | set(want["sources"])):
            for key in ("documents", "tokens"):
                value = have_sources.get(source, {}).get(key, 0)
                expected = want["sources"].get(source, {}).get(key, 0)
                if value != expected:
                    problems.append(f"totals.{split}.sources.{source}.{key} is {value}, the shards sum to {expected}")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _in_source_order(counts: dict[str, Any]) -> dict[str, Any]:
    """The project's sources in their usual order (guidelines, pubmed, pmc, replay), then any others by name."""
    return dict(sorted(counts.items(), key=lambda item: _source_order(item[0])))


def _source_order(source: str) -> tuple[int, str]:
    return (SOURCES.index(source) if source in SOURCES else len(SOURCES), source)


def _split_order(split: str) -> tuple[int, str]:
    return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)


def _summarize_manifest(path: Path, manifest: dict) -> str:
    tokenizer = manifest["tokenizer"]
    lines = [
        f"manifest   {path}",
        f"corpus     {manifest['name']}  created {manifest['created']}  ({manifest['format']})",
        f"tokenizer  {tokenizer['name']}  vocab {tokenizer['vocab_size']:,}  eos {tokenizer['eos_id']}"
        + (f" {tokenizer['eos_token']}" if tokenizer.get("eos_token") else "")
        + f"  dtype {manifest['dtype']}",
        "",
        f"{'split':<7}{'source':<14}{'documents':>12}{'tokens':>16}{'share':>9}",
    ]
    for split in sorted(manifest["totals"], key=_split_order):
        totals = manifest["totals"][split]
        for source, counts in totals["sources"].items():
            share = counts["tokens"] / totals["tokens"] if totals["tokens"] else 0.0
            lines.append(f"{split:<7}{source:<14}{counts['documents']:>12,}{counts['tokens']:>16,}{share:>9.1%}")
        lines.append(f"{split:<7}{'all':<14}{totals['documents']:>12,}{totals['tokens']:>16,}")
    shards = manifest["shards"]
    per_split = ", ".join(
        f"{sum(shard['split'] == split for shard in shards)} {split}"
        for split in sorted(manifest["totals"], key=_split_order)
    )
    bin_bytes = sum(shard["bin"]["bytes"] for shard in shards)
    idx_bytes = sum(shard["idx"]["bytes"] for shard in shards)
    lines += ["", f"shards     {len(shards)} ({per_split}); .bin {_size(bin_bytes)}, .idx {_size(idx_bytes)}"]
    return "\n".join(lines)


def _summarize_shard(dataset: IndexedDataset) -> str:
    sizes = dataset.sizes
    lines = [
        f"shard      {dataset.prefix}",
        f"dtype      {dataset.dtype.name}",
        f"sequences  {len(dataset):,}  documents {dataset.num_documents:,}",
        f"tokens     {dataset.num_tokens:,}  (.bin {_size(dataset.bin_path.stat().st_size)})",
    ]
    if len(dataset):
        lines.append(f"length     min {int(sizes.min()):,}  mean {float(sizes.mean()):,.1f}  max {int(sizes.max()):,}")
        first = dataset[0][:16].tolist()
        more = f" ... ({int(sizes[0]):,} tokens)" if sizes[0] > len(first) else ""
        lines.append(f"first      {first}{more}")
    return "\n".join(lines)


def _size(count: int) -> str:
    """Bytes in decimal units: 12 B, 3.4 KB, 5.6 MB, ..."""
    units = ("B", "KB", "MB", "GB", "TB")
    exponent = min(len(str(max(count, 1))) - 1, 3 * (len(units) - 1)) // 3
    return f"{count} B" if exponent == 0 else f"{count / 1000**exponent:,.1f} {units[exponent]}"
