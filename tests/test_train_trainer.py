"""The training loop end to end on CPU: loss falls, metrics are logged, HF init, FSDP2 over gloo, the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import gap_replay.train.data  # noqa: E402
from gap_replay.train import main  # noqa: E402
from gap_replay.train.config import ConfigError, parse_config  # noqa: E402
from gap_replay.train.data import DataError, GPTSamples, open_split, validation_batches  # noqa: E402
from gap_replay.train.hf import load_hf, save_hf  # noqa: E402
from gap_replay.train.model import Llama, ModelArgs  # noqa: E402
from gap_replay.train.parallel import World  # noqa: E402
from gap_replay.train.synthetic import write_corpus, write_synthetic_corpus  # noqa: E402
from gap_replay.train.trainer import Trainer, causal_lm_loss, train  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = {"hidden_size": 64, "intermediate_size": 160, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2}


def settings(manifest: Path, out: Path, **sections: dict) -> dict:
    """A tiny CPU run: d_model 64, 2 layers, sequences of 32, batches of 4 in micro batches of 2, a log per step."""
    data = {
        "name": "t",
        "output": str(out),
        "data": {"manifests": [str(manifest)], "seq_len": 32, "seed": 3},
        "model": dict(TINY_MODEL),
        "train": {"steps": 6, "global_batch_size": 4, "micro_batch_size": 2, "precision": "fp32", "device": "cpu"},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
        "checkpoint": {"export_dtype": "float32"},
        "eval": {"samples": 8},
        "log": {"every_steps": 1, "progress": False},
    }
    for name, values in sections.items():
        data[name] = {**data[name], **values} if isinstance(data.get(name), dict) and values else values
    return data


def records(out: Path, kind: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["kind"] == kind]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A learnable synthetic corpus: 300 ids, EOS 0, about 40k tokens in two train and two valid shards."""
    return write_synthetic_corpus(tmp_path_factory.mktemp("corpus"), vocab_size=300, documents=200, seed=5)


def test_validation_perplexity_falls_and_every_step_is_logged(corpus, tmp_path):
    config = parse_config(settings(corpus, tmp_path / "run", train={"steps": 30}, optim={"warmup_steps": 5}))
    result = train(config)
    assert result.step == 30
    assert result.valid_loss_after < result.valid_loss_before - 1.0
    steps = records(tmp_path / "run", "train")
    assert [r["step"] for r in steps] == list(range(1, 31))
    assert {"loss", "lr", "grad_norm", "tokens", "tokens_per_s", "tokens_per_s_per_device", "tflops_per_device",
            "mfu", "peak_memory_gb", "data_wait"} <= set(steps[0])  # fmt: skip
    assert steps[-1]["tokens"] == 30 * 4 * 32
    assert steps[0]["mfu"] is None  # no known peak on CPU
    valid = records(tmp_path / "run", "valid")
    assert [r["step"] for r in valid] == [0, 30]
    assert valid[-1]["perplexity"] == pytest.approx(2.718281828459045 ** valid[-1]["loss"])
    assert (tmp_path / "run" / "hf" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["steps"] == 30
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step-00000030"]


def test_data_wait_and_throughput_follow_the_clock(corpus, tmp_path, monkeypatch):
    # A scripted clock: each micro batch's data costs 3 s and its forward and backward 1 s, nothing else takes time.
    # With 2 micro batches a step, a window of steps waits 6 of every 8 s: data_wait 0.75, and 4 x 32 tokens a step
    # in 8 s is 16 tokens/s.
    now = [0.0]
    monkeypatch.setattr(Trainer, "clock", staticmethod(lambda: now[0]))
    next_batch = gap_replay.train.data.TrainLoader.next_batch

    def slow_batch(loader):
        now[0] += 3.0
        return next_batch(loader)

    def timed_loss(*args, **kwargs):
        now[0] += 1.0
        return causal_lm_loss(*args, **kwargs)

    monkeypatch.setattr(gap_replay.train.data.TrainLoader, "next_batch", slow_batch)
    monkeypatch.setattr("gap_replay.train.trainer.causal_lm_loss", timed_loss)
    config = parse_config(settings(corpus, tmp_path / "run", train={"steps": 4}, log={"every_steps": 2}))
    train(config)
    steps = records(tmp_path / "run", "train")
    assert [(r["step"], r["data_wait"], r["tokens_per_s"]) for r in steps] == [(2, 0.75, 16.0), (4, 0.75, 16.0)]


def pmc_paragraphs() -> list[str]:
    from lxml import etree

    paragraphs = []
    for name in ("ehp-116-1694.nxml", "PMC5828200.nxml"):
        tree = etree.parse(str(SAMPLES / "pmc" / name))
        paragraphs += ["".join(p.itertext()).strip() for p in tree.iter("p")]
    return [text for text in paragraphs if len(text) > 200]


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="needs the shared sample files next to the repository")
def test_loss_falls_on_a_small_real_shard_of_pmc_text(tmp_path):
    """PMC article paragraphs as bytes (ids 0-255, EOS 256): real medical text, no tokenizer training needed."""
    documents = [[*text.encode("utf-8"), 256] for text in pmc_paragraphs()]
    splits = {"train": [d for i, d in enumerate(documents) if i % 10], "valid": documents[::10]}
    manifest = write_corpus(tmp_path / "pmc", splits, vocab_size=257, eos_id=256)
    batches = {"steps": 40, "global_batch_size": 8, "micro_batch_size": 8}
    result = train(parse_config(settings(manifest, tmp_path / "run", train=batches, checkpoint={"export_hf": False})))
    losses = [r["loss"] for r in records(tmp_path / "run", "train")]
    assert result.valid_loss_before > 5.0  # about ln(257): uniform over bytes
    assert result.valid_loss_after < result.valid_loss_before - 1.5
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.5


