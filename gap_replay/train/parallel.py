"""Wrapping the plain model for scale, from the config: activation checkpointing, compile, FSDP2, in that order.

Checkpointing wraps whole blocks; compiling each block (rather than the model) keeps compile time flat in depth
and lets FSDP's hooks sit between compiled regions; FSDP2 shards each block, then the root (embeddings, final
norm, head). One rank runs without FSDP, in bf16 through autocast over fp32 weights.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from gap_replay.train.config import ConfigError, ParallelConfig
from gap_replay.train.model import Llama


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank, world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device: str) -> World:
    """Join the process group torchrun describes (nccl on CUDA, gloo on CPU); alone when not under torchrun."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is cuda, but no CUDA device is available")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device("cuda", local_rank) if device == "cuda" else torch.device("cpu")
    if device == "cuda":
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        if device == "cuda":
            dist.init_process_group("nccl", device_id=target)
        else:
            dist.init_process_group("gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return World(rank=rank, world_size=world_size, device=target)


def apply_activation_checkpointing(model: Llama, mode: str, every: int) -> None:
    """Recompute blocks in the backward pass: all of them ("full") or every `every`-th one ("selective")."""
    if mode == "none":
        return
    layers = model.model.layers
    for i, block in enumerate(layers):
        if mode == "full" or i % every == 0:
            layers[i] = checkpoint_wrapper(block, preserve_rng_state=False)


def apply_compile(model: Llama, backend: str = "inductor") -> None:
    """torch.compile each block in place, so parameter names stay those of the plain model."""
    for block in model.model.layers:
        block.compile(fullgraph=True, backend=backend)


def apply_fsdp(model: Llama, world: World, param_dtype: torch.dtype, reshard_after_forward: bool) -> None:
    """FSDP2 on each block, then on the root; gradients are reduced in fp32 whatever the compute dtype."""
    mesh = init_device_mesh(world.device.type, (world.world_size,))
    policy = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    for block in model.model.layers:
        fully_shard(block, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)


def parallelize(model: Llama, config: ParallelConfig, world: World, precision: str) -> Llama:
    """Apply checkpointing, compile and (with more than one rank) FSDP to a model still on the meta device."""
    apply_activation_checkpointing(model, config.activation_checkpointing, config.checkpoint_every)
    if config.compile:
        apply_compile(model)
    if world.world_size > 1:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        apply_fsdp(model, world, dtype, config.reshard_after_forward)
    return model


def autocast(world: World, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for a single rank; under FSDP the mixed-precision policy already casts the weights."""
    if precision == "bf16" and world.world_size == 1:
        return torch.autocast(world.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
