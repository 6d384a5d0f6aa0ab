"""`python -m gap_replay.bench_eval`: evaluation throughput (items/s while scoring, and the whole run with loading)
and peak memory of each scoring method.

The model is `--model` (by default the tiny one `make train` exports, else a random Llama of that size built here
with a BPE trained on the benchmark questions); the tasks are the local benchmark copies (`../shared/benchmarks`)
or, without them, a synthetic four-option task. Each run is a fresh process; medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from gap_replay.benchmarking import measure, peak

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
FILES = {
    "medqa": "medqa_test.jsonl",
    "medmcqa": "medmcqa_dev_subset.jsonl",
    "pubmedqa": "pubmedqa_test.jsonl",
    "mmlu_medical": "mmlu_medical_test.jsonl",
}
TRAINED = Path("out/train/tiny/hf")
# (method, items per task, extra settings): generation is far slower per item than scoring.
PLANS = (
    ("top_token", 64, {}),
    ("loglik", 32, {}),
    ("cot", 4, {"max_new_tokens": 32}),
    ("sc_cot", 2, {"max_new_tokens": 32, "samples": 3}),
)


def synthetic_task(path: Path, items: int = 200) -> Path:
    """A four-option task of short clinical questions, for when the benchmark copies are absent."""
    drugs = ["amlodipine", "insulin", "heparin", "aspirin", "metformin", "warfarin", "atenolol", "furosemide"]
    rows = []
    for n in range(items):
        options = {letter: drugs[(n + k) % len(drugs)] for k, letter in enumerate("ABCD")}
        question = f"Patient {n} has condition {n % 17}. Which drug of the list is the first-line treatment?"
        rows.append({"realidx": n, "question": question, "options": options, "answer_idx": "ABCD"[n % 4]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def rendered(row: dict) -> str:
    """A row as the prompts lay it out (question, lettered options, answer), for the random model's tokenizer."""
    options = "\n".join(f"{letter}. {text}" for letter, text in row["options"].items())
    return f"Question: {row['question']}\nOptions:\n{options}\nAnswer: {row['answer_idx']}"


def random_model(
    folder: Path,
    texts: list[str],
    vocab_size: int = 2048,
    max_length: int = 2048,
    init_std: float = 0.02,
    hidden_size: int = 128,
    intermediate_size: int = 352,
    num_layers: int = 4,
) -> Path:
    """A random Llama (the tiny config's shape by default; 4 heads sharing 2 of keys),
    exported as the trainer exports (safetensors, config.json, tokenizer.json), with a byte-level BPE trained on
    `texts` (laid out as the prompts are, so each answer letter is one token); a larger `init_std` gives options
    clearly different scores."""
    import torch

    from gap_replay.shards.tokenizer import train_bpe
    from gap_replay.train.hf import ExportTokenizer, save_hf
    from gap_replay.train.model import Llama, ModelArgs

    tokenizer_file = folder.parent / f"{folder.name}-tokenizer.json"
    tokenizer = train_bpe(texts, vocab_size, tokenizer_file)
    torch.manual_seed(0)
    args = ModelArgs(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_layers=num_layers,
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


def evaluate(
    model: str, tasks: dict[str, str], method: str, sample: int, out: str, settings: dict
) -> tuple[int, float]:
    """One `gap-replay eval` run on CPU; returns the items scored and the seconds spent scoring them."""
    from gap_replay.eval.run import EvalConfig, run_eval

    config = EvalConfig(model=model, tasks=tasks, out=out, method=method, sample=sample, device="cpu", **settings)
    results = run_eval(config)
    return sum(task["items"] for task in results["tasks"].values()), results["timing"]["score_seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_replay.bench_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help=f"model folder (default: {TRAINED} when it exists, else a random one)")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS, help="the local benchmark copies")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; medians are reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gap-replay-bench-eval-") as tmp:
        if args.benchmarks.is_dir():
            tasks = {task: str(args.benchmarks / name) for task, name in FILES.items()}
            origin = f"the four benchmark copies in {args.benchmarks}"
        else:
            tasks = {"medqa": str(synthetic_task(Path(tmp) / "synthetic.jsonl"))}
            origin = f"a synthetic task: no benchmark copies under {args.benchmarks}"
        model = args.model or (str(TRAINED) if (TRAINED / "config.json").is_file() else None)
        if model is None:
            lines = [line for path in tasks.values() for line in Path(path).read_text(encoding="utf-8").splitlines()]
            texts = [rendered(json.loads(line)) for line in lines]
            model = str(random_model(Path(tmp) / "model", texts))
        print(f"eval on CPU: model {model}; tasks: {origin}; 3-shot; medians of {args.repeat} runs")
        print(f"{'method':<10} {'items':>6} {'whole s':>8} {'scoring s':>9} {'items/s':>8} {'peak MB':>8}")
        for method, sample, settings in PLANS:
            runs = [
                measure(evaluate, model, tasks, method, sample, f"{tmp}/{method}", settings) for _ in range(args.repeat)
            ]
            whole = statistics.median(run.seconds for run in runs)
            scoring = statistics.median(run.result[1] for run in runs)
            items = runs[0].result[0]
            line = (
                f"{method:<10} {items:>6} {whole:>8.2f} {scoring:>9.2f} {items / scoring:>8.1f} {peak(runs)[0]:>8.0f}"
            )
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
