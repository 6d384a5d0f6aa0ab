"""The fetch stage: every enabled source downloads its raw bytes under `<output>/raw/<source>/`.

The only stage that touches the network. With `mirror: true` the bundled mirror is served on a loopback port and
the polite client sends every request there, so the sample recipe runs the real fetch code offline.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from gap_replay.http import PoliteClient
from gap_replay.recipe import Recipe
from gap_replay.sources import source_module
from gap_replay.sources.base import FetchSummary

log = logging.getLogger(__name__)


@contextlib.contextmanager
def mirror_server(enabled: bool, site: Path | None = None) -> Iterator[str | None]:
    """Serve a mirror site on loopback for the duration of a fetch (yields its base URL), or do nothing.

    `site` is a ready site folder (`<host>/<path>` files); without it the bundled mirror is materialized.
    """
    if not enabled:
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


def run_fetch(
    recipe: Recipe, sources: Sequence[str] | None = None, mirror_site: Path | None = None
) -> dict[str, FetchSummary]:
    """Fetch the enabled sources (or the named subset); a failed file is counted, never fatal."""
    wanted = [source for source in recipe.sources.enabled() if sources is None or source in sources]
    raw = recipe.output_dir / "raw"
    summaries: dict[str, FetchSummary] = {}
    with (
        mirror_server(recipe.mirror, mirror_site) as mirror,
        PoliteClient.from_config(recipe.http, mirror=mirror) as client,
    ):
        for source in wanted:
            config = getattr(recipe.sources, source)
            summaries[source] = source_module(source).fetch(config, raw / source, client)
    return summaries
