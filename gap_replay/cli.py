"""`gap-replay`: fetch | curate | build | card | corpus | download | parse | inspect | megatron | train | eval.

Arguments a command does not know are Beam pipeline options (`--runner`, `--project`, ...) and go to Beam.
Exit codes: 0 done; 1 ran but something failed (files that could not be fetched or read, a pipeline that failed,
shards that do not verify); 2 refused to start (a bad recipe or argument, an unfinished upstream stage, a folder
that is not the project's).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gap_replay import __version__
from gap_replay.documents import SOURCES

if TYPE_CHECKING:  # the recipe's models cost a third of a second to import; parse, inspect and download need none
    from gap_replay.recipe import Recipe

BEAM_COMMANDS = ("curate", "build", "corpus")
OK, FAILED, REFUSED = 0, 1, 2
BEAM_EPILOG = (
    "Options not listed here go to Beam: --runner, --direct_running_mode, --direct_num_workers, --project, "
    "--temp_location, ... (default: the in-process FnApiRunner)."
)


def _recipe_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", help="recipe YAML (default: the bundled sample recipe)")
    parser.add_argument("--output", help="override the recipe's output folder")
    parser.add_argument("--cards", help="override the recipe's data card folder")
    parser.add_argument(
        "--force",
        action="store_true",
        help="use an output or cards folder that is not empty and was not made by gap-replay "
        "(it still deletes only files it wrote)",
    )


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    """`gap-replay eval`'s options; each also reads from `--config`, and the command line wins."""
    parser.add_argument("--config", help="eval config YAML (any option below, by its name with underscores)")
    parser.add_argument("--model", help="model folder (config.json, safetensors, tokenizer) or a cached HF id")
    parser.add_argument(
        "--tasks", help="TASK=FILE,...: medqa, medmcqa, pubmedqa, mmlu_medical; JSONL or dataset folder"
    )
    parser.add_argument("--out", help="folder for results.json, predictions.jsonl and results.md")
    parser.add_argument(
        "--method", choices=("top_token", "loglik", "cot", "sc_cot"), help="scoring method (default top_token)"
    )
    parser.add_argument("--shots", type=int, help="few-shot examples per item (default 3)")
    parser.add_argument("--fewshot", help="TASK=FILE,...: draw the shots from these files instead of the task's own")
    parser.add_argument("--template", help="prompt template YAML (default: the bundled multiple_choice.yaml)")
    parser.add_argument("--seed", type=int, help="seed of the shots and the bootstrap (default 1234)")
    parser.add_argument("--backend", choices=("auto", "gap-replay", "transformers"), help="model code (default auto)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when there is one)")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="sequences per forward pass (default 8)")
    parser.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, help="cot, sc_cot: longest chain (256)")
    parser.add_argument("--samples", type=int, help="sc_cot: chains per item (default 5)")
    parser.add_argument("--temperature", type=float, help="sc_cot: sampling temperature (default 0.7)")
    parser.add_argument("--sample", type=int, help="score N items of each task, drawn by the seed (default: all)")
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples of the 95%% interval (default 1000)")
    parser.add_argument(
        "--corpus-manifest", dest="corpus_manifest", help="say which tasks the corpus was decontaminated against"
    )


