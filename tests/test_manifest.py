import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from gap_replay.shards.manifest import (
    FORMAT,
    ShardEntry,
    build_manifest,
    read_manifest,
    shard_name,
    summarize,
    verify,
    write_manifest,
    write_shard,
)

EOS = 0
TOKENIZER = {"name": "test-bpe", "vocab_size": 300, "eos_id": EOS, "eos_token": "<|endoftext|>", "sha256": "ab" * 32}
CREATED = "2026-11-21T10:00:00Z"


def write_entry(folder: Path, path: str, split: str, documents: list[tuple[str, list[int]]]) -> ShardEntry:
    """Write a shard of (source, tokens) documents and return its manifest entry."""
    return write_shard(folder, path, split, documents, np.dtype(np.uint16))


@pytest.fixture
def folder(tmp_path):
    """A complete tokens folder: two train shards and one valid shard, manifest written."""
    shards = [
        write_entry(tmp_path, shard_name("valid", 0, 1), "valid", [("pubmed", [7, 8, EOS])]),
        write_entry(
            tmp_path,
            shard_name("train", 1, 2),
            "train",
            [("pmc", [5, 5, 5, EOS]), ("replay", [9, EOS])],
        ),
        write_entry(
            tmp_path,
            shard_name("train", 0, 2),
            "train",
            [("pubmed", [1, 2, EOS]), ("guidelines", [3, 4, 5, EOS]), ("pubmed", [6, EOS])],
        ),
    ]
    manifest = build_manifest("sample", {"name": "sample"}, "cd" * 32, TOKENIZER, "uint16", shards, created=CREATED)
    write_manifest(manifest, tmp_path / "manifest.json")
    return tmp_path


def rewrite(path, change):
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_shard_name_pads_index_and_count():
    assert shard_name("train", 0, 4) == "train-00000-of-00004"
    assert shard_name("valid", 12, 100) == "valid-00012-of-00100"
    with pytest.raises(ValueError, match="out of range"):
        shard_name("train", 4, 4)


def test_totals_are_summed_per_split_and_source(folder):
    manifest = read_manifest(folder / "manifest.json")

    assert manifest["totals"] == {
        "train": {
            "documents": 5,
            "tokens": 15,
            "sources": {
                "guidelines": {"documents": 1, "tokens": 4},
                "pubmed": {"documents": 2, "tokens": 5},
                "pmc": {"documents": 1, "tokens": 4},
                "replay": {"documents": 1, "tokens": 2},
            },
        },
        "valid": {"documents": 1, "tokens": 3, "sources": {"pubmed": {"documents": 1, "tokens": 3}}},
    }


def test_manifest_has_the_documented_shape_and_order(folder):
    manifest = read_manifest(folder / "manifest.json")

    assert list(manifest) == [
        "format",
        "name",
        "created",
        "recipe",
        "recipe_sha256",
        "base_url",
        "tokenizer",
        "dtype",
        "totals",
        "shards",
    ]
    assert (manifest["format"], manifest["created"], manifest["base_url"]) == (FORMAT, CREATED, None)
    assert [shard["path"] for shard in manifest["shards"]] == [
        "train-00000-of-00002",
        "train-00001-of-00002",
        "valid-00000-of-00001",
    ]
    first = manifest["shards"][0]
    assert list(first) == [
        "path",
        "split",
        "documents",
        "tokens",
        "sources",
        "source_documents",
        "license_documents",
        "bin",
        "idx",
    ]
    assert first["sources"] == {"guidelines": 4, "pubmed": 5}
    # The .bin holds the nine tokens of its three documents as little-endian uint16, packed here by hand.
    tokens = struct.pack("<9H", 1, 2, EOS, 3, 4, 5, EOS, 6, EOS)
    assert first["bin"] == {"bytes": 18, "sha256": hashlib.sha256(tokens).hexdigest()}
    assert (folder / "train-00000-of-00002.bin").read_bytes() == tokens


def test_mix_is_added_and_created_defaults_to_utc_now():
    manifest = build_manifest("m", {}, "0" * 64, TOKENIZER, "uint16", [], mix={"replay": {"share": 0.01}})

    assert manifest["mix"] == {"replay": {"share": 0.01}}
    assert list(manifest)[-2:] == ["mix", "shards"]
    assert manifest["created"].endswith("Z") and len(manifest["created"]) == len(CREATED)
    assert manifest["totals"]["valid"] == {"documents": 0, "tokens": 0, "sources": {}}


def test_entries_whose_sources_do_not_add_up_are_rejected(tmp_path):
    entry = write_entry(tmp_path, "train-00000-of-00001", "train", [("pubmed", [1, EOS])])
    entry.sources["pubmed"] = 5

    with pytest.raises(ValueError, match="per-source tokens sum to 5, not 2"):
        build_manifest("m", {}, "0" * 64, TOKENIZER, "uint16", [entry])


def test_unknown_split_is_rejected(tmp_path):
    entry = write_entry(tmp_path, "test-00000-of-00001", "test", [("pubmed", [1, EOS])])

    with pytest.raises(ValueError, match="split 'test' is not one of train, valid"):
        build_manifest("m", {}, "0" * 64, TOKENIZER, "uint16", [entry])


def test_verify_passes_on_a_good_folder(folder):
    assert verify(folder / "manifest.json") == []


def test_write_manifest_is_atomic_and_ends_with_newline(folder):
    assert sorted(path.name for path in folder.iterdir() if not path.name.endswith((".bin", ".idx"))) == [
        "manifest.json"
    ]
    text = (folder / "manifest.json").read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_writing_the_same_manifest_twice_gives_the_same_bytes(folder, tmp_path):
    manifest = read_manifest(folder / "manifest.json")
    write_manifest(manifest, tmp_path / "again" / "manifest.json")

    assert (tmp_path / "again" / "manifest.json").read_bytes() == (folder / "manifest.json").read_bytes()


