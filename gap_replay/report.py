"""The one-screen summary printed at the end of `gap-replay corpus`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gap_replay.documents import SOURCES


def corpus_summary(stats: dict[str, Any], manifest: dict[str, Any], manifest_path: Path, seconds: float) -> str:
    """Documents and tokens per source, drops per reason, unreadable files, and where the manifest is."""
    curate = stats["curate"]["sources"]
    totals = manifest["totals"]
    header = f"{'source':<11} {'files':>6} {'parsed':>8} {'kept':>8} {'train docs':>11} {'train tokens':>13}"
    header += f" {'valid docs':>11} {'valid tokens':>13}"
    lines = [f"gap-replay corpus {manifest['name']!r} built in {seconds:.1f} s", "", header, "-" * len(header)]
    for source in (s for s in SOURCES if s in curate):
        entry = curate[source]
        train = totals["train"]["sources"].get(source, {"documents": 0, "tokens": 0})
        valid = totals["valid"]["sources"].get(source, {"documents": 0, "tokens": 0})
        lines.append(
            f"{source:<11} {entry.get('files', 0):>6,} {entry.get('parsed', 0):>8,} {entry.get('kept', 0):>8,} "
            f"{train['documents']:>11,} {train['tokens']:>13,} {valid['documents']:>11,} {valid['tokens']:>13,}"
        )
    lines.append(
        f"{'total':<11} {'':>6} {'':>8} {'':>8} {totals['train']['documents']:>11,} {totals['train']['tokens']:>13,} "
        f"{totals['valid']['documents']:>11,} {totals['valid']['tokens']:>13,}"
    )
    lines += ["", "dropped:"]
    for source in (s for s in SOURCES if s in curate):
        drops = curate[source].get("dropped", {})
        if drops:
            lines.append(f"  {source}: " + ", ".join(f"{reason} {count}" for reason, count in sorted(drops.items())))
    errors = stats["curate"].get("parse_errors", [])
    if errors:
        lines.append(f"unreadable files: {len(errors)}")
        lines += [f"  {error['file']}: {error['detail']}" for error in errors[:5]]
    shares = manifest.get("mix", {}).get("achieved_token_shares", {}).get("train", {})
    if shares:
        lines.append("train token shares: " + ", ".join(f"{name} {share:.2%}" for name, share in shares.items()))
    lines.append(f"manifest: {manifest_path} ({len(manifest['shards'])} shards)")
    return "\n".join(lines)