def _eval(args: argparse.Namespace) -> int:
    from gap_replay.eval.report import markdown_table
    from gap_replay.eval.run import load_config, parse_tasks, run_eval

    what = ("model", "out", "method", "shots", "template", "seed", "backend", "device", "corpus_manifest")
    how = ("batch_size", "sample", "max_new_tokens", "samples", "temperature", "bootstrap")
    overrides = {key: getattr(args, key) for key in (*what, *how)}
    for key in ("tasks", "fewshot"):
        if getattr(args, key) is not None:
            overrides[key] = parse_tasks(getattr(args, key))
    config = load_config(args.config, overrides)
    results = run_eval(config)
    print(markdown_table(results), end="")
    print(f"wrote results.json, predictions.jsonl and results.md to {config.out}")
    return OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gap-replay", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gap-replay {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress of every stage")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fetch = commands.add_parser("fetch", help="download the raw files of every enabled source")
    _recipe_argument(fetch)
    fetch.add_argument("--sources", help="comma-separated subset of sources to fetch")
    fetch.add_argument("--limit", type=int, help="at most N files per listing (documents for guidelines)")
    for name, text in (
        ("curate", "parse, clean, filter and deduplicate raw files into Parquet (Beam)"),
        ("build", "mix, tokenize and shard the curated corpus, then write the manifest (Beam)"),
        ("card", "write the data cards from stats.json and the manifest"),
        ("corpus", "fetch + curate + build + card"),
    ):
        epilog = BEAM_EPILOG if name in BEAM_COMMANDS else None
        _recipe_argument(commands.add_parser(name, help=text, description=text, epilog=epilog))
    parse = commands.add_parser("parse", help="run one source's parser on local raw files and write JSONL")
    parse.add_argument("source", help="pubmed, pmc, replay or guidelines/<organisation>")
    parse.add_argument("files", nargs="+", type=Path)
    parse.add_argument("--out", required=True, type=Path, help="output .jsonl or .jsonl.gz")
    parse.add_argument(
        "--workers", type=int, help="processes parsing a file's batches of records, PubMed's (default: every core)"
    )
    download = commands.add_parser("download", help="fetch and verify the shards another machine published")
    download.add_argument("manifest_url", help="manifest.json as http(s)://, gs://, s3://, file:// or a local path")
    download.add_argument("dest", type=Path, help="local folder for the manifest and its shards")
    download.add_argument("--workers", type=int, default=4, help="parallel downloads")
    download.add_argument(
        "--allow-scheme",
        action="append",
        default=[],
        metavar="SCHEME",
        help="also read shards over this scheme when the manifest's base_url uses it (default: the manifest's own)",
    )
    inspect = commands.add_parser("inspect", help="summarise a manifest or a shard; --verify checks every byte")
    inspect.add_argument("path", type=Path)
    inspect.add_argument("--verify", action="store_true", help="check sizes, sha256, EOS and totals of every shard")
    megatron = commands.add_parser(
        "megatron",
        help="print Megatron-LM's --train-data-path and --valid-data-path for a manifest's shards",
        description="Megatron-LM's data arguments for a manifest: each shard's prefix, weighted by its tokens.",
    )
    megatron.add_argument("manifest", type=Path, help="manifest.json, or the folder holding it")
    megatron.add_argument("--root", type=Path, help="where the shards are on the training machine (default: beside it)")
    _eval_arguments(commands.add_parser("eval", help="score a model on the medical benchmarks (results.json)"))
    train = commands.add_parser("train", help="train on the shards (see pipelines/train/*.yaml)", add_help=False)
    train.add_argument("train_args", nargs=argparse.REMAINDER)
    return parser


def _load(args: argparse.Namespace) -> tuple[Recipe, str]:
    from gap_replay.recipe import load_recipe

    recipe, sha256 = load_recipe(args.recipe)
    overrides = {key: getattr(args, key) for key in ("output", "cards") if getattr(args, key, None)}
    if getattr(args, "limit", None):
        limited = {name: getattr(recipe.sources, name).model_copy(update={"limit": args.limit}) for name in SOURCES}
        overrides["sources"] = recipe.sources.model_copy(update=limited)
    if overrides:
        recipe = recipe.model_copy(update=overrides)
    return recipe, sha256


def _seconds(start: float) -> str:
    return f"{time.monotonic() - start:.1f} s"