def test_training_with_document_masking_runs_and_logs(corpus, tmp_path):
    config = parse_config(settings(corpus, tmp_path / "run", train={"steps": 2, "document_mask": True}))
    result = train(config)
    assert result.step == 2
    assert len(records(tmp_path / "run", "train")) == 2


def test_init_from_a_hugging_face_folder_starts_from_its_weights(corpus, tmp_path):
    torch.manual_seed(11)
    model = Llama(ModelArgs(vocab_size=300, **TINY_MODEL))
    model.init_weights()
    save_hf(model, tmp_path / "hf")
    data = settings(corpus, tmp_path / "run", train={"steps": 1}, checkpoint={"export_hf": False})
    del data["model"]
    result = train(parse_config({**data, "init_from": str(tmp_path / "hf")}))
    batches = validation_batches(GPTSamples(open_split(corpus, "valid"), 32, seed=3), 8, 2, rank=0, world_size=1)
    loaded = load_hf(tmp_path / "hf").eval()
    with torch.no_grad():
        expected = torch.cat([causal_lm_loss(loaded, b, None, reduction="none") for b in batches]).mean()
    assert result.valid_loss_before == pytest.approx(float(expected), abs=1e-5)


def test_a_model_vocabulary_smaller_than_the_tokenizer_is_an_error(corpus, tmp_path):
    config = parse_config(settings(corpus, tmp_path / "run", model={**TINY_MODEL, "vocab_size": 100}))
    with pytest.raises(DataError, match="tokenizer vocabulary 300 exceeds the model's vocab_size 100"):
        train(config)


def test_manifests_with_different_tokenizers_cannot_be_blended(corpus, tmp_path):
    other = write_synthetic_corpus(tmp_path / "other", vocab_size=400, documents=40, seed=1)
    data = settings(corpus, tmp_path / "run", data={"manifests": [str(corpus), str(other)]})
    with pytest.raises(DataError, match="tokenizer differs"):
        train(parse_config(data))


def test_blended_manifests_report_validation_per_manifest(corpus, tmp_path):
    other = write_synthetic_corpus(tmp_path / "other", vocab_size=300, documents=60, seed=9)
    manifests = [str(corpus), {"path": str(other), "weight": 0.25}]
    data = settings(corpus, tmp_path / "run", data={"manifests": manifests}, train={"steps": 2})
    train(parse_config(data))
    assert set(records(tmp_path / "run", "valid")[0]["manifests"]) == {str(corpus), str(other)}


def test_cli_prints_validation_perplexity_before_and_after(corpus, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(settings(corpus, tmp_path / "run")))
    assert main(["--config", str(path), "--set", "train.steps=3", "--set", "checkpoint.export_hf=false"]) == 0
    output = capsys.readouterr().out
    assert "validation perplexity: " in output and " before (loss " in output and " after (loss " in output


def test_cli_rejects_an_unknown_config_key_with_exit_code_2(corpus, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(settings(corpus, tmp_path / "run", train={"stepz": 3})))
    assert main(["--config", str(path)]) == 2
    assert "run.yaml: train.stepz: unknown key" in capsys.readouterr().err


@pytest.mark.slow
def test_two_rank_fsdp2_over_gloo_gives_the_losses_of_one_rank(corpus, tmp_path):
    torch.manual_seed(2)
    model = Llama(ModelArgs(vocab_size=300, **TINY_MODEL))
    model.init_weights()
    save_hf(model, tmp_path / "hf")
    runs = {}
    for ranks in (1, 2):
        data = settings(corpus, tmp_path / f"ranks{ranks}", train={"steps": 4})
        del data["model"]
        data["init_from"] = str(tmp_path / "hf")
        path = tmp_path / f"ranks{ranks}.yaml"
        path.write_text(yaml.safe_dump(data))
        if ranks == 1:
            train(parse_config(data))
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                       "-m", "gap_replay.train", "--config", str(path)]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
        runs[ranks] = records(tmp_path / f"ranks{ranks}", "train") + records(tmp_path / f"ranks{ranks}", "valid")
    for one, two in zip(runs[1], runs[2], strict=True):
        assert one["loss"] == pytest.approx(two["loss"], abs=1e-4), (one, two)
    assert runs[2][0]["tokens_per_s_per_device"] == pytest.approx(runs[2][0]["tokens_per_s"] / 2)
    exported = [load_hf(tmp_path / f"ranks{ranks}" / "hf").state_dict() for ranks in (1, 2)]  # gathered from shards
    for name, tensor in exported[0].items():
        torch.testing.assert_close(exported[1][name], tensor, rtol=0, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_training_on_one_gpu_reports_throughput(corpus, tmp_path):
    data = settings(corpus, tmp_path / "run", train={"steps": 20, "precision": "bf16", "device": "cuda"})
    result = train(parse_config(data))
    assert result.valid_loss_after < result.valid_loss_before
    last = records(tmp_path / "run", "train")[-1]
    assert last["tokens_per_s"] > 0 and last["peak_memory_gb"] > 0


def test_a_global_batch_that_ranks_cannot_share_is_a_config_error(corpus, tmp_path):
    config = parse_config(settings(corpus, tmp_path / "run", train={"global_batch_size": 6, "micro_batch_size": 2}))
    with pytest.raises(ConfigError, match="global_batch_size 6 is not a multiple of micro_batch_size 2 x world size 2"):
        Trainer(config, World(rank=0, world_size=2, device=torch.device("cpu")))
