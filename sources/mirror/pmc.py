"""The PMC part of the offline mirror: Open Access bulk packages built from the JATS articles in `data/pmc/<subset>/`.

Each subset folder becomes `<site>/ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/<subset>/xml/`, with one baseline package
per PMCID block (`oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18.tar.gz`) and its file lists (`.filelist.csv` and
the tab-separated `.filelist.txt`). Archives are byte-reproducible: sorted members, mtime 0, owner 0 without names,
mode 0644, gzip header without name or time. The lists give each article its subset's licence term, as NCBI's do.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import tarfile
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from lxml import etree

from gap_replay.sources import jats

OA_BULK = Path("ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk")
BASELINE_DATE = "2026-06-18"
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LICENSE_TERMS = {"oa_comm": "CC BY", "oa_noncomm": "CC BY-NC", "oa_other": "NO-CC CODE"}
HEADER = (
    "Article File",
    "Article Citation",
    "AccessionID",
    "LastUpdated (YYYY-MM-DD HH:MM:SS)",
    "PMID",
    "License",
    "Retracted",
)


@dataclass(frozen=True)
class Entry:
    """One article of a package: its path in the archive, its file-list row and its bytes."""

    block: str
    row: tuple[str, ...]
    data: bytes

    @property
    def member(self) -> str:
        return self.row[0]


def pmcid_block(pmcid: str) -> str:
    """NCBI's folder for a PMCID, by millions: PMC11000001 -> PMC011xxxxxx."""
    return f"PMC{pmcid.removeprefix('PMC').zfill(9)[:3]}xxxxxx"


def citation(root: etree._Element, date: str | None) -> str:
    """A file-list citation such as `J Clin Imaging Res. 2025 Mar 11; 14:e0112`."""
    journal = root.findtext("front/journal-meta/journal-id[@journal-id-type='nlm-ta']") or ""
    meta = root.find("front/article-meta")
    volume, issue = meta.findtext("volume") or "", meta.findtext("issue")
    page = meta.findtext("fpage") or meta.findtext("elocation-id") or ""
    when = date or ""
    if date and len(date) == 10:
        day = datetime.date.fromisoformat(date)
        when = f"{day.year} {MONTH_NAMES[day.month - 1]} {day.day}"
    return f"{journal}. {when}; {volume}{f'({issue})' if issue else ''}:{page}"


def entry(path: Path, subset: str) -> Entry:
    """Read one JATS file of the mirror data into its archive member and file-list row."""
    data = path.read_bytes()
    article = jats.read_article(data)
    if article.pmcid is None:
        raise ValueError(f"{path}: mirror article without a PMCID")
    block = pmcid_block(article.pmcid)
    updated = f"{article.date} 00:00:00" if article.date and len(article.date) == 10 else f"{BASELINE_DATE} 00:00:00"
    row = (
        f"{block}/{article.pmcid}.xml",
        citation(etree.fromstring(data), article.date),
        article.pmcid,
        updated,
        article.pmid or "0",
        LICENSE_TERMS[subset],
        "no",
    )
    return Entry(block, row, data)


def tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    """A gzipped tar of `(name, bytes)` members whose bytes depend on nothing but the members."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gzipped,
        tarfile.open(fileobj=gzipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def filelist(entries: list[Entry], delimiter: str) -> str:
    """A package's file list: NCBI's header, then one row per article."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(item.row for item in entries)
    return out.getvalue()


def build(data: Path, site: Path) -> None:
    """Write each `data/pmc/<subset>/*.nxml` group as baseline packages and file lists under the NCBI folder."""
    for folder in sorted(path for path in (data / "pmc").iterdir() if path.is_dir()):
        subset = folder.name
        entries = sorted((entry(path, subset) for path in folder.glob("*.nxml")), key=lambda item: item.member)
        out = site / OA_BULK / subset / "xml"
        out.mkdir(parents=True, exist_ok=True)
        for block, group in groupby(entries, key=lambda item: item.block):
            items = list(group)
            stem = f"{subset}_xml.{block}.baseline.{BASELINE_DATE}"
            (out / f"{stem}.tar.gz").write_bytes(tar_gz([(item.member, item.data) for item in items]))
            (out / f"{stem}.filelist.csv").write_text(filelist(items, ","), encoding="utf-8")
            (out / f"{stem}.filelist.txt").write_text(filelist(items, "\t"), encoding="utf-8")
