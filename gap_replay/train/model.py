"""A plain Llama decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention) that knows nothing about parallelism.

Parameter names and the RoPE layout (rotate-half over the two halves of each head) are those of transformers'
`LlamaForCausalLM`, so Hugging Face checkpoints load without renaming or permuting q/k. parallel.py wraps this
module for activation checkpointing, compilation and FSDP; hf.py reads and writes its weights. For generation a
`KVCache` keeps each layer's keys and values, so each new token costs one position's work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

try:  # the FlashAttention-2 package, used on CUDA in half precision when installed
    from flash_attn import flash_attn_func
except ImportError:
    flash_attn_func = None

HALF_DTYPES = (torch.bfloat16, torch.float16)  # the flash-attn package's kernel takes these only


@dataclass
class RopeScaling:
    """Llama 3.1 frequency scaling: long wavelengths divided by `factor`, short ones kept, smooth in between."""

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192

    def __post_init__(self) -> None:
        if self.factor <= 0 or self.low_freq_factor <= 0 or self.high_freq_factor <= self.low_freq_factor:
            raise ValueError("rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0")


@dataclass
class ModelArgs:
    """The architecture; `num_kv_heads` and `head_dim` default to `num_heads` and `hidden_size // num_heads`."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int | None = None
    head_dim: int | None = None
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    rms_norm_eps: float = 1e-5
    tie_embeddings: bool = False
    max_position_embeddings: int = 4096
    init_std: float = 0.02

    def __post_init__(self) -> None:
        self.num_kv_heads = self.num_kv_heads or self.num_heads
        self.head_dim = self.head_dim or self.hidden_size // self.num_heads
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads ({self.num_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {self.head_dim}")


def document_ids(tokens: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Index of the packed document each token belongs to, per row; an EOS belongs to the document it ends."""
    is_eos = (tokens == eos_id).long()
    return torch.cumsum(is_eos, dim=-1) - is_eos


def positions_in_document(documents: torch.Tensor) -> torch.Tensor:
    """Token positions counted from the start of each token's document (Megatron's reset_position_ids)."""
    steps = torch.arange(documents.shape[-1], device=documents.device).expand_as(documents)
    starts = torch.ones_like(documents, dtype=torch.bool)
    starts[..., 1:] = documents[..., 1:] != documents[..., :-1]
    first = torch.cummax(torch.where(starts, steps, torch.zeros_like(steps)), dim=-1).values
    return steps - first


def rope_frequencies(args: ModelArgs, device: torch.device | None = None) -> torch.Tensor:
    """Inverse RoPE frequencies in fp32, computed as transformers does (with Llama 3.1 scaling when configured)."""
    dim = args.head_dim
    inv_freq = 1.0 / (args.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim))
    scaling = args.rope_scaling
    if scaling is None:
        return inv_freq
    low_freq_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
    high_freq_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables (batch, seq, head_dim) for the rotate-half layout: each frequency covers both halves."""
    angles = positions[..., None].float() * inv_freq
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (batch, seq, heads, head_dim) queries or keys by their positions."""
    cos, sin = cos[:, :, None, :].to(x.dtype), sin[:, :, None, :].to(x.dtype)
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


def runs_flash_attn_package(device: torch.device, dtype: torch.dtype, masked: bool) -> bool:
    """Whether `attention` takes the flash-attn package's kernel for inputs on `device` in `dtype`: when it is
    installed, on CUDA, in half precision, without a document mask."""
    return not masked and flash_attn_func is not None and device.type == "cuda" and dtype in HALF_DTYPES


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, documents: torch.Tensor | None) -> torch.Tensor:
    """Causal attention on (batch, seq, heads, head_dim); with `documents`, no token attends across a document.

    Unmasked, it runs the flash-attn package's kernel when installed (CUDA, half precision), else SDPA's own
    FlashAttention kernel; with a document mask, SDPA's memory-efficient kernel.
    """
    if runs_flash_attn_package(q.device, q.dtype, masked=documents is not None):
        return flash_attn_func(q, k, v, causal=True)  # grouped heads are native
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    groups = q.shape[1] // k.shape[1]
    if documents is None:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=groups > 1)
    else:  # the kernels that take a mask want every query head's keys spelled out
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        seq = documents.shape[-1]
        causal = torch.ones(seq, seq, dtype=torch.bool, device=q.device).tril()
        mask = (documents[:, :, None] == documents[:, None, :]) & causal
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
    return out.transpose(1, 2)


@dataclass
class KVCache:
    """Every layer's keys and values for incremental decoding, (batch, capacity, kv_heads, head_dim) each, filled
    up to `length`; `real` (batch, capacity) marks the positions that hold tokens (left padding does not)."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    real: torch.Tensor
    length: int = 0

    @classmethod
    def empty(cls, args: ModelArgs, batch: int, capacity: int, device: torch.device, dtype: torch.dtype) -> KVCache:
        shape = (batch, capacity, args.num_kv_heads, args.head_dim)
        return cls(
            keys=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_layers)],
            values=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_layers)],
            real=torch.zeros(batch, capacity, dtype=torch.bool, device=device),
        )

    def attention_mask(self, seq: int) -> torch.Tensor:
        """(batch, 1, seq, length + seq): a new query sees the real keys up to itself, and itself (so that a
        padding query, which sees no real key, still has a finite softmax)."""
        total = self.length + seq
        queries = torch.arange(self.length, total, device=self.real.device)[:, None]
        keys = torch.arange(total, device=self.real.device)[None, :]
        visible = (self.real[:, None, :total] & (keys <= queries)) | (keys == queries)
        return visible[:, None]


