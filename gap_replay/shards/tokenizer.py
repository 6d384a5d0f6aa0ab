"""Tokenizers for the build: any Hugging Face `tokenizers` file, folder or hub id, or a byte-level BPE trained here.

Every document is encoded without the tokenizer's own special tokens and ends with exactly one EOS id, the
document separator Megatron calls EOD. Special-token strings that occur in a document's text (a forum post quoting
`<|endoftext|>`) are encoded as plain text, so the EOS id appears nowhere but at document ends.

The trained BPE reserves id 0 for its only special token, `<|endoftext|>`: the trainer assigns special tokens
first, so the EOS id stays 0 whatever the vocabulary size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from gap_replay.files import write_atomic

EOS_TOKEN = "<|endoftext|>"
EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|eot_id|>")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedTokenizer:
    """A tokenizer with the facts a manifest records about it: EOS, vocabulary size, hash of its file."""

    tokenizer: tokenizers.Tokenizer
    name: str
    eos_id: int
    eos_token: str
    vocab_size: int
    sha256: str

    def __post_init__(self) -> None:
        # Corpus text is data, never control: a literal "</s>" in a document must not become the EOS id.
        self.tokenizer.encode_special_tokens = True

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, the tokenizer's special tokens left out and EOS appended to each."""
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [[*encoding.ids, self.eos_id] for encoding in encodings]

    def encode_concatenated(self, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """`encode_batch` as two arrays: every text's ids (EOS last) back to back, and the offsets where each text
        starts, with the end of the last as a final entry (text i is `tokens[offsets[i]:offsets[i + 1]]`)."""
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        arrays = [np.array([*encoding.ids, self.eos_id], dtype=dtype) for encoding in encodings]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([array.size for array in arrays], out=offsets[1:])
        tokens = np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)
        return tokens, offsets

    def to_manifest(self) -> dict:
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eos_id": self.eos_id,
            "eos_token": self.eos_token,
            "sha256": self.sha256,
        }


def train_bpe(texts: Iterable[str], vocab_size: int, path: Path, name: str = "gap-replay-bpe") -> LoadedTokenizer:
    """Train a byte-level BPE (GPT-2 style, EOS `<|endoftext|>` = id 0) and write its tokenizer.json atomically.

    `path` is the file to write, or a folder to write `tokenizer.json` into. Training is deterministic: the same
    texts in the same order give the same file bytes, whatever the thread count (merge ties break on token ids).
    """
    minimum = len(pre_tokenizers.ByteLevel.alphabet()) + 1
    if vocab_size < minimum:
        raise ValueError(f"vocab_size {vocab_size} is below the {minimum} ids that the byte alphabet and EOS need")
    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    data = tokenizer.to_str().encode("utf-8")
    path = Path(path)
    target = path if path.suffix == ".json" else path / "tokenizer.json"
    write_atomic(target, data)
    return LoadedTokenizer(
        tokenizer=tokenizer,
        name=name,
        eos_id=tokenizer.token_to_id(EOS_TOKEN),
        eos_token=EOS_TOKEN,
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load_tokenizer(spec: str, eos_token: str | None = None) -> LoadedTokenizer:
    """Load a tokenizer.json file, a folder holding one, or a hub id (network), and resolve its EOS token.

    EOS: `eos_token` if given, else the folder's tokenizer_config.json, else the first of `EOS_CANDIDATES` in the
    vocabulary. The name is the hub id, or the folder's name for local files.
    """
    local = Path(spec).expanduser()
    if local.is_dir():
        file, name = local / "tokenizer.json", local.resolve().name
        if not file.is_file():
            raise FileNotFoundError(f"{local}: folder has no tokenizer.json")
    elif local.is_file():
        file = local
        name = local.resolve().parent.name if local.name == "tokenizer.json" else local.stem
    elif _HUB_ID.match(spec) and not spec.endswith(".json"):
        file, name = _download_from_hub(spec), spec
    else:
        raise FileNotFoundError(f"{spec}: no such tokenizer file or folder, and not a hub id")
    data = file.read_bytes()
    try:
        tokenizer = tokenizers.Tokenizer.from_str(data.decode("utf-8"))
    except Exception as error:  # the Rust parser raises a bare Exception
        raise ValueError(f"{file}: not a tokenizers JSON file ({error})") from error
    eos, eos_id = _resolve_eos(tokenizer, name, eos_token, file.parent / "tokenizer_config.json")
    return LoadedTokenizer(
        tokenizer=tokenizer,
        name=name,
        eos_id=eos_id,
        eos_token=eos,
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _resolve_eos(tokenizer: tokenizers.Tokenizer, name: str, eos_token: str | None, config: Path) -> tuple[str, int]:
    """The EOS token and id: the argument, else the config's `eos_token`, else a well-known EOS in the vocabulary."""
    if eos_token is None and config.is_file():
        eos_token, origin = _config_eos(config), f"{config} eos_token"
    else:
        origin = "tokenizer.eos_token"
    if eos_token is not None:
        eos_id = tokenizer.token_to_id(eos_token)
        if eos_id is None:
            raise ValueError(f"tokenizer {name}: {origin} {eos_token!r} is not in its vocabulary")
        return eos_token, eos_id
    for candidate in EOS_CANDIDATES:
        eos_id = tokenizer.token_to_id(candidate)
        if eos_id is not None:
            return candidate, eos_id
    raise ValueError(
        f"tokenizer {name} has none of the usual EOS tokens ({', '.join(EOS_CANDIDATES)}); "
        "set tokenizer.eos_token in the recipe"
    )


def _config_eos(config: Path) -> str | None:
    """`eos_token` from a tokenizer_config.json: a string, or an added-token object with `content`."""
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{config}: not a JSON object ({error})") from error
    if isinstance(value, dict):
        value = value.get("content")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{config}: eos_token must be a string or an object with 'content', got {value!r}")
    return value


def _download_from_hub(repo_id: str) -> Path:
    """tokenizer.json (and tokenizer_config.json when the repo has one) from the Hugging Face hub cache."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        file = Path(hf_hub_download(repo_id, "tokenizer.json"))
    except Exception as error:  # offline, unknown repo, gated repo: all end the same way for the user
        raise ValueError(
            f"tokenizer {repo_id}: no such local file or folder, and tokenizer.json could not be fetched from the hub "
            f"({error})"
        ) from error
    with contextlib.suppress(EntryNotFoundError):  # optional: it only says which token is EOS
        hf_hub_download(repo_id, "tokenizer_config.json")
    return file
