"""PubMed: NLM's baseline and update files (`pubmedYYnNNNN.xml.gz`, md5-verified), parsed as title + abstract.

Fetch reads NCBI's folder listings and downloads each file against its `.md5`. Parse inflates the file in chunks
and feeds them to an `lxml` pull parser, clearing each record once it is turned into a Document, so memory stays
flat on a 200 MB file. A record is read by one walk over the children that matter, not by path lookups (each
`find` costs about as much as reading a whole field). Both the current `PubmedArticleSet` layout and the legacy
(2016) `MedlineCitationSet` one are read. Articles without abstract text yield nothing. `lang` is left unset:
`<Language>` is the article's language, not its abstract's (the abstract of a Chinese or Japanese article is
usually English), so it is kept as `meta["article_language"]` and curate decides `lang` from the text.

Update semantics: every Document carries `meta["revision"]`, the year and number of the file it came from (NLM
numbers update files after the baseline), and each PMID of a `DeleteCitation` block becomes a `Deletion` with that same
revision. Curate keeps the newest version of a PMID and drops it when a Deletion is at least as new.
"""

from __future__ import annotations

import datetime
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lxml import etree

from gap_replay.documents import Document
from gap_replay.sources.base import Deletion, FetchSummary, ParseError, fetch_log
from gap_replay.text.lang import iso639_1

if TYPE_CHECKING:  # the recipe's models and the HTTP client are for fetching; `gap-replay parse` starts without them
    from gap_replay.http import FetchLog, PoliteClient
    from gap_replay.recipe import PubMedConfig

NAME = "pubmed"
RAW_PATTERNS = ("**/*.xml.gz", "**/*.xml")

LICENSE = "NLM-PubMed-terms"
ARTICLE_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
FILE_NAME = re.compile(r"pubmed\d{2}n\d{4}\.xml\.gz")
# The year YY and number NNNN that start an NLM file name order revisions; 2016-era files were `medlineYYnNNNN`.
NUMBERED_FILE = re.compile(r"(?:pubmed|medline)(?P<year>\d{2})n(?P<number>\d{4})(?!\d)")
HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
FOLDER_INDEX = re.compile(r"<title>\s*Index of /", re.IGNORECASE)
MD5_LINE = re.compile(r"MD5\((?P<name>[^)]+)\)\s*=\s*(?P<md5>[0-9a-fA-F]{32})")
ROOTS = ("PubmedArticleSet", "MedlineCitationSet")
RECORD_TAGS = ("PubmedArticle", "MedlineCitation", "DeleteCitation")
GZIP_MAGIC = b"\x1f\x8b"
READ_BYTES = 1 << 16  # bytes per read: as fast as larger reads with the pull parser, and less held at once
FEED_BYTES = 1 << 20  # at most this much XML per feed, so a highly compressed stretch cannot balloon memory
# XML per batch of whole records that `gap-replay parse` hands a worker: a few hundred records, so a baseline file
# (about 150 MB of XML) keeps every core busy while each hand-over costs little beside the parsing.
BATCH_BYTES = 1 << 20
HEAD_BYTES = 1 << 16  # a root start tag further into a file than this is not looked for
# A file's root start tag and, per root, the end tag of its top-level records, where a batch may be cut.
ROOT_TAG = re.compile(rb"<(PubmedArticleSet|MedlineCitationSet)(?=[\s/>])[^>]*>")
RECORD_ENDS = {b"PubmedArticleSet": b"</PubmedArticle>", b"MedlineCitationSet": b"</MedlineCitation>"}

RETRACTION_TYPES = frozenset({"Retraction of Publication", "Retracted Publication"})
RETRACTION_REFS = frozenset({"RetractionOf", "RetractionIn"})

MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}  # fmt: skip
MEDLINE_DATE = re.compile(r"\b(?P<year>\d{4})\b(?:\s+(?P<month>[A-Za-z]{3,}))?")
NLM_PMCID = re.compile(r"PMC\d+")
SPLIT_ANYWAY = 80  # texts up to this long are split without looking first: as cheap as the look


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


def is_folder_listing(page: str) -> bool:
    """Whether a page is a web server's folder index ("Index of /pubmed/updatefiles"), as NCBI's are."""
    return FOLDER_INDEX.search(page) is not None


