"""The offline mirror: small stand-ins for NCBI's PubMed and PMC folders, the sixteen guideline organisations' sites
and APIs, and RedPajama, written for this project.

`materialize` writes the site as `<host>/<path>` files (byte-for-byte reproducible); `server.serve` puts it on a
loopback port, and the polite client, given `mirror=<base url>`, sends `https://<host>/<path>` there instead.
"""

from __future__ import annotations

import importlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from gap_replay.sources.guidelines import KEYS
from gap_replay.sources.mirror import pmc, pubmed, redpajama

DATA = Path(__file__).parent / "data"
PUBLISHED = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # the mirror's files' modification time
GUIDELINES = tuple(importlib.import_module(f"{__name__}.{key}") for key in KEYS)  # a stand-in per organisation
BUILDERS = (pubmed.build, pmc.build, *(organisation.build for organisation in GUIDELINES), redpajama.build)


def materialize(site: Path) -> Path:
    """(Re)write the whole mirror site under `site` and return it. Every file gets the same fixed modification time,
    so the server's ETag and Last-Modified are the same on every build, as a real site's are between two crawls."""
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for build in BUILDERS:
        build(DATA, site)
    for path in site.rglob("*"):
        os.utime(path, (PUBLISHED, PUBLISHED))
    return site
