"""The build pipeline: curated Parquet -> split -> tokenize -> epochs -> replay by token share -> seeded shuffle ->
Megatron `.bin/.idx` shards -> `manifest.json`, written last (a folder with a manifest is complete).

Build reads exactly the curated files curate's completion record lists (and refuses to start without one, or when
curate ran with other settings or did not cover a source the recipe enables), writes under its staging folder, and
publishes `tokens/` and its record only once the pipeline has finished (`stages`).
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from gap_replay import stages
from gap_replay.beam.io import ReadCurated
from gap_replay.documents import Document, read_parquet
from gap_replay.mix import epoch_copies, replay_target, replay_threshold, shard_count, split_of, stable_unit
from gap_replay.pipelines.options import pipeline_options, run_to_completion
from gap_replay.pipelines.stats import write_stats
from gap_replay.recipe import Recipe
from gap_replay.shards.indexed import dtype_for_vocab
from gap_replay.shards.manifest import ShardEntry, build_manifest, shard_name, write_manifest, write_shard
from gap_replay.shards.tokenizer import LoadedTokenizer, load_tokenizer, train_bpe

log = logging.getLogger(__name__)

STAGE = "build"
TOKENIZER_FILE = "tokenizer.json"
SHARD_LIST = "_shards.jsonl"
MAX_SHARDS = 100_000  # per split: more means `shards.tokens_per_shard` is far too small for the corpus


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
class Tokenized:
    """One tokenized document copy on its way to a shard; `key` is unique per copy (`<id>#<epoch>`)."""

    key: str
    source: str
    split: str
    tokens: np.ndarray


class TokenizeDocuments(beam.DoFn):
    """Batches of Documents -> Tokenized (EOS appended), each assigned to its split by a hash of its id."""

    def __init__(self, tokenizer_path: str, eos_token: str, seed: int, valid_fraction: float) -> None:
        self._path = tokenizer_path
        self._eos_token = eos_token
        self._seed = seed
        self._valid_fraction = valid_fraction

    def setup(self) -> None:
        self._tokenizer = load_tokenizer(self._path, eos_token=self._eos_token)
        self._dtype = dtype_for_vocab(self._tokenizer.vocab_size)

    def process(self, batch: Sequence[Any]) -> Iterator[Tokenized]:
        encoded = self._tokenizer.encode_batch([doc.text for doc in batch])
        for doc, tokens in zip(batch, encoded, strict=True):
            split = split_of(doc.id, self._seed, self._valid_fraction)
            yield Tokenized(doc.id, doc.source, split, np.asarray(tokens, dtype=self._dtype))


def _epoch_copies(item: Tokenized, epochs: dict[str, float], seed: int) -> Iterator[Tokenized]:
    for epoch in range(epoch_copies(item.key, epochs.get(item.source, 1.0), seed)):
        yield Tokenized(f"{item.key}#{epoch}", item.source, item.split, item.tokens)


def _thresholds(
    pool: tuple[str, Iterable[tuple[float, int]]], medical_tokens: dict[str, int], share: float
) -> tuple[str, float]:
    split, candidates = pool
    return split, replay_threshold(candidates, replay_target(medical_tokens.get(split, 0), share))


class WriteShard(beam.DoFn):
    """((split, index), copies) -> one shard, in seeded-shuffle order; yields its manifest entry as JSON."""

    def __init__(self, directory: str, dtype: str, seed: int) -> None:
        self._directory = directory
        self._dtype = np.dtype(dtype)
        self._seed = seed

    def process(self, group: tuple[tuple[str, int, int], Iterable[Tokenized]]) -> Iterator[str]:
        (split, index, count), items = group
        ordered = sorted(items, key=lambda item: (stable_unit(self._seed, "shuffle", item.key), item.key))
        yield json.dumps(write_split_shard(self._directory, split, index, count, ordered, self._dtype).__dict__)


def write_split_shard(
    directory: str, split: str, index: int, count: int, items: Sequence[Tokenized], dtype: np.dtype
) -> ShardEntry:
    """Write the documents of shard `index` of `count` of a split (already in order) and describe it."""
    path = shard_name(split, index, count)
    return write_shard(directory, path, split, ((item.source, item.tokens) for item in items), dtype)


class Mix(beam.PTransform):
    """Tokenized documents -> the training mix: epochs per source, then replay up to its share of tokens per split."""

    def __init__(self, epochs: dict[str, float], replay_share: float, seed: int) -> None:
        super().__init__()
        self._epochs = epochs
        self._share = replay_share
        self._seed = seed

    def expand(self, tokenized: beam.PCollection) -> beam.PCollection:
        seed, share = self._seed, self._share
        copies = tokenized | "Epochs" >> beam.FlatMap(_epoch_copies, self._epochs, seed)
        medical = copies | "Medical" >> beam.Filter(lambda item: item.source != "replay")
        pool = (
            copies
            | "ReplayPool" >> beam.Filter(lambda item: item.source == "replay")
            | "Draw" >> beam.Map(lambda item: (item, stable_unit(seed, "replay", item.key)))
        )
        medical_tokens = (
            medical
            | "MedicalLengths" >> beam.Map(lambda item: (item.split, len(item.tokens)))
            | "MedicalTokens" >> beam.CombinePerKey(sum)
        )
        thresholds = (
            pool
            | "Draws" >> beam.MapTuple(lambda item, draw: (item.split, (draw, len(item.tokens))))
            | "GroupBySplit" >> beam.GroupByKey()
            | "Thresholds" >> beam.Map(_thresholds, beam.pvalue.AsDict(medical_tokens), share)
        )
        replay = (
            pool
            | "TakeReplay"
            >> beam.Filter(
                lambda drawn, limits: drawn[1] <= limits.get(drawn[0].split, -1.0), beam.pvalue.AsDict(thresholds)
            )
            | "Drawn" >> beam.MapTuple(lambda item, _: item)
        )
        return (medical, replay) | "Mixed" >> beam.Flatten()


class Shard(beam.PTransform):
    """The mix -> shards of about `tokens_per_shard` tokens: each copy goes to a shard by a seeded hash of its key."""

    def __init__(self, directory: str, dtype: str, tokens_per_shard: int, seed: int) -> None:
        super().__init__()
        self._directory = directory
        self._dtype = dtype
        self._tokens_per_shard = tokens_per_shard
        self._seed = seed

    def expand(self, mixed: beam.PCollection) -> beam.PCollection:
        seed, per_shard = self._seed, self._tokens_per_shard
        counts = (
            mixed
            | "Lengths" >> beam.Map(lambda item: (item.split, len(item.tokens)))
            | "SplitTokens" >> beam.CombinePerKey(sum)
            | "ShardCounts"
            >> beam.MapTuple(lambda split, tokens: (split, checked_shard_count(split, tokens, per_shard)))
        )

        def assign(item: Tokenized, shard_counts: dict[str, int]) -> tuple[tuple[str, int, int], Tokenized]:
            count = shard_counts[item.split]
            index = int(stable_unit(seed, "shard", item.key) * count)
            return (item.split, index, count), item

        return (
            mixed
            | "AssignShard" >> beam.Map(assign, beam.pvalue.AsDict(counts))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(WriteShard(self._directory, self._dtype, seed))
        )


def _read_curated(path: str) -> Iterator[Document]:
    """One curated Parquet file through Beam's FileSystems (local, gs://, s3://)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
        yield from read_parquet(stream)


