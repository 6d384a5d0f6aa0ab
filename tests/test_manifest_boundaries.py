"""The manifest's rules on both sides: each check of `read_manifest` and `verify` passes just inside its boundary
and fails just outside, counts above the small integers Python caches, chunked EOS checks across chunk edges, what
`verify_path` checks for each kind of path, and the summary's units. Expected values are worked out by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

from gap_replay.shards import manifest as manifest_module
from gap_replay.shards.manifest import (
    FORMAT,
    build_manifest,
    compute_totals,
    read_manifest,
    shard_name,
    summarize,
    verify,
    verify_path,
    write_manifest,
    write_shard,
)

CREATED = "2026-11-21T10:00:00Z"


def tokenizer(eos_id: int) -> dict:
    return {"name": "test-bpe", "vocab_size": 300, "eos_id": eos_id, "sha256": "ab" * 32}


def tokens_folder(folder: Path, documents: list[tuple[str, list[int]]], eos_id: int = 0, name: str = "t") -> Path:
    """One train shard of (source, tokens) documents and its manifest; returns the manifest's path."""
    entry = write_shard(folder, "train-00000-of-00001", "train", documents, np.dtype(np.uint16))
    manifest = build_manifest(name, {}, "0" * 64, tokenizer(eos_id), "uint16", [entry], created=CREATED)
    write_manifest(manifest, folder / "manifest.json")
    return folder / "manifest.json"


def rewrite(path: Path, change) -> None:
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def problems_of(text_manifest: dict) -> str:
    with pytest.raises(ValueError) as error:
        read_manifest(json.dumps(text_manifest))
    return str(error.value)


@pytest.fixture
def many(tmp_path) -> Path:
    """300 documents of two tokens: counts of 300 and 600 are not the small integers Python shares, so a check
    that compared them by identity would fail here."""
    return tokens_folder(tmp_path, [("pubmed", [1, 0])] * 300)


def good_manifest() -> dict:
    return {
        "format": FORMAT,
        "name": "t",
        "created": CREATED,
        "recipe": {},
        "recipe_sha256": "0" * 64,
        "base_url": None,
        "tokenizer": tokenizer(0),
        "dtype": "uint16",
        "totals": {split: {"documents": 0, "tokens": 0, "sources": {}} for split in ("train", "valid")},
        "shards": [
            {
                "path": "train-00000-of-00001",
                "split": "train",
                "documents": 0,
                "tokens": 0,
                "sources": {},
                "bin": {"bytes": 0, "sha256": "0" * 64},
                "idx": {"bytes": 0, "sha256": "0" * 64},
            }
        ],
    }


# shard_name


@pytest.mark.parametrize(("index", "count"), [(0, 1), (3, 4)])
def test_shard_indexes_from_zero_to_count_minus_one_are_named(index, count):
    assert shard_name("train", index, count) == f"train-{index:05d}-of-{count:05d}"


@pytest.mark.parametrize(("index", "count"), [(-1, 4), (4, 4), (5, 4)])
def test_shard_indexes_below_zero_or_from_count_on_are_refused(index, count):
    with pytest.raises(ValueError, match=f"shard index {index} out of range for {count} shards"):
        shard_name("train", index, count)


# compute_totals


def test_totals_count_a_source_missing_from_either_map_as_zero_and_keep_other_splits():
    shards = [
        {"split": "train", "documents": 2, "tokens": 5, "sources": {"pubmed": 5}, "source_documents": {"pmc": 2}},
        {"split": "test", "documents": 1, "tokens": 3, "sources": {"replay": 3}},  # no source_documents: older
    ]

    assert compute_totals(shards) == {
        "train": {
            "documents": 2,
            "tokens": 5,
            "sources": {"pubmed": {"documents": 0, "tokens": 5}, "pmc": {"documents": 2, "tokens": 0}},
        },
        "valid": {"documents": 0, "tokens": 0, "sources": {}},
        "test": {"documents": 1, "tokens": 3, "sources": {"replay": {"documents": 0, "tokens": 3}}},
    }