def _fetch(recipe: Recipe, sources: Sequence[str] | None = None, force: bool = False) -> int:
    """Fetch and report each source; FAILED when any file or listing failed (after fetching all it could)."""
    from gap_replay.pipelines.fetch import run_fetch

    failed = 0
    for source, summary in run_fetch(recipe, sources, force=force).items():
        disallowed = f", {summary.disallowed} disallowed by robots.txt" if summary.disallowed else ""
        print(
            f"fetch {source}: {summary.downloaded} downloaded, {summary.skipped} already present{disallowed}, "
            f"{summary.failed} failed ({summary.bytes / 1e6:.1f} MB)"
        )
        for error in summary.errors:
            print(f"  failed: {error}", file=sys.stderr)
        failed += summary.failed
    if failed:
        print(f"gap-replay fetch: {failed} failed (listed above); run it again to retry them", file=sys.stderr)
    return FAILED if failed else OK


def _curate(recipe: Recipe, sha256: str, beam_args: Sequence[str], force: bool = False) -> None:
    from gap_replay.pipelines.curate import run_curate

    start = time.monotonic()
    stats = run_curate(recipe, sha256, beam_args, force=force)
    kept = sum(entry.get("kept", 0) for entry in stats["sources"].values())
    parsed = sum(entry.get("parsed", 0) for entry in stats["sources"].values())
    print(
        f"curate: {kept:,} of {parsed:,} documents kept from {stats['raw_files']} raw files in "
        f"{_seconds(start)} -> {recipe.output_dir / 'curated'}"
    )
    for error in stats["parse_errors"]:
        print(f"  unreadable: {error['file']}: {error['detail']}", file=sys.stderr)


def _build(recipe: Recipe, sha256: str, beam_args: Sequence[str], force: bool = False) -> dict:
    from gap_replay.pipelines.build import run_build

    start = time.monotonic()
    manifest = run_build(recipe, sha256, beam_args, force=force)
    train = manifest["totals"]["train"]
    print(f"build: {train['tokens']:,} training tokens in {len(manifest['shards'])} shards in {_seconds(start)}")
    return manifest


def _card(recipe: Recipe, force: bool = False) -> list[Path]:
    from gap_replay.pipelines.card import run_card

    paths = run_card(recipe, force=force)
    print(f"card: wrote {', '.join(str(path) for path in paths)}")
    return paths


def _corpus(recipe: Recipe, sha256: str, beam_args: Sequence[str], force: bool = False) -> int:
    from gap_replay.pipelines.stats import read_stats
    from gap_replay.report import corpus_summary

    start = time.monotonic()
    if _fetch(recipe, force=force) != OK:
        print(
            "gap-replay corpus: stopped after fetch; run it again to retry what failed, "
            "or `gap-replay curate` to go on with what was fetched",
            file=sys.stderr,
        )
        return FAILED
    _curate(recipe, sha256, beam_args)
    manifest = _build(recipe, sha256, beam_args)
    _card(recipe, force)
    manifest_path = recipe.output_dir / "tokens" / "manifest.json"
    print(corpus_summary(read_stats(recipe.output_dir), manifest, manifest_path, time.monotonic() - start))
    return OK


def _parse(source: str, files: Sequence[Path], out: Path, workers: int | None) -> int:
    """One source's parser on local files, into JSONL. A file that fails is reported and the next one read, and the
    documents read before its damage are kept, as curate's ParseFiles does; the parser is called directly, without
    importing Beam for that DoFn (0.6 s, a third of the time a baseline file takes to parse)."""
    from gap_replay.parse_files import available_cores, parse_files
    from gap_replay.sources import batcher_for, parser_for

    signal.signal(signal.SIGTERM, _interrupt)  # so that a kill stops the workers and leaves no partial output
    parse, batcher = parser_for(source), batcher_for(source)
    total, failures = parse_files(parse, files, out, batcher, workers or available_cores())
    print(f"wrote {total} documents to {out}")
    return 1 if failures else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _download(manifest_url: str, dest: Path, workers: int, allow_schemes: Sequence[str]) -> int:
    from gap_replay.shards.download import download

    manifest = download(manifest_url, dest, workers=workers, allow_schemes=allow_schemes)
    tokens = sum(shard["tokens"] for shard in manifest["shards"])
    print(f"downloaded and verified {len(manifest['shards'])} shards ({tokens:,} tokens) into {dest}")
    return 0


