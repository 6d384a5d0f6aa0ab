"""PubMed Central Open Access: the bulk JATS packages (commercial, non-commercial, other) and their file lists.

Fetch reads each subset's NCBI folder listing (`<url>/<subset>/xml/`) and downloads the baseline packages, then the
incremental ones, each after its `.filelist.csv`. Parse streams a package's members without unpacking it to disk and
turns each JATS article into a Document (see `jats`); the file list next to the package gives each article's
licence, PMID, last update and retraction status. Damaged members and archives are reported in a ParseError raised
after every good article has been yielded.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient
from gap_replay.progress import bar
from gap_replay.sources import jats
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log

if TYPE_CHECKING:  # the recipe's models are for annotations here; parsing needs none
    from gap_replay.recipe import PmcConfig

NAME = "pmc"
RAW_PATTERNS = ("**/*.tar.gz", "**/*.nxml", "**/*.xml")

ARTICLE_URL = "https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"
PACKAGE = re.compile(
    r"(?P<subset>oa_comm|oa_noncomm|oa_other)_xml\.(?:PMC\d{3}x{6}\.baseline|incr)\.\d{4}-\d{2}-\d{2}\.tar\.gz"
)
HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
SUBSET_IN_PATH = re.compile(r"(?:^|[/\\._])(oa_comm|oa_noncomm|oa_other)(?=[/\\._]|$)")
PMCID_IN_NAME = re.compile(r"PMC\d+")
PACKAGE_SUFFIXES = (".tar.gz", ".tgz")
ARTICLE_SUFFIXES = (".xml", ".nxml")
NOTICE_TYPES = frozenset({"retraction", "correction", "expression-of-concern"})
MAX_REPORTED = 20  # members named in one ParseError message; the count covers them all


@dataclass(frozen=True)
class FileListEntry:
    """One row of a package's file list: what NCBI states about an article beside its XML."""

    pmcid: str
    pmid: str | None
    license: str | None
    last_updated: str | None
    retracted: bool


# --- fetch -------------------------------------------------------------------------------------------------------


def listed_packages(listing: str, subset: str) -> list[str]:
    """The subset's baseline packages, then its incremental ones, each sorted by name, from a folder listing."""
    names = {href.rsplit("/", 1)[-1] for href in HREF.findall(listing)}
    packages = [name for name in names if (match := PACKAGE.fullmatch(name)) and match["subset"] == subset]
    baseline = sorted(name for name in packages if ".baseline." in name)
    incremental = sorted(name for name in packages if ".incr." in name)
    return baseline + incremental


def filelist_name(package: str) -> str:
    """`oa_comm_xml.PMC000xxxxxx.baseline.2026-06-18.tar.gz` -> `...baseline.2026-06-18.filelist.csv`."""
    for suffix in PACKAGE_SUFFIXES:
        if package.endswith(suffix):
            return package[: -len(suffix)] + ".filelist.csv"
    raise ValueError(f"{package}: not a .tar.gz package name")