def cached_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention of (batch, seq, heads, head_dim) queries over cached keys and values under an explicit mask."""
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 whatever the compute dtype: the mean of squares loses too much in bf16.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.head_dim = args.head_dim
        self.q_proj = nn.Linear(args.hidden_size, args.num_heads * args.head_dim, bias=False)
        self.k_proj = nn.Linear(args.hidden_size, args.num_kv_heads * args.head_dim, bias=False)
        self.v_proj = nn.Linear(args.hidden_size, args.num_kv_heads * args.head_dim, bias=False)
        self.o_proj = nn.Linear(args.num_heads * args.head_dim, args.hidden_size, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        documents: torch.Tensor | None,
        cache: tuple[KVCache, int] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, seq, _ = x.shape
        q = apply_rope(self.q_proj(x).view(batch, seq, -1, self.head_dim), cos, sin)
        k = apply_rope(self.k_proj(x).view(batch, seq, -1, self.head_dim), cos, sin)
        v = self.v_proj(x).view(batch, seq, -1, self.head_dim)
        if cache is None:
            out = attention(q, k, v, documents)
        else:  # this layer's keys and values join the cache; the queries see all of it under the mask
            kv, layer = cache
            end = kv.length + seq
            kv.keys[layer][:, kv.length : end] = k
            kv.values[layer][:, kv.length : end] = v
            out = cached_attention(q, kv.keys[layer][:, :end], kv.values[layer][:, :end], mask)
        return self.o_proj(out.reshape(batch, seq, -1))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(args.hidden_size, args.intermediate_size, bias=False)
        self.up_proj = nn.Linear(args.hidden_size, args.intermediate_size, bias=False)
        self.down_proj = nn.Linear(args.intermediate_size, args.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """One pre-norm decoder layer: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.self_attn = Attention(args)
        self.mlp = MLP(args)
        self.input_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        documents: torch.Tensor | None = None,
        cache: tuple[KVCache, int] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, documents, cache, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """Embeddings, the blocks and the final norm: transformers' `LlamaModel`, under the same names."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.num_layers))
        self.norm = RMSNorm(args.hidden_size, args.rms_norm_eps)

    def forward(self, tokens: torch.Tensor, documents: torch.Tensor | None = None) -> torch.Tensor:
        if documents is None:
            positions = torch.arange(tokens.shape[1], device=tokens.device)[None]
        else:
            positions = positions_in_document(documents)
        cos, sin = rope_cos_sin(positions, rope_frequencies(self.args, tokens.device))
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h, cos, sin, documents)
        return self.norm(h)

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, real: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Hidden states of new tokens (batch, seq) at `positions`, after the cache's; `real` is False at padding.
        The cache takes their keys and values."""
        seq = tokens.shape[1]
        cache.real[:, cache.length : cache.length + seq] = real
        mask = cache.attention_mask(seq)
        cos, sin = rope_cos_sin(positions, rope_frequencies(self.args, tokens.device))
        h = self.embed_tokens(tokens)
        for index, layer in enumerate(self.layers):
            h = layer(h, cos, sin, None, (cache, index), mask)
        cache.length += seq
        return self.norm(h)


class Llama(nn.Module):
    """The causal language model: `model` (the decoder) and `lm_head`, as in `LlamaForCausalLM`."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.model = Decoder(args)
        self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)
        self._tie()

    def _tie(self) -> None:
        if self.args.tie_embeddings and self.lm_head.weight is not self.model.embed_tokens.weight:
            self.lm_head.weight = self.model.embed_tokens.weight

    def to_empty(self, *, device: torch.device | str | None, recurse: bool = True) -> Llama:
        """Materialise a meta-device model (uninitialised memory), keeping a tied head tied."""
        super().to_empty(device=device, recurse=recurse)
        self._tie()
        return self

    def forward(self, tokens: torch.Tensor, documents: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, seq, vocab) for token ids (batch, seq); `documents` from `document_ids` masks packing."""
        return self.lm_head(self.model(tokens, documents))

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, real: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits of new tokens given what the cache holds (see `Decoder.decode`)."""
        return self.lm_head(self.model.decode(tokens, positions, real, cache))

    @torch.no_grad()
    def init_weights(self) -> None:
        """Fresh weights from the current RNG: normal(0, init_std) matrices and unit norms, as transformers does."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=self.args.init_std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