def _training_texts(paths: Sequence[str], recipe: Recipe) -> list[str]:
    """The tokenizer's training texts: up to N train-split medical documents, chosen by a stable draw, in id order."""
    docs = (
        doc
        for path in paths
        for doc in _read_curated(path)
        if doc.source != "replay" and split_of(doc.id, recipe.seed, recipe.split.valid_fraction) == "train"
    )
    limit = recipe.tokenizer.train_max_documents or 2**62
    chosen = heapq.nsmallest(limit, ((stable_unit(recipe.seed, "tokenizer", d.id), d.id, d.text) for d in docs))
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
    return train_bpe(
        texts, recipe.tokenizer.vocab_size, target, name=f"{recipe.name}-bpe-{recipe.tokenizer.vocab_size}"
    )


def _missing_shards(entries: list[ShardEntry], directory: Path, dtype: np.dtype) -> list[ShardEntry]:
    """A hash partition can leave a shard empty on a tiny corpus; write it empty so the numbering stays whole."""
    counts = {entry.split: int(entry.path.rsplit("-", 1)[1]) for entry in entries}
    present = {entry.path for entry in entries}
    return [
        write_split_shard(str(directory), split, index, count, [], dtype)
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
        absent = [source for source in enabled if not any((output / "curated" / source).glob("part-*.parquet"))]
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

            pipeline = beam.Pipeline(options=pipeline_options(beam_args))
            _ = (
                pipeline
                | "ReadCurated" >> ReadCurated(paths)
                | "Batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=512)
                | "Tokenize"
                >> beam.ParDo(
                    TokenizeDocuments(
                        str(tokens_dir / TOKENIZER_FILE), tokenizer.eos_token, recipe.seed, recipe.split.valid_fraction
                    )
                )
                | "Mix" >> Mix(dict(recipe.mix.epochs), replay_share, recipe.seed)
                | "Shard" >> Shard(str(tokens_dir), dtype.name, recipe.shards.tokens_per_shard, recipe.seed)
                | "ShardList" >> beam.io.WriteToText(str(tokens_dir / SHARD_LIST), num_shards=1, shard_name_template="")
            )
            run_to_completion(pipeline, STAGE)

            shard_list = tokens_dir / SHARD_LIST
            lines = shard_list.read_text(encoding="utf-8").splitlines()
            entries = [ShardEntry(**json.loads(line)) for line in lines if line]
            entries += _missing_shards(entries, tokens_dir, dtype)
            shard_list.unlink()
            manifest = build_manifest(
                recipe.name,
                recipe.model_dump(mode="json"),
                recipe_sha256,
                tokenizer.to_manifest(),
                dtype.name,
                entries,
                mix=_mix_summary(recipe, entries),
            )
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
                only=[*known, f"tokens/{TOKENIZER_FILE}", "tokens/manifest.json"],
                known=known,
            )
        write_stats(output)
    return manifest
