"""Throughput and utilisation arithmetic, and the metrics log (one JSON object per line, rank 0 only)."""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import IO, Any

import torch
from tqdm import tqdm

from gap_replay.train.model import ModelArgs

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' datasheets; the first matching name wins.
PEAK_BF16_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("H20", 148e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("MI300X", 1307e12),
)


def matmul_params(args: ModelArgs) -> int:
    """Parameters that take part in matrix multiplies: every weight but the input embedding (a lookup).

    The output layer counts even when tied to the embedding, since it is a full matmul either way.
    """
    attention = args.hidden_size * args.head_dim * (2 * args.num_heads + 2 * args.num_kv_heads)
    mlp = 3 * args.hidden_size * args.intermediate_size
    norms = 2 * args.hidden_size
    return args.num_layers * (attention + mlp + norms) + args.hidden_size + args.vocab_size * args.hidden_size


def flops_per_token(args: ModelArgs, seq_len: int) -> float:
    """Training FLOPs per token, 6N + 12 * L * d * T (PaLM, appendix B): weights forward and backward plus attention."""
    attention_width = args.num_heads * args.head_dim
    return 6 * matmul_params(args) + 12 * args.num_layers * attention_width * seq_len


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak by its name, or None when unknown (CPU, unlisted GPUs): then no MFU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS if key in name), None)


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory of this process: allocated CUDA memory on a GPU, resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kilobytes * (1 if sys.platform == "darwin" else 1024) / 1e9


def throughput(
    tokens: int, seconds: float, world_size: int, flops_token: float, peak: float | None
) -> dict[str, float | None]:
    """tokens/s overall and per device, achieved TFLOP/s per device and MFU (None without a known peak)."""
    per_device = tokens / seconds / world_size
    achieved = per_device * flops_token
    return {
        "tokens_per_s": tokens / seconds,
        "tokens_per_s_per_device": per_device,
        "tflops_per_device": achieved / 1e12,
        "mfu": achieved / peak if peak else None,
    }


def perplexity(loss: float) -> float:
    """exp(loss), inf past what a float holds."""
    return math.exp(loss) if loss < 700 else math.inf


class MetricsLog:
    """Appends records to metrics.jsonl and drives a progress line (on a terminal); other ranks than 0 do nothing."""

    def __init__(self, path: Path, enabled: bool, total_steps: int, initial_step: int, progress: bool) -> None:
        self.enabled = enabled
        self.file: IO[str] | None = None
        self.bar: tqdm | None = None
        self.lines = False  # plain progress lines, where a bar would not show (a log, a pipe)
        self.total_steps = total_steps
        self.started = (time.monotonic(), initial_step)
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A run from step 0 starts a new log; a resumed one continues its log.
            self.file = open(path, "a" if initial_step else "w", encoding="utf-8")  # noqa: SIM115 - see close()
            if progress and sys.stderr.isatty():
                self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True)
            self.lines = progress and self.bar is None

    def write(self, record: dict[str, Any]) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.bar is not None:
            self.bar.set_postfix_str(_postfix(record), refresh=False)
        elif self.lines:
            print(self.progress_line(record, time.monotonic()), file=sys.stderr, flush=True)

    def progress_line(self, record: dict[str, Any], now: float) -> str:
        """`step N/TOTAL`, the record's figures, and for training records the time left at this run's pace."""
        line = f"step {record['step']}/{self.total_steps} {_postfix(record)}"
        start, first_step = self.started
        done = record["step"] - first_step
        if record["kind"] == "train" and done > 0:
            left = (now - start) / done * (self.total_steps - record["step"])
            line += f" eta {_duration(left)}"
        return line

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.file is not None:
            self.file.close()


def _postfix(record: dict[str, Any]) -> str:
    if record["kind"] == "valid":
        return f"valid loss {record['loss']:.4f} ppl {record['perplexity']:.2f}"
    mfu = f" mfu {record['mfu']:.1%}" if record.get("mfu") is not None else ""
    return f"loss {record['loss']:.4f} lr {record['lr']:.2e} {record['tokens_per_s']:,.0f} tok/s{mfu}"


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
