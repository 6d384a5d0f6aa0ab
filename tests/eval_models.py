"""A tiny random Llama exported as the trainer exports it (safetensors, config.json, tokenizer.json), for the
evaluation tests: its tokenizer is a byte-level BPE trained here, on text where the answer letters are frequent
enough to be single tokens."""

from __future__ import annotations

from pathlib import Path

import torch

from gap_replay.shards.tokenizer import train_bpe
from gap_replay.train.hf import ExportTokenizer, save_hf
from gap_replay.train.model import Llama, ModelArgs

TRAINING_TEXT = [
    "Question: Which drug lowers blood pressure?\nOptions:\nA. insulin\nB. amlodipine\nC. heparin\nD. aspirin\n"
    "Answer: B",
    "Question: Is anorectal endosonography valuable in dyschesia?\nOptions:\nA. yes\nB. no\nC. maybe\nAnswer: A",
    "The patient was treated with antibiotics and the fever resolved within three days.",
    "Answer: C Answer: D Answer: A Answer: B E F",
] * 20 + [" A B C D E F"] * 200


def tiny_export(folder: Path, max_length: int = 512, init_std: float = 0.3, seed: int = 0) -> Path:
    """Write the model folder and return it; `init_std` large enough that options get clearly different scores."""
    tokenizer_file = folder.parent / f"{folder.name}-tokenizer.json"
    tokenizer = train_bpe(TRAINING_TEXT, 360, tokenizer_file)
    torch.manual_seed(seed)
    args = ModelArgs(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        intermediate_size=160,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        tie_embeddings=True,
        max_position_embeddings=max_length,
        init_std=init_std,
    )
    model = Llama(args)
    model.init_weights()
    export = ExportTokenizer(tokenizer_file, tokenizer.eos_token, max_length)
    save_hf(model, folder, dtype=torch.float32, eos_token_id=tokenizer.eos_id, tokenizer=export)
    return folder
