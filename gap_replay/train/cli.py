"""`gap-replay train --config FILE [--set KEY=VALUE ...]`: run the trainer and report validation perplexity."""

from __future__ import annotations

import argparse
import os
import sys

from gap_replay.train.config import ConfigError, load_config
from gap_replay.train.data import DataError
from gap_replay.train.hf import CheckpointFormatError
from gap_replay.train.metrics import perplexity
from gap_replay.train.trainer import train


def main(argv: list[str] | None = None) -> int:
    """Train from a config file; 0 on success, 2 for an unusable config, data or checkpoint (message on stderr)."""
    parser = argparse.ArgumentParser(
        prog="gap-replay train",
        description="Continued pretraining of a Llama model on manifest shards (torchrun for several processes).",
    )
    parser.add_argument("--config", required=True, help="training config (YAML), e.g. pipelines/train/tiny.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=100 or --set 'data.manifests=[out/x/manifest.json]'",
    )
    options = parser.parse_args(argv)
    is_main = os.environ.get("RANK", "0") == "0"
    try:
        config = load_config(options.config, options.overrides)
        result = train(config)
    except (ConfigError, DataError, CheckpointFormatError) as error:
        print(f"gap-replay train: {error}", file=sys.stderr)
        return 2
    if is_main:
        after = f"{perplexity(result.valid_loss_after):.3f} after (loss {result.valid_loss_after:.4f})"
        if result.valid_loss_before is not None:
            before = f"{perplexity(result.valid_loss_before):.3f} before (loss {result.valid_loss_before:.4f}), "
            after = before + after
        print(f"validation perplexity: {after}")
        print(f"best validation perplexity: {perplexity(result.best_loss):.3f} at step {result.best_step}")
        print(f"step {result.step}; metrics, checkpoints and the Hugging Face export are in {result.output_dir}")
    return 0
