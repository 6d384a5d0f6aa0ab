"""Throughput arithmetic: parameter and FLOP counts, device peaks, MFU, and the JSONL log."""

import json

import pytest

torch = pytest.importorskip("torch")

from gap_replay.train import metrics  # noqa: E402
from gap_replay.train.metrics import (  # noqa: E402
    MetricsLog,
    flops_per_token,
    matmul_params,
    peak_flops,
    perplexity,
    throughput,
)
from gap_replay.train.model import Llama, ModelArgs  # noqa: E402


@pytest.mark.parametrize("tied", [False, True])
def test_matmul_params_are_the_model_s_parameters_but_the_embedding_lookup(tied):
    args = ModelArgs(vocab_size=300, hidden_size=64, intermediate_size=160, num_layers=3, num_heads=4, num_kv_heads=2,
                     tie_embeddings=tied)  # fmt: skip
    model = Llama(args)
    total = sum(p.numel() for p in model.parameters())  # a tied matrix counts once
    head = 0 if not tied else args.vocab_size * args.hidden_size
    assert matmul_params(args) == total - args.vocab_size * args.hidden_size + head


def test_flops_per_token_is_6n_plus_12_layers_width_and_context():
    llama2_7b = ModelArgs(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_layers=32, num_heads=32)
    n = matmul_params(llama2_7b)
    assert n == 6_607_343_616  # 6.74B parameters less the 131M-entry embedding table
    assert flops_per_token(llama2_7b, 2048) == 6 * n + 12 * 32 * 4096 * 2048


def test_peak_flops_come_from_the_device_name(monkeypatch):
    assert peak_flops(torch.device("cpu")) is None
    known = [("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12), ("NVIDIA A100-SXM4-80GB", 312e12)]
    for name, expected in [*known, ("NVIDIA L40", 181e12), ("Some New GPU", None)]:
        monkeypatch.setattr(metrics.torch.cuda, "get_device_name", lambda device, name=name: name)
        assert peak_flops(torch.device("cuda", 0)) == expected, name


def test_mfu_is_achieved_flops_per_device_over_the_peak():
    result = throughput(tokens=8000, seconds=2.0, world_size=4, flops_token=1e9, peak=1e12)
    assert result["tokens_per_s"] == 4000
    assert result["tokens_per_s_per_device"] == 1000
    assert result["tflops_per_device"] == pytest.approx(1.0)
    assert result["mfu"] == pytest.approx(1.0)
    assert throughput(8000, 2.0, 4, 1e9, None)["mfu"] is None


def test_perplexity_is_exp_of_the_loss_and_saturates():
    assert perplexity(0.0) == 1.0
    assert perplexity(1000.0) == float("inf")


def test_metrics_log_appends_json_lines_on_the_main_rank_only(tmp_path):
    record = {"kind": "valid", "step": 3, "loss": 2.0, "perplexity": 7.39}
    for folder, enabled in (("main", True), ("other", False)):
        log = MetricsLog(tmp_path / folder / "metrics.jsonl", enabled, total_steps=5, initial_step=0, progress=False)
        log.write(record)
        log.close()
    lines = (tmp_path / "main" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [record]
    assert not (tmp_path / "other").exists()


def test_without_a_terminal_progress_is_plain_lines_with_the_time_left(tmp_path, capsys):
    log = MetricsLog(tmp_path / "metrics.jsonl", True, total_steps=100, initial_step=0, progress=True)
    log.started = (1000.0, 0)
    train = {"kind": "train", "step": 20, "loss": 2.5, "lr": 1e-3, "tokens_per_s": 1234.0, "mfu": None}

    assert log.lines and log.bar is None  # the tests' stderr is not a terminal
    assert log.progress_line(train, now=1050.0) == "step 20/100 loss 2.5000 lr 1.00e-03 1,234 tok/s eta 3m20s"
    log.write({"kind": "valid", "step": 20, "loss": 2.0, "perplexity": 7.389})
    log.close()
    assert capsys.readouterr().err == "step 20/100 valid loss 2.0000 ppl 7.39\n"


def test_a_resumed_run_counts_its_pace_from_where_it_resumed(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl", True, total_steps=7400, initial_step=100, progress=True)
    log.started = (0.0, 100)
    train = {"kind": "train", "step": 200, "loss": 1.0, "lr": 1e-4, "tokens_per_s": 10.0, "mfu": 0.5}

    assert log.progress_line(train, now=100.0).endswith("mfu 50.0% eta 2h00m")
    log.close()


def test_progress_off_prints_nothing(tmp_path, capsys):
    log = MetricsLog(tmp_path / "metrics.jsonl", True, total_steps=5, initial_step=0, progress=False)
    log.write({"kind": "valid", "step": 0, "loss": 2.0, "perplexity": 7.389})
    log.close()

    assert capsys.readouterr().err == ""
