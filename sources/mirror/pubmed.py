"""The PubMed part of the offline mirror: NCBI's baseline and update folders with small files and their `.md5`s.

The readable XML lives in `data/pubmed/<folder>/` (`baseline/`, `updatefiles/`); the site gets it gzipped
byte-reproducibly (fixed mtime and name), so the md5 files never change between builds. The update file revises
one baseline article, adds one and deletes another; its header comment names them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

PUBMED = Path("ftp.ncbi.nlm.nih.gov/pubmed")
FOLDERS = ("baseline", "updatefiles")


def gzip_bytes(data: bytes, name: str) -> bytes:
    """`data` gzipped with `name` in the header and mtime 0, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


def md5_line(data: bytes, name: str) -> str:
    """An NCBI `.md5` file's content: `MD5(name)= <hex digest>`."""
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n"


def build(data: Path, site: Path) -> None:
    """Write every `data/pubmed/<folder>/pubmed*.xml` as `<site>/ftp.ncbi.nlm.nih.gov/pubmed/<folder>/<name>.gz`."""
    for folder_name in FOLDERS:
        folder = site / PUBMED / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        for source in sorted((data / "pubmed" / folder_name).glob("pubmed*.xml")):
            name = source.name + ".gz"
            packed = gzip_bytes(source.read_bytes(), name)
            (folder / name).write_bytes(packed)
            (folder / f"{name}.md5").write_text(md5_line(packed, name), encoding="ascii")
