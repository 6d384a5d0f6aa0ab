"""End to end: the sample recipe from the bundled mirror to verified shards, checked against the files themselves."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gap_replay.cli import main
from gap_replay.mix import split_of
from gap_replay.pipelines.build import run_build
from gap_replay.pipelines.curate import run_curate
from gap_replay.pipelines.fetch import run_fetch
from gap_replay.recipe import load_recipe
from gap_replay.shards.manifest import verify
from gap_replay.sources.mirror import materialize

pytestmark = pytest.mark.slow

MULTI_PROCESS = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def sample_recipe(output: Path):
    recipe, sha256 = load_recipe(None)
    return recipe.model_copy(update={"output": str(output), "cards": str(output / "cards")}), sha256


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The sample corpus, built once for this module through the command line (in-process runner)."""
    output = tmp_path_factory.mktemp("sample")
    assert main(["corpus", "--output", str(output), "--cards", str(output / "cards")]) == 0
    return output


def read_idx(path: Path) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """An independent reader of the .idx layout, straight from DESIGN section 6."""
    data = path.read_bytes()
    assert data[:9] == b"MMIDIDX\x00\x00"
    version, code, sequences, documents = struct.unpack_from("<QBQQ", data, 9)
    assert version == 1 and documents == sequences + 1
    offset = 9 + 8 + 1 + 8 + 8
    sizes = np.frombuffer(data, "<i4", sequences, offset)
    offset += 4 * sequences
    pointers = np.frombuffer(data, "<i8", sequences, offset)
    offset += 8 * sequences
    doc_index = np.frombuffer(data, "<i8", documents, offset)
    assert offset + 8 * documents == len(data), "no padding, nothing after the document indices"
    return code, sizes, pointers, doc_index