def test_totals_list_sources_in_the_project_order_whatever_order_the_shards_give():
    shards = [{"split": "train", "documents": 3, "tokens": 3, "sources": {"replay": 1, "zeta": 1, "guidelines": 1}}]

    assert list(compute_totals(shards)["train"]["sources"]) == ["guidelines", "replay", "zeta"]


# build_manifest and write_manifest


def test_counts_above_the_cached_small_integers_build_and_verify(many):
    manifest = read_manifest(many)

    assert (manifest["shards"][0]["documents"], manifest["shards"][0]["tokens"]) == (300, 600)
    assert verify(many) == []


@pytest.mark.parametrize(("sources", "documents"), [({"pubmed": 1}, {"pubmed": 2}), ({"pubmed": 3}, {"pubmed": 2})])
def test_entries_are_refused_when_per_source_tokens_fall_short_or_run_over(tmp_path, sources, documents):
    entry = write_shard(tmp_path, "s", "train", [("pubmed", [1, 0])], np.dtype(np.uint16))
    entry.sources = sources

    with pytest.raises(ValueError, match=f"per-source tokens sum to {sources['pubmed']}, not 2"):
        build_manifest("m", {}, "0" * 64, tokenizer(0), "uint16", [entry])


@pytest.mark.parametrize("listed", [1, 3])
def test_entries_are_refused_when_per_source_documents_fall_short_or_run_over(tmp_path, listed):
    entry = write_shard(tmp_path, "s", "train", [("pubmed", [1, 0]), ("pubmed", [2, 0])], np.dtype(np.uint16))
    entry.source_documents = {"pubmed": listed}

    with pytest.raises(ValueError, match=f"per-source documents sum to {listed}, not 2"):
        build_manifest("m", {}, "0" * 64, tokenizer(0), "uint16", [entry])


def test_the_manifest_file_keeps_non_ascii_text_as_utf8(tmp_path):
    path = tokens_folder(tmp_path, [("guidelines", [1, 0])], name="Ménière")

    assert '"name": "Ménière"' in path.read_bytes().decode("utf-8")


# read_manifest: shape


@pytest.mark.parametrize("version", ["gap-replay-manifest/0", "gap-replay-manifest/2"])
def test_a_format_string_before_or_after_the_known_one_is_refused(version):
    assert f"format is {version!r}, expected {FORMAT!r}" in problems_of({**good_manifest(), "format": version})


def test_the_good_shape_is_read():
    assert read_manifest(json.dumps(good_manifest()))["shards"][0]["documents"] == 0


def test_missing_totals_and_shards_are_named_once_each():
    manifest = good_manifest()
    del manifest["totals"], manifest["shards"]

    assert problems_of(manifest) == "manifest text: missing key(s) totals, shards"


@pytest.mark.parametrize(
    "totals",
    [
        {"train": {"documents": 0, "tokens": 0, "sources": {}}},
        {"train": {"documents": 0, "tokens": 0, "sources": {}}, "valid": 0},
        [],
    ],
)
def test_totals_without_an_object_for_each_split_are_refused(totals):
    assert problems_of({**good_manifest(), "totals": totals}) == (
        "manifest text: totals must hold an object per split (train, valid)"
    )


def test_shards_that_are_not_a_list_are_refused():
    assert problems_of({**good_manifest(), "shards": {}}) == "manifest text: shards is not a list"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"documents": -1}, "documents and tokens must be non-negative integers"),
        ({"tokens": True}, "documents and tokens must be non-negative integers"),
        ({"bin": []}, "bin must be an object with integer bytes and a sha256 string"),
        ({"idx": {"bytes": "0", "sha256": "0" * 64}}, "idx must be an object with integer bytes and a sha256 string"),
        ({"bin": {"bytes": 0, "sha256": None}}, "bin must be an object with integer bytes and a sha256 string"),
        ({"bin": {"bytes": -1, "sha256": "0" * 64}}, "bin must be an object with integer bytes and a sha256 string"),
    ],
)
def test_shard_fields_outside_their_types_are_refused(change, problem):
    manifest = good_manifest()
    manifest["shards"][0].update(change)

    assert problems_of(manifest) == f"manifest text: shards[0]: {problem}"


