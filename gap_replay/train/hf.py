"""Hugging Face checkpoints: read a `LlamaForCausalLM` folder (config.json + safetensors) and write one back.

Parameter names are shared with transformers, so loading is a copy, never a permutation. Loading builds the model
on the meta device and fills it from the safetensors files; saving gathers a full state dict (also from an FSDP
model) and writes it, sharded past `max_shard_bytes`, under a temporary name renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from gap_replay.train.model import Llama, ModelArgs, RopeScaling

CONFIG = "config.json"
TOKENIZER = "tokenizer.json"  # beside a manifest, the tokenizer its shards were made with (build writes it there)
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS = "special_tokens_map.json"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)  # a buffer that old transformers versions saved; we recompute it
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CheckpointFormatError(ValueError):
    """A Hugging Face folder this trainer cannot use; the message names the file and the reason."""


def args_from_hf_config(config: dict[str, Any], where: str = CONFIG) -> ModelArgs:
    """ModelArgs from a Llama config.json (rope as legacy `rope_theta`/`rope_scaling` or as `rope_parameters`)."""
    if config.get("model_type", "llama") != "llama":
        raise CheckpointFormatError(f"{where}: model_type {config.get('model_type')!r} is not 'llama'")
    for key, supported in (("hidden_act", "silu"), ("attention_bias", False), ("mlp_bias", False)):
        if config.get(key, supported) != supported:
            raise CheckpointFormatError(f"{where}: {key}={config[key]!r} is not supported (only {supported!r})")
    rope = dict(config.get("rope_parameters") or {})
    rope.update(config.get("rope_scaling") or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", "llama3"):
        raise CheckpointFormatError(f"{where}: rope type {rope_type!r} is not supported (default or llama3)")
    scaling = None
    if rope_type == "llama3":
        scaling = RopeScaling(
            factor=rope["factor"],
            low_freq_factor=rope["low_freq_factor"],
            high_freq_factor=rope["high_freq_factor"],
            original_max_position_embeddings=rope["original_max_position_embeddings"],
        )
    try:
        return ModelArgs(
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_layers=config["num_hidden_layers"],
            num_heads=config["num_attention_heads"],
            num_kv_heads=config.get("num_key_value_heads"),
            head_dim=config.get("head_dim"),
            rope_theta=float(rope.get("rope_theta", config.get("rope_theta", 10000.0))),
            rope_scaling=scaling,
            rms_norm_eps=config.get("rms_norm_eps", 1e-6),
            tie_embeddings=config.get("tie_word_embeddings", False),
            max_position_embeddings=config.get("max_position_embeddings", 2048),
            init_std=config.get("initializer_range", 0.02),
        )
    except KeyError as error:
        raise CheckpointFormatError(f"{where}: missing key {error.args[0]!r}") from None
    except ValueError as error:
        raise CheckpointFormatError(f"{where}: {error}") from None


def hf_config(args: ModelArgs, dtype: torch.dtype, eos_token_id: int | None = None) -> dict[str, Any]:
    """The config.json transformers needs to rebuild this model (legacy rope keys, read by every version)."""
    rope_scaling = None
    if args.rope_scaling is not None:
        rope_scaling = {"rope_type": "llama3", **vars(args.rope_scaling)}
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": args.vocab_size,
        "hidden_size": args.hidden_size,
        "intermediate_size": args.intermediate_size,
        "num_hidden_layers": args.num_layers,
        "num_attention_heads": args.num_heads,
        "num_key_value_heads": args.num_kv_heads,
        "head_dim": args.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": args.max_position_embeddings,
        "initializer_range": args.init_std,
        "rms_norm_eps": args.rms_norm_eps,
        "rope_theta": args.rope_theta,
        "rope_scaling": rope_scaling,
        "tie_word_embeddings": args.tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": None,
        "eos_token_id": eos_token_id,
        "torch_dtype": str(dtype).removeprefix("torch."),
    }


def read_hf_args(path: str | Path) -> ModelArgs:
    """The architecture of a Hugging Face Llama folder, from its config.json."""
    config_path = Path(path) / CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointFormatError(f"{config_path}: missing; is {path} a Hugging Face model folder?") from None
    except json.JSONDecodeError as error:
        raise CheckpointFormatError(f"{config_path}: not valid JSON ({error})") from None
    return args_from_hf_config(config, str(config_path))


def weight_files(path: str | Path) -> list[Path]:
    """The safetensors files of a folder: the ones its index names, or the single model.safetensors."""
    folder = Path(path)
    if (folder / INDEX).is_file():
        weight_map = json.loads((folder / INDEX).read_text(encoding="utf-8"))["weight_map"]
        return [folder / name for name in sorted(set(weight_map.values()))]
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    raise CheckpointFormatError(f"{folder}: no {WEIGHTS} or {INDEX}; only safetensors checkpoints are read")


def read_hf_state_dict(path: str | Path, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """All tensors of a folder by name, in their stored dtype unless `dtype` is given."""
    state: dict[str, torch.Tensor] = {}
    for file in weight_files(path):
        with safe_open(str(file), framework="pt") as tensors:
            for name in tensors.keys():  # noqa: SIM118 - safe_open is not iterable
                if not name.endswith(IGNORED_SUFFIXES):
                    tensor = tensors.get_tensor(name)
                    state[name] = tensor if dtype is None else tensor.to(dtype)
    return state


def check_state_dict(state: dict[str, torch.Tensor], model: Llama, where: str) -> dict[str, torch.Tensor]:
    """The state with the tied head filled in; an error naming the folder lists missing or unexpected tensors."""
    state = dict(state)
    if model.args.tie_embeddings and "model.embed_tokens.weight" in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    expected = {name: tuple(p.shape) for name, p in model.state_dict(keep_vars=True).items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{name} {tuple(state[name].shape)} != {shape}"
        for name, shape in expected.items()
        if name in state and tuple(state[name].shape) != shape
    ]
    problems = [
        f"{label}: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if names
    ]
    if problems:
        raise CheckpointFormatError(f"{where}: weights do not fit the config ({'; '.join(problems)})")
    return state


def load_hf(path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Llama:
    """A plain model with a Hugging Face folder's weights: built on the meta device, then filled in `dtype`."""
    args = read_hf_args(path)
    with torch.device("meta"):
        model = Llama(args)
    model.to_empty(device=device).to(dtype)
    state = check_state_dict(read_hf_state_dict(path), model, str(path))
    with torch.no_grad():
        for name, parameter in model.state_dict(keep_vars=True).items():
            parameter.copy_(state[name])
    return model