def test_every_manifest_number_matches_the_shard_files(corpus):
    tokens_dir = corpus / "tokens"
    manifest = json.loads((tokens_dir / "manifest.json").read_text())
    assert manifest["format"] == "gap-replay-manifest/1"
    assert manifest["dtype"] == "uint16" and manifest["tokenizer"]["vocab_size"] < 65500
    eos = manifest["tokenizer"]["eos_id"]
    totals = {"train": [0, 0], "valid": [0, 0]}
    for shard in manifest["shards"]:
        bin_path, idx_path = tokens_dir / f"{shard['path']}.bin", tokens_dir / f"{shard['path']}.idx"
        for path, entry in ((bin_path, shard["bin"]), (idx_path, shard["idx"])):
            assert path.stat().st_size == entry["bytes"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        code, sizes, pointers, doc_index = read_idx(idx_path)
        assert code == 8
        tokens = np.fromfile(bin_path, dtype="<u2")
        assert len(sizes) == shard["documents"]
        assert int(sizes.sum()) == len(tokens) == shard["tokens"]
        # Each document's byte offset in the .bin: two bytes a token of every document before it, summed by hand.
        assert [int(pointer) for pointer in pointers] == [2 * int(sum(sizes[:n])) for n in range(len(sizes))]
        assert list(doc_index) == list(range(len(sizes) + 1))
        ends = np.cumsum(sizes) - 1
        assert all(tokens[ends] == eos), "every document ends with EOS"
        assert np.count_nonzero(tokens == eos) == len(sizes), "EOS only at document ends"
        assert sum(shard["sources"].values()) == shard["tokens"]
        totals[shard["split"]][0] += shard["documents"]
        totals[shard["split"]][1] += shard["tokens"]
    for split, (documents, tokens) in totals.items():
        assert manifest["totals"][split]["documents"] == documents
        assert manifest["totals"][split]["tokens"] == tokens
    assert verify(tokens_dir / "manifest.json") == []


def test_every_source_reaches_the_shards(corpus):
    manifest = json.loads((corpus / "tokens" / "manifest.json").read_text())
    assert set(manifest["totals"]["train"]["sources"]) == {"guidelines", "pubmed", "pmc", "replay"}
    shares = manifest["mix"]["achieved_token_shares"]["train"]
    assert 0.0 < shares["replay"] < 0.15, "replay is a small token share, near the sample's 5%"


def rejects(output: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((output / "rejects").glob("*.jsonl")) for line in path.open()]


def test_planted_duplicates_are_removed_and_the_rule_survivor_kept(corpus):
    dropped = {(r.get("id"), r["reason"]): r for r in rejects(corpus)}
    reasons = [reason for _, reason in dropped]
    assert reasons.count("exact_duplicate") >= 3, "pubmed pair, replay pair, replay copy of a pubmed abstract"
    assert reasons.count("near_duplicate") >= 3, "pubmed pair, WHO page update, replay copy of a WHO page"
    cross_source = [r for (_, reason), r in dropped.items() if reason == "exact_duplicate" and r["source"] == "replay"]
    assert any(r["detail"] == "kept pubmed:39000021" for r in cross_source)


def test_non_english_retracted_and_junk_documents_are_dropped_with_their_reason(corpus):
    records = rejects(corpus)
    language = {r["source"] for r in records if r["reason"] == "language"}
    assert {"pubmed", "guidelines"} <= language
    assert any(r["reason"] == "retracted" and r["source"] == "pubmed" for r in records)
    assert any(r["reason"] == "retracted" and r["source"] == "pmc" for r in records)
    assert any(r["reason"] == "too_few_words" and r["source"] == "guidelines" for r in records)
    assert any(r["reason"] == "error_page" and r["source"] == "guidelines" for r in records), "the soft 404"
    stats = json.loads((corpus / "stats.json").read_text())
    assert stats["curate"]["sources"]["pubmed"]["dropped"]["language"] >= 1
    assert stats["curate"]["parse_errors"] == []


def test_the_sample_benchmark_is_kept_out_and_the_removal_reported(corpus):
    """The sample quiz repeats the WHO malaria page's opening sentences and blocks one PubMed abstract by PMID
    (sources/mirror/data/benchmarks): the page loses that span, the abstract goes, and both are counted."""
    records = {(r.get("id"), r["reason"]): r for r in rejects(corpus)}
    cut = records[("guidelines/who:management-of-severe-malaria-in-children", "decontaminated_cut")]
    assert cut["item"] == "quiz-1" and cut["text"].startswith("Severe malaria is a medical emergency.")
    assert records[("pubmed:39000026", "decontaminated")]["detail"] == "sample_quiz id 39000026"
    curated = pq.read_table(corpus / "curated" / "guidelines").to_pylist()
    page = next(row for row in curated if row["id"] == "guidelines/who:management-of-severe-malaria-in-children")
    assert "Severe malaria is a medical emergency" not in page["text"]
    assert "artesunate" in page["text"], "the rest of the guideline stays"
    assert not any(row["id"] == "pubmed:39000026" for row in pq.read_table(corpus / "curated" / "pubmed").to_pylist())
    report = json.loads((corpus / "tokens" / "manifest.json").read_text())["decontamination"]
    assert report["removed"]["documents"] == {"cut": 1, "drop": 0, "id": 1}
    assert report["benchmarks"][0]["items"] == 3
    assert "## Benchmark decontamination" in (corpus / "cards" / "corpus.md").read_text()


def test_curated_corpus_loads_with_hf_datasets_in_builds_two_splits(corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(corpus / "curated"), cache_dir=str(tmp_path / "hf"))
    stats = json.loads((corpus / "stats.json").read_text())
    assert set(loaded) == {"train", "validation"}
    assert sum(map(len, loaded.values())) == sum(entry["kept"] for entry in stats["curate"]["sources"].values())
    expected = ["id", "source", "subsource", "title", "text", "url", "license", "date", "lang", "meta"]
    for split in loaded.values():
        assert {name: feature.dtype for name, feature in split.features.items()} == dict.fromkeys(expected, "string")
    card = (corpus / "curated" / "README.md").read_text()
    assert "dataset_info:\n  features:\n  - name: id\n    dtype: string\n" in card
    assert isinstance(json.loads(loaded["train"][0]["meta"]), dict)
    # Each document is in the split build put it in, by the same rule: a hash of its id and the recipe's seed.
    recipe, _ = sample_recipe(corpus)
    for name, split in (("train", "train"), ("validation", "valid")):
        assert {split_of(doc_id, recipe.seed, recipe.split.valid_fraction) for doc_id in loaded[name]["id"]} == {split}
    assert len(loaded["validation"]) > 0, "the sample corpus has validation documents"


def test_one_source_loads_as_its_own_config(corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(corpus / "curated"), "pubmed", cache_dir=str(tmp_path / "hf"))
    assert {row for split in loaded.values() for row in split["source"]} == {"pubmed"}


def test_cards_are_written_and_byte_stable(corpus, tmp_path):
    first = corpus / "cards"
    again = tmp_path / "again"
    assert main(["card", "--output", str(corpus), "--cards", str(again)]) == 0
    for card in [*first.glob("*.md"), *first.glob("*.png")]:
        assert card.read_bytes() == (again / card.name).read_bytes()
    corpus_card = (first / "corpus.md").read_text()
    assert "exact_duplicate" in corpus_card and "near_duplicate" in corpus_card
    guidelines_card = (first / "guidelines.md").read_text()
    assert "## Guideline organisations: licence and redistribution" in guidelines_card
    assert "| who | CC-BY-NC-SA-3.0-IGO | yes |" in guidelines_card
    expected = {"corpus.md", "guidelines.md", "pubmed.md", "pmc.md", "replay.md"}
    assert {path.name for path in first.glob("*.md")} == expected
    assert {path.name for path in first.glob("*.png")} == {"corpus_tokens.png", "corpus_drops.png"}
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in first.glob("*.png"))


