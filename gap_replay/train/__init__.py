"""The bundled trainer: continued pretraining of a Llama model on the corpus shards (FSDP2, plain PyTorch)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of `gap-replay train` and `python -m gap_replay.train`; torch is imported only when called."""
    from gap_replay.train.cli import main as run

    return run(argv)
