"""`python -m gap_replay.train.bench`: the trainer's speed on one device: tokens/s, step time, TFLOP/s, MFU, peak
memory and the share of time spent waiting for data, over measured steps after warm-up ones.

It trains a config (the 1B single-GPU one by default) on a manifest, or on synthetic shards it writes for the run,
with the batch, sequence length, compile, activation checkpointing and attention kernel given on the command line.
MFU is the trainer's own: achieved FLOP/s (6N + 12 L d T per token, `metrics.flops_per_token`) over the device's
dense bf16 peak, looked up by its name or given with `--peak-tflops`; on a CPU, or an unlisted device, it is not
defined and the output says so. `--json FILE` writes the figures for comparison between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from gap_replay.train import model as llama
from gap_replay.train.config import Config, ConfigError, load_config
from gap_replay.train.metrics import flops_per_token, peak_flops, peak_memory_gb, throughput
from gap_replay.train.parallel import World, init_world
from gap_replay.train.synthetic import markov_documents, write_corpus
from gap_replay.train.trainer import Trainer

DEFAULT_CONFIG = "pipelines/train/1b_single_gpu.yaml"
MEAN_DOCUMENT_TOKENS = 210  # of `markov_documents` (20 to 400 tokens): sizes the synthetic corpus


def run_overrides(options: argparse.Namespace, manifest: str) -> list[str]:
    """The config changes of a bench run: its data, batch, switches, and no evaluation, checkpoint or export."""
    overrides = [
        f"data.manifests=[{json.dumps(manifest)}]",
        f"train.steps={options.warmup + options.steps}",
        "eval.at_start=false",
        "checkpoint.every_steps=0",
        "checkpoint.export_hf=false",
        "checkpoint.resume=false",
        "log.progress=false",
    ]
    for key, value in (
        ("data.seq_len", options.seq_len),
        ("train.micro_batch_size", options.batch),
        ("train.device", options.device),
        ("train.precision", options.precision),
        ("parallel.activation_checkpointing", options.ac),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    if options.batch is not None:
        overrides.append(f"train.global_batch_size={options.batch}")
    if options.compile is not None:
        overrides.append(f"parallel.compile={str(options.compile).lower()}")
    return overrides + list(options.overrides)


def write_synthetic_shards(folder: Path, config: Config, steps: int, vocab_size: int) -> None:
    """Shards with enough tokens for `steps` steps of `config` (and a valid split), and their manifest, in `folder`."""
    needed = steps * config.train.global_batch_size * (config.data.seq_len + 1)
    documents = markov_documents(needed // MEAN_DOCUMENT_TOKENS * 5 // 4 + 64, vocab_size, eos_id=0, seed=0)
    splits = {"train": documents[32:], "valid": documents[:32]}
    write_corpus(folder, splits, vocab_size, eos_id=0)


@contextlib.contextmanager
def attention_kernels(choice: str) -> Iterator[None]:
    """`sdpa`: the flash-attn package left aside for the run; `flash`: the package, which must be installed."""
    if choice == "flash" and llama.flash_attn_func is None:
        raise ConfigError("--attention flash: the flash-attn package is not installed (README: installing it)")
    kept = llama.flash_attn_func
    if choice == "sdpa":
        llama.flash_attn_func = None
    try:
        yield
    finally:
        llama.flash_attn_func = kept


def kernel_name(config: Config, world: World) -> str:
    """The attention kernel the run's steps take (autocast hands `model.attention` bf16 inputs in a bf16 run)."""
    dtype = torch.bfloat16 if config.train.precision == "bf16" else torch.float32
    if llama.runs_flash_attn_package(world.device, dtype, masked=config.train.document_mask):
        return "flash-attn package"
    if config.train.document_mask:
        return "SDPA, memory-efficient kernel (document mask)"
    return "SDPA, FlashAttention backend" if world.device.type == "cuda" and dtype == torch.bfloat16 else "SDPA"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(trainer: Trainer, warmup: int, steps: int, clock: Any = None) -> tuple[list[float], float]:
    """Seconds of each measured step (after `warmup` steps, whose compile and allocation are left out) and the data
    wait over them; each step ends when the device has finished it."""
    clock = clock or trainer.clock
    device = trainer.world.device
    for _ in range(warmup):
        trainer.train_step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.data_seconds = 0.0
    seconds = []
    for _ in range(steps):
        started = clock()
        trainer.train_step()
        synchronize(device)
        seconds.append(clock() - started)
    return seconds, trainer.data_seconds


