"""Checkpoints: resume is bit-exact (data order included), folders appear whole, only the last K stay."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from gap_replay.train.checkpoint import complete_checkpoints, latest_checkpoint  # noqa: E402
from gap_replay.train.config import parse_config  # noqa: E402
from gap_replay.train.hf import read_hf_state_dict  # noqa: E402
from gap_replay.train.parallel import init_world  # noqa: E402
from gap_replay.train.synthetic import write_synthetic_corpus  # noqa: E402
from gap_replay.train.trainer import Trainer, train  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_synthetic_corpus(tmp_path_factory.mktemp("corpus"), vocab_size=300, documents=120, seed=2)


def config(corpus: Path, out: Path, steps: int, **checkpoint):
    return parse_config(
        {
            "name": "t",
            "output": str(out),
            "data": {"manifests": [str(corpus)], "seq_len": 32, "seed": 5},
            "model": {"hidden_size": 64, "intermediate_size": 160, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2},
            "train": {"steps": steps, "global_batch_size": 4, "micro_batch_size": 2, "precision": "fp32",
                      "device": "cpu"},
            "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
            "checkpoint": {"export_dtype": "float32", **checkpoint},
            "eval": {"samples": 8},
            "log": {"every_steps": 1, "progress": False},
        }
    )  # fmt: skip


def logged(out: Path, kind: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["kind"] == kind]


def test_k_steps_then_resume_for_k_more_equals_2k_steps_bit_exact(corpus, tmp_path):
    straight = train(config(corpus, tmp_path / "straight", steps=6))
    interrupted = Trainer(config(corpus, tmp_path / "resumed", steps=6), init_world("cpu"))
    first_losses = [float(interrupted.train_step()[0]) for _ in range(3)]
    interrupted.save()
    generator_at_save = torch.get_rng_state()
    del interrupted
    torch.manual_seed(12345)  # what a fresh process would hold: resume must not depend on it
    trainer = Trainer(config(corpus, tmp_path / "resumed", steps=6), init_world("cpu"))
    assert trainer.step == 3 and trainer.loader.state_dict()["consumed_samples"] == 12
    assert torch.equal(torch.get_rng_state(), generator_at_save)
    resumed = trainer.run()

    expected = [r["loss"] for r in logged(tmp_path / "straight", "train")]
    assert first_losses + [r["loss"] for r in logged(tmp_path / "resumed", "train")] == expected
    assert [r["lr"] for r in logged(tmp_path / "resumed", "train")] == [
        r["lr"] for r in logged(tmp_path / "straight", "train")[3:]
    ]
    assert resumed.valid_loss_after == straight.valid_loss_after
    weights = read_hf_state_dict(tmp_path / "straight" / "hf"), read_hf_state_dict(tmp_path / "resumed" / "hf")
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_resume_skips_unfinished_folders_and_continues_from_the_latest_complete_one(corpus, tmp_path):
    out = tmp_path / "run"
    train(config(corpus, out, steps=4, every_steps=2, keep_last=5))
    checkpoints = out / "checkpoints"
    assert [p.name for p in complete_checkpoints(checkpoints)] == ["step-00000002", "step-00000004"]
    (checkpoints / ".step-00000006.tmp").mkdir()  # what a crash in the middle of a save leaves
    (checkpoints / ".step-00000006.tmp" / "__0_0.distcp").write_bytes(b"partial")
    assert latest_checkpoint(checkpoints).name == "step-00000004"
    result = train(config(corpus, out, steps=6, every_steps=2, keep_last=5))
    assert result.step == 6
    assert [r["step"] for r in logged(out, "train")] == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-00000002", "step-00000004", "step-00000006"]


def test_only_the_last_k_checkpoints_are_kept(corpus, tmp_path):
    train(config(corpus, tmp_path / "run", steps=5, every_steps=1, keep_last=2, export_hf=False))
    names = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()]
    assert sorted(names) == ["step-00000004", "step-00000005"]


def test_without_resume_a_run_starts_over_and_replaces_the_old_checkpoints(corpus, tmp_path):
    train(config(corpus, tmp_path / "run", steps=4, every_steps=1, keep_last=5, export_hf=False))
    result = train(config(corpus, tmp_path / "run", steps=2, every_steps=1, export_hf=False, resume=False))
    assert result.step == 2
    assert [r["step"] for r in logged(tmp_path / "run", "train")] == [1, 2]  # a new log for a new run
    names = [p.name for p in complete_checkpoints(tmp_path / "run" / "checkpoints")]
    assert names == ["step-00000001", "step-00000002"]
