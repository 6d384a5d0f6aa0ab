"""`python -m gap_replay.bench_lang`: each language detector's accuracy on the labelled set, and its speed on one core.

Accuracy is on `tests/fixtures/lang/labelled.jsonl` (short medical texts in ten languages), per language, over all
texts and over those of 80 characters or more; "kept" counts the right answers whose probability also reaches the
recipe's `min_confidence`, as curate would keep them. Speed is on 1-2 KB texts, the labelled texts of one language
concatenated to size, detected as curate does (on the recipe's prefix, the model already loaded), in this one
process: documents per second of wall clock and of this process's CPU time (steadier on a shared machine), the
median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path

from gap_replay.recipe import LanguageConfig
from gap_replay.text.lang import DETECTORS, Detector, detect_language, load_detector

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lang" / "labelled.jsonl"
LONG_CHARS = 80
MIN_BYTES, MAX_BYTES = 1024, 2048
ALL = "all"


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, language) of each line of a labelled JSONL file."""
    with open(path, encoding="utf-8") as lines:
        return [(row["text"], row["lang"]) for row in map(json.loads, lines)]


def sized_texts(rows: list[tuple[str, str]], count: int, seed: int = 0) -> list[str]:
    """`count` texts of 1-2 KB (UTF-8), each the labelled texts of one language, in turn, joined in random order."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for text, language in rows:
        by_language[language].append(text)
    languages = sorted(by_language)
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        pool = by_language[languages[index % len(languages)]]
        target, pieces, size = rng.randint(MIN_BYTES, MAX_BYTES), [], 0
        while size < target:
            piece = rng.choice(pool)
            pieces.append(piece)
            size += len(piece.encode()) + 1
        texts.append(" ".join(pieces).encode()[:MAX_BYTES].decode("utf-8", "ignore"))
    return texts


def accuracy(rows: list[tuple[str, str]], detector: Detector, min_confidence: float) -> dict[str, list[int]]:
    """{language or `all`: [right, right and confident, texts]}, and the same for the texts of 80 chars or more
    under `all >= 80`."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for text, language in rows:
        found, probability = detect_language(text, detector)
        groups = [language, ALL] + ([f"{ALL} >= {LONG_CHARS}"] if len(text) >= LONG_CHARS else [])
        for group in groups:
            counts[group][0] += found == language
            counts[group][1] += found == language and probability >= min_confidence
            counts[group][2] += 1
    return dict(counts)


def docs_per_second(detector: Detector, texts: list[str], repeat: int, prefix_chars: int) -> tuple[float, float]:
    """Median documents per second over `repeat` passes: (by the wall clock, by this process's CPU time)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for text in texts:
            detect_language(text, detector, prefix_chars)
        wall.append(len(texts) / (time.perf_counter() - started))
        cpu.append(len(texts) / max(time.process_time() - started_cpu, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=Path, default=LABELLED, help="labelled JSONL ({text, lang} per line)")
    parser.add_argument("--detectors", nargs="+", choices=sorted(DETECTORS), default=sorted(DETECTORS))
    parser.add_argument("--docs", type=int, default=1000, help="1-2 KB texts per timed pass")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the median is reported")
    parser.add_argument("--min-confidence", type=float, default=LanguageConfig().min_confidence)
    parser.add_argument("--prefix-chars", type=int, default=LanguageConfig().prefix_chars, help="timed prefix")
    args = parser.parse_args(argv)

    rows = read_labelled(args.labelled)
    texts = sized_texts(rows, args.docs)
    mean_bytes = statistics.mean(len(text.encode()) for text in texts)
    print(
        f"labelled set: {len(rows)} texts; speed: {len(texts)} texts of {mean_bytes:.0f} bytes on average, "
        f"detected on a {args.prefix_chars}-character prefix, one core"
    )
    for name in args.detectors:
        started = time.perf_counter()
        detector = load_detector(name)
        load_seconds = time.perf_counter() - started
        counts = accuracy(rows, detector, args.min_confidence)
        wall, cpu = docs_per_second(detector, texts, args.repeat, args.prefix_chars)
        print(f"\n{name}: loaded in {load_seconds:.2f} s; {wall:,.0f} docs/s (wall), {cpu:,.0f} docs/s (CPU)")
        print(f"  {'language':<10} {'right':>9} {'accuracy':>9} {f'kept >= {args.min_confidence:g}':>12}")
        for group in sorted(counts, key=lambda group: (group.startswith(ALL), group)):
            right, kept, total = counts[group]
            print(f"  {group:<10} {f'{right}/{total}':>9} {right / total:>9.3f} {kept / total:>12.3f}")


if __name__ == "__main__":
    main()
