"""The model under evaluation behind one interface: token ids in, logits out, with its tokenizer.

Two backends: the project's own Llama (the trainer's exports and any Llama folder it can read, see
`gap_replay.train.hf`) and any transformers causal LM. Batches are right-padded: a causal model's logits at a real
token never see the padding after it, and transformers also gets the attention mask. bf16 with SDPA on a GPU,
fp32 on the CPU. Nothing is downloaded: a Hugging Face id must already be in the local cache.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch import nn

BACKENDS = ("auto", "gap-replay", "transformers")
Backend = Literal["auto", "gap-replay", "transformers"]
# The files that make a model folder what it is: its hash is of these (weights, config, tokenizer).
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt")


class TextTokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


@dataclass(frozen=True)
class _Tokenizers:
    """A `tokenizers` tokenizer.json, with no special tokens added on encoding."""

    tokenizer: Any

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)


@dataclass(frozen=True)
class _Transformers:
    """A transformers tokenizer, with no special tokens added on encoding (the BOS is the scorer's to add)."""

    tokenizer: Any

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


@dataclass
class DecodeState:
    """What generation carries between steps: the key-value cache, and (transformers) the mask of every position."""

    cache: Any
    seen: torch.Tensor | None


@dataclass
class EvalModel:
    """A loaded model: what it is (name, backend, sha256), how to tokenize for it, and its forward pass."""

    name: str
    backend: str
    module: nn.Module
    tokenizer: TextTokenizer
    bos_id: int | None
    eos_id: int | None
    max_length: int
    device: torch.device
    dtype: torch.dtype
    sha256: str

    @torch.inference_mode()
    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """fp32 logits (batch, seq, vocab) of right-padded token ids; `mask` is True at real tokens."""
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self.backend == "transformers":
            out = self.module(input_ids=ids, attention_mask=mask.long()).logits
        else:
            out = self.module(ids)
        return out.float()

    def start(self, batch: int, capacity: int) -> DecodeState:
        """An empty key-value cache for `batch` sequences of up to `capacity` tokens."""
        if self.backend == "transformers":
            from transformers import DynamicCache

            return DecodeState(DynamicCache(), torch.zeros(batch, 0, dtype=torch.bool, device=self.device))
        from gap_replay.train.model import KVCache

        return DecodeState(KVCache.empty(self.module.args, batch, capacity, self.device, self.dtype), None)

    @torch.inference_mode()
    def extend(
        self, state: DecodeState, ids: torch.Tensor, positions: torch.Tensor, real: torch.Tensor
    ) -> torch.Tensor:
        """fp32 logits of new tokens (batch, seq) at `positions` after what `state` holds, which takes them in;
        `real` is False at left padding."""
        ids, positions, real = ids.to(self.device), positions.to(self.device), real.to(self.device)
        if self.backend == "transformers":
            state.seen = torch.cat([state.seen, real], dim=1)
            keyword = self._cache_keyword
            out = self.module(
                input_ids=ids,
                attention_mask=state.seen.long(),
                position_ids=positions,
                use_cache=True,
                **{keyword: state.cache},
            )
            state.cache = getattr(out, keyword)
            return out.logits.float()
        return self.module.decode(ids, positions, real, state.cache).float()

    @functools.cached_property
    def _cache_keyword(self) -> str:
        """transformers 5 renamed `past_key_values` to `cache`, in the arguments and in the output; read once."""
        return "cache" if "cache" in inspect.signature(self.module.forward).parameters else "past_key_values"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "sha256": self.sha256,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device.type,
            "bos_id": self.bos_id,
            "max_length": self.max_length,
        }


def model_sha256(folder: Path) -> str:
    """sha256 over a model folder's files (weights, configs, tokenizer): each one's name and sha256, sorted."""
    lines = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.endswith(MODEL_FILE_SUFFIXES):
            digest = hashlib.sha256()
            with open(path, "rb") as stream:
                while chunk := stream.read(1 << 24):
                    digest.update(chunk)
            lines.append(f"{path.name}\t{digest.hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def resolve_folder(model: str) -> Path:
    """A local model folder: the path itself, else a Hugging Face id already in the local cache (never fetched)."""
    path = Path(model)
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"{model}: a model is a folder (config.json, weights, tokenizer), not a file")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception as error:  # not an id, or not cached: the message says both
        raise ValueError(f"{model}: no such folder, and not a Hugging Face id in the local cache ({error})") from None


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _special_id(tokenizer: Any, folder: Path, key: str) -> int | None:
    """The id of tokenizer_config.json's `bos_token` or `eos_token` in a tokenizer.json, when both are there."""
    config_path = folder / "tokenizer_config.json"
    if not config_path.is_file():
        return None
    token = json.loads(config_path.read_text(encoding="utf-8")).get(key)
    if isinstance(token, dict):  # the AddedToken form
        token = token.get("content")
    return tokenizer.token_to_id(token) if isinstance(token, str) else None


def _own_backend_fits(folder: Path) -> bool:
    """Whether the project's Llama reads this folder: a Llama config it supports, safetensors and a tokenizer.json."""
    from gap_replay.train.hf import CheckpointFormatError, read_hf_args, weight_files

    try:
        read_hf_args(folder)
        weight_files(folder)
    except CheckpointFormatError:
        return False
    return (folder / "tokenizer.json").is_file()


def load_model(model: str, backend: Backend = "auto", device: str = "auto") -> EvalModel:
    """The model at a folder (or a cached Hugging Face id) with its tokenizer, in eval mode on `device`."""
    folder = resolve_folder(model)
    where = _device(device)
    dtype = torch.bfloat16 if where.type == "cuda" else torch.float32
    if backend == "auto":
        backend = "gap-replay" if _own_backend_fits(folder) else "transformers"
    if backend == "gap-replay":
        from tokenizers import Tokenizer

        from gap_replay.train.hf import load_hf

        module = load_hf(folder, device=where, dtype=dtype)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        bos, eos = _special_id(tokenizer, folder, "bos_token"), _special_id(tokenizer, folder, "eos_token")
        adapter: TextTokenizer = _Tokenizers(tokenizer)
        max_length = module.args.max_position_embeddings
    elif backend == "transformers":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        module = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, dtype=dtype, attn_implementation="sdpa"
        ).to(where)
        hf_tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        bos, eos = hf_tokenizer.bos_token_id, hf_tokenizer.eos_token_id
        adapter = _Transformers(hf_tokenizer)
        max_length = int(getattr(module.config, "max_position_embeddings", 0) or hf_tokenizer.model_max_length)
    else:
        raise ValueError(f"unknown backend {backend!r}: one of {', '.join(BACKENDS)}")
    module.eval()
    return EvalModel(model, backend, module, adapter, bos, eos, max_length, where, dtype, model_sha256(folder))
