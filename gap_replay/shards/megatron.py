"""Megatron-LM's data arguments for a manifest's shards: `--train-data-path` and `--valid-data-path`, each a list of
weight and prefix pairs as Megatron reads them (`get_blend_from_list`). A shard's weight is its token count
(Megatron normalises the weights), so the blend draws from every shard in proportion to its size."""

from __future__ import annotations

from pathlib import Path

from gap_replay.shards.manifest import SPLITS, manifest_file, read_manifest

FLAGS = {"train": "--train-data-path", "valid": "--valid-data-path"}


def data_paths(manifest_path: Path, root: Path | None = None) -> dict[str, list[str]]:
    """Flag -> [weight, prefix, weight, prefix, ...] for each split with tokens; prefixes are absolute, under `root`
    (where the shards are on the training machine; default: the manifest's folder). Shards without tokens are
    left out: Megatron cannot sample an empty dataset."""
    manifest_path = manifest_file(manifest_path)
    manifest = read_manifest(manifest_path)
    base = Path(root or manifest_path.parent).absolute()
    arguments: dict[str, list[str]] = {}
    for split in SPLITS:
        pairs = [
            item
            for shard in manifest["shards"]
            if shard["split"] == split and shard["tokens"] > 0
            for item in (str(shard["tokens"]), str(base / shard["path"]))
        ]
        if pairs:
            arguments[FLAGS[split]] = pairs
    return arguments


def megatron_arguments(manifest_path: Path, root: Path | None = None) -> str:
    """The data arguments as command-line text, one flag per line, ready to paste after `pretrain_gpt.py`."""
    return " \\\n".join(f"{flag} {' '.join(values)}" for flag, values in data_paths(manifest_path, root).items())
