"""Data cards: what is in the corpus and why, from `stats.json`, the curated Parquet and the manifest.

Byte-stable for the same inputs (no timestamps, sorted tables), so a card diff is a corpus diff.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from gap_replay.documents import SOURCES
from gap_replay.eval.report import markdown_table
from gap_replay.files import write_atomic
from gap_replay.lengths import length_summary
from gap_replay.parquet import PARQUET_SCHEMA, SPLIT_FILES
from gap_replay.plots import drop_plot, token_plot
from gap_replay.shards.indexed import IndexedDataset

DUPLICATE_REASONS = ("superseded_version", "exact_duplicate", "near_duplicate")
TOKEN_PLOT = "corpus_tokens.png"
DROP_PLOT = "corpus_drops.png"


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2%}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def curated_counts(paths: Iterable[Path]) -> dict[str, Counter]:
    """Documents per (source, subsource), per (source, licence), per (source, split) and per (organisation, licence,
    redistributable) for guidelines, in the curated Parquet files (a file's split is in its name)."""
    counts: dict[str, Counter] = {
        "subsource": Counter(),
        "license": Counter(),
        "organisation": Counter(),
        "split": Counter(),
    }
    for path in sorted(paths):
        table = pq.read_table(path, columns=["source", "subsource", "license", "meta"]).to_pydict()
        split = next((split for split, name in SPLIT_FILES.items() if path.name.startswith(f"{name}-")), "train")
        rows = zip(table["source"], table["subsource"], table["license"], table["meta"], strict=True)
        for source, subsource, license, meta in rows:
            counts["split"][(source, split)] += 1
            counts["subsource"][(source, subsource)] += 1
            counts["license"][(source, license or "unknown")] += 1
            if source == "guidelines":
                redistributable = json.loads(meta or "{}").get("redistributable") is True
                counts["organisation"][(subsource, license or "unknown", "yes" if redistributable else "no")] += 1
    return counts


def token_lengths(manifest: dict[str, Any], tokens_dir: Path) -> dict[str, list[int]]:
    """Per split, the token counts (EOS included) of every document copy in its shards, read from their indexes."""
    lengths: dict[str, list[int]] = {}
    for shard in manifest["shards"]:
        lengths.setdefault(shard["split"], []).extend(IndexedDataset(tokens_dir / shard["path"]).sizes.tolist())
    return lengths


SUMMARY_COLUMNS = ("documents", "p10", "p50", "p90", "max", "mean")


def length_rows(lengths: dict[str, list[int]]) -> list[list[Any]]:
    """split, documents, the 10th, 50th and 90th percentiles (the lower of two ranks), the longest, the mean."""
    summaries = ((split, length_summary(sizes)) for split, sizes in lengths.items() if sizes)
    return [[split, *(summary[column] for column in SUMMARY_COLUMNS)] for split, summary in summaries]


def _figures(summary: dict[str, float]) -> str:
    """`p10 / median / p90 / longest` of a length summary."""
    return " / ".join(f"{summary[column]:,}" for column in ("p10", "p50", "p90", "max"))


def source_length_rows(manifest: dict[str, Any], sources: list[str]) -> list[list[Any]]:
    """source, split, copies, then tokens and characters as `p10 / median / p90 / longest`, from the manifest's
    per-source length summaries (build's, over every document copy in the shards)."""
    rows = []
    for split, by_source in manifest.get("lengths", {}).items():
        for source in sources:
            summary = by_source.get(source)
            if summary and summary["tokens"]["documents"]:
                tokens, characters = summary["tokens"], summary["characters"]
                rows.append([source, split, tokens["documents"], _figures(tokens), _figures(characters)])
    return rows


def _split_totals(manifest: dict[str, Any], source: str) -> list[int]:
    row = []
    for split in ("train", "valid"):
        entry = manifest["totals"][split]["sources"].get(source, {"documents": 0, "tokens": 0})
        row += [entry["documents"], entry["tokens"]]
    return row


def _curation_rows(stats: dict[str, Any], sources: list[str]) -> list[list[Any]]:
    rows = []
    for source in sources:
        entry = stats["curate"]["sources"].get(source, {})
        dropped = sum(entry.get("dropped", {}).values())
        rows.append([source, entry.get("files", 0), entry.get("parsed", 0), dropped, entry.get("kept", 0)])
    return rows


def _drop_rows(stats: dict[str, Any], sources: list[str]) -> list[list[Any]]:
    return [
        [source, reason, count]
        for source in sources
        for reason, count in sorted(stats["curate"]["sources"].get(source, {}).get("dropped", {}).items())
    ]


def _dedup_rows(stats: dict[str, Any], sources: list[str]) -> list[list[Any]]:
    rows = []
    for source in sources:
        entry = stats["curate"]["sources"].get(source, {})
        dropped = entry.get("dropped", {})
        clusters = entry.get("clusters", {}).get("near", 0)
        rows.append([source, *(dropped.get(reason, 0) for reason in DUPLICATE_REASONS), clusters])
    return rows


def _sections(stats: dict[str, Any], manifest: dict[str, Any], counts: dict[str, Counter], sources: list[str]):
    yield "## Documents and tokens\n\n" + _table(
        ["source", "train documents", "train tokens", "valid documents", "valid tokens"],
        ([source, *_split_totals(manifest, source)] for source in sources),
    )
    by_source = source_length_rows(manifest, sources)
    if by_source:
        yield (
            "## Document lengths per source\n\nEvery document copy in the shards: 10th percentile / median / "
            + ("90th percentile / longest.\n\n")
            + _table(["source", "split", "copies", "tokens", "characters"], by_source)
        )
    yield "## Curation\n\n" + _table(
        ["source", "raw files", "parsed", "dropped", "kept"], _curation_rows(stats, sources)
    )
    drops = _drop_rows(stats, sources)
    yield "## Drops by reason\n\n" + (_table(["source", "reason", "documents"], drops) if drops else "None.")
    yield "## Deduplication\n\n" + _table(
        ["source", "superseded versions", "exact duplicates", "near duplicates", "near-duplicate clusters kept"],
        _dedup_rows(stats, sources),
    )
    yield "## Subsources\n\n" + _table(
        ["source", "subsource", "documents"],
        ([s, sub, n] for (s, sub), n in sorted(counts["subsource"].items()) if s in sources),
    )
    yield "## Licences\n\n" + _table(
        ["source", "licence", "documents"],
        ([s, lic, n] for (s, lic), n in sorted(counts["license"].items()) if s in sources),
    )
    shard_licences = _shard_licence_rows(manifest, sources)
    if shard_licences:
        yield "## Licences in the shards\n\nDocument copies in the shards (epochs and the replay draw applied).\n\n" + (
            _table(["source", "licence", "train copies", "valid copies"], shard_licences)
        )
    if "guidelines" in sources and counts["organisation"]:
        yield "## Guideline organisations: licence and redistribution\n\n" + _table(
            ["organisation", "licence", "redistributable", "documents"],
            (
                [org, lic, redistributable, n]
                for (org, lic, redistributable), n in sorted(counts["organisation"].items())
            ),
        )
    if "replay" in sources:
        yield "## Replay: the curated pool and what build drew from it\n\n" + _table(
            ["split", "pool documents", "drawn documents", "drawn tokens", "pool drawn"], _replay_rows(manifest, counts)
        )
    report = stats["curate"].get("decontamination")
    if report is not None:
        yield "## Benchmark decontamination\n\n" + _decontamination(report, sources)
    errors = [error for error in stats["curate"].get("parse_errors", []) if error["source"] in sources]
    if errors:
        yield "## Files that could not be read\n\n" + _table(
            ["source", "file", "reason"], ([e["source"], os.path.basename(e["file"]), e["detail"]] for e in errors)
        )


def _shard_licence_rows(manifest: dict[str, Any], sources: list[str]) -> list[list[Any]]:
    """source, licence, and the document copies with it in the train and valid shards, from the manifest."""
    copies: Counter = Counter()
    for shard in manifest["shards"]:
        for source, licences in shard.get("license_documents", {}).items():
            for licence, count in licences.items():
                copies[(source, licence, shard["split"])] += count
    keys = sorted({(source, licence) for source, licence, _ in copies if source in sources})
    splits = ("train", "valid")
    return [[source, licence, *(copies[(source, licence, split)] for split in splits)] for source, licence in keys]


def _replay_rows(manifest: dict[str, Any], counts: dict[str, Counter]) -> list[list[Any]]:
    """Per split: replay documents curated (the pool build draws from), the copies drawn into the shards and their
    tokens, and the share of the pool drawn (copies over pool documents)."""
    rows = []
    for split in ("train", "valid"):
        pool = counts["split"][("replay", split)]
        drawn = manifest["totals"].get(split, {}).get("sources", {}).get("replay", {"documents": 0, "tokens": 0})
        share = f"{drawn['documents'] / pool:.1%}" if pool else "-"
        rows.append([split, pool, drawn["documents"], drawn["tokens"], share])
    return rows


def _decontamination(report: dict[str, Any], sources: list[str]) -> str:
    """The benchmarks kept out (file, sha256, items) and what each removed per source: documents cut, dropped for
    holding an item, dropped by id, and the words removed."""
    cut = [source for source, action in report["action"].items() if action == "cut"]
    head = (
        f"Word {report['ngram']}-grams of every benchmark question and option; an item counts as present when "
        f"{report['min_coverage']:.0%} of its n-grams are in a document. Cut sources lose the matched span with "
        f"{report['margin_words']} words on each side: {', '.join(cut) or 'none'}; the others lose the document."
    )
    files = _table(
        ["benchmark", "file", "sha256", "items", "blocked ids"],
        (
            [
                entry["name"],
                os.path.basename(entry["path"]),
                entry["sha256"][:16],
                entry["items"],
                entry["ids"]["count"] if entry.get("ids") else 0,
            ]
            for entry in report["benchmarks"]
        ),
    )
    removed = _table(
        ["benchmark", "source", "documents cut", "documents dropped", "dropped by id", "words removed"],
        (
            [
                entry["name"],
                source,
                *(entry["removed"]["sources"][source]["documents"][action] for action in ("cut", "drop", "id")),
                sum(entry["removed"]["sources"][source]["tokens"].values()),
            ]
            for entry in report["benchmarks"]
            for source in sources
            if source in entry["removed"]["sources"]
        ),
    )
    return f"{head}\n\n{files}\n\n{removed}"


def render_card(
    stats: dict[str, Any],
    manifest: dict[str, Any],
    counts: dict[str, Counter],
    source: str | None,
    lengths: dict[str, list[int]] | None = None,
    evaluations: Sequence[dict[str, Any]] = (),
) -> str:
    """Markdown of the corpus card (source None, with the shards' document lengths and the evaluations of models
    trained on the corpus) or of one source's card."""
    sources = [source] if source else [s for s in SOURCES if s in stats["curate"]["sources"]]
    title = f"# {manifest['name']}: {source}" if source else f"# {manifest['name']}: corpus"
    tokenizer = manifest["tokenizer"]
    head = [
        title,
        f"Recipe `{manifest['name']}` (sha256 `{manifest['recipe_sha256'][:16]}`), tokenizer `{tokenizer['name']}` "
        f"(vocabulary {tokenizer['vocab_size']:,}, EOS id {tokenizer['eos_id']}), shards as `{manifest['dtype']}`.",
    ]
    if source is None:
        mix = manifest.get("mix", {})
        shares = mix.get("achieved_token_shares", {}).get("train", {})
        head.append(
            f"Replay target: {mix.get('replay_share_target', 0):.2%} of training tokens; achieved: "
            + ", ".join(f"{name} {share:.2%}" for name, share in shares.items())
            + "."
        )
        drops = f"![Documents kept and dropped per reason, log scale]({DROP_PLOT})"
        head.append(f"![Tokens per source]({TOKEN_PLOT})\n\n{drops}")
    sections = list(_sections(stats, manifest, counts, sources))
    if source is None and lengths:
        header = ["split", "documents", "10th percentile", "median", "90th percentile", "longest", "mean"]
        sections.insert(1, "## Document lengths in tokens\n\n" + _table(header, length_rows(lengths)))
    if source is None and evaluations:
        tables = "\n".join(markdown_table(results) for results in evaluations)
        sections.append(f"## Models trained on this corpus, evaluated (`gap-replay eval`)\n\n{tables}".rstrip())
    return "\n\n".join([*head, *sections]) + "\n"


def write_cards(
    stats: dict[str, Any],
    manifest: dict[str, Any],
    curated: Iterable[Path],
    cards_dir: Path,
    tokens_dir: Path,
    evaluations: Sequence[dict[str, Any]] = (),
) -> list[Path]:
    """Write `corpus.md` with its plots and one `<source>.md` per curated source; returns the paths."""
    counts = curated_counts(curated)
    lengths = token_lengths(manifest, tokens_dir)
    cards_dir.mkdir(parents=True, exist_ok=True)
    sources = [source for source in SOURCES if source in stats["curate"]["sources"]]
    written = [
        token_plot(manifest, sources, cards_dir / TOKEN_PLOT),
        drop_plot(stats, sources, cards_dir / DROP_PLOT),
    ]
    for source in [None, *(s for s in SOURCES if s in stats["curate"]["sources"])]:
        path = cards_dir / f"{source or 'corpus'}.md"
        write_atomic(path, render_card(stats, manifest, counts, source, lengths, evaluations))
        written.append(path)
    return written


def dataset_card(name: str, sources: Iterable[str]) -> str:
    """README.md for `<output>/curated/`, so `datasets.load_dataset(<output>/curated)` reads the Parquet: features
    declared from the Parquet schema (every column a string; `meta` a JSON object in a string), the train and
    validation splits build uses, and a config per source besides the default one of every source."""
    lines = ["---", "dataset_info:", "  features:"]
    for field in PARQUET_SCHEMA:
        lines += [f"  - name: {field.name}", f"    dtype: {field.type}"]
    lines += ["configs:", "- config_name: default", "  default: true", *_split_files("*")]
    for source in sources:
        lines += [f"- config_name: {source}", *_split_files(source)]
    lines += ["---", "", f"# {name}: curated documents", ""]
    lines.append(
        "One row per document: `id`, `source`, `subsource`, `title`, `text`, `url`, `license`, `date`, `lang`, "
        "and `meta` (a JSON string of source-specific fields: `json.loads` it). Licences differ per row: read the "
        "`license` column before redistributing. Two splits, `train` and `validation`, are build's: a document's "
        "split is fixed by a hash of its id and the recipe's seed (`split.valid_fraction` of ids go to validation), "
        "so the shards' `valid` split holds the validation documents here. The replay rows are the pool build draws "
        "from by token share; the ones it drew are listed, with their split, in `../tokens/replay_drawn.tsv` "
        "(`split<TAB>id`): filter on it to keep only them."
    )
    return "\n".join(lines) + "\n"


def _split_files(folder: str) -> list[str]:
    """The `data_files` of a config whose sources' folders match `folder`: one entry per split."""
    lines = ["  data_files:"]
    for name in SPLIT_FILES.values():
        lines += [f"  - split: {name}", f'    path: "{folder}/{name}-*.parquet"']
    return lines
