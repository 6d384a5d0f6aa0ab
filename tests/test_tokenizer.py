import hashlib
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from gap_replay.shards.tokenizer import EOS_TOKEN, load_tokenizer, train_bpe

TEXTS = [
    "Metformin 500 mg twice daily is the usual starting dose in type 2 diabetes.",
    "Check renal function before starting metformin and at least once a year.",
    "In patients with hypertension, measure blood pressure at every visit.",
    "Amoxicillin 500 mg three times daily for 5 days treats uncomplicated pneumonia.",
    "Stop metformin if the estimated glomerular filtration rate falls below 30.",
] * 8
VOCAB = 400


def file_sha256(path) -> str:
    """The sha256 of a file's bytes, taken here: what a tokenizer's recorded hash must equal."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    return train_bpe(TEXTS, VOCAB, folder / "tokenizer.json"), folder


def test_trained_bpe_has_eos_at_id_zero(trained):
    tokenizer, folder = trained

    assert (tokenizer.eos_token, tokenizer.eos_id) == (EOS_TOKEN, 0)
    assert tokenizer.vocab_size == tokenizer.tokenizer.get_vocab_size(with_added_tokens=True) <= VOCAB
    assert tokenizer.vocab_size > 257  # merges were learned beyond the byte alphabet
    assert tokenizer.to_manifest() == {
        "name": "gap-replay-bpe",
        "vocab_size": tokenizer.vocab_size,
        "eos_id": 0,
        "eos_token": EOS_TOKEN,
        "sha256": file_sha256(folder / "tokenizer.json"),
    }


def test_encode_batch_appends_one_eos_and_roundtrips_bytes(trained):
    tokenizer, _ = trained
    texts = ["Metformin 500 mg", "  ünïcode µg/kg\n", ""]

    encoded = tokenizer.encode_batch(texts)

    assert [ids[-1] for ids in encoded] == [0, 0, 0]
    assert encoded[2] == [0]
    assert all(0 not in ids[:-1] for ids in encoded)
    assert [tokenizer.tokenizer.decode(ids[:-1]) for ids in encoded] == texts


def test_encode_concatenated_is_encode_batch_back_to_back(trained):
    tokenizer, _ = trained
    texts = ["Metformin 500 mg", "", f"end {EOS_TOKEN} marker", TEXTS[3]]

    tokens, offsets = tokenizer.encode_concatenated(texts, np.dtype(np.uint16))

    assert tokens.dtype == np.uint16 and offsets.tolist()[0] == 0 and offsets[-1] == tokens.size
    assert [tokens[start:end].tolist() for start, end in itertools.pairwise(offsets)] == tokenizer.encode_batch(texts)
    assert tokenizer.encode_concatenated([], np.dtype(np.uint16))[0].size == 0


def test_special_token_text_inside_a_document_is_encoded_as_plain_text(trained):
    tokenizer, _ = trained

    [ids] = tokenizer.encode_batch([f"end {EOS_TOKEN} marker"])

    assert ids.count(0) == 1
    assert tokenizer.tokenizer.decode(ids[:-1]) == f"end {EOS_TOKEN} marker"


def test_training_twice_in_process_gives_identical_bytes(tmp_path):
    first = train_bpe(TEXTS, VOCAB, tmp_path / "a.json")
    second = train_bpe(iter(TEXTS), VOCAB, tmp_path / "b.json")

    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert first.sha256 == second.sha256 == file_sha256(tmp_path / "a.json")


def test_training_in_a_subprocess_gives_identical_bytes(trained, tmp_path):
    _, folder = trained
    script = (
        "import json, sys; from pathlib import Path; from gap_replay.shards.tokenizer import train_bpe; "
        "train_bpe(json.loads(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))"
    )
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(TEXTS), str(VOCAB), str(tmp_path / "sub.json")],
        check=True,
        timeout=120,
    )

    assert (tmp_path / "sub.json").read_bytes() == (folder / "tokenizer.json").read_bytes()


def test_training_into_a_folder_writes_tokenizer_json_and_no_temp_files(tmp_path):
    trained = train_bpe(TEXTS, VOCAB, tmp_path / "tok")

    assert [path.name for path in (tmp_path / "tok").iterdir()] == ["tokenizer.json"]
    assert (
        load_tokenizer(str(tmp_path / "tok")).sha256
        == trained.sha256
        == file_sha256(tmp_path / "tok" / "tokenizer.json")
    )


def test_vocab_smaller_than_byte_alphabet_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="vocab_size 100"):
        train_bpe(TEXTS, 100, tmp_path / "t.json")


def test_load_from_file_matches_the_trained_tokenizer(trained):
    tokenizer, folder = trained

    loaded = load_tokenizer(str(folder / "tokenizer.json"))

    assert (loaded.eos_token, loaded.eos_id, loaded.vocab_size) == (EOS_TOKEN, 0, tokenizer.vocab_size)
    assert loaded.sha256 == file_sha256(folder / "tokenizer.json")
    assert loaded.name == folder.name
    assert loaded.encode_batch(TEXTS[:3]) == tokenizer.encode_batch(TEXTS[:3])


def test_load_from_folder_reads_eos_from_tokenizer_config(tmp_path):
    tokenizer = train_bpe(TEXTS, VOCAB, tmp_path / "model" / "tokenizer.json")
    learned = tokenizer.tokenizer.id_to_token(300)
    (tmp_path / "model" / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": learned}}))

    loaded = load_tokenizer(str(tmp_path / "model"))

    assert (loaded.name, loaded.eos_token, loaded.eos_id) == ("model", learned, 300)


def test_eos_argument_wins_over_tokenizer_config(tmp_path):
    train_bpe(TEXTS, VOCAB, tmp_path / "model" / "tokenizer.json")
    (tmp_path / "model" / "tokenizer_config.json").write_text(json.dumps({"eos_token": "Ġbe"}))

    assert load_tokenizer(str(tmp_path / "model"), eos_token=EOS_TOKEN).eos_id == 0


def test_config_eos_missing_from_vocabulary_names_the_config(tmp_path):
    train_bpe(TEXTS, VOCAB, tmp_path / "model" / "tokenizer.json")
    (tmp_path / "model" / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))

    with pytest.raises(ValueError, match=r"tokenizer_config\.json eos_token '</s>' is not in its vocabulary"):
        load_tokenizer(str(tmp_path / "model"))


def test_tokenizer_without_known_eos_asks_for_tokenizer_eos_token(trained, tmp_path):
    tokenizer, _ = trained
    config = json.loads(tokenizer.tokenizer.to_str())
    config["added_tokens"][0]["content"] = "<|separator|>"
    config["model"]["vocab"]["<|separator|>"] = config["model"]["vocab"].pop(EOS_TOKEN)
    (tmp_path / "plain.json").write_text(json.dumps(config))

    with pytest.raises(ValueError, match=r"tokenizer plain has none of the usual EOS .* set tokenizer\.eos_token"):
        load_tokenizer(str(tmp_path / "plain.json"))


def test_folder_without_tokenizer_json_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder has no tokenizer\.json"):
        load_tokenizer(str(tmp_path))


def test_missing_local_file_is_an_error_without_network(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such tokenizer file"):
        load_tokenizer(str(tmp_path / "absent.json"))


def test_corrupt_tokenizer_file_names_the_file(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")

    with pytest.raises(ValueError, match=r"tokenizer\.json: not a tokenizers JSON file"):
        load_tokenizer(str(tmp_path / "tokenizer.json"))


def test_hub_id_loads_the_downloaded_files_with_their_config(trained, tmp_path, monkeypatch):
    _, folder = trained
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "tokenizer.json").write_bytes((folder / "tokenizer.json").read_bytes())
    (snapshot / "tokenizer_config.json").write_text(json.dumps({"eos_token": EOS_TOKEN}))
    requested = []

    def fake_download(repo_id: str, filename: str) -> str:
        requested.append((repo_id, filename))
        return str(snapshot / filename)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_download)

    loaded = load_tokenizer("example-org/clinical-bpe")

    assert requested == [
        ("example-org/clinical-bpe", "tokenizer.json"),
        ("example-org/clinical-bpe", "tokenizer_config.json"),
    ]
    expected = ("example-org/clinical-bpe", 0, file_sha256(snapshot / "tokenizer.json"))
    assert (loaded.name, loaded.eos_id, loaded.sha256) == expected


def test_unreachable_hub_id_is_a_clear_error(monkeypatch):
    def offline(repo_id: str, filename: str) -> str:
        raise OSError("no network")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", offline)

    with pytest.raises(ValueError, match=r"tokenizer example-org/none: no such local file or folder, and tokenizer"):
        load_tokenizer("example-org/none")
