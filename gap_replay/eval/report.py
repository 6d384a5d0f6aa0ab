"""The results of an evaluation as Markdown: for `results.md`, the command's output and the corpus card; it
imports neither torch nor the models, so the card stage can render it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = "results.json"

# The column a method adds to accuracy and its interval: the length-normalised accuracy, or the items without an
# answer in the generated text.
EXTRA_COLUMN = {"loglik": "accuracy (norm)", "cot": "no answer", "sc_cot": "no answer"}


def _extra(method: str, figures: dict[str, Any]) -> str:
    if method == "loglik":
        return f" {figures['norm']['accuracy'] * 100:.1f} |"
    return f" {figures.get('unanswered', 0)} |" if method in EXTRA_COLUMN else ""


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table: one row per task, then MMLU's subjects indented; then, when the corpus
    manifest was given, which tasks its decontamination covered."""
    method = results["method"]
    extra = EXTRA_COLUMN.get(method)
    lines = [
        f"Model `{results['model']['name']}` (sha256 {results['model']['sha256'][:12]}), {method}, "
        f"{results['shots']}-shot, seed {results['seed']}, prompt sha256 {results['prompt']['sha256'][:12]}",
        "",
        "| task | items | accuracy | 95% CI |" + (f" {extra} |" if extra else ""),
        "|---|---:|---:|---|" + ("---:|" if extra else ""),
    ]

    def row(label: str, figures: dict[str, Any]) -> str:
        low, high = figures["ci95"]
        accuracy = f"{figures['accuracy'] * 100:.1f} | {low * 100:.1f}-{high * 100:.1f}"
        return f"| {label} | {figures['items']} | {accuracy} |{_extra(method, figures)}"

    for name, figures in results["tasks"].items():
        lines.append(row(name, figures))
        for subject, by_subject in figures.get("subjects", {}).items():
            lines.append(row(f"&nbsp;&nbsp;{subject}", by_subject))
    if "corpus" in results:
        corpus = results["corpus"]
        against = [f"{task} (as `{name}`)" for task, name in corpus["tasks"].items() if name]
        lines += [
            "",
            f"Corpus `{corpus['manifest']}` decontaminated against: {', '.join(against) or 'none of these files'}.",
        ]
    return "\n".join(lines) + "\n"


def read_evaluations(folder: Path) -> list[dict[str, Any]]:
    """The results.json of each evaluation under `folder` (`<folder>/<run>/results.json`), by run name; none when
    the folder is absent. A file that is not results JSON is an error naming it."""
    evaluations = []
    for path in sorted(folder.glob(f"*/{RESULTS}")):
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
            markdown_table(results)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not the results of gap-replay eval ({error!r})") from None
        evaluations.append(results)
    return evaluations
