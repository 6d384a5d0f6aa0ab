"""One evaluation: the config (from a YAML file and the command line), the tasks scored, and the results written.

`DIR/results.json` is the summary (accuracy per task and subject with its bootstrap interval, item counts, method,
shots, seeds, and the sha256 of the prompt template, the model and every benchmark file); `DIR/predictions.jsonl`
holds each item's choice and scores; `DIR/results.md` is the table. Everything but the `timing` entry is a function
of the inputs, so two runs on the same inputs write the same bytes. results.json is written last (an older one is
removed first), so one that is there always has its predictions beside it. When the corpus manifest is given, each
task says whether the corpus was decontaminated against that very benchmark file (same sha256).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gap_replay import __version__
from gap_replay.eval.methods import SCORERS, Prediction, Run, requests_of
from gap_replay.eval.metrics import RESAMPLES, summarize
from gap_replay.eval.models import Backend, load_model
from gap_replay.eval.prompts import load_template
from gap_replay.eval.report import RESULTS, markdown_table
from gap_replay.eval.tasks import TASKS, TaskData, load_task, sample_items
from gap_replay.files import atomic_path
from gap_replay.progress import bar

PREDICTIONS = "predictions.jsonl"
TABLE = "results.md"


class EvalConfig(BaseModel):
    """What to evaluate and how; an unknown key or a bad value is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Annotated[str, Field(min_length=1)]
    tasks: dict[str, str]
    out: Annotated[str, Field(min_length=1)]
    method: Literal["top_token", "loglik", "cot", "sc_cot"] = "top_token"
    shots: Annotated[int, Field(ge=0, le=25)] = 3
    fewshot: dict[str, str] = {}
    template: str | None = None
    seed: int = 1234
    backend: Backend = "auto"
    device: str = "auto"
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 8
    sample: Annotated[int, Field(ge=1)] | None = None
    bootstrap: Annotated[int, Field(ge=1, le=100_000)] = RESAMPLES
    corpus_manifest: str | None = None
    # cot and sc_cot: the longest chain, and sc_cot's chains per item and their sampling temperature
    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] = 256
    samples: Annotated[int, Field(ge=1, le=100)] = 5
    temperature: Annotated[float, Field(gt=0.0, le=5.0)] = 0.7

    @field_validator("tasks")
    @classmethod
    def _some_task(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("name at least one task")
        return value

    @field_validator("tasks", "fewshot")
    @classmethod
    def _known_tasks(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}: each is one of {', '.join(TASKS)}")
        return value


def parse_tasks(text: str) -> dict[str, str]:
    """`medqa=FILE,pubmedqa=FILE` as a mapping; an error for a part without `=`."""
    tasks = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, equals, path = part.partition("=")
        if not equals or not name.strip() or not path.strip():
            raise ValueError(f"--tasks: {part!r} is not TASK=FILE")
        tasks[name.strip()] = path.strip()
    return tasks


def load_config(path: str | None, overrides: dict[str, Any]) -> EvalConfig:
    """The config file's values (when given) with the command line's on top; errors name the file or option."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: cannot read the eval config: {error}") from error
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: an eval config is a mapping of settings")
        values.update(loaded)
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return EvalConfig(**values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"{path or 'eval options'}: {problems}") from None


def _generation(config: EvalConfig) -> dict[str, Any]:
    """The generation settings a chain-of-thought method's results depend on."""
    settings: dict[str, Any] = {"max_new_tokens": config.max_new_tokens}
    if config.method == "sc_cot":
        settings.update(samples=config.samples, temperature=config.temperature)
    return {"generation": settings}


def decontamination_of(manifest_path: str, tasks: dict[str, TaskData]) -> dict[str, Any]:
    """Per task, the corpus manifest's decontamination benchmark read from the same file (by sha256), or None."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    benchmarks = (manifest.get("decontamination") or {}).get("benchmarks", [])
    by_sha = {benchmark["sha256"]: benchmark["name"] for benchmark in benchmarks}
    return {
        "manifest": manifest_path,
        "benchmarks": sorted(by_sha.values()),
        "tasks": {name: by_sha.get(task.sha256) for name, task in sorted(tasks.items())},
    }


def _write(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(data)


def run_eval(config: EvalConfig) -> dict[str, Any]:
    """Score every task, write the three result files under `config.out`, and return the results."""
    started = time.perf_counter()
    template = load_template(config.template)
    tasks = {name: load_task(name, path) for name, path in sorted(config.tasks.items())}
    pools = {name: load_task(name, path) for name, path in sorted(config.fewshot.items())}
    # Shots are drawn from the whole set (or the shot file) whatever `sample` keeps, so an item's prompt is the same.
    scored = {name: sample_items(task.items, config.sample, config.seed, name) for name, task in tasks.items()}
    model = load_model(config.model, config.backend, config.device)
    loaded = time.perf_counter()
    predictions: dict[str, list[Prediction]] = {}
    total = sum(requests_of(config.method, items, config.samples) for items in scored.values())
    with bar(total=total, desc=f"eval {config.method}", unit="requests") as progress:
        run = Run(
            model=model,
            template=template,
            shots=config.shots,
            seed=config.seed,
            batch_size=config.batch_size,
            progress=progress.update,
            max_new_tokens=config.max_new_tokens,
            samples=config.samples,
            temperature=config.temperature,
        )
        for name, task in tasks.items():
            pool = pools[name].items if name in pools else task.items
            predictions[name] = SCORERS[config.method](run, name, scored[name], pool)
    results: dict[str, Any] = {
        "gap_replay": __version__,
        "model": model.describe(),
        "method": config.method,
        "shots": config.shots,
        "seed": config.seed,
        "sample": config.sample,
        "batch_size": config.batch_size,  # batch-mates move the last digits of a score, never a choice so far seen
        **(_generation(config) if config.method in ("cot", "sc_cot") else {}),
        "prompt": {"path": template.path, "sha256": template.sha256},
        "bootstrap": {"resamples": config.bootstrap, "seed": config.seed, "interval": "percentile 95%"},
        "tasks": {},
    }
    for name, task in tasks.items():
        figures = summarize(predictions[name], config.bootstrap, config.seed)
        fewshot = {"path": pools[name].path, "sha256": pools[name].sha256} if name in pools else None
        results["tasks"][name] = {"file": {"path": task.path, "sha256": task.sha256}, "fewshot": fewshot, **figures}
    if config.corpus_manifest:
        results["corpus"] = decontamination_of(config.corpus_manifest, tasks)
    items = sum(map(len, scored.values()))
    now = time.perf_counter()
    results["timing"] = {  # loading (files, model, weights hashed) apart from scoring, whose rate is the model's
        "seconds": round(now - started, 3),
        "load_seconds": round(loaded - started, 3),
        "score_seconds": round(now - loaded, 3),
        "items_per_second": round(items / (now - loaded), 3),
    }
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS).unlink(missing_ok=True)  # written last: a results.json always has its predictions beside it
    lines = [
        json.dumps(p.to_dict(), sort_keys=True, ensure_ascii=False) + "\n" for name in tasks for p in predictions[name]
    ]
    _write(out / PREDICTIONS, "".join(lines).encode("utf-8"))
    _write(out / TABLE, markdown_table(results).encode("utf-8"))
    _write(out / RESULTS, (json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    return results
