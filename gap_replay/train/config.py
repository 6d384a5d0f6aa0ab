"""The training config: dataclasses filled from one YAML file, validated on load.

An unknown key, a value of the wrong type or out of range is an error naming the file and the dotted key. Paths in
the file (manifests, `init_from`, `output`) are relative to the working directory, as for every command line tool.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from gap_replay.train.model import ModelArgs


@dataclass
class ManifestConfig:
    """One corpus: a manifest.json and its weight in the blend (a bare string in YAML means weight 1)."""

    SHORTHAND = "path"

    path: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        _require(self.weight > 0, "weight", "must be > 0")


@dataclass
class DataConfig:
    manifests: list[ManifestConfig]
    seq_len: int = 2048
    seed: int = 1234

    def __post_init__(self) -> None:
        _require(len(self.manifests) > 0, "manifests", "needs at least one manifest")
        _require(self.seq_len > 0, "seq_len", "must be > 0")
        _require(self.seed >= 0, "seed", "must be >= 0")


@dataclass
class OptimConfig:
    """AdamW and the learning-rate schedule; defaults are the reference's 7B continued-pretraining values."""

    lr: float = 3e-4
    min_lr: float = 3e-5
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_steps: int = 2000
    decay_fraction: float = 0.2  # WSD: the share of the steps spent decaying at the end
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-5
    clip_grad_norm: float = 1.0  # 0 disables clipping (the norm is still logged)

    def __post_init__(self) -> None:
        _require(self.lr > 0, "lr", "must be > 0")
        _require(0 <= self.min_lr <= self.lr, "min_lr", "must lie between 0 and lr")
        _require(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        _require(0 < self.decay_fraction <= 1, "decay_fraction", "must lie in (0, 1]")
        _require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        _require(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta1", "betas must lie in [0, 1)")
        _require(self.eps > 0, "eps", "must be > 0")
        _require(self.clip_grad_norm >= 0, "clip_grad_norm", "must be >= 0")


@dataclass
class TrainConfig:
    """Steps and batch: a step consumes `global_batch_size` samples of `seq_len + 1` tokens, whatever the ranks."""

    steps: int
    global_batch_size: int
    micro_batch_size: int = 1
    precision: Literal["fp32", "bf16"] = "bf16"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 1234
    document_mask: bool = False

    def __post_init__(self) -> None:
        _require(self.steps > 0, "steps", "must be > 0")
        _require(self.micro_batch_size > 0, "micro_batch_size", "must be > 0")
        _require(self.seed >= 0, "seed", "must be >= 0")
        _require(
            self.global_batch_size > 0 and self.global_batch_size % self.micro_batch_size == 0,
            "global_batch_size",
            f"must be a positive multiple of micro_batch_size ({self.micro_batch_size})",
        )


@dataclass
class ParallelConfig:
    """Applied in this order: activation checkpointing, torch.compile per block, FSDP2 (when world size > 1)."""

    activation_checkpointing: Literal["none", "full", "selective"] = "none"
    checkpoint_every: int = 2  # selective: checkpoint every Nth block
    compile: bool = False
    reshard_after_forward: bool = True

    def __post_init__(self) -> None:
        _require(self.checkpoint_every > 0, "checkpoint_every", "must be > 0")


@dataclass
class CheckpointConfig:
    every_steps: int = 0  # 0: only at the end
    keep_last: int = 2
    resume: bool = True  # false starts over: the output's checkpoints and metrics log are replaced
    export_hf: bool = True
    export_dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    # Which weights the Hugging Face export holds: the last step's (`hf/`), the trained step with the lowest
    # validation loss so far (`hf-best/`, rewritten at each new best), or both.
    export: Literal["last", "best", "both"] = "last"

    def __post_init__(self) -> None:
        _require(self.every_steps >= 0, "every_steps", "must be >= 0")
        _require(self.keep_last > 0, "keep_last", "must be > 0")


@dataclass
class EvalConfig:
    every_steps: int = 0  # 0: only before the first and after the last step
    samples: int = 256  # per manifest, from its valid split
    at_start: bool = True

    def __post_init__(self) -> None:
        _require(self.every_steps >= 0, "every_steps", "must be >= 0")
        _require(self.samples > 0, "samples", "must be > 0")


@dataclass
class LogConfig:
    every_steps: int = 10
    progress: bool = True
    peak_flops: float | None = None  # per device, bf16 dense; None: looked up from the device name

    def __post_init__(self) -> None:
        _require(self.every_steps > 0, "every_steps", "must be > 0")


@dataclass
class Config:
    """A whole run: `model` (ModelArgs fields; `vocab_size` defaults to the manifest's) or `init_from` (a Hugging
    Face folder, whose config.json is the architecture)."""

    name: str
    data: DataConfig
    train: TrainConfig
    model: dict[str, Any] | None = None
    init_from: str | None = None
    output: str | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self) -> None:
        _require((self.model is None) != (self.init_from is None), "model", "give exactly one of model or init_from")
        if self.model is not None:
            self.model_args(vocab_size=1)

    def model_args(self, vocab_size: int) -> ModelArgs:
        """The architecture of the `model` section, with the data's vocabulary size unless it names its own."""
        return _build(ModelArgs, {"vocab_size": vocab_size, **(self.model or {})}, "model")

    @property
    def output_dir(self) -> Path:
        return Path(self.output or f"out/train/{self.name}")


class ConfigError(ValueError):
    """A training config that cannot be used; the message names the file and the dotted key."""


class _Invalid(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise _Invalid(key, message)


def parse_config(data: Any, where: str = "<config>") -> Config:
    """Validate a mapping (parsed YAML) into a Config."""
    try:
        return _build(Config, data, "")
    except _Invalid as error:
        raise ConfigError(f"{where}: {error.key or '(top level)'}: {error}") from None


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read, override (`key.sub=value`, the value parsed as YAML) and validate a config file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"{path}: override {override!r} is not KEY=VALUE")
        data = _set(data, key.split("."), yaml.safe_load(value), f"{path}: override {key}")
    return parse_config(data, str(path))


def _set(data: Any, keys: list[str], value: Any, where: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: cannot set a key inside a {type(data).__name__}")
    data = dict(data)
    data[keys[0]] = value if len(keys) == 1 else _set(data.get(keys[0]) or {}, keys[1:], value, where)
    return data


def _build(cls: type, data: Any, key: str) -> Any:
    """An instance of dataclass `cls` from a mapping, each field converted to its annotated type."""
    if isinstance(data, str) and hasattr(cls, "SHORTHAND"):
        data = {cls.SHORTHAND: data}
    if not isinstance(data, dict):
        raise _Invalid(key, f"expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    for name in data:
        if name not in fields:
            raise _Invalid(_join(key, str(name)), "unknown key")
    values = {}
    for name, item in fields.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], _join(key, name))
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise _Invalid(_join(key, name), "required key is missing")
    try:
        return cls(**values)
    except _Invalid as error:
        raise _Invalid(_join(key, error.key), str(error)) from None
    except ValueError as error:
        raise _Invalid(key, str(error)) from None


def _convert(kind: Any, value: Any, key: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        (kind,) = [option for option in options if option is not type(None)]
        return _convert(kind, value, key)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, key)
    if origin is Literal:
        if value not in get_args(kind):
            raise _Invalid(key, f"must be one of {', '.join(map(str, get_args(kind)))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(key, f"expected a mapping, got {type(value).__name__}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise _Invalid(key, f"expected a list, got {type(value).__name__}")
        return [_convert(get_args(kind)[0], item, f"{key}[{i}]") for i, item in enumerate(value)]
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in (int, bool, str) and type(value) is kind:
        return value
    raise _Invalid(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key and name else key or name
