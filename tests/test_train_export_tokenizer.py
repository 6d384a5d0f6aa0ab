"""The Hugging Face export carries the tokenizer the shards were made with, so `AutoTokenizer` and a
text-generation pipeline work on the export folder; a tokenizer that is not the manifest's stops the run before
training."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from gap_replay.shards.manifest import read_manifest, write_manifest  # noqa: E402
from gap_replay.shards.tokenizer import train_bpe  # noqa: E402
from gap_replay.train.config import parse_config  # noqa: E402
from gap_replay.train.hf import CheckpointFormatError  # noqa: E402
from gap_replay.train.synthetic import write_corpus  # noqa: E402
from gap_replay.train.trainer import train  # noqa: E402

TEXTS = [
    f"Patient {i} with fever was given {i % 7 + 1} mg of paracetamol twice daily and recovered in {i % 5 + 2} days."
    for i in range(200)
]


def corpus_with_tokenizer(folder: Path) -> Path:
    """Shards of TEXTS encoded by a BPE trained on them, with the tokenizer beside the manifest, as build leaves it."""
    tokenizer = train_bpe(TEXTS, 400, folder / "tokenizer.json")
    documents = tokenizer.encode_batch(TEXTS)
    manifest_path = write_corpus(folder, {"train": documents[:180], "valid": documents[180:]}, 400, tokenizer.eos_id)
    manifest = read_manifest(manifest_path)
    manifest["tokenizer"] = tokenizer.to_manifest()
    write_manifest(manifest, manifest_path)
    return manifest_path


def settings(manifest: Path, out: Path) -> dict:
    return {
        "name": "t",
        "output": str(out),
        "data": {"manifests": [str(manifest)], "seq_len": 32, "seed": 3},
        "model": {"hidden_size": 64, "intermediate_size": 160, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2},
        "train": {"steps": 3, "global_batch_size": 4, "micro_batch_size": 2, "precision": "fp32", "device": "cpu"},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 1},
        "checkpoint": {"export_dtype": "float32"},
        "eval": {"samples": 4},
        "log": {"every_steps": 1, "progress": False},
    }


def test_the_export_loads_with_auto_tokenizer_and_generates(tmp_path):
    manifest = corpus_with_tokenizer(tmp_path / "corpus")
    train(parse_config(settings(manifest, tmp_path / "run")))
    export = tmp_path / "run" / "hf"

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(export))
    reference = train_bpe(TEXTS, 400, tmp_path / "again.json")  # deterministic: the same tokenizer again
    assert tokenizer("fever was given").input_ids == reference.encode_batch(["fever was given"])[0][:-1]
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == reference.eos_id
    assert tokenizer.model_max_length == 32
    assert json.loads((export / "config.json").read_text())["eos_token_id"] == reference.eos_id

    generate = transformers.pipeline("text-generation", model=str(export), device="cpu")
    out = generate("Patient 3 with fever", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert out.startswith("Patient 3 with fever") and len(out) > len("Patient 3 with fever")


def test_a_corpus_without_a_recorded_tokenizer_exports_the_model_alone(tmp_path):
    manifest = write_corpus(tmp_path / "corpus", {"train": [[1, 2, 3, 0]] * 80, "valid": [[1, 2, 0]] * 20}, 50, 0)
    train(parse_config(settings(manifest, tmp_path / "run")))

    assert (tmp_path / "run" / "hf" / "config.json").is_file()
    assert not (tmp_path / "run" / "hf" / "tokenizer.json").exists()


def test_a_tokenizer_file_that_is_not_the_manifests_stops_the_run_before_training(tmp_path):
    manifest = corpus_with_tokenizer(tmp_path / "corpus")
    (tmp_path / "corpus" / "tokenizer.json").write_text("{}", encoding="utf-8")

    with pytest.raises(CheckpointFormatError, match=r"tokenizer\.json: sha256 \w+ is not the manifest's tokenizer"):
        train(parse_config(settings(manifest, tmp_path / "run")))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_best_validation_is_reported_and_exported_apart_from_the_last(tmp_path):
    manifest = corpus_with_tokenizer(tmp_path / "corpus")
    config = settings(manifest, tmp_path / "run")
    config["train"]["steps"] = 6
    config["eval"]["every_steps"] = 2
    config["checkpoint"]["export"] = "both"

    result = train(parse_config(config))

    valid = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [(record["loss"], record["step"]) for record in valid if record["kind"] == "valid" and record["step"]]
    assert [step for _, step in trained] == [2, 4, 6]  # every 2 steps (the last is also the final validation)
    assert (result.best_loss, result.best_step) == min(trained)
    best = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "hf-best"))
    last = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "hf"))
    assert transformers.AutoTokenizer.from_pretrained(str(tmp_path / "run" / "hf-best")).eos_token == "<|endoftext|>"
    same = all(torch.equal(a, b) for a, b in zip(best.state_dict().values(), last.state_dict().values(), strict=True))
    assert same == (result.best_step == 6)


def test_a_resumed_run_takes_the_best_from_its_log(tmp_path):
    from gap_replay.train.trainer import logged_best

    log = tmp_path / "metrics.jsonl"
    assert logged_best(log) is None
    records = [
        {"kind": "valid", "step": 0, "loss": 1.0},  # before training: not a trained step
        {"kind": "train", "step": 1, "loss": 0.1},
        {"kind": "valid", "step": 2, "loss": 4.0},
        {"kind": "valid", "step": 4, "loss": 3.5},
        {"kind": "valid", "step": 6, "loss": 3.9},
    ]
    log.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")

    assert logged_best(log) == (3.5, 4)
