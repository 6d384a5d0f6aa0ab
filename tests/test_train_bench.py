"""`python -m gap_replay.train.bench` on CPU with the tiny config: the figures it reports and how it takes them."""

from __future__ import annotations

import argparse
import json
import types

import pytest
import torch

from gap_replay.train import bench
from gap_replay.train import model as llama

TINY = ["--config", "pipelines/train/tiny.yaml", "--seq-len", "32", "--batch", "2", "--warmup", "1", "--steps", "3"]


def tiny_flops_per_token(seq_len: int, vocab: int = 32000) -> int:
    """6N + 12 L d T for tiny.yaml by hand: hidden 128, 4 layers, 4 heads of 32, 2 KV heads, MLP 352."""
    per_layer = 128 * 32 * (2 * 4 + 2 * 2) + 3 * 128 * 352 + 2 * 128
    matmul = 4 * per_layer + 128 + vocab * 128  # the tied output layer counts as a matmul
    return 6 * matmul + 12 * 4 * 128 * seq_len


def test_tiny_config_on_cpu_reports_throughput_and_says_mfu_is_not_defined(tmp_path, capsys):
    assert bench.main([*TINY, "--json", str(tmp_path / "bench.json")]) == 0

    result = json.loads((tmp_path / "bench.json").read_text())
    assert (result["steps"], result["tokens"], len(result["step_seconds"])) == (3, 3 * 2 * 32, 3)
    assert (result["micro_batch_size"], result["global_batch_size"], result["seq_len"]) == (2, 2, 32)
    assert result["tokens_per_s"] == pytest.approx(result["tokens"] / sum(result["step_seconds"]))
    assert result["tflops_per_device"] == pytest.approx(result["tokens_per_s"] * tiny_flops_per_token(32) / 1e12)
    assert result["mfu"] is None and "not defined on cpu" in result["mfu_note"]
    assert result["attention"] == "SDPA" and result["device"] == "cpu"
    assert 0 <= result["data_wait"] < 1 and result["peak_memory_gb"] > 0
    assert "MFU: not defined on cpu" in capsys.readouterr().out


def test_a_given_peak_defines_mfu_as_achieved_over_peak(tmp_path):
    assert bench.main([*TINY, "--peak-tflops", "0.5", "--json", str(tmp_path / "bench.json")]) == 0

    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["mfu"] == pytest.approx(result["tflops_per_device"] / 0.5)
    assert result["peak_tflops"] == 0.5 and result["mfu_note"] is None


@pytest.mark.skipif(llama.flash_attn_func is not None, reason="the flash-attn package is installed here")
def test_flash_attention_without_the_package_is_a_clear_error(capsys):
    assert bench.main([*TINY, "--attention", "flash"]) == 2
    assert "flash-attn package is not installed" in capsys.readouterr().err


def test_sdpa_leaves_the_package_aside_only_for_the_run(monkeypatch):
    def package_kernel(*args, **kwargs):
        raise AssertionError("not called")

    monkeypatch.setattr(llama, "flash_attn_func", package_kernel)
    with bench.attention_kernels("sdpa"):
        assert llama.flash_attn_func is None
    assert llama.flash_attn_func is package_kernel


def test_warm_up_steps_are_run_but_not_timed():
    ticks = iter([10.0, 10.5, 20.0, 20.25])
    steps = []
    trainer = types.SimpleNamespace(
        world=types.SimpleNamespace(device=torch.device("cpu")),
        data_seconds=7.0,  # left from the warm-up: not counted
        train_step=lambda: steps.append(len(steps)),
        clock=lambda: next(ticks),
    )

    seconds, data_wait = bench.measure(trainer, warmup=2, steps=2)

    assert (steps, seconds, data_wait) == ([0, 1, 2, 3], [0.5, 0.25], 0.0)


def test_batch_sets_the_micro_and_the_global_batch_and_a_run_writes_no_checkpoint():
    options = argparse.Namespace(
        warmup=1, steps=2, seq_len=None, batch=4, device=None, precision=None, ac="full", compile=True, overrides=[]
    )

    overrides = bench.run_overrides(options, "m/manifest.json")

    assert {"train.micro_batch_size=4", "train.global_batch_size=4", "train.steps=3"} <= set(overrides)
    assert {"parallel.activation_checkpointing=full", "parallel.compile=true"} <= set(overrides)
    assert {"checkpoint.export_hf=false", "checkpoint.every_steps=0", "eval.at_start=false"} <= set(overrides)