def fetch(config: PmcConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download each subset's packages, file list first, into `raw_dir/<subset>/`; `limit` caps packages per subset."""
    summary = FetchSummary(NAME)
    log = fetch_log(raw_dir)
    root = config.url if config.url.endswith("/") else config.url + "/"
    planned: list[tuple[str, str, str]] = []
    for subset in config.subsets:
        folder = f"{root}{subset}/xml/"
        try:
            packages = listed_packages(client.get_text(folder), subset)
        except HttpError as error:
            summary.fail(folder, f"listing failed: {error.reason}")
            continue
        if not packages:
            summary.fail(folder, f"listing names no {subset} package (an error page, or not an NCBI folder)")
            continue
        planned += [(folder, subset, package) for package in packages[: config.limit]]
    for folder, subset, package in bar(planned, desc="pmc", unit="packages"):
        for name in (filelist_name(package), package):
            url = folder + name
            summary.download(client, url, raw_dir / subset / name, log)
    return summary


# --- file lists and licences ---------------------------------------------------------------------------------------


def read_filelist(text: str, name: str) -> dict[str, FileListEntry]:
    """File-list rows by PMCID; columns are found by header name (current and older NCBI layouts)."""
    rows = csv.reader(io.StringIO(text))
    header = [re.sub(r"\(.*?\)|[\s_]", "", column).lower() for column in next(rows, [])]

    def column(*names: str) -> int | None:
        return next((header.index(found) for found in names if found in header), None)

    accession = column("accessionid")
    if accession is None:
        raise ParseError(f"{name}: not a PMC file list (no AccessionID column)")
    pmid, license_term = column("pmid"), column("license")
    updated, retracted = column("lastupdated"), column("retracted")

    def cell(row: list[str], index: int | None) -> str | None:
        value = row[index].strip() if index is not None and index < len(row) else ""
        return value or None

    entries = {}
    for row in rows:
        pmcid = cell(row, accession)
        if pmcid is None:
            continue
        entries[pmcid] = FileListEntry(
            pmcid=pmcid,
            pmid=pmid_value if (pmid_value := cell(row, pmid)) not in (None, "0") else None,
            license=cell(row, license_term),
            last_updated=cell(row, updated),
            retracted=(cell(row, retracted) or "").lower() == "yes",
        )
    return entries


def filelist_license(term: str | None, xml_license: str | None) -> str | None:
    """A file-list licence term as an SPDX-like id; the article's own licence supplies the version when it agrees:
    `CC BY` -> `CC-BY-3.0` when the XML says `.../by/3.0/`, else `CC-BY` (the list states no version, and neither
    does the article); `CC0` -> `CC0-1.0`; others as given."""
    term = " ".join((term or "").split())
    match = re.fullmatch(r"CC[\s-]+(BY(?:-(?:NC|ND|SA))*)", term, re.IGNORECASE)
    if match:
        kind = f"CC-{match.group(1).upper()}"
        if xml_license and re.fullmatch(rf"{kind}-\d\.\d(-IGO)?", xml_license):
            return xml_license
        return kind
    if term.upper() == "CC0":
        return "CC0-1.0"
    if "public domain" in term.lower():
        return "public-domain"
    return term or xml_license


def _sibling_filelist(name: str) -> dict[str, FileListEntry]:
    """The entries of the file list beside a package (local, gs://, s3://); none there gives no entries."""
    path = filelist_name(name)
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        text = handle.read().decode("utf-8-sig", errors="replace")
    return read_filelist(text, path)


# --- parse ---------------------------------------------------------------------------------------------------------


def article_document(
    article: jats.Article,
    pmcid: str,
    file: str,
    subset: str | None = None,
    entry: FileListEntry | None = None,
) -> Document:
    """The Document of one article; the file-list entry, when there is one, wins for licence, PMID and retraction."""
    notice = article.article_type if article.article_type in NOTICE_TYPES else None
    meta = {
        "pmcid": pmcid,
        "pmid": (entry.pmid if entry else None) or article.pmid,
        "doi": article.doi,
        "article_type": article.article_type,
        "journal": article.journal,
        "subset": subset,
        "last_updated": entry.last_updated if entry else None,
        "retracted": bool(entry and entry.retracted) or notice is not None,
        "file": file,
    }
    if notice:
        meta["notice_type"] = notice
    return Document(
        id=f"pmc:{pmcid}",
        source=NAME,
        subsource=NAME,
        title=article.title,
        text=article.text,
        url=ARTICLE_URL.format(pmcid=pmcid),
        license=filelist_license(entry.license, article.license) if entry else article.license,
        date=article.date,
        lang=article.lang,
        meta=meta,
    )


def subset_of(name: str) -> str | None:
    """oa_comm, oa_noncomm or oa_other when the path names one."""
    match = SUBSET_IN_PATH.search(name)
    return match.group(1) if match else None


def parse(stream: BinaryIO, name: str, *, max_table_cells: int = 400) -> Iterator[Document]:
    """Documents of one raw file: a `.tar.gz` package (every article in it) or a bare `.nxml`/`.xml` article."""
    if name.endswith(PACKAGE_SUFFIXES):
        yield from _parse_package(stream, name, max_table_cells)
        return
    try:
        article = jats.read_article(stream.read(), max_table_cells=max_table_cells)
    except ParseError as error:
        raise ParseError(f"{name}: {error}") from error
    file = name.replace("\\", "/").rsplit("/", 1)[-1]
    pmcid = article.pmcid or _pmcid_from_name(file)
    if not article.has_content:
        raise ParseError(f"{name}: empty article (no abstract or body text)")
    if pmcid is None:
        raise ParseError(f"{name}: no PMCID in the article or the file name")
    yield article_document(article, pmcid, file, subset_of(name))


class _Gunzipped:
    """Decompressed reads that hand over every byte before a truncation error (`read1`, not the buffering `read`)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._file = gzip.GzipFile(fileobj=stream, mode="rb")

    def read(self, size: int = -1) -> bytes:
        return self._file.read1(size)


def _parse_package(stream: BinaryIO, name: str, max_table_cells: int) -> Iterator[Document]:
    """Every article of a package, in archive order; problems are gathered and raised together at the end.

    The gzip layer is read by `gzip` rather than by tarfile's `r|gz`, because tarfile takes a stream cut at a
    member boundary for a complete archive; `gzip` reports the missing end-of-stream marker.
    """
    problems = []
    try:
        entries = _sibling_filelist(name)
    except (ParseError, OSError) as error:
        entries = {}
        problems.append(f"unusable file list, licences taken from the XML ({error})")
    subset = subset_of(name)
    skipped: list[str] = []
    gunzipped = _Gunzipped(stream)
    try:
        with tarfile.open(fileobj=gunzipped, mode="r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                if not member.name.endswith(ARTICLE_SUFFIXES):
                    skipped.append(f"{member.name}: not an XML file")
                    continue
                handle = archive.extractfile(member)
                data = handle.read() if handle is not None else b""
                try:
                    article = jats.read_article(data, max_table_cells=max_table_cells)
                except ParseError as error:
                    skipped.append(f"{member.name}: {error}")
                    continue
                pmcid = article.pmcid or _pmcid_from_name(member.name)
                if not article.has_content:
                    skipped.append(f"{member.name}: empty article")
                elif pmcid is None:
                    skipped.append(f"{member.name}: no PMCID")
                else:
                    yield article_document(article, pmcid, member.name, subset, entries.get(pmcid))
        while gunzipped.read(1 << 16):
            pass  # reach the gzip trailer, so a cut or corrupt end is noticed
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        problems.append(f"truncated or damaged archive ({type(error).__name__}: {error})")
    if skipped:
        listed = "; ".join(skipped[:MAX_REPORTED]) + ("; ..." if len(skipped) > MAX_REPORTED else "")
        problems.append(f"{len(skipped)} member(s) skipped: {listed}")
    if problems:
        raise ParseError(f"{name}: " + "; ".join(problems))


def _pmcid_from_name(name: str) -> str | None:
    match = PMCID_IN_NAME.search(name.replace("\\", "/").rsplit("/", 1)[-1])
    return match.group() if match else None