def test_an_eos_id_of_zero_is_a_count_and_minus_one_is_not():
    manifest = good_manifest()
    assert read_manifest(json.dumps(manifest))["tokenizer"]["eos_id"] == 0

    manifest["tokenizer"]["eos_id"] = -1
    assert problems_of(manifest) == "manifest text: tokenizer eos_id must be a non-negative integer, got -1"


# verify: a shard against its entry


@pytest.mark.parametrize(("listed", "kind"), [(1199, "bin"), (1201, "bin"), (50, "idx"), (5000, "idx")])
def test_a_file_smaller_or_larger_than_listed_is_reported(many, listed, kind):
    actual = (many.parent / f"train-00000-of-00001.{kind}").stat().st_size
    rewrite(many, lambda manifest: manifest["shards"][0][kind].update(bytes=listed))

    assert verify(many) == [
        f"{many.parent / f'train-00000-of-00001.{kind}'}: {actual} bytes, the manifest says {listed}"
    ]


@pytest.mark.parametrize("listed", ["0" * 64, "f" * 64])
def test_a_sha256_sorting_before_or_after_the_real_one_is_reported(many, listed):
    actual = read_manifest(many)["shards"][0]["bin"]["sha256"]
    rewrite(many, lambda manifest: manifest["shards"][0]["bin"].update(sha256=listed))

    assert verify(many) == [
        f"{many.parent / 'train-00000-of-00001.bin'}: sha256 {actual} does not match the manifest's {listed}"
    ]


@pytest.mark.parametrize("listed", [599, 601])
def test_per_source_tokens_short_of_or_over_the_shard_total_are_reported(many, listed):
    def change(manifest):
        manifest["shards"][0]["sources"]["pubmed"] = listed
        manifest["totals"]["train"]["sources"]["pubmed"]["tokens"] = listed

    rewrite(many, change)

    assert verify(many) == [f"{many.parent / 'train-00000-of-00001'}: per-source tokens sum to {listed}, not 600"]


@pytest.mark.parametrize("listed", [299, 301])
def test_per_source_documents_short_of_or_over_the_shard_total_are_reported(many, listed):
    def change(manifest):
        manifest["shards"][0]["source_documents"]["pubmed"] = listed
        manifest["totals"]["train"]["sources"]["pubmed"]["documents"] = listed

    rewrite(many, change)

    assert verify(many) == [f"{many.parent / 'train-00000-of-00001'}: per-source documents sum to {listed}, not 300"]


def test_an_entry_without_per_source_documents_is_checked_without_them(many):
    def change(manifest):
        del manifest["shards"][0]["source_documents"]
        manifest["totals"]["train"]["sources"]["pubmed"]["documents"] = 0

    rewrite(many, change)

    assert verify(many) == []


@pytest.mark.parametrize("listed", [299, 301])
def test_documents_fewer_or_more_than_the_index_holds_are_reported(many, listed):
    def change(manifest):
        manifest["shards"][0]["documents"] = listed
        manifest["shards"][0]["source_documents"]["pubmed"] = listed
        manifest["totals"]["train"]["documents"] = listed
        manifest["totals"]["train"]["sources"]["pubmed"]["documents"] = listed

    rewrite(many, change)

    assert verify(many) == [f"{many.parent / 'train-00000-of-00001'}: holds 300 documents, the manifest says {listed}"]


@pytest.mark.parametrize("listed", [599, 601])
def test_tokens_fewer_or_more_than_the_index_holds_are_reported(many, listed):
    def change(manifest):
        manifest["shards"][0]["tokens"] = listed
        manifest["shards"][0]["sources"]["pubmed"] = listed
        manifest["totals"]["train"]["tokens"] = listed
        manifest["totals"]["train"]["sources"]["pubmed"]["tokens"] = listed

    rewrite(many, change)

    assert verify(many) == [f"{many.parent / 'train-00000-of-00001'}: holds 600 tokens, the manifest says {listed}"]


@pytest.mark.parametrize("listed", ["int32", "uint32"])
def test_a_dtype_named_before_or_after_the_shards_is_reported(many, listed):
    rewrite(many, lambda manifest: manifest.update(dtype=listed))

    assert verify(many) == [f"{many.parent / 'train-00000-of-00001'}: tokens are uint16, the manifest says {listed}"]


