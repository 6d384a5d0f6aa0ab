"""The synthetic corpus: a valid manifest folder of learnable, seeded documents."""

import itertools

import numpy as np

from gap_replay.shards.manifest import read_manifest, verify
from gap_replay.train.synthetic import main, markov_documents, write_corpus, write_synthetic_corpus


def test_documents_end_with_eos_and_repeat_for_the_same_seed():
    documents = markov_documents(20, vocab_size=50, eos_id=0, seed=4)
    assert all(doc[-1] == 0 and 0 not in doc[:-1] for doc in documents)
    again = markov_documents(20, vocab_size=50, eos_id=0, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(documents, again, strict=True))


def test_each_token_has_only_a_few_successors_so_the_chain_is_learnable():
    documents = markov_documents(200, vocab_size=50, eos_id=0, seed=4)
    successors: dict[int, set[int]] = {}
    for doc in documents:
        for a, b in itertools.pairwise(doc[:-1]):
            successors.setdefault(int(a), set()).add(int(b))
    assert max(len(s) for s in successors.values()) <= 4


def test_synthetic_corpus_is_a_manifest_folder_that_passes_verification(tmp_path):
    manifest = write_synthetic_corpus(tmp_path / "tokens", vocab_size=300, documents=50, seed=1)
    assert verify(manifest) == []
    data = read_manifest(manifest)
    assert data["tokenizer"]["vocab_size"] == 300 and data["tokenizer"]["eos_id"] == 0
    assert [(s["split"], s["documents"]) for s in data["shards"]] == [
        ("train", 23), ("train", 22), ("valid", 3), ("valid", 2)
    ]  # fmt: skip


def test_write_corpus_counts_tokens_per_split(tmp_path):
    manifest = write_corpus(tmp_path / "c", {"train": [[1, 2, 0], [3, 0]], "valid": [[4, 0]]}, vocab_size=10, eos_id=0)
    totals = read_manifest(manifest)["totals"]
    assert (totals["train"]["tokens"], totals["valid"]["documents"]) == (5, 1)


def test_command_line_writes_the_folder(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--vocab-size", "64", "--documents", "20"]) == 0
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert "manifest.json" in capsys.readouterr().out
