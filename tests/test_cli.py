"""The `gap-replay` command line: exit codes, messages naming the file and reason, and what it writes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from gap_replay.cli import main
from gap_replay.documents import read_jsonl
from gap_replay.shards.indexed import IndexedDatasetWriter
from gap_replay.shards.manifest import ShardEntry, build_manifest, write_manifest

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_bad_recipe_exits_2_naming_the_file_and_the_key(tmp_path, capsys):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\ndedup:\n  minhash:\n    bandz: 4\n")
    assert main(["fetch", "--recipe", str(recipe)]) == 2
    error = capsys.readouterr().err
    assert str(recipe) in error and "dedup.minhash.bandz: unknown key" in error


def test_beam_options_are_refused_where_no_pipeline_runs():
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch", "--runner=DataflowRunner"])
    assert exit_info.value.code == 2


def test_parse_writes_the_documents_of_local_files(tmp_path, capsys):
    out = tmp_path / "docs.jsonl"
    assert main(["parse", "pubmed", str(FIXTURES / "pubmed" / "articles.xml"), "--out", str(out)]) == 0
    docs = list(read_jsonl(out))
    assert docs and all(doc.id.startswith("pubmed:") for doc in docs)
    assert f"wrote {len(docs)} documents" in capsys.readouterr().out


def test_parse_of_a_damaged_file_keeps_the_good_records_and_exits_1(tmp_path, capsys):
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"text": "kept before the break", "meta": {}}\n' * 40)[:-25])
    out = tmp_path / "docs.jsonl"
    assert main(["parse", "replay", str(broken), "--out", str(out)]) == 1
    assert len(list(read_jsonl(out))) > 0
    assert str(broken) in capsys.readouterr().err


def test_parse_of_an_unknown_source_is_a_clear_error(tmp_path, capsys):
    assert main(["parse", "guidelines/nowhere", str(tmp_path / "x.html"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown guideline organisation 'nowhere'" in capsys.readouterr().err


def test_inspect_verify_passes_on_good_shards_and_fails_on_a_flipped_byte(tmp_path, capsys):
    from gap_replay.shards.indexed import IndexedDatasetWriter, dtype_for_vocab
    from gap_replay.shards.manifest import ShardEntry, build_manifest, write_manifest

    with IndexedDatasetWriter(tmp_path / "train-00000-of-00001", dtype_for_vocab(100)) as writer:
        writer.add_document([5, 6, 0])
        writer.add_document([7, 0])
    files = writer.close()
    entry = ShardEntry.from_files("train-00000-of-00001", "train", files, {"pubmed": 5}, {"pubmed": 2})
    tokenizer = {"name": "t", "vocab_size": 100, "eos_id": 0, "eos_token": "<eos>", "sha256": "0" * 64}
    write_manifest(build_manifest("t", {}, "0" * 64, tokenizer, "uint16", [entry]), tmp_path / "manifest.json")

    assert main(["inspect", str(tmp_path / "manifest.json"), "--verify"]) == 0
    assert "verified" in capsys.readouterr().out
    data = bytearray((tmp_path / "train-00000-of-00001.bin").read_bytes())
    data[0] ^= 1
    (tmp_path / "train-00000-of-00001.bin").write_bytes(bytes(data))
    assert main(["inspect", str(tmp_path / "manifest.json"), "--verify"]) == 1
    assert "train-00000-of-00001" in capsys.readouterr().err
    assert json.loads((tmp_path / "manifest.json").read_text())["totals"]["train"]["tokens"] == 5


def test_fetch_limit_caps_the_files_of_every_listing(tmp_path, capsys):
    assert main(["fetch", "--output", str(tmp_path), "--sources", "pubmed,replay", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "fetch pubmed: 2 downloaded" in out, "one baseline and one update file"
    assert "fetch replay: 4 downloaded" in out, "one file for each of the four subsets"
    assert not (tmp_path / "raw" / "pmc").exists()


SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples (real PubMed and PMC files)")
@pytest.mark.parametrize(
    ("source", "name", "first_id"),
    [
        ("pubmed", "pubmed/test_current_medline.xml.gz", "pubmed:"),
        ("pmc", "pmc/PMC6398430.nxml", "pmc:PMC6398430"),
    ],
)
def test_parse_reads_real_nlm_files(tmp_path, source, name, first_id):
    out = tmp_path / "out.jsonl"
    assert main(["parse", source, str(SAMPLES / name), "--out", str(out)]) == 0
    docs = list(read_jsonl(out))
    assert docs and docs[0].id.startswith(first_id)
    assert all(doc.source == source and doc.text.strip() for doc in docs)


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples (a real PubMed baseline file)")
def test_parse_on_two_workers_writes_what_one_writes(tmp_path):
    baseline = str(SAMPLES / "pubmed" / "pubmed21n1298_slice1023.xml.gz")
    for workers in ("1", "2"):
        assert (
            main(["parse", "pubmed", baseline, "--out", str(tmp_path / f"{workers}.jsonl"), "--workers", workers]) == 0
        )
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "2.jsonl").read_bytes()


def test_an_error_without_a_message_still_says_what_it_was(monkeypatch, tmp_path, capsys):
    def failing(*args, **kwargs):
        raise RuntimeError()

    monkeypatch.setattr("gap_replay.pipelines.curate.run_curate", failing)
    assert main(["curate", "--output", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error == "gap-replay curate: error: RuntimeError (no message; run with -v for the traceback)\n"


def test_an_unfinished_upstream_stage_exits_2_naming_the_stage_to_run(tmp_path, capsys):
    assert main(["build", "--output", str(tmp_path / "out")]) == 2
    assert "build needs a finished curate" in capsys.readouterr().err
    assert main(["card", "--output", str(tmp_path / "out")]) == 2
    assert "card needs a finished curate" in capsys.readouterr().err


def write_listed_shard(folder: Path) -> Path:
    """A one-shard manifest in `folder` (two documents of 2 and 3 tokens, EOS 0); returns the shard's prefix."""
    with IndexedDatasetWriter(folder / "train-00000-of-00001", "uint16") as writer:
        writer.add_document([5, 0])
        writer.add_document([6, 7, 0])
    entry = ShardEntry.from_files("train-00000-of-00001", "train", writer.close(), {"pubmed": 5}, {"pubmed": 2})
    tokenizer = {"name": "t", "vocab_size": 100, "eos_id": 0, "eos_token": "<eos>", "sha256": "0" * 64}
    write_manifest(build_manifest("t", {}, "0" * 64, tokenizer, "uint16", [entry]), folder / "manifest.json")
    return folder / "train-00000-of-00001"