def test_a_second_run_downloads_nothing_and_gives_byte_identical_shards(corpus, tmp_path):
    output = tmp_path / "again"
    shutil.copytree(corpus / "raw", output / "raw")
    recipe, sha256 = sample_recipe(output)
    summaries = run_fetch(recipe, force=True)  # the copied raw files make the folder not empty, and not ours yet
    assert sum(summary.downloaded for summary in summaries.values()) == 0
    assert all(summary.skipped > 0 for summary in summaries.values())
    run_curate(recipe, sha256, MULTI_PROCESS)
    run_build(recipe, sha256, MULTI_PROCESS)
    first = json.loads((corpus / "tokens" / "manifest.json").read_text())
    second = json.loads((output / "tokens" / "manifest.json").read_text())
    first.pop("created"), second.pop("created")
    first["recipe"].pop("output"), second["recipe"].pop("output")
    first["recipe"].pop("cards"), second["recipe"].pop("cards")
    assert first == second
    for shard in first["shards"]:
        for suffix in (".bin", ".idx"):
            name = shard["path"] + suffix
            assert (corpus / "tokens" / name).read_bytes() == (output / "tokens" / name).read_bytes()


def test_damaged_raw_files_are_counted_rejects_and_the_run_goes_on(tmp_path):
    site = materialize(tmp_path / "site")
    baseline = next((site / "ftp.ncbi.nlm.nih.gov").rglob("pubmed26n0002.xml.gz"))
    truncated = baseline.read_bytes()[: baseline.stat().st_size // 2]
    baseline.write_bytes(truncated)
    md5 = hashlib.md5(truncated).hexdigest()
    baseline.with_name(baseline.name + ".md5").write_text(f"MD5({baseline.name})= {md5}\n")
    pdf = next((site / "www.who.int").rglob("*.pdf"))
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    output = tmp_path / "out"
    recipe, sha256 = sample_recipe(output)
    run_fetch(recipe, mirror_site=site)
    stats = run_curate(recipe, sha256)
    unreadable = {Path(error["file"]).name: error for error in stats["parse_errors"]}
    assert set(unreadable) == {baseline.name, pdf.name}
    assert all(error["detail"] for error in unreadable.values())
    assert stats["sources"]["pubmed"]["dropped"]["parse_error"] == 1
    assert stats["sources"]["guidelines"]["dropped"]["parse_error"] == 1
    assert stats["sources"]["pubmed"]["kept"] > 0, "file 1 and the articles before the break in file 2 survive"
    with gzip.open(baseline) as stream, pytest.raises(EOFError):
        stream.read()


def test_update_files_revise_and_delete_and_full_text_replaces_its_abstract(corpus):
    records = {(r.get("id"), r["reason"]): r for r in rejects(corpus)}
    assert ("pubmed:39000005", "deleted") in records, "deleted by the update file's DeleteCitation"
    assert ("pubmed:39000003", "superseded_version") in records, "the baseline version gives way to the revision"
    assert records[("pubmed:39000101", "full_text_available")]["detail"] == "kept pmc:PMC11000001"
    stats = json.loads((corpus / "stats.json").read_text())["curate"]["sources"]["pubmed"]
    assert stats["deletions"] == 1


ORGANISATION_KEYS = sorted(load_recipe(None)[0].sources.guidelines.organisations)


@pytest.mark.parametrize("key", ORGANISATION_KEYS)
def test_every_organisation_reaches_the_corpus_and_its_raw_files_parse_from_the_command_line(corpus, tmp_path, key):
    raw = sorted(path for path in (corpus / "raw" / "guidelines" / key).iterdir() if path.name != "fetch_log.jsonl")
    assert raw, f"the sample fetched no {key} document"
    out = tmp_path / f"{key}.jsonl"
    assert main(["parse", f"guidelines/{key}", *map(str, raw), "--out", str(out)]) == 0
    parsed = [json.loads(line) for line in out.read_text().splitlines()]
    assert parsed and {doc["subsource"] for doc in parsed} == {key}
    assert all(doc["license"] and isinstance(doc["meta"]["redistributable"], bool) for doc in parsed)
    stats = json.loads((corpus / "stats.json").read_text())
    kept = pq.read_table(corpus / "curated" / "guidelines", columns=["subsource"])
    assert key in set(kept.column("subsource").to_pylist()), f"no {key} document survived curation"
    assert stats["curate"]["sources"]["guidelines"]["kept"] > 0


def test_the_corpus_card_tells_the_replay_pool_from_what_build_drew(corpus):
    card = (corpus / "cards" / "corpus.md").read_text()
    section = card.split("## Replay: the curated pool and what build drew from it\n\n")[1].split("\n\n")[0]
    rows = {line.split(" | ")[0].strip("| "): line.strip("| ").split(" | ") for line in section.splitlines()[2:]}
    manifest = json.loads((corpus / "tokens" / "manifest.json").read_text())
    for split, files in (("train", "train-*.parquet"), ("valid", "validation-*.parquet")):
        pool = sum(pq.ParquetFile(path).metadata.num_rows for path in (corpus / "curated" / "replay").glob(files))
        drawn = manifest["totals"][split]["sources"].get("replay", {"documents": 0, "tokens": 0})
        assert rows[split][1:4] == [f"{pool:,}", f"{drawn['documents']:,}", f"{drawn['tokens']:,}"]
    assert 0 < int(rows["train"][2]) < int(rows["train"][1]), "the sample draws some of its replay pool, not all"


def test_the_corpus_card_counts_the_licences_of_what_is_in_the_shards(corpus):
    card = (corpus / "cards" / "corpus.md").read_text()
    section = card.split("## Licences in the shards\n\n")[1].split("\n\n## ")[0]
    rows = [line.strip("| ").split(" | ") for line in section.splitlines()[4:]]
    manifest = json.loads((corpus / "tokens" / "manifest.json").read_text())
    for split, column in (("train", 2), ("valid", 3)):
        for source, entry in manifest["totals"][split]["sources"].items():
            copies = sum(int(row[column].replace(",", "")) for row in rows if row[0] == source)
            assert copies == entry["documents"], f"every {split} copy of {source} has a licence row"
    pubmed = {row[1] for row in rows if row[0] == "pubmed"}
    assert pubmed == {"NLM-PubMed-terms"}


def test_the_manifest_and_card_give_document_lengths_per_source(corpus):
    manifest = json.loads((corpus / "tokens" / "manifest.json").read_text())
    for split in ("train", "valid"):
        for source, entry in manifest["totals"][split]["sources"].items():
            summary = manifest["lengths"][split][source]
            assert summary["tokens"]["documents"] == summary["characters"]["documents"] == entry["documents"]
            assert summary["tokens"]["p10"] <= summary["tokens"]["p50"] <= summary["tokens"]["p90"]
            assert summary["tokens"]["p90"] <= summary["tokens"]["max"]
            # The mean is tokens over copies, rounded: within half a token per copy of the total.
            assert abs(summary["tokens"]["mean"] * entry["documents"] - entry["tokens"]) <= entry["documents"] / 2
    # Every curated pubmed abstract is in the shards once: its longest text is the longest copy's.
    texts = pq.read_table(corpus / "curated" / "pubmed", columns=["text"]).column("text").to_pylist()
    longest = max(manifest["lengths"][split]["pubmed"]["characters"]["max"] for split in ("train", "valid"))
    assert longest == max(map(len, texts))
    card = (corpus / "cards" / "corpus.md").read_text()
    section = card.split("## Document lengths per source\n\n")[1].split("\n\n## ")[0]
    assert "| pubmed | train |" in section and "| guidelines | valid |" in section


def test_the_replay_documents_drawn_into_the_shards_are_listed_by_split(corpus, tmp_path):
    lines = (corpus / "tokens" / "replay_drawn.tsv").read_text().splitlines()
    drawn = [tuple(line.split("\t")) for line in lines]
    manifest = json.loads((corpus / "tokens" / "manifest.json").read_text())
    for split in ("train", "valid"):
        ids = [doc_id for drawn_split, doc_id in drawn if drawn_split == split]
        assert len(ids) == manifest["totals"][split]["sources"].get("replay", {}).get("documents", 0)
    pool = pq.read_table(corpus / "curated" / "replay", columns=["id"]).column("id").to_pylist()
    assert {doc_id for _, doc_id in drawn} < set(pool), "drawn from the pool, and not all of it"
    assert drawn == sorted(drawn, key=lambda pair: (pair[0] != "train", pair[1]))
    datasets = pytest.importorskip("datasets")
    curated = datasets.load_dataset(str(corpus / "curated"), "replay", cache_dir=str(tmp_path / "hf"))
    train_ids = {doc_id for split, doc_id in drawn if split == "train"}
    assert len(curated["train"].filter(lambda row: row["id"] in train_ids)) == len(train_ids)


def test_the_corpus_card_shows_the_evaluations_kept_under_the_output(corpus, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    run = copy / "eval" / "tiny"
    run.mkdir(parents=True)
    figures = {"items": 40, "correct": 11, "accuracy": 0.275, "ci95": [0.15, 0.425]}
    results = {
        "model": {"name": "out/train/tiny/hf", "sha256": "a" * 64},
        "method": "top_token",
        "shots": 3,
        "seed": 1234,
        "prompt": {"sha256": "b" * 64},
        "tasks": {"medqa": figures},
    }
    (run / "results.json").write_text(json.dumps(results))
    assert main(["card", "--output", str(copy), "--cards", str(copy / "cards")]) == 0
    card = (copy / "cards" / "corpus.md").read_text()
    assert "## Models trained on this corpus, evaluated (`gap-replay eval`)" in card
    assert card.endswith("| medqa | 40 | 27.5 | 15.0-42.5 |\n")
    assert "gap-replay eval" not in (corpus / "cards" / "corpus.md").read_text()