def _fetch_listing(
    url: str, folder: Path, log: FetchLog, client: PoliteClient, limit: int | None, optional: bool = False
) -> FetchSummary:
    """Download every file of one listing. A listing that names no file is a failure (an error page served with
    status 200 lists nothing), except, when `optional`, a missing (404) or truly empty folder."""
    from gap_replay.http import HttpError
    from gap_replay.progress import bar

    summary = FetchSummary(NAME)
    try:
        listing = client.get_text(url)
    except HttpError as error:
        if not (optional and error.status == 404):
            summary.fail(url, f"listing failed: {error.reason}")
        return summary
    names = listed_files(listing)[:limit]
    if not names:
        if not (optional and is_folder_listing(listing)):
            summary.fail(url, "listing names no pubmedYYnNNNN.xml.gz file (an error page, or not an NCBI folder)")
        return summary
    base = url if url.endswith("/") else url + "/"
    for name in bar(names, desc=f"pubmed {folder.name}", unit="files"):
        file_url = base + name
        try:
            md5 = md5_of(client.get_text(file_url + ".md5"), name)
        except (HttpError, ValueError) as error:
            summary.fail(f"{file_url}.md5", getattr(error, "reason", str(error)))
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


def collapsed(text: str) -> str:
    """`text` with every run of whitespace made one space and its ends stripped, as `" ".join(text.split())`.

    A long text with nothing inside to collapse (most abstracts) is only stripped: every whitespace character but
    the plain space is unprintable, and looking for them and for doubled spaces costs less than splitting the text
    into words and joining them again.
    """
    if len(text) > SPLIT_ANYWAY:
        stripped = text.strip()
        if stripped.isprintable() and "  " not in stripped:
            return stripped
    return " ".join(text.split())


def flat_text(element: etree._Element | None) -> str:
    """All text inside an element (inline markup such as <i>, <sup>, MathML flattened), whitespace collapsed."""
    if element is None:
        return ""
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False) if len(element) else element.text
    return collapsed(text) if text else ""


def _child(element: etree._Element | None, tag: str) -> etree._Element | None:
    """The first child with `tag`: a loop over the children, cheaper than lxml's path-based `find`."""
    for child in element if element is not None else ():
        if child.tag == tag:
            return child
    return None


def _texts(elements: Iterable[etree._Element]) -> list[str]:
    """The non-empty flattened texts of `elements`, in order."""
    return [text for text in map(flat_text, elements) if text]


def abstract_paragraphs(abstract: etree._Element | None) -> list[str]:
    """The AbstractText elements in order, each `LABEL: text` when labelled; empty when none has text."""
    if abstract is None:
        return []
    paragraphs = []
    has_text = False
    for part in abstract:
        if part.tag != "AbstractText":
            continue
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
    """ISO date (YYYY-MM-DD, YYYY-MM or YYYY) of a PubDate or DateRevised; a Season gives the year only."""
    if element is None:
        return None
    parts = {child.tag: child.text or "" for child in element}
    if parts.get("MedlineDate"):
        return medline_date(parts["MedlineDate"])
    year = parts.get("Year", "").strip()
    if not (len(year) == 4 and year.isdigit()):
        return None
    month = month_number(parts.get("Month"))
    if month is None:
        return year
    day = parts.get("Day", "").strip()
    if day:  # most journal issues name no day: no exception to raise and catch for them
        try:
            return datetime.date(int(year), month, int(day)).isoformat()
        except ValueError:
            pass
    return f"{year}-{month:02d}"


def revision_of(name: str) -> int:
    """YYNNNN of a file named `pubmedYYnNNNN...` (or `medlineYYnNNNN...`); else 0.

    NLM numbers a year's update files after its baseline, and a new year's baseline supersedes the old updates, so
    year then number orders every file.
    """
    match = NUMBERED_FILE.match(name.replace("\\", "/").rsplit("/", 1)[-1])
    return int(match["year"]) * 10_000 + int(match["number"]) if match else 0


def _retracted(publication_types: list[str], corrections: etree._Element | None) -> bool:
    if not RETRACTION_TYPES.isdisjoint(publication_types):
        return True
    return corrections is not None and any(reference.get("RefType") in RETRACTION_REFS for reference in corrections)


def is_retracted(citation: etree._Element) -> bool:
    """Whether a MedlineCitation is a retraction notice or a retracted publication (by type or cross-reference)."""
    types = _child(_child(citation, "Article"), "PublicationTypeList")
    return _retracted(_texts(types) if types is not None else [], _child(citation, "CommentsCorrectionsList"))


def _journal(journal: etree._Element | None) -> tuple[str | None, str | None]:
    """(title, ISO publication date) of an Article's Journal."""
    if journal is None:
        return None, None
    return flat_text(_child(journal, "Title")) or None, pub_date(_child(_child(journal, "JournalIssue"), "PubDate"))


def _article_ids(data: etree._Element | None) -> dict[str, str]:
    """The first doi and pmc ids of PubmedData's own ArticleIdList (not those of its cited references)."""
    ids: dict[str, str] = {}
    id_list = _child(data, "ArticleIdList")
    for article_id in id_list if id_list is not None else ():
        kind = article_id.get("IdType")
        if kind in ("doi", "pmc") and kind not in ids and (text := flat_text(article_id)):
            ids[kind] = text
    return ids