def figures(config: Config, trainer: Trainer, seconds: list[float], data_wait: float, peak: float | None) -> dict:
    """The run's figures as a JSON-ready mapping."""
    world, total = trainer.world, sum(seconds)
    tokens = len(seconds) * config.train.global_batch_size * config.data.seq_len
    rates = throughput(tokens, total, world.world_size, flops_per_token(trainer.args, config.data.seq_len), peak)
    return {
        "config": config.name,
        "device": torch.cuda.get_device_name(world.device) if world.device.type == "cuda" else "cpu",
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "seq_len": config.data.seq_len,
        "micro_batch_size": config.train.micro_batch_size,
        "global_batch_size": config.train.global_batch_size,
        "precision": config.train.precision,
        "compile": config.parallel.compile,
        "activation_checkpointing": config.parallel.activation_checkpointing,
        "attention": kernel_name(config, world),
        "steps": len(seconds),
        "tokens": tokens,
        "step_seconds": seconds,
        "step_seconds_median": statistics.median(seconds),
        **rates,
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu_note": None if peak else f"not defined on {world.device.type}: no dense bf16 peak known (--peak-tflops)",
        "peak_memory_gb": peak_memory_gb(world.device),
        "data_wait": data_wait / total if total else 0.0,
    }


def report(result: dict) -> list[str]:
    """The figures as lines of text."""
    mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else result["mfu_note"]
    return [
        f"{result['config']} on {result['device']}: {result['parameters']:,} parameters, seq {result['seq_len']}, "
        f"batch {result['micro_batch_size']}, {result['precision']}, compile {result['compile']}, "
        f"activation checkpointing {result['activation_checkpointing']}, attention: {result['attention']}",
        f"{result['steps']} measured steps: {result['step_seconds_median']:.3f} s a step (median)",
        f"tokens/s per device {result['tokens_per_s_per_device']:,.0f}, {result['tflops_per_device']:.2f} TFLOP/s",
        f"MFU: {mfu}",
        f"peak memory {result['peak_memory_gb']:.2f} GB, data wait {result['data_wait']:.1%} of the step time",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.train.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"training config (default {DEFAULT_CONFIG})")
    parser.add_argument("--manifest", help="train on these shards instead of synthetic ones")
    parser.add_argument("--vocab-size", type=int, default=32000, help="of the synthetic shards (default 32000)")
    parser.add_argument("--warmup", type=int, default=3, help="steps before the measured ones (compile happens here)")
    parser.add_argument("--steps", type=int, default=10, help="measured steps")
    parser.add_argument("--batch", type=int, help="micro batch = global batch, in sequences (default: the config's)")
    parser.add_argument("--seq-len", type=int, help="sequence length (default: the config's)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile blocks")
    parser.add_argument("--ac", choices=("none", "full", "selective"), help="activation checkpointing")
    parser.add_argument("--attention", choices=("auto", "sdpa", "flash"), default="auto", help="attention kernel")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the config's")
    parser.add_argument("--precision", choices=("fp32", "bf16"), help="default: the config's")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, when its name is not known")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args(argv)
    if options.warmup < 0 or options.steps < 1:
        parser.error("--warmup must be >= 0 and --steps >= 1")
    try:
        with tempfile.TemporaryDirectory(prefix="gap-replay-train-bench-") as tmp:
            shards = Path(tmp) / "synthetic"
            manifest = options.manifest or str(shards / "manifest.json")
            overrides = [*run_overrides(options, manifest), f"output={json.dumps(str(Path(tmp) / 'run'))}"]
            config = load_config(options.config, overrides)
            if not options.manifest:
                write_synthetic_shards(shards, config, options.warmup + options.steps, options.vocab_size)
            world = init_world(config.train.device)
            with attention_kernels(options.attention):
                trainer = Trainer(config, world)
                seconds, data_wait = measure(trainer, options.warmup, options.steps)
                peak = options.peak_tflops * 1e12 if options.peak_tflops else peak_flops(world.device)
                result = figures(config, trainer, seconds, data_wait, peak)
    except ConfigError as error:
        print(f"python -m gap_replay.train.bench: {error}", file=sys.stderr)
        return 2
    print("\n".join(report(result)))
    if options.json:
        options.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
