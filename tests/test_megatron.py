"""`gap-replay megatron`: Megatron-LM's data arguments for a manifest, weights the shards' token counts, and
megatron-core's own builder making its GPT datasets from exactly what is printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

from gap_replay.cli import main
from gap_replay.shards.indexed import IndexedDatasetWriter
from gap_replay.shards.manifest import ShardEntry, build_manifest, write_manifest
from gap_replay.shards.megatron import data_paths

EOS = 0


def write_corpus(folder: Path, shards: dict[str, list[list[int]]]) -> Path:
    """Shards named as build names them, each a list of documents (EOS last), and their manifest."""
    entries = []
    for name, documents in shards.items():
        with IndexedDatasetWriter(folder / name, "uint16") as writer:
            for document in documents:
                writer.add_document(document)
        tokens = sum(map(len, documents))
        sources = {"pubmed": tokens} if tokens else {}
        counts = {"pubmed": len(documents)} if documents else {}
        entries.append(ShardEntry.from_files(name, name.split("-")[0], writer.close(), sources, counts))
    tokenizer = {"name": "t", "vocab_size": 100, "eos_id": EOS, "eos_token": "<eos>", "sha256": "0" * 64}
    write_manifest(build_manifest("t", {}, "0" * 64, tokenizer, "uint16", entries), folder / "manifest.json")
    return folder / "manifest.json"


def documents(count: int, length: int, first: int) -> list[list[int]]:
    return [[first + (i + j) % 50 for j in range(length - 1)] + [EOS] for i in range(count)]


CORPUS = {
    "train-00000-of-00002": documents(40, 10, 1),
    "train-00001-of-00002": documents(20, 12, 51),
    "valid-00000-of-00001": documents(10, 9, 1),
}


def test_each_split_lists_its_shards_weighted_by_their_tokens(tmp_path):
    manifest = write_corpus(tmp_path, CORPUS)

    assert data_paths(manifest) == {
        "--train-data-path": [
            "400",
            str(tmp_path / "train-00000-of-00002"),
            "240",
            str(tmp_path / "train-00001-of-00002"),
        ],
        "--valid-data-path": ["90", str(tmp_path / "valid-00000-of-00001")],
    }


def test_shards_without_tokens_and_splits_without_shards_are_left_out(tmp_path):
    manifest = write_corpus(tmp_path, {"train-00000-of-00002": documents(3, 4, 1), "train-00001-of-00002": []})

    assert data_paths(manifest) == {"--train-data-path": ["12", str(tmp_path / "train-00000-of-00002")]}


def test_the_root_names_where_the_shards_are_on_the_training_machine(tmp_path):
    manifest = write_corpus(tmp_path, CORPUS)

    paths = data_paths(tmp_path, root=Path("/data/corpus"))

    assert paths["--valid-data-path"] == ["90", "/data/corpus/valid-00000-of-00001"]
    assert data_paths(manifest)["--train-data-path"][0] == "400"


def printed_arguments(manifest: Path, capsys) -> dict[str, list[str]]:
    assert main(["megatron", str(manifest)]) == 0
    words = shlex.split(capsys.readouterr().out.replace("\\\n", " "))
    flags = [index for index, word in enumerate(words) if word.startswith("--")]
    return {words[start]: words[start + 1 : end] for start, end in zip(flags, [*flags[1:], len(words)], strict=True)}


def test_the_command_prints_what_megatron_lm_takes(tmp_path, capsys):
    manifest = write_corpus(tmp_path, CORPUS)

    assert printed_arguments(manifest, capsys) == data_paths(manifest)


class _Tokenizer:
    """What megatron-core's GPT dataset asks of a tokenizer: the end-of-document and padding ids, the vocabulary
    size (its token dtype follows it, as ours does) and an identity for its cache."""

    eod = EOS
    pad = -1
    vocab_size = 100

    def __init__(self) -> None:
        self.unique_identifiers = {"class": "gap-replay-test"}


def test_megatron_core_builds_its_gpt_datasets_from_the_printed_arguments(tmp_path, capsys):
    pytest.importorskip("megatron.core", reason="megatron-core is not installed (the dev extra pins it)")
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.utils import get_blend_from_list

    arguments = printed_arguments(write_corpus(tmp_path, CORPUS), capsys)
    config = GPTDatasetConfig(
        random_seed=1,
        sequence_length=16,
        blend_per_split=[
            get_blend_from_list(arguments["--train-data-path"]),
            get_blend_from_list(arguments["--valid-data-path"]),
            None,
        ],
        tokenizer=_Tokenizer(),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        path_to_cache=None,  # with a cache, its blended dataset asks torch.distributed for a rank
    )

    train, valid, test = BlendedMegatronDatasetBuilder(GPTDataset, [30, 4, None], lambda: True, config).build()

    assert test is None
    assert len(train) >= 30 and len(valid) >= 4
    sample = np.asarray(train[0]["tokens"])
    assert sample.shape == (16,)
    every_token = {token for docs in CORPUS.values() for doc in docs for token in doc}
    assert set(sample.tolist()) <= every_token
    assert train.weights == pytest.approx([400 / 640, 240 / 640])