def _doi(ids: dict[str, str], locations: list[etree._Element]) -> str | None:
    """The ArticleIdList's doi, else the Article's ELocationID of type doi."""
    if "doi" in ids:
        return ids["doi"]
    return next((text for loc in locations if loc.get("EIdType") == "doi" and (text := flat_text(loc))), None)


def _pmcid(ids: dict[str, str], other_ids: list[etree._Element]) -> str | None:
    """The ArticleIdList's pmc id, else (legacy files) an NLM OtherID like "PMC4688250 [Available on ...]"."""
    if "pmc" in ids:
        return ids["pmc"]
    for other in other_ids:
        match = NLM_PMCID.match(flat_text(other))
        if other.get("Source") == "NLM" and match:
            return match.group()
    return None


def _record_parts(record: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """(MedlineCitation, PubmedData) of a record, the first of each; a legacy MedlineCitation is its own citation."""
    if record.tag == "MedlineCitation":
        return record, None
    citation = data = None
    for part in record:
        tag = part.tag
        if tag == "MedlineCitation":
            citation = part if citation is None else citation
        elif tag == "PubmedData":
            data = part if data is None else data
    return citation, data


def record_document(record: etree._Element, name: str, revision: int = 0) -> Document | None:
    """The Document of one PubmedArticle (or legacy MedlineCitation) of file `name`; None without abstract text.

    The citation's children and its Article's are each read in one loop of tag comparisons that keeps the first of
    a part the DTD allows once and every one of a part it allows many times; the rest (authors, references, grants)
    is never visited. Grouping the children by tag in a dict instead cost a tenth of this function's time.
    """
    citation, data = _record_parts(record)
    if citation is None:
        return None
    pmid_element = article = revised = corrections = None
    mesh_lists: list[etree._Element] = []
    keyword_lists: list[etree._Element] = []
    other_ids: list[etree._Element] = []
    for part in citation:
        tag = part.tag
        if tag == "Article":
            article = part if article is None else article
        elif tag == "PMID":
            pmid_element = part if pmid_element is None else pmid_element
        elif tag == "MeshHeadingList":
            mesh_lists.append(part)
        elif tag == "KeywordList":
            keyword_lists.append(part)
        elif tag == "DateRevised":
            revised = part if revised is None else revised
        elif tag == "CommentsCorrectionsList":
            corrections = part if corrections is None else corrections
        elif tag == "OtherID":
            other_ids.append(part)
    if article is None:
        return None
    journal = title_element = abstract = None
    locations: list[etree._Element] = []
    language_elements: list[etree._Element] = []
    type_lists: list[etree._Element] = []
    for part in article:
        tag = part.tag
        if tag == "Abstract":
            abstract = part if abstract is None else abstract
        elif tag == "ArticleTitle":
            title_element = part if title_element is None else title_element
        elif tag == "Journal":
            journal = part if journal is None else journal
        elif tag == "Language":
            language_elements.append(part)
        elif tag == "PublicationTypeList":
            type_lists.append(part)
        elif tag == "ELocationID":
            locations.append(part)
    paragraphs = abstract_paragraphs(abstract)
    if not paragraphs:
        return None
    pmid = flat_text(pmid_element)
    if not pmid:
        raise ParseError(f"{name}: an article (line {record.sourceline}) has no PMID")
    version = (pmid_element.get("Version") or "1").strip()
    title = flat_text(title_element) or None
    journal_title, date = _journal(journal)
    languages = _texts(language_elements)
    types = [text for found in type_lists for text in _texts(found)]
    ids = _article_ids(data)
    return Document(
        id=f"pubmed:{pmid}",
        source=NAME,
        subsource=NAME,
        title=title,
        text="\n\n".join([title, *paragraphs] if title else paragraphs),
        url=ARTICLE_URL.format(pmid=pmid),
        license=LICENSE,
        date=date,
        meta={
            "pmid": pmid,
            "version": int(version) if version.isdigit() else 1,
            "revision": revision,
            "date_revised": pub_date(revised),
            "journal": journal_title,
            "publication_types": types,
            "mesh": _texts(
                descriptor
                for headings in mesh_lists
                for heading in headings
                for descriptor in heading
                if descriptor.tag == "DescriptorName"
            ),
            "keywords": [text for found in keyword_lists for text in _texts(found)],
            "doi": _doi(ids, locations),
            "pmcid": _pmcid(ids, other_ids),
            "languages": languages,
            "article_language": iso639_1(languages[0]) if languages else None,
            "retracted": _retracted(types, corrections),
            "file": name.replace("\\", "/").rsplit("/", 1)[-1],
        },
    )


def deletions(block: etree._Element, revision: int) -> Iterator[Deletion]:
    """One Deletion per PMID of a DeleteCitation block, in order."""
    for pmid in block:
        if pmid.tag == "PMID" and (text := flat_text(pmid)):
            yield Deletion(id=f"pubmed:{text}", revision=revision)


# --- parse: the stream ---------------------------------------------------------------------------------------------


def _inflated(stream: BinaryIO, head: bytes) -> Iterator[bytes]:
    """The decompressed bytes of a gzip stream (every member), in pieces; EOFError when it is cut short."""
    inflate = zlib.decompressobj(wbits=31)
    pending = head
    while pending:
        if inflate.eof:  # a further gzip member follows
            inflate = zlib.decompressobj(wbits=31)
        yield inflate.decompress(pending, FEED_BYTES)
        pending = (inflate.unused_data if inflate.eof else inflate.unconsumed_tail) or stream.read(READ_BYTES)
    if not inflate.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _xml_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The XML bytes of a raw file in pieces, gunzipped when it starts with the gzip magic (whatever its name says)."""
    head = stream.read(READ_BYTES)
    if head.startswith(GZIP_MAGIC):
        yield from _inflated(stream, head)
        return
    while head:
        yield head
        head = stream.read(READ_BYTES)


def _freed(events: Iterable[tuple[str, etree._Element]]) -> Iterator[etree._Element]:
    """The record elements of parser events, each cleared (with the records before it) once consumed."""
    for _, element in events:
        parent = element.getparent()
        if element.tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
            continue  # handled with its PubmedArticle, which also holds the ArticleIdList
        yield element
        element.clear()
        while element.getprevious() is not None:
            del parent[0]


def records(stream: BinaryIO, name: str) -> Iterator[etree._Element]:
    """Each PubmedArticle, legacy top-level MedlineCitation and DeleteCitation, freed once consumed."""
    parser = etree.XMLPullParser(events=("end",), tag=RECORD_TAGS, resolve_entities=False, no_network=True)
    try:
        for chunk in _xml_chunks(stream):
            parser.feed(chunk)
            yield from _freed(parser.read_events())
        root = parser.close()
    except etree.XMLSyntaxError:
        yield from _freed(parser.read_events())  # the records completed before the break
        raise
    yield from _freed(parser.read_events())
    if root.tag not in ROOTS:
        raise ParseError(f"{name}: not PubMed XML (root element is <{root.tag}>, expected <PubmedArticleSet>)")


def batches(stream: BinaryIO, batch_bytes: int = BATCH_BYTES) -> Iterator[bytes]:
    """A file's XML as self-contained documents of whole records, for parsing on several cores.

    A batch ends with the first top-level record to end `batch_bytes` or more into the file's bytes since the last
    cut; each repeats the file's head (declaration, doctype, root start tag) and ends with the root's end tag.
    There are none when no PubMed root starts in the file's first `HEAD_BYTES`: the parser reads that file whole,
    and says what it is. The cuts are textual: one inside a comment or CDATA makes a batch that does not parse,
    and then the file is read whole, so a wrong cut costs time, never a document.
    """
    pieces = _xml_chunks(stream)
    buffer = bytearray()
    root = None
    for piece in pieces:
        buffer += piece
        if (root := ROOT_TAG.search(buffer)) or len(buffer) >= HEAD_BYTES:
            break
    if root is None:
        return
    head, end_tag, close = bytes(buffer[: root.end()]), RECORD_ENDS[root[1]], b"</" + root[1] + b">"
    batch_head, records_from = b"", root.end()  # the first batch's head is its own bytes
    for piece in itertools.chain((b"",), pieces):
        buffer += piece
        while (cut := buffer.find(end_tag, max(records_from, batch_bytes - len(end_tag)))) >= 0:
            cut += len(end_tag)
            yield batch_head + bytes(buffer[:cut]) + close
            del buffer[:cut]
            batch_head, records_from = head, 0
    yield batch_head + bytes(buffer)


def parse(stream: BinaryIO, name: str) -> Iterator[Document | Deletion]:
    """Documents of one PubMed XML file (gzipped or not) and a Deletion per PMID its DeleteCitation lists.

    Damage raises ParseError after everything before it was yielded.
    """
    revision = revision_of(name)
    try:
        for element in records(stream, name):
            if element.tag == "DeleteCitation":
                yield from deletions(element, revision)
            elif (document := record_document(element, name, revision)) is not None:
                yield document
    except (EOFError, zlib.error) as error:
        raise ParseError(f"{name}: damaged gzip data: {error}") from error
    except etree.XMLSyntaxError as error:
        raise ParseError(f"{name}: malformed XML: {error}") from error
