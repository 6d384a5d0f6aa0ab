"""Training checkpoints with torch.distributed.checkpoint (DCP): exact resume, written atomically, last K kept.

A checkpoint holds the model and optimizer (sharded as the ranks hold them, so any world size can read them back),
the scheduler, the data position, the step and every rank's RNG state. It is written to `.step-N.tmp` and renamed
to `step-N` once all ranks are done, so a folder named `step-N` is always complete. Multi-node runs need `root` on
a file system all nodes share.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from gap_replay.train.data import TrainLoader

_NAME = re.compile(r"^step-(\d+)$")


def step_folder(root: Path, step: int) -> Path:
    return Path(root) / f"step-{step:08d}"


def complete_checkpoints(root: Path) -> list[Path]:
    """Finished checkpoint folders under `root`, oldest first (temporary folders are never listed)."""
    if not Path(root).is_dir():
        return []
    found = [(int(match[1]), path) for path in Path(root).iterdir() if (match := _NAME.match(path.name))]
    return [path for _, path in sorted(found)]


def latest_checkpoint(root: Path) -> Path | None:
    found = complete_checkpoints(root)
    return found[-1] if found else None


def discard_checkpoints(root: Path) -> None:
    """Remove every checkpoint under `root`: a run that starts over must not mix with, or be pruned for, old ones."""
    for path in complete_checkpoints(root):
        shutil.rmtree(path)


def save_checkpoint(
    root: Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: TrainLoader,
    keep_last: int,
) -> Path:
    """Write the checkpoint of `step` (every rank calls this), then drop all but the newest `keep_last`."""
    root = Path(root)
    final = step_folder(root, step)
    temporary = final.with_name(f".{final.name}.tmp")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0 and temporary.exists():
        shutil.rmtree(temporary)
    _barrier()
    state = {**_state(step, model, optimizer, scheduler, loader), _rng_key(): _rng_state()}
    with _single_process_is_intended():
        dcp.save(state, checkpoint_id=temporary, no_dist=not dist.is_initialized())
    _barrier()
    if rank == 0:
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
        _fsync_folder(root)
        for old in complete_checkpoints(root)[:-keep_last]:
            shutil.rmtree(old)
    _barrier()
    return final


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: TrainLoader,
) -> int:
    """Restore everything `save_checkpoint` wrote into the live objects; returns the step to continue from."""
    state = _state(0, model, optimizer, scheduler, loader)
    key = _rng_key()
    saved = dcp.FileSystemReader(path).read_metadata().state_dict_metadata
    # A rank the saving run did not have, or a device it did not use, keeps its own generator state.
    rng = {name: value for name, value in _rng_state().items() if f"{key}.{name}" in saved}
    if rng:
        state[key] = rng
    with _single_process_is_intended():
        dcp.load(state, checkpoint_id=Path(path), no_dist=not dist.is_initialized())
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    scheduler.load_state_dict(state["train"]["scheduler"])
    loader.load_state_dict(state["train"]["data"])
    if "cpu" in rng:
        torch.set_rng_state(rng["cpu"])
    if "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"])
    return int(state["train"]["step"])


def _state(
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: TrainLoader,
) -> dict[str, Any]:
    """What DCP saves or fills in, the RNG aside: model and optimizer as sharded, the rest as plain values."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    return {
        "model": model_state,
        "optimizer": optimizer_state,
        "train": {"step": step, "scheduler": scheduler.state_dict(), "data": loader.state_dict()},
    }


def _rng_key() -> str:
    """Every rank has its own generators, so each saves them under its own key."""
    return f"rng_rank{dist.get_rank() if dist.is_initialized() else 0}"


def _rng_state() -> dict[str, torch.Tensor]:
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state()
    return rng


@contextlib.contextmanager
def _single_process_is_intended() -> Iterator[None]:
    """Silence DCP's warning that it runs without a process group: one rank runs without one on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is .*single process")
        yield


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable: a crash right after must not leave the folder listing without it."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
