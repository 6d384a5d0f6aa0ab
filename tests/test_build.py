"""The build pipeline on a small hand-made curated corpus: split, epochs, replay by token share, shards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from stage_helpers import publish_curated

from gap_replay import progress
from gap_replay.documents import Document
from gap_replay.pipelines.build import run_build
from gap_replay.recipe import parse_recipe
from gap_replay.shards.indexed import IndexedDataset
from gap_replay.shards.manifest import verify
from gap_replay.shards.tokenizer import train_bpe
from gap_replay.stages import StageError

pytestmark = pytest.mark.slow

SENTENCES = [
    "Metformin remains the first-line therapy for type 2 diabetes in adults without contraindications.",
    "Children with fever and a stiff neck need urgent assessment for bacterial meningitis.",
    "Hand hygiene before and after patient contact prevents most healthcare-associated infections.",
    "A systolic pressure above 140 mm Hg on repeated readings confirms hypertension.",
]


def medical(source: str, n: int) -> Document:
    text = " ".join(SENTENCES[(n + k) % len(SENTENCES)] for k in range(3 + n % 4))
    return Document(id=f"{source}:{n}", source=source, subsource=source, text=f"Case {n}. {text}")


def replay(n: int) -> Document:
    text = f"Record {n}. The river flows north through the valley towns and the old mill. " * (2 + n % 3)
    return Document(id=f"replay/wikipedia:{n}", source="replay", subsource="wikipedia", text=text)


def corpus(output: Path) -> None:
    documents = {
        "pubmed": [medical("pubmed", n) for n in range(60)],
        "pmc": [medical("pmc", n) for n in range(20)],
        "replay": [replay(n) for n in range(200)],
    }
    publish_curated(recipe(output), documents)


def recipe(output: Path, **overrides):
    data = {
        "name": "unit",
        "output": str(output),
        "sources": {"guidelines": {"enabled": False}},
        "split": {"valid_fraction": 0.1},
        "tokenizer": {"vocab_size": 400},
        "shards": {"tokens_per_shard": 1500},
        "mix": {"replay_share": 0.1},
    }
    data.update(overrides)
    return parse_recipe(data)


def test_build_mixes_replay_by_token_share_and_upsamples_by_epochs(tmp_path):
    corpus(tmp_path)
    once = run_build(recipe(tmp_path), "sha")
    twice = run_build(recipe(tmp_path, mix={"replay_share": 0.1, "epochs": {"pubmed": 2}}), "sha")
    for manifest in (once, twice):
        train = manifest["totals"]["train"]["sources"]
        medical_tokens = train["pubmed"]["tokens"] + train["pmc"]["tokens"]
        replay_tokens = train["replay"]["tokens"]
        target = medical_tokens * 0.1 / 0.9
        assert target <= replay_tokens < target + 200, "replay reaches its token share, overshooting by one document"
    assert (
        twice["totals"]["train"]["sources"]["pubmed"]["documents"]
        == 2 * (once["totals"]["train"]["sources"]["pubmed"]["documents"])
    )
    assert twice["totals"]["train"]["sources"]["pmc"] == once["totals"]["train"]["sources"]["pmc"]
    assert verify(tmp_path / "tokens" / "manifest.json") == []


def test_shards_hold_about_the_target_token_count_and_no_stale_shard_survives(tmp_path):
    corpus(tmp_path)
    run_build(recipe(tmp_path, shards={"tokens_per_shard": 500}), "sha")
    manifest = run_build(recipe(tmp_path), "sha")
    names = sorted(path.name for path in (tmp_path / "tokens").glob("*.idx"))
    assert names == sorted(f"{shard['path']}.idx" for shard in manifest["shards"])
    train = [shard for shard in manifest["shards"] if shard["split"] == "train"]
    assert len(train) == -(-manifest["totals"]["train"]["tokens"] // 1500)
    assert all(shard["path"].endswith(f"-of-{len(train):05d}") for shard in train)


def test_a_given_tokenizer_is_used_and_recorded(tmp_path):
    corpus(tmp_path)
    texts = [medical("pubmed", n).text for n in range(60)]
    given = train_bpe(texts, 500, tmp_path / "given" / "tokenizer.json", name="given")
    manifest = run_build(recipe(tmp_path, tokenizer={"path": str(tmp_path / "given")}), "sha")
    assert manifest["tokenizer"]["vocab_size"] == given.vocab_size
    assert manifest["tokenizer"]["eos_id"] == given.eos_id
    first = manifest["shards"][0]
    tokens = IndexedDataset(tmp_path / "tokens" / first["path"])[0]
    assert tokens[-1] == given.eos_id
    recorded = json.loads((tmp_path / "tokens" / "tokenizer.json").read_text())
    assert (
        recorded["model"]["vocab"] == json.loads((tmp_path / "given" / "tokenizer.json").read_text())["model"]["vocab"]
    )


def test_build_without_a_curated_corpus_is_a_clear_error(tmp_path):
    message = r"build needs a finished curate; .* has no curate completion record: run `gap-replay curate`"
    with pytest.raises(StageError, match=message + r" \(no curated documents of pubmed, pmc, replay\)"):
        run_build(recipe(tmp_path), "sha")


def test_build_says_what_it_is_doing_while_it_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)  # a line at every step, not every 30 s
    corpus(tmp_path)
    run_build(recipe(tmp_path), "sha")
    err = capsys.readouterr().err
    assert "build: training the tokenizer (vocabulary 400) on " in err
    # Over every worker (one here), out of the 280 curated documents.
    assert re.search(r"^build: tokenizing: [\d,]+ documents of 280 documents \(\d+%\), [\d,]+ documents/s", err, re.M)
    assert "build: tokenizing: 280 documents of 280 documents (100%)" in err
    assert re.search(r"^build: writing shards: [\d,]+ shards, [\d,]+ tokens so far", err, re.M)
