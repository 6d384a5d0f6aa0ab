"""What a downloaded file really is: its kind (from the name asked for) checked against its first bytes and the
Content-Type it was served with, so an HTML error page served with status 200 is never kept as a package.

Pure functions of bytes and names; a check returns None when the content fits, else the reason it does not.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

HEAD_BYTES = 4096  # enough of a file's start for every check, after inflating a gzip stream
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
TAR_MAGIC_OFFSET = 257
TAR_BLOCK = 512

# Kinds by the end of a file's name, longest first.
SUFFIXES = (
    (".tar.gz", "tar.gz"),
    (".tgz", "tar.gz"),
    (".xml.gz", "xml.gz"),
    (".jsonl.gz", "jsonl.gz"),
    (".json.gz", "jsonl.gz"),
    (".gz", "gzip"),
    (".xml", "xml"),
    (".nxml", "xml"),
    (".pdf", "pdf"),
    (".jsonl", "jsonl"),
    (".json", "json"),
    (".parquet", "parquet"),
    (".csv", "text"),
    (".txt", "text"),
    (".md5", "text"),
    (".html", "page"),
    (".htm", "page"),
)


def kind_of(name: str) -> str | None:
    """The kind a file name promises (`tar.gz`, `xml.gz`, `jsonl`, `pdf`, `page`, ...), None when it promises none."""
    lowered = name.lower()
    return next((kind for suffix, kind in SUFFIXES if lowered.endswith(suffix)), None)


def _text_start(head: bytes) -> bytes:
    return head.removeprefix(BOM).lstrip().lower()


def _looks_like_html(head: bytes) -> bool:
    return _text_start(head).startswith(HTML_STARTS)


def _inflate(head: bytes) -> bytes | None:
    """The first inflated bytes of a gzip stream's start, or None when it is not one."""
    if not head.startswith(GZIP_MAGIC):
        return None
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
    except zlib.error:
        return None


def _is_tar_header(block: bytes) -> bool:
    """A POSIX (ustar) header, or an old-style one whose checksum adds up."""
    if len(block) < TAR_BLOCK:
        return False
    if block[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar":
        return True
    try:
        stated = int(block[148:156].split(b"\x00", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return stated == sum(block[:148]) + 8 * 32 + sum(block[156:TAR_BLOCK])


def _check_gzip(head: bytes) -> str | None:
    return None if head.startswith(GZIP_MAGIC) else "not gzip data"


def _check_inner(check: Callable[[bytes], str | None]) -> Callable[[bytes], str | None]:
    def inner(head: bytes) -> str | None:
        inflated = _inflate(head)
        if inflated is None:
            return "not gzip data"
        problem = check(inflated)
        return None if problem is None else f"gzip data, but inside: {problem}"

    return inner


def _check_tar(head: bytes) -> str | None:
    return None if _is_tar_header(head[:TAR_BLOCK]) else "not a tar archive"


def _check_xml(head: bytes) -> str | None:
    start = _text_start(head)
    if not start.startswith(b"<"):
        return "not XML"
    return "an HTML page, not XML" if _looks_like_html(head) else None


def _check_pdf(head: bytes) -> str | None:
    return None if b"%PDF-" in head[:1024] else "not a PDF"


def _check_jsonl(head: bytes) -> str | None:
    return None if _text_start(head).startswith(b"{") else "not JSON lines"


def _check_json(head: bytes) -> str | None:
    return None if _text_start(head).startswith((b"{", b"[")) else "not JSON"


def _check_parquet(head: bytes) -> str | None:
    return None if head.startswith(b"PAR1") else "not a Parquet file"


def _check_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return "binary data, not text"
    return "an HTML page, not plain text" if _looks_like_html(head) else None


def _check_page(head: bytes) -> str | None:
    """A web page: HTML, or a PDF served from a page URL (organisations do this); never other binary data."""
    return None if _check_pdf(head) is None or b"\x00" not in head else "binary data, not a web page"


CHECKS: dict[str, Callable[[bytes], str | None]] = {
    "gzip": _check_gzip,
    "tar.gz": _check_inner(_check_tar),
    "xml.gz": _check_inner(_check_xml),
    "jsonl.gz": _check_inner(_check_jsonl),
    "xml": _check_xml,
    "pdf": _check_pdf,
    "jsonl": _check_jsonl,
    "json": _check_json,
    "parquet": _check_parquet,
    "text": _check_text,
    "page": _check_page,
}


def declared_problem(kind: str | None, content_type: str | None) -> str | None:
    """Why a Content-Type contradicts `kind` (an HTML page where a file was asked for); None when it does not."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if kind is not None and kind != "page" and declared in ("text/html", "application/xhtml+xml"):
        return f"served as {declared} where {kind} was expected"
    return None


def content_problem(kind: str | None, head: bytes) -> str | None:
    """Why the start of a file does not fit `kind`; None when it fits (or no kind is promised)."""
    if kind is None:
        return None
    problem = CHECKS[kind](head)
    if problem is None:
        return None
    shown = head[:40].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"expected {kind}, got {problem} (starts with '{shown}')"