def test_verify_reports_a_flipped_byte_naming_the_shard(folder):
    bin_path = folder / "train-00001-of-00002.bin"
    data = bytearray(bin_path.read_bytes())
    data[0] ^= 0x01
    bin_path.write_bytes(bytes(data))

    problems = verify(folder / "manifest.json")

    assert len(problems) == 1
    assert problems[0].startswith(f"{bin_path}: sha256 ")
    assert "does not match the manifest" in problems[0]


def test_verify_reports_a_missing_file(folder):
    (folder / "valid-00000-of-00001.idx").unlink()

    assert verify(folder / "manifest.json") == [f"{folder / 'valid-00000-of-00001.idx'}: missing"]


def test_verify_reports_a_document_not_ending_with_eos(tmp_path):
    entry = write_entry(tmp_path, "train-00000-of-00001", "train", [("pubmed", [1, EOS]), ("pmc", [2, 3])])
    manifest = build_manifest("m", {}, "0" * 64, TOKENIZER, "uint16", [entry], created=CREATED)
    write_manifest(manifest, tmp_path / "manifest.json")

    assert verify(tmp_path / "manifest.json") == [
        f"{tmp_path / 'train-00000-of-00001'}: 1 document(s) do not end with the EOS id 0 (sequence 1)"
    ]


def test_verify_reports_wrong_totals(folder):
    def inflate(manifest):
        manifest["totals"]["train"]["tokens"] += 1
        manifest["totals"]["valid"]["sources"]["pubmed"]["documents"] = 4

    rewrite(folder / "manifest.json", inflate)

    assert verify(folder / "manifest.json") == [
        "totals.train.tokens is 16, the shards sum to 15",
        "totals.valid.sources.pubmed.documents is 4, the shards sum to 1",
    ]


def test_verify_reports_counts_that_disagree_with_the_index(folder):
    def miscount(manifest):
        manifest["shards"][2]["documents"] = 2
        manifest["shards"][2]["source_documents"]["pubmed"] = 2
        manifest["totals"]["valid"]["documents"] = 2
        manifest["totals"]["valid"]["sources"]["pubmed"]["documents"] = 2

    rewrite(folder / "manifest.json", miscount)

    assert verify(folder / "manifest.json") == [
        f"{folder / 'valid-00000-of-00001'}: holds 1 documents, the manifest says 2"
    ]


def test_verify_reports_a_size_mismatch(folder):
    rewrite(folder / "manifest.json", lambda manifest: manifest["shards"][0]["idx"].update(bytes=1))

    assert verify(folder / "manifest.json") == [
        f"{folder / 'train-00000-of-00002.idx'}: 102 bytes, the manifest says 1"
    ]


def test_verify_returns_the_read_error_for_a_bad_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{")

    [problem] = verify(tmp_path / "manifest.json")

    assert problem.startswith(f"{tmp_path / 'manifest.json'}: not valid JSON")


def test_read_manifest_rejects_a_wrong_format_string(folder):
    rewrite(folder / "manifest.json", lambda manifest: manifest.update(format="gap-replay-manifest/2"))

    with pytest.raises(ValueError, match=r"manifest\.json: format is 'gap-replay-manifest/2'"):
        read_manifest(folder / "manifest.json")


def test_read_manifest_accepts_text_and_names_missing_keys():
    text = json.dumps({"format": FORMAT, "name": "x", "shards": [{"path": "../escape"}]})

    with pytest.raises(ValueError, match=r"manifest text: missing key\(s\) created, recipe") as error:
        read_manifest(text)
    assert "shards[0]: lacks split" in str(error.value)


def test_read_manifest_rejects_paths_outside_the_folder(folder):
    rewrite(folder / "manifest.json", lambda manifest: manifest["shards"][0].update(path="../elsewhere/train"))

    with pytest.raises(ValueError, match=r"shards\[0\]: path '../elsewhere/train' must be relative"):
        read_manifest(folder / "manifest.json")


def test_read_manifest_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.json: no such manifest"):
        read_manifest(tmp_path / "absent.json")


def test_summarize_a_manifest_shows_splits_sources_and_shards(folder):
    text = summarize(folder)

    assert "tokenizer  test-bpe  vocab 300  eos 0 <|endoftext|>  dtype uint16" in text
    assert [line.split() for line in text.splitlines() if line.startswith("train")] == [
        ["train", "guidelines", "1", "4", "26.7%"],
        ["train", "pubmed", "2", "5", "33.3%"],
        ["train", "pmc", "1", "4", "26.7%"],
        ["train", "replay", "1", "2", "13.3%"],
        ["train", "all", "5", "15"],
    ]
    assert "shards     3 (2 train, 1 valid)" in text


def test_summarize_a_shard_shows_lengths_and_first_tokens(folder):
    text = summarize(folder / "train-00000-of-00002.idx")

    assert "dtype      uint16" in text
    assert "sequences  3  documents 3" in text
    assert "tokens     9" in text
    assert "length     min 2  mean 3.0  max 4" in text
    assert "first      [1, 2, 0]" in text


def test_summarize_a_long_first_document_is_cut(tmp_path):
    write_entry(tmp_path, "long", "train", [("pmc", [*range(1, 40), EOS])])

    assert "first      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] ... (40 tokens)" in summarize(
        tmp_path / "long"
    )


def test_read_manifest_rejects_non_integer_counts(folder):
    rewrite(folder / "manifest.json", lambda manifest: manifest["shards"][1]["sources"].update(pmc="4"))

    with pytest.raises(ValueError, match=r"shards\[1\]: sources must map source names to non-negative integers"):
        read_manifest(folder / "manifest.json")