def _inspect(path: Path, verify: bool) -> int:
    from gap_replay.shards.manifest import summarize, verify_path

    if not verify:
        print(summarize(path))
        return 0
    checked, problems = verify_path(path)
    if not problems:  # a summary of a broken shard would fail on what the problems already say
        print(summarize(path))
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"checked {checked}")
    print("verified: no problem found" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def _message(error: BaseException) -> str:
    """What to print for an error: its text, never an empty line."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return str(text).strip() or f"{type(error).__name__} (no message; run with -v for the traceback)"


GCP_NOTICE = "apitools not found"  # Beam's warning, on import, that its optional Google Cloud libraries are missing


def _without_gcp_notice(record: logging.LogRecord) -> bool:
    """Drops Beam's notice about optional Google Cloud libraries: it matters only to a run on Dataflow or gs://."""
    return not record.getMessage().startswith(GCP_NOTICE)


def _parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(arguments, options left for Beam). Everything after `train` is the trainer's own (`--config`, `--help`,
    ...): argparse would take an option there for gap-replay's, so it never sees them."""
    command_at = next((index for index, arg in enumerate(argv) if not arg.startswith("-")), len(argv))
    if argv[command_at : command_at + 1] == ["train"]:
        args = parser.parse_args([*argv[:command_at], "train"])
        args.train_args = argv[command_at + 1 :]
        return args, []
    return parser.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from gap_replay.stages import DryRun, StageError  # not Beam: parse, inspect and download start without it

    parser = build_parser()
    args, beam_args = _parse_arguments(parser, list(sys.argv[1:] if argv is None else argv))
    if beam_args and args.command not in BEAM_COMMANDS:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not any("Dataflow" in arg or "gs://" in arg for arg in beam_args):
        for handler in logging.getLogger().handlers:
            handler.addFilter(_without_gcp_notice)
    try:
        if args.command == "train":
            from gap_replay.train import main as train_main

            return train_main(args.train_args)
        if args.command == "parse":
            return _parse(args.source, args.files, args.out, args.workers)
        if args.command == "eval":
            return _eval(args)
        if args.command == "megatron":
            from gap_replay.shards.megatron import megatron_arguments

            print(megatron_arguments(args.manifest, args.root))
            return OK
        if args.command == "inspect":
            return _inspect(args.path, args.verify)
        if args.command == "download":
            return _download(args.manifest_url, args.dest, args.workers, args.allow_scheme)
        recipe, sha256 = _load(args)
        if args.command == "fetch":
            return _fetch(recipe, args.sources.split(",") if args.sources else None, args.force)
        if args.command == "curate":
            _curate(recipe, sha256, beam_args, args.force)
        elif args.command == "build":
            _build(recipe, sha256, beam_args, args.force)
        elif args.command == "card":
            _card(recipe, args.force)
        elif args.command == "corpus":
            return _corpus(recipe, sha256, beam_args, args.force)
    except DryRun as done:
        print(done)
        return OK
    except (StageError, FileNotFoundError, ValueError, KeyError) as error:  # a RecipeError is a ValueError
        print(f"gap-replay {args.command}: error: {_message(error)}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        again = "run it again" if args.command == "parse" else "run it again to resume"
        print(f"gap-replay {args.command}: interrupted; {again}", file=sys.stderr)
        return 130
    except Exception as error:  # every failure reaches the user as a message and an exit code, not a traceback
        if args.verbose:
            traceback.print_exc()
        print(f"gap-replay {args.command}: error: {_message(error)}", file=sys.stderr)
        return FAILED
    return OK


if __name__ == "__main__":
    sys.exit(main())
