"""The corpus card's document lengths: read from the shards' indexes, per split, as percentiles by the lower rank."""

from gap_replay.cards import length_rows, token_lengths
from gap_replay.shards.indexed import IndexedDatasetWriter


def test_lengths_come_from_every_shard_of_each_split(tmp_path):
    for name, sizes in {
        "train-00000-of-00002": [2, 3],
        "train-00001-of-00002": [5],
        "valid-00000-of-00001": [4],
    }.items():
        with IndexedDatasetWriter(tmp_path / name, "uint16") as writer:
            for size in sizes:
                writer.add_document([1] * (size - 1) + [0])
    manifest = {
        "shards": [
            {"path": "train-00000-of-00002", "split": "train"},
            {"path": "train-00001-of-00002", "split": "train"},
            {"path": "valid-00000-of-00001", "split": "valid"},
        ]
    }

    assert token_lengths(manifest, tmp_path) == {"train": [2, 3, 5], "valid": [4]}


def test_percentiles_take_the_lower_rank_and_the_mean_is_rounded():
    # five documents: ranks 0..4; the 10th percentile falls at rank 0.4 -> 0, the median at 2, the 90th at 3.6 -> 3
    rows = length_rows({"train": [11, 2, 7, 3, 5], "valid": []})

    assert rows == [["train", 5, 2, 5, 7, 11, 6]]  # mean 28 / 5 = 5.6 -> 6; an empty split has no row