@pytest.mark.parametrize("suffix", ["", ".bin", ".idx"])
def test_inspect_verifies_a_listed_shard_against_the_manifest_beside_it(tmp_path, capsys, suffix):
    prefix = write_listed_shard(tmp_path)

    assert main(["inspect", f"{prefix}{suffix}", "--verify"]) == 0
    out = capsys.readouterr().out
    assert f"checked {prefix}: size, sha256, index, counts and EOS against {tmp_path / 'manifest.json'}" in out
    assert "verified: no problem found" in out


def test_inspect_finds_a_flipped_byte_of_a_shard_given_by_its_bin(tmp_path, capsys):
    prefix = write_listed_shard(tmp_path)
    data = bytearray(prefix.with_suffix(".bin").read_bytes())
    data[0] ^= 1
    prefix.with_suffix(".bin").write_bytes(bytes(data))

    assert main(["inspect", f"{prefix}.bin", "--verify"]) == 1
    assert "sha256" in capsys.readouterr().err


def test_a_shard_without_a_manifest_is_checked_on_its_own_and_says_so(tmp_path, capsys):
    prefix = write_listed_shard(tmp_path)
    (tmp_path / "manifest.json").unlink()

    assert main(["inspect", f"{prefix}.idx", "--verify"]) == 0
    assert "its index against its .bin (no manifest beside it lists it: sha256 and EOS unchecked)" in (
        capsys.readouterr().out
    )
    prefix.with_suffix(".bin").write_bytes(b"\x05\x00")  # shorter than the index says
    assert main(["inspect", str(prefix), "--verify"]) == 1
