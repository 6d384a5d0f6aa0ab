"""A small learnable token corpus, written as shards + manifest, for trying the trainer before any corpus exists.

The documents follow a seeded sparse Markov chain (each token has a few likely successors), so a model can learn
them: validation perplexity falls from about the vocabulary size to a handful. `write_corpus` turns any token
documents into a tokens folder the trainer reads, through the project's shard writer and manifest.

    python -m gap_replay.train.synthetic OUT_DIR [--vocab-size 512] [--documents 2000]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gap_replay.shards.indexed import IndexedDatasetWriter, dtype_for_vocab
from gap_replay.shards.manifest import ShardEntry, build_manifest, shard_name, write_manifest

SOURCE = "synthetic"
SUCCESSOR_PROBABILITIES = (0.55, 0.25, 0.15, 0.05)


def markov_documents(
    count: int, vocab_size: int, eos_id: int, seed: int, min_length: int = 20, max_length: int = 400
) -> list[np.ndarray]:
    """`count` documents of a fixed random chain over the non-EOS ids, each ending with `eos_id`."""
    rng = np.random.default_rng(seed)
    ids = np.array([i for i in range(vocab_size) if i != eos_id])
    successors = rng.choice(ids, size=(vocab_size, len(SUCCESSOR_PROBABILITIES)))
    documents = []
    for _ in range(count):
        length = int(rng.integers(min_length, max_length + 1))
        choices = rng.choice(len(SUCCESSOR_PROBABILITIES), size=length - 1, p=SUCCESSOR_PROBABILITIES)
        tokens = np.empty(length, dtype=np.int64)
        tokens[0] = rng.choice(ids)
        for i in range(1, length - 1):
            tokens[i] = successors[tokens[i - 1], choices[i - 1]]
        tokens[-1] = eos_id
        documents.append(tokens)
    return documents


def write_corpus(
    out_dir: str | Path,
    splits: dict[str, Sequence[Sequence[int]]],
    vocab_size: int,
    eos_id: int,
    shards_per_split: int = 1,
    name: str = SOURCE,
) -> Path:
    """Write documents per split ("train", "valid") as shards and a manifest; returns the manifest path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = dtype_for_vocab(vocab_size)
    entries = []
    for split, documents in splits.items():
        for index, part in enumerate(np.array_split(np.arange(len(documents)), shards_per_split)):
            path = shard_name(split, index, shards_per_split)
            with IndexedDatasetWriter(out_dir / path, dtype) as writer:
                for i in part:
                    writer.add_document(np.asarray(documents[i]))
            files = writer.close()
            entries.append(ShardEntry.from_files(path, split, files, {SOURCE: files.tokens}, {SOURCE: files.documents}))
    tokenizer = {"name": name, "vocab_size": vocab_size, "eos_id": eos_id, "sha256": None}
    manifest = build_manifest(name, {"synthetic": True}, "", tokenizer, dtype.name, entries)
    write_manifest(manifest, out_dir / "manifest.json")
    return out_dir / "manifest.json"


def write_synthetic_corpus(
    out_dir: str | Path, vocab_size: int = 512, documents: int = 2000, seed: int = 0, shards_per_split: int = 2
) -> Path:
    """A Markov-chain corpus, 90% train and 10% valid, with EOS id 0; returns the manifest path."""
    docs = markov_documents(documents, vocab_size, eos_id=0, seed=seed)
    cut = max(1, len(docs) // 10)
    splits = {"train": docs[cut:], "valid": docs[:cut]}
    return write_corpus(out_dir, splits, vocab_size, eos_id=0, shards_per_split=shards_per_split)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.train.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--vocab-size", type=int, default=512)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    path = write_synthetic_corpus(options.out_dir, options.vocab_size, options.documents, options.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
