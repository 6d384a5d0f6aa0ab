"""PubMed: NLM's baseline and update files (`pubmedYYnNNNN.xml.gz`, md5-verified), parsed as title + abstract.

Fetch reads NCBI's folder listings and downloads each file against its `.md5`. Parse streams the XML with
`lxml.etree.iterparse`, clearing each record once it is turned into a Document, so memory stays flat on a
200 MB file. Both the current `PubmedArticleSet` layout and the legacy (2016) `MedlineCitationSet` one are read.
Articles without abstract text yield nothing; `DeleteCitation` blocks are skipped here.
"""

from __future__ import annotations

import datetime
import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lxml import etree
from tqdm import tqdm

from gap_replay.documents import Document
from gap_replay.http import FetchLog, HttpError, PoliteClient
from gap_replay.recipe import PubMedConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log

NAME = "pubmed"
RAW_PATTERNS = ("**/*.xml.gz", "**/*.xml")

LICENSE = "NLM-PubMed-terms"
ARTICLE_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
FILE_NAME = re.compile(r"pubmed\d{2}n\d{4}\.xml\.gz")
HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MD5_LINE = re.compile(r"MD5\((?P<name>[^)]+)\)\s*=\s*(?P<md5>[0-9a-fA-F]{32})")
ROOTS = ("PubmedArticleSet", "MedlineCitationSet")
GZIP_MAGIC = b"\x1f\x8b"

RETRACTION_TYPES = frozenset({"Retraction of Publication", "Retracted Publication"})
RETRACTION_REFS = frozenset({"RetractionOf", "RetractionIn"})

# NLM's `Language` codes (MARC / ISO 639-2 bibliographic) to ISO 639-1; codes not listed are kept as given.
LANGUAGES = {
    "afr": "af", "alb": "sq", "ara": "ar", "arm": "hy", "aze": "az", "baq": "eu", "bel": "be", "ben": "bn",
    "bos": "bs", "bul": "bg", "cat": "ca", "chi": "zh", "cze": "cs", "dan": "da", "dut": "nl", "eng": "en",
    "epo": "eo", "est": "et", "fin": "fi", "fre": "fr", "geo": "ka", "ger": "de", "gle": "ga", "glg": "gl",
    "gre": "el", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ice": "is", "ind": "id", "ita": "it",
    "jpn": "ja", "kaz": "kk", "kor": "ko", "lat": "la", "lav": "lv", "lit": "lt", "mac": "mk", "may": "ms",
    "mlt": "mt", "mon": "mn", "nor": "no", "per": "fa", "pol": "pl", "por": "pt", "pus": "ps", "rum": "ro",
    "rus": "ru", "san": "sa", "scc": "sr", "scr": "hr", "slo": "sk", "slv": "sl", "spa": "es", "srp": "sr",
    "swe": "sv", "tha": "th", "tur": "tr", "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi", "wel": "cy",
}  # fmt: skip

MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}  # fmt: skip
MEDLINE_DATE = re.compile(r"\b(?P<year>\d{4})\b(?:\s+(?P<month>[A-Za-z]{3,}))?")


# --- fetch -------------------------------------------------------------------------------------------------------


def listed_files(listing: str) -> list[str]:
    """The `pubmedYYnNNNN.xml.gz` names linked from an NCBI folder listing, sorted and without repeats."""
    return sorted({href for href in HREF.findall(listing) if FILE_NAME.fullmatch(href)})


def md5_of(text: str, name: str) -> str:
    """The hex digest in an NCBI `.md5` file (`MD5(name)= digest`); ValueError if it is not that, or not for `name`."""
    match = MD5_LINE.search(text)
    if match is None or match["name"].strip() != name:
        raise ValueError(f"md5 file is not 'MD5({name})= <hex digest>': {text.strip()[:80]!r}")
    return match["md5"].lower()


def _fetch_listing(
    url: str, folder: Path, log: FetchLog, client: PoliteClient, limit: int | None, optional: bool = False
) -> FetchSummary:
    """Download every file of one listing; `optional`: a listing that is not there (404) is no failure."""
    summary = FetchSummary(NAME)
    try:
        names = listed_files(client.get_text(url))[:limit]
    except HttpError as error:
        if optional and error.status == 404:
            return summary
        summary.failed += 1
        summary.errors.append(f"{url}: listing failed: {error.reason}")
        return summary
    base = url if url.endswith("/") else url + "/"
    for name in tqdm(names, desc=f"pubmed {folder.name}", unit="file", disable=None):
        file_url = base + name
        try:
            md5 = md5_of(client.get_text(file_url + ".md5"), name)
        except (HttpError, ValueError) as error:
            summary.failed += 1
            summary.errors.append(f"{file_url}.md5: {getattr(error, 'reason', error)}")
            continue
        summary.download(client, file_url, folder / name, log, md5=md5)
    return summary


