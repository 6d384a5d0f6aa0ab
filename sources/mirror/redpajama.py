"""The RedPajama-v1 stand-in: `data.together.xyz/redpajama-data-1T/v1.0.0/` with its `urls.txt` listing.

The JSONL files in `data/redpajama/<subset>/` are served as they are; `urls.txt` lists them one URL per line, the
layout of the real listing. They hold general-domain text written for this project, including planted duplicates:
an arXiv record repeated in a second file, a wikipedia record equal to a PubMed mirror abstract (title, blank line,
abstract), and a wikipedia record that is a near copy of a WHO mirror page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BASE_URL = "https://data.together.xyz/redpajama-data-1T/v1.0.0"
ROOT = Path("data.together.xyz/redpajama-data-1T/v1.0.0")


def build(data: Path, site: Path) -> None:
    """Copy `data/redpajama/<subset>/*.jsonl` under the site and write the `urls.txt` listing them."""
    source = data / "redpajama"
    root = site / ROOT
    urls = []
    for path in sorted(source.glob("*/*.jsonl")):
        relative = path.relative_to(source).as_posix()
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / relative)
        urls.append(f"{BASE_URL}/{relative}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "urls.txt").write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
