"""The fetch stage: every enabled source downloads its raw bytes under `<output>/raw/<source>/`.

The only stage that touches the network. With `mirror: true` the bundled mirror is served on a loopback port (or,
with `mirror: <url>`, a mirror already served there is used) and the polite client sends every request there, so
the sample recipe runs the real fetch code offline.

Fetch is incremental: a file the fetch log shows in place and intact is not requested again. Its completion record
(`stages`) is removed as it starts and written when it ends, listing every raw file the fetch logs vouch for (in
place, with the size and sha256 it was fetched with); curate reads exactly those files, and refuses to start
without the record.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gap_replay import stages
from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import Recipe
from gap_replay.sources import source_module
from gap_replay.sources.base import FETCH_LOG, FetchSummary

log = logging.getLogger(__name__)

STAGE = "fetch"


@contextlib.contextmanager
def mirror_server(mirror: bool | str, site: Path | None = None) -> Iterator[str | None]:
    """The base URL requests go to for a recipe's `mirror`: None (the real sites), the URL it names, or the bundled
    mirror (or `site`, a ready `<host>/<path>` folder) served on loopback for the duration of the block."""
    if isinstance(mirror, str):
        yield mirror.rstrip("/")
        return
    if not mirror:
        yield None
        return
    from gap_replay.sources.mirror import materialize
    from gap_replay.sources.mirror.server import serve

    with contextlib.ExitStack() as stack:
        if site is None:
            site = materialize(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gap-replay-mirror-"))))
        base_url = stack.enter_context(serve(site))
        log.info("serving the mirror at %s", base_url)
        yield base_url


def fetched_files(output: Path, sources: Sequence[str]) -> list[dict[str, Any]]:
    """Every raw file of these sources that a fetch log records as fetched intact and that is still in place with
    that size: path (relative to the output), bytes, sha256. A file whose newest log line is a failure is not."""
    files: dict[str, dict[str, Any]] = {}
    for source in sources:
        for log_path in sorted((output / "raw" / source).rglob(FETCH_LOG)):
            for record in FetchLog(log_path).current():
                if not (record.ok and record.path):
                    continue
                path = log_path.parent / record.path
                if path.is_file() and path.stat().st_size == record.bytes:
                    relative = path.relative_to(output).as_posix()
                    files[relative] = {"path": relative, "bytes": record.bytes, "sha256": record.sha256}
    return [files[path] for path in sorted(files)]


def record_fetch(output: Path, sources: Sequence[str]) -> str:
    """Write fetch's completion record for what the fetch logs of `sources` vouch for; returns its sha256."""
    files = fetched_files(output, sources)
    per_source = {
        source: {
            "files": sum(entry["path"].startswith(f"raw/{source}/") for entry in files),
            "bytes": sum(entry["bytes"] for entry in files if entry["path"].startswith(f"raw/{source}/")),
        }
        for source in sources
    }
    return stages.write_record(output, stages.make_record(STAGE, files, summary={"sources": per_source}))


def run_fetch(
    recipe: Recipe, sources: Sequence[str] | None = None, mirror_site: Path | None = None, force: bool = False
) -> dict[str, FetchSummary]:
    """Fetch the enabled sources (or the named subset); a failed file is counted, never fatal, and the record is
    written at the end either way (the caller reports failures and exits non-zero)."""
    enabled = recipe.sources.enabled()
    unknown = sorted(set(sources or ()) - set(enabled))
    if unknown:
        raise ValueError(f"--sources names source(s) the recipe does not enable: {', '.join(unknown)}")
    wanted = [source for source in enabled if sources is None or source in sources]
    output = recipe.output_dir
    raw = output / "raw"
    summaries: dict[str, FetchSummary] = {}
    with (
        stages.claim(output, force),
        mirror_server(recipe.mirror, mirror_site) as mirror,
        PoliteClient.from_config(recipe.http, mirror=mirror) as client,
    ):
        stages.forget(output, STAGE)
        for source in wanted:
            config = getattr(recipe.sources, source)
            summaries[source] = source_module(source).fetch(config, raw / source, client)
        record_fetch(output, enabled)
    return summaries
