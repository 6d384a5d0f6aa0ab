"""The offline mirror: small stand-ins for NCBI's PubMed and PMC folders, WHO and RedPajama, written for this project.

`materialize` writes the site as `<host>/<path>` files (byte-for-byte reproducible); `server.serve` puts it on a
loopback port, and the polite client, given `mirror=<base url>`, sends `https://<host>/<path>` there instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gap_replay.sources.mirror import pmc, pubmed, redpajama, who

DATA = Path(__file__).parent / "data"
BUILDERS = (pubmed.build, pmc.build, who.build, redpajama.build)


def materialize(site: Path) -> Path:
    """(Re)write the whole mirror site under `site` and return it."""
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for build in BUILDERS:
        build(DATA, site)
    return site
