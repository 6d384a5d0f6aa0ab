"""Training samples from manifest shards, with Megatron's GPT sample semantics.

Within an epoch the documents of a split are shuffled (seeded) and concatenated; sample j is the window of
`seq_len + 1` tokens that starts at token j * seq_len, so consecutive windows share one token: the last target of
one sample is the first input of the next, and no token is ever a target twice. The windows are then shuffled
(seeded). Each epoch has its own shuffles, so the stream is endless and sample k is a pure function of
(seed, k): a run resumes from its count of consumed samples and replays nothing. Several manifests are blended by
weight, each rank reads a disjoint slice of every global batch, and tokens are read from the memory-mapped `.bin`
files, so memory holds only per-document sizes and the shuffles of one epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gap_replay.shards.indexed import IndexedDataset
from gap_replay.shards.manifest import read_manifest

BLEND_CYCLE = 10_000  # samples per blending cycle: weights are honoured to 1 part in this many


class DataError(ValueError):
    """Training data that cannot be used; the message names the manifest and the reason."""


@dataclass(frozen=True)
class Corpus:
    """A manifest's shards of one split, opened, with the tokenizer facts the trainer needs."""

    manifest: Path
    split: str
    shards: list[IndexedDataset]
    vocab_size: int
    eos_id: int
    tokenizer_sha256: str | None


def open_split(manifest_path: str | Path, split: str) -> Corpus:
    """Open every shard of `split` listed in a local manifest (paths resolved next to it)."""
    if "://" in str(manifest_path):
        raise DataError(f"{manifest_path}: fetch remote shards first with `gap-replay download URL DEST`")
    manifest_path = Path(manifest_path)
    try:
        manifest = read_manifest(manifest_path)
    except (OSError, ValueError) as error:
        raise DataError(str(error)) from None
    entries = [shard for shard in manifest["shards"] if shard["split"] == split]
    if not entries:
        raise DataError(f"{manifest_path}: no {split!r} shards")
    shards = []
    for entry in entries:
        try:
            shards.append(IndexedDataset(manifest_path.parent / entry["path"]))
        except (OSError, ValueError) as error:
            raise DataError(f"{manifest_path}: shard {entry['path']}: {error}") from None
    tokenizer = manifest["tokenizer"]
    return Corpus(manifest_path, split, shards, tokenizer["vocab_size"], tokenizer["eos_id"], tokenizer.get("sha256"))