def fetch(config: PubMedConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download the baseline files, then the update files, into `raw_dir/baseline/` and `raw_dir/updatefiles/`."""
    log = fetch_log(raw_dir)
    summary = _fetch_listing(config.baseline_url, raw_dir / "baseline", log, client, config.limit)
    if config.update_url is not None:  # a mirror, or a fresh baseline year, may have no update folder
        updates = _fetch_listing(config.update_url, raw_dir / "updatefiles", log, client, config.limit, optional=True)
        summary.add(updates)
    return summary


# --- parse: one record ---------------------------------------------------------------------------------------------


def flat_text(element: etree._Element | None) -> str:
    """All text inside an element (inline markup such as <i>, <sup>, MathML flattened), whitespace collapsed."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def abstract_paragraphs(abstract: etree._Element | None) -> list[str]:
    """The AbstractText elements in order, each `LABEL: text` when labelled; empty when none has text."""
    if abstract is None:
        return []
    paragraphs = []
    has_text = False
    for part in abstract.iterfind("AbstractText"):
        text = flat_text(part)
        label = " ".join((part.get("Label") or "").split())
        has_text = has_text or bool(text)
        if label and text:
            paragraphs.append(f"{label}: {text}")
        elif label or text:  # a label alone ("LEVEL OF EVIDENCE: 4") is itself the content
            paragraphs.append(label or text)
    return paragraphs if has_text else []


def month_number(value: str | None) -> int | None:
    """A PubDate month given as a number ("02", "2") or an English name ("Feb", "February")."""
    value = (value or "").strip()
    if value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    return MONTHS.get(value[:3].lower())


def medline_date(value: str) -> str | None:
    """First year (and month, when named right after it) of a free-form MedlineDate: "1998 Dec-1999 Jan" -> 1998-12."""
    match = MEDLINE_DATE.search(value)
    if match is None:
        return None
    month = month_number(match["month"]) if match["month"] else None
    return f"{match['year']}-{month:02d}" if month else match["year"]


def pub_date(element: etree._Element | None) -> str | None:
    """ISO date (YYYY-MM-DD, YYYY-MM or YYYY) of a journal PubDate; a Season gives the year only."""
    if element is None:
        return None
    medline = element.findtext("MedlineDate")
    if medline:
        return medline_date(medline)
    year = (element.findtext("Year") or "").strip()
    if not re.fullmatch(r"\d{4}", year):
        return None
    month = month_number(element.findtext("Month"))
    if month is None:
        return year
    day = (element.findtext("Day") or "").strip()
    try:
        return datetime.date(int(year), month, int(day)).isoformat()
    except ValueError:
        return f"{year}-{month:02d}"


def language_code(code: str) -> str:
    """ISO 639-1 for an NLM three-letter language code; an unknown code is returned as given."""
    return LANGUAGES.get(code.lower(), code)


def _texts(element: etree._Element, path: str) -> list[str]:
    return [text for text in (flat_text(found) for found in element.iterfind(path)) if text]


def _article_id(record: etree._Element, id_type: str) -> str | None:
    for article_id in record.iterfind("PubmedData/ArticleIdList/ArticleId"):
        if article_id.get("IdType") == id_type and flat_text(article_id):
            return flat_text(article_id)
    return None


def _doi(record: etree._Element, article: etree._Element) -> str | None:
    if doi := _article_id(record, "doi"):
        return doi
    for location in article.iterfind("ELocationID"):
        if location.get("EIdType") == "doi" and flat_text(location):
            return flat_text(location)
    return None


def _pmcid(record: etree._Element, citation: etree._Element) -> str | None:
    """From PubmedData's ArticleIdList, or (legacy files) from an NLM OtherID like "PMC4688250 [Available on ...]"."""
    if pmcid := _article_id(record, "pmc"):
        return pmcid
    for other in citation.iterfind("OtherID"):
        match = re.match(r"PMC\d+", flat_text(other))
        if other.get("Source") == "NLM" and match:
            return match.group()
    return None


def is_retracted(citation: etree._Element) -> bool:
    """Whether a MedlineCitation is a retraction notice or a retracted publication (by type or cross-reference)."""
    if RETRACTION_TYPES.intersection(_texts(citation, "Article/PublicationTypeList/PublicationType")):
        return True
    references = citation.iterfind("CommentsCorrectionsList/CommentsCorrections")
    return any(reference.get("RefType") in RETRACTION_REFS for reference in references)


def record_document(record: etree._Element, name: str) -> Document | None:
    """The Document of one PubmedArticle (or legacy MedlineCitation); None when it has no abstract text."""
    citation = record if record.tag == "MedlineCitation" else record.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else None
    if article is None:
        return None
    paragraphs = abstract_paragraphs(article.find("Abstract"))
    if not paragraphs:
        return None
    pmid_element = citation.find("PMID")
    pmid = flat_text(pmid_element)
    if not pmid:
        raise ParseError(f"{name}: an article (line {record.sourceline}) has no PMID")
    version = (pmid_element.get("Version") or "1").strip()
    title = flat_text(article.find("ArticleTitle")) or None
    languages = _texts(article, "Language")
    return Document(
        id=f"pubmed:{pmid}",
        source=NAME,
        subsource=NAME,
        title=title,
        text="\n\n".join([title, *paragraphs] if title else paragraphs),
        url=ARTICLE_URL.format(pmid=pmid),
        license=LICENSE,
        date=pub_date(article.find("Journal/JournalIssue/PubDate")),
        lang=language_code(languages[0]) if languages else None,
        meta={
            "pmid": pmid,
            "version": int(version) if version.isdigit() else 1,
            "journal": flat_text(article.find("Journal/Title")) or None,
            "publication_types": _texts(article, "PublicationTypeList/PublicationType"),
            "mesh": _texts(citation, "MeshHeadingList/MeshHeading/DescriptorName"),
            "keywords": _texts(citation, "KeywordList/Keyword"),
            "doi": _doi(record, article),
            "pmcid": _pmcid(record, citation),
            "languages": languages,
            "retracted": is_retracted(citation),
            "file": name.replace("\\", "/").rsplit("/", 1)[-1],
        },
    )


# --- parse: the stream ---------------------------------------------------------------------------------------------


class _Prepended:
    """A binary stream with the bytes already read from its start put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


class _Gunzipped:
    """Decompressed reads that hand over every byte before a truncation error (`read1`, not the buffering `read`)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._file = gzip.GzipFile(fileobj=stream, mode="rb")

    def read(self, size: int = -1) -> bytes:
        return self._file.read1(size)


def _xml_stream(stream: BinaryIO) -> _Prepended | _Gunzipped:
    """The XML bytes of a raw file, gunzipped when it starts with the gzip magic (whatever its name says)."""
    head = stream.read(2)
    prepended = _Prepended(head, stream)
    return _Gunzipped(prepended) if head == GZIP_MAGIC else prepended


def records(stream: BinaryIO, name: str) -> Iterator[etree._Element]:
    """Each PubmedArticle or legacy top-level MedlineCitation, freed (with what came before it) once consumed."""
    events = etree.iterparse(
        _xml_stream(stream),
        events=("end",),
        tag=("PubmedArticle", "MedlineCitation"),
        recover=False,
        resolve_entities=False,
        no_network=True,
    )
    for _, element in events:
        parent = element.getparent()
        if element.tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
            continue  # handled with its PubmedArticle, which also holds the ArticleIdList
        yield element
        element.clear()
        while element.getprevious() is not None:
            del parent[0]
    if events.root is None or events.root.tag not in ROOTS:
        root = "nothing" if events.root is None else f"<{events.root.tag}>"
        raise ParseError(f"{name}: not PubMed XML (root element is {root}, expected <PubmedArticleSet>)")


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """Documents of one PubMed XML file (gzipped or not); damage raises ParseError after every complete record."""
    try:
        for record in records(stream, name):
            document = record_document(record, name)
            if document is not None:
                yield document
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ParseError(f"{name}: damaged gzip data: {error}") from error
    except etree.XMLSyntaxError as error:
        raise ParseError(f"{name}: malformed XML: {error}") from error