@dataclass(frozen=True)
class ExportTokenizer:
    """The tokenizer to ship with an export: its `tokenizer.json`, EOS token, and the longest sequence trained on."""

    path: Path
    eos_token: str
    max_length: int


def manifest_tokenizer(manifest_path: str | Path, max_length: int) -> ExportTokenizer | None:
    """The tokenizer a manifest's shards were made with: the `tokenizer.json` beside it, checked against the sha256
    the manifest records. None when the manifest records no file hash or EOS token (a synthetic corpus); an error
    naming the file when the file is missing or is another tokenizer."""
    from gap_replay.shards.manifest import read_manifest

    recorded = read_manifest(manifest_path)["tokenizer"]
    if not recorded.get("sha256") or not recorded.get("eos_token"):
        return None
    file = Path(manifest_path).parent / TOKENIZER
    if not file.is_file():
        raise CheckpointFormatError(f"{file}: missing; the manifest's shards were made with it")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != recorded["sha256"]:
        raise CheckpointFormatError(f"{file}: sha256 {digest} is not the manifest's tokenizer ({recorded['sha256']})")
    return ExportTokenizer(file, recorded["eos_token"], max_length)


def _write_tokenizer(folder: Path, tokenizer: ExportTokenizer) -> None:
    """tokenizer.json and the configuration `AutoTokenizer` reads: a fast tokenizer, EOS (also BOS, as GPT-2 has it:
    documents carry no BOS of their own) and the trained length."""
    shutil.copyfile(tokenizer.path, folder / TOKENIZER)
    special = {"bos_token": tokenizer.eos_token, "eos_token": tokenizer.eos_token}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "model_max_length": tokenizer.max_length,
        "clean_up_tokenization_spaces": False,
    }
    (folder / TOKENIZER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / SPECIAL_TOKENS).write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


def save_hf(
    model: nn.Module,
    path: str | Path,
    dtype: torch.dtype | None = None,
    eos_token_id: int | None = None,
    max_shard_bytes: int = 5 * 2**30,
    tokenizer: ExportTokenizer | None = None,
) -> None:
    """Write a folder `transformers.AutoModelForCausalLM.from_pretrained` loads, and `AutoTokenizer` too when the
    tokenizer is given; with FSDP every rank must call it.

    The full state dict is gathered to rank 0's CPU, which writes; `dtype` defaults to the parameters' dtype.
    """
    args: ModelArgs = model.args
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return
    if args.tie_embeddings:
        state.pop("lm_head.weight", None)
    dtype = dtype or next(iter(state.values())).dtype
    state = {name: tensor.to(dtype).contiguous() for name, tensor in state.items()}
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    temporary.mkdir(parents=True)
    try:
        _write_weights(state, temporary, max_shard_bytes)
        config = json.dumps(hf_config(args, dtype, eos_token_id), indent=2) + "\n"
        (temporary / CONFIG).write_text(config, encoding="utf-8")
        if tokenizer is not None:
            _write_tokenizer(temporary, tokenizer)
        _replace_folder(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _write_weights(state: dict[str, torch.Tensor], folder: Path, max_shard_bytes: int) -> None:
    """One model.safetensors, or shards plus the index transformers reads when the weights exceed one shard."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    if len(shards) == 1:
        save_file(shards[0], str(folder / WEIGHTS), metadata={"format": "pt"})
        return
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _replace_folder(source: Path, target: Path) -> None:
    """Move a finished folder into place; an older folder of that name is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old)