class GPTSamples:
    """Megatron's GPT samples over a split: `seq_len + 1` token windows of the seeded-shuffled documents."""

    def __init__(self, corpus: Corpus, seq_len: int, seed: int) -> None:
        self.corpus = corpus
        self.seq_len = seq_len
        self.seed = seed
        self.sizes = np.concatenate([shard.sizes for shard in corpus.shards]).astype(np.int64)
        self.first_document = np.cumsum([0] + [len(shard) for shard in corpus.shards])
        tokens = int(self.sizes.sum())
        # The window of the last sample needs one token past its inputs, hence the - 1.
        self.samples_per_epoch = (tokens - 1) // seq_len
        if self.samples_per_epoch < 1:
            raise DataError(
                f"{corpus.manifest}: the {corpus.split!r} split has {tokens} tokens, fewer than one sample of "
                f"seq_len + 1 = {seq_len + 1}"
            )
        self._epoch: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.samples_per_epoch

    def _shuffles(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Document order, its cumulative token offsets and the sample order of one epoch (the last one is kept)."""
        if self._epoch is None or self._epoch[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.sizes))
            offsets = np.zeros(len(order) + 1, dtype=np.int64)
            np.cumsum(self.sizes[order], out=offsets[1:])
            samples = rng.permutation(self.samples_per_epoch)
            self._epoch = (epoch, order, offsets, samples)
        return self._epoch[1:]

    def __getitem__(self, index: int) -> np.ndarray:
        """Sample `index` of the endless stream: int64 tokens, inputs [:-1] and targets [1:]."""
        epoch, within = divmod(index, self.samples_per_epoch)
        order, offsets, samples = self._shuffles(epoch)
        start = int(samples[within]) * self.seq_len
        end = start + self.seq_len + 1
        position = int(np.searchsorted(offsets, start, side="right")) - 1
        pieces = []
        while start < end:
            available = int(offsets[position + 1]) - start
            if available > 0:
                take = min(available, end - start)
                pieces.append(self._read(int(order[position]), start - int(offsets[position]), take))
                start += take
            position += 1
        return np.concatenate(pieces).astype(np.int64)

    def _read(self, document: int, offset: int, length: int) -> np.ndarray:
        shard = int(np.searchsorted(self.first_document, document, side="right")) - 1
        return self.corpus.shards[shard].get(document - int(self.first_document[shard]), offset, length)


class Blend:
    """Several sample streams interleaved by weight: each cycle of BLEND_CYCLE samples holds a fixed pattern.

    Within a cycle, stream d appears round(w_d * BLEND_CYCLE) times (largest remainder), spread evenly; sample k is
    found in O(1), so resuming needs no replay of the blend.
    """

    def __init__(self, streams: list[GPTSamples], weights: list[float], cycle: int = BLEND_CYCLE) -> None:
        self.streams = streams
        self.counts = apportion(weights, cycle)
        for stream, count, weight in zip(streams, self.counts, weights, strict=True):
            if count == 0:
                raise DataError(f"{stream.corpus.manifest}: weight {weight} is below 1/{cycle} of the blend")
        arrival = [((n + 0.5) / count, d, n) for d, count in enumerate(self.counts) for n in range(count)]
        arrival.sort()
        self.pattern_stream = np.array([d for _, d, _ in arrival], dtype=np.int64)
        self.pattern_index = np.array([n for _, _, n in arrival], dtype=np.int64)
        self.cycle = cycle

    def __getitem__(self, index: int) -> np.ndarray:
        cycle, position = divmod(index, self.cycle)
        stream = int(self.pattern_stream[position])
        return self.streams[stream][cycle * int(self.counts[stream]) + int(self.pattern_index[position])]

    def source(self, index: int) -> int:
        """Which stream sample `index` comes from."""
        return int(self.pattern_stream[index % self.cycle])


def apportion(weights: list[float], total: int) -> list[int]:
    """Integer shares of `total` proportional to `weights`, by largest remainder (they sum to `total`)."""
    exact = np.asarray(weights, dtype=np.float64) / float(np.sum(weights)) * total
    counts = np.floor(exact).astype(np.int64)
    remainders = exact - counts
    for d in np.argsort(-remainders, kind="stable")[: total - int(counts.sum())]:
        counts[d] += 1
    return counts.tolist()


def rank_slice(consumed: int, micro_batch_size: int, rank: int) -> range:
    """Global sample indices of this rank's next micro batch: ranks take consecutive, disjoint blocks."""
    start = consumed + rank * micro_batch_size
    return range(start, start + micro_batch_size)


class TrainLoader:
    """Micro batches of a rank; state = (seed, consumed samples over all ranks), the whole resume position."""

    def __init__(self, samples: Blend, micro_batch_size: int, rank: int, world_size: int, seed: int) -> None:
        self.samples = samples
        self.micro_batch_size = micro_batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.consumed = 0

    def next_batch(self) -> torch.Tensor:
        """(micro_batch_size, seq_len + 1) int64 tokens; all ranks together consume micro_batch * world samples."""
        indices = rank_slice(self.consumed, self.micro_batch_size, self.rank)
        self.consumed += self.micro_batch_size * self.world_size
        return torch.from_numpy(np.stack([self.samples[i] for i in indices]))

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "consumed_samples": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["seed"] != self.seed:
            raise DataError(f"checkpoint data seed {state['seed']} differs from the config's {self.seed}")
        self.consumed = int(state["consumed_samples"])


def validation_batches(
    samples: GPTSamples, count: int, micro_batch_size: int, rank: int, world_size: int
) -> list[torch.Tensor]:
    """This rank's share of the first `count` samples of a valid split, in equal numbers of batches on every rank."""
    per_rank = min(count, len(samples)) // world_size
    if per_rank == 0:
        raise DataError(f"{samples.corpus.manifest}: the valid split has fewer than {world_size} samples")
    indices = [rank + world_size * i for i in range(per_rank)]
    return [
        torch.from_numpy(np.stack([samples[i] for i in indices[start : start + micro_batch_size]]))
        for start in range(0, per_rank, micro_batch_size)
    ]