def test_entry_problems_come_before_the_index_problems_of_the_same_shard(many):
    prefix = many.parent / "train-00000-of-00001"
    idx = prefix.with_suffix(".idx")
    idx.write_bytes(idx.read_bytes()[:-8])  # the last document pointer cut off

    def change(manifest):
        manifest["shards"][0]["sources"]["pubmed"] = 1
        manifest["shards"][0]["idx"]["bytes"] = idx.stat().st_size
        manifest["totals"]["train"]["sources"]["pubmed"]["tokens"] = 1

    rewrite(many, change)
    problems = verify(many)

    assert problems[:2] == [
        f"{idx}: sha256 {manifest_module._sha256(idx)} does not match the manifest's "
        f"{read_manifest(many)['shards'][0]['idx']['sha256']}",
        f"{prefix}: per-source tokens sum to 1, not 600",
    ]
    assert len(problems) > 2 and all(str(prefix) in problem for problem in problems[2:])


# verify: EOS, across chunks


def test_eos_is_checked_across_chunk_edges_and_the_first_three_offenders_named(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_module, "_EOS_CHUNK", 2)
    # Documents 0, 3, 4 and 6 do not end with the EOS id 5; with chunks of two they fall in every chunk.
    documents = [[1, 2], [5], [3, 5], [6], [7, 8], [9, 5], [4]]
    path = tokens_folder(tmp_path, [("pubmed", tokens) for tokens in documents], eos_id=5)

    assert verify(path) == [
        f"{tmp_path / 'train-00000-of-00001'}: 4 document(s) do not end with the EOS id 5 (sequence 0, 3, 4, ...)"
    ]


def test_exactly_three_offenders_are_listed_without_an_ellipsis(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_module, "_EOS_CHUNK", 2)
    path = tokens_folder(tmp_path, [("pubmed", tokens) for tokens in [[5], [1], [5], [2], [5], [3]]], eos_id=5)

    assert verify(path) == [
        f"{tmp_path / 'train-00000-of-00001'}: 3 document(s) do not end with the EOS id 5 (sequence 1, 3, 5)"
    ]


def test_a_one_token_document_of_just_eos_passes_and_an_empty_one_does_not(tmp_path):
    path = tokens_folder(tmp_path, [("pubmed", [5]), ("pubmed", []), ("pubmed", [5])], eos_id=5)

    assert verify(path) == [
        f"{tmp_path / 'train-00000-of-00001'}: 1 document(s) do not end with the EOS id 5 (sequence 1)"
    ]


# verify: totals


def test_totals_for_a_split_or_source_no_shard_has_are_reported_against_zero(many):
    def change(manifest):
        manifest["totals"]["test"] = {"documents": 3, "tokens": 4, "sources": {}}
        manifest["totals"]["train"]["sources"]["other"] = {"documents": 2, "tokens": 7}

    rewrite(many, change)

    assert verify(many) == [
        "totals.train.sources.other.documents is 2, the shards sum to 0",
        "totals.train.sources.other.tokens is 7, the shards sum to 0",
        "totals.test.documents is 3, the shards sum to 0",
        "totals.test.tokens is 4, the shards sum to 0",
    ]


def test_totals_that_leave_out_a_source_or_fall_short_are_reported(many):
    def change(manifest):
        manifest["totals"]["train"]["documents"] = 299
        del manifest["totals"]["train"]["sources"]["pubmed"]

    rewrite(many, change)

    assert verify(many) == [
        "totals.train.documents is 299, the shards sum to 300",
        "totals.train.sources.pubmed.documents is 0, the shards sum to 300",
        "totals.train.sources.pubmed.tokens is 0, the shards sum to 600",
    ]


# verify_path: what each kind of path is checked against


def test_a_folder_or_its_manifest_is_checked_in_full(many):
    for path in (many.parent, many):
        checked, problems = verify_path(path)
        assert checked == f"{many}: every shard's size, sha256, index, counts and EOS, and the totals"
        assert problems == []


