"""A tiny random Llama exported as the trainer exports it (safetensors, config.json, tokenizer.json), for the
evaluation tests: its tokenizer is a byte-level BPE trained here, on text where the answer letters are frequent
enough to be single tokens."""

from __future__ import annotations

from pathlib import Path

from gap_replay.bench_eval import random_model

TRAINING_TEXT = [
    "Question: Which drug lowers blood pressure?\nOptions:\nA. insulin\nB. amlodipine\nC. heparin\nD. aspirin\n"
    "Answer: B",
    "Question: Is anorectal endosonography valuable in dyschesia?\nOptions:\nA. yes\nB. no\nC. maybe\nAnswer: A",
    "The patient was treated with antibiotics and the fever resolved within three days.",
    "Answer: C Answer: D Answer: A Answer: B E F",
] * 20 + [" A B C D E F"] * 200


def tiny_export(folder: Path, max_length: int = 512, init_std: float = 0.3) -> Path:
    """Write the model folder and return it; `init_std` large enough that options get clearly different scores."""
    return random_model(
        folder,
        TRAINING_TEXT,
        vocab_size=360,
        max_length=max_length,
        init_std=init_std,
        hidden_size=64,
        intermediate_size=160,
        num_layers=2,
    )