@pytest.mark.parametrize("suffix", ["", ".bin", ".idx"])
def test_a_shard_listed_by_the_manifest_beside_it_is_checked_against_that_entry(many, suffix):
    prefix = many.parent / "train-00000-of-00001"
    rewrite(many, lambda manifest: manifest["shards"][0]["bin"].update(sha256="f" * 64))

    checked, problems = verify_path(Path(f"{prefix}{suffix}"))

    assert checked == f"{prefix}: size, sha256, index, counts and EOS against {many}"
    assert [problem.split(":")[0] for problem in problems] == [f"{prefix}.bin"]


@pytest.mark.parametrize("name", ["other.v2", "valid-00000-of-00001"])  # sorting before and after the listed one
def test_a_shard_no_manifest_lists_is_checked_on_its_own(many, name):
    prefix = many.parent / name
    write_shard(many.parent, prefix.name, "train", [("pubmed", [1, 0])], np.dtype(np.uint16))

    checked, problems = verify_path(prefix)

    assert checked == f"{prefix}: its index against its .bin (no manifest beside it lists it: sha256 and EOS unchecked)"
    assert problems == []


def test_a_shard_with_no_manifest_beside_it_is_checked_on_its_own(tmp_path):
    write_shard(tmp_path, "lone", "train", [("pubmed", [1, 2])], np.dtype(np.uint16))  # no EOS: not checked here

    assert verify_path(tmp_path / "lone.idx") == (
        f"{tmp_path / 'lone'}: its index against its .bin (no manifest beside it lists it: sha256 and EOS unchecked)",
        [],
    )


def test_a_broken_manifest_beside_a_shard_is_reported(many):
    many.write_text("{")

    checked, [problem] = verify_path(many.parent / "train-00000-of-00001")

    assert checked == f"{many.parent / 'train-00000-of-00001'}: against {many}"
    assert problem.startswith(f"{many}: not valid JSON")


def test_an_unreadable_manifest_beside_a_shard_is_reported(many, monkeypatch):
    def unreadable(path):
        raise PermissionError(f"{path}: permission denied")

    monkeypatch.setattr(manifest_module, "read_manifest", unreadable)

    assert verify_path(many.parent / "train-00000-of-00001") == (
        f"{many.parent / 'train-00000-of-00001'}: against {many}",
        [f"{many}: permission denied"],
    )


# summarize


def test_a_shard_whose_name_has_a_dot_is_summarized_as_a_shard(tmp_path):
    write_shard(tmp_path, "corpus.v2", "train", [("pubmed", [1, 0])], np.dtype(np.uint16))

    assert summarize(tmp_path / "corpus.v2").startswith(f"shard      {tmp_path / 'corpus.v2'}\n")


@pytest.mark.parametrize(("length", "shown"), [(16, ""), (17, " ... (17 tokens)")])
def test_the_first_document_is_cut_only_past_sixteen_tokens(tmp_path, length, shown):
    first = [*range(1, length), 0]
    write_shard(tmp_path, "s", "train", [("pmc", first), ("pmc", [0])], np.dtype(np.uint16))

    [line] = [line for line in summarize(tmp_path / "s").splitlines() if line.startswith("first")]

    assert line == f"first      {first[:16]}{shown}"


def test_a_split_whose_sources_hold_no_tokens_shows_no_share(tmp_path):
    manifest = good_manifest()
    manifest["totals"]["valid"]["sources"] = {"pubmed": {"documents": 0, "tokens": 0}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    rows = [line.split() for line in summarize(tmp_path).splitlines() if line.startswith("valid")]

    assert rows == [["valid", "pubmed", "0", "0", "0.0%"], ["valid", "all", "0", "0"]]


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (12, "12 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (1234, "1.2 KB"),
        (56_789, "56.8 KB"),
        (10**6, "1.0 MB"),
        (123_456_789, "123.5 MB"),
        (25 * 10**9, "25.0 GB"),
        (10**12, "1.0 TB"),
        (10**15, "1,000.0 TB"),
    ],
)
def test_sizes_are_shown_in_decimal_units_up_to_terabytes(count, shown):
    assert manifest_module._size(count) == shown
