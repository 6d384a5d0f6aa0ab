"""What a downloaded file is: the kind its name promises, checked on its first bytes and its declared type."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from gap_replay.sniff import content_problem, declared_problem, kind_of

ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head><body>Try later</body></html>\n"
)


def tar_gz(members: dict[str, bytes], ustar: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT if ustar else tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def v7_tar_gz(name: str, data: bytes) -> bytes:
    """An old-style tar header (no `ustar` magic), valid only by its checksum."""
    header = bytearray(512)
    header[: len(name)] = name.encode()
    header[100:108] = b"0000644\x00"
    header[124:136] = f"{len(data):011o}\x00".encode()
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\x00 ".encode()
    body = bytes(header) + data + bytes(-len(data) % 512) + bytes(1024)
    return gzip.compress(body, mtime=0)


GOOD = {
    "tar.gz": tar_gz({"PMC1/article.nxml": b"<article/>"}),
    "xml.gz": gzip.compress(b'<?xml version="1.0"?>\n<PubmedArticleSet/>\n', mtime=0),
    "jsonl.gz": gzip.compress(b'{"text": "a"}\n', mtime=0),
    "gzip": gzip.compress(b"anything", mtime=0),
    "xml": b'\xef\xbb\xbf  <?xml version="1.0"?><urlset/>',
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "jsonl": b'\n{"text": "a", "meta": {}}\n',
    "json": b'[{"recommendationId": 1}]',
    "parquet": b"PAR1\x15\x04",
    "text": b"AccessionID,Article File,PMID,License\n",
    "page": b"<html><body><h1>Guideline</h1></body></html>",
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_each_kind_accepts_a_real_start_of_its_kind(kind):
    assert content_problem(kind, GOOD[kind]) is None


@pytest.mark.parametrize("kind", sorted(set(GOOD) - {"page"}))
def test_an_html_error_page_is_refused_for_every_file_kind(kind):
    problem = content_problem(kind, ERROR_PAGE)
    assert problem is not None and problem.startswith(f"expected {kind}, got ")
    assert "starts with '<!DOCTYPE html>" in problem


@pytest.mark.parametrize("kind", ["tar.gz", "xml.gz", "jsonl.gz"])
def test_a_gzipped_error_page_is_refused_by_what_is_inside(kind):
    problem = content_problem(kind, gzip.compress(ERROR_PAGE, mtime=0))
    assert problem is not None and "gzip data, but inside" in problem


def test_an_old_style_tar_is_recognised_by_its_checksum_and_a_broken_checksum_is_not():
    good = v7_tar_gz("article.nxml", b"<article/>")
    assert content_problem("tar.gz", good) is None
    raw = bytearray(gzip.decompress(good))
    raw[0] ^= 1  # one name byte changed: the stated checksum no longer adds up
    assert content_problem("tar.gz", gzip.compress(bytes(raw), mtime=0)) is not None


def test_xml_must_not_be_an_html_page_and_text_must_not_be_binary():
    assert content_problem("xml", b"<html><body>Not Found</body></html>") == (
        "expected xml, got an HTML page, not XML (starts with '<html><body>Not Found</body></html>')"
    )
    assert content_problem("xml", b"PK\x03\x04") is not None
    assert content_problem("text", b"MD5(pubmed26n0001.xml.gz)= 0f\x00") is not None


def test_a_pdf_marker_counts_within_the_first_kilobyte_only():
    assert content_problem("pdf", b" " * 1018 + b"%PDF-1.4") is None
    assert content_problem("pdf", b" " * 1020 + b"%PDF-1.4") is not None


def test_a_page_may_be_html_or_a_pdf_but_not_other_binary_data():
    assert content_problem("page", b"%PDF-1.4 binary \x00 after") is None
    assert content_problem("page", b"\x1f\x8b\x08\x00\x00") is not None


def test_no_kind_means_no_check():
    assert content_problem(None, b"\x00anything") is None
    assert declared_problem(None, "text/html") is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("oa_comm_xml.PMC000xxxxxx.baseline.2026-06-18.tar.gz", "tar.gz"),
        ("pkg.TGZ", "tar.gz"),
        ("pubmed26n0001.xml.gz", "xml.gz"),
        ("part-00.jsonl.gz", "jsonl.gz"),
        ("dump.json.gz", "jsonl.gz"),
        ("x.gz", "gzip"),
        ("article.nxml", "xml"),
        ("sitemap.xml", "xml"),
        ("guide.PDF", "pdf"),
        ("wiki.jsonl", "jsonl"),
        ("ng100.json", "json"),
        ("part.parquet", "parquet"),
        ("list.filelist.csv", "text"),
        ("pubmed26n0001.xml.gz.md5", "text"),
        ("urls.txt", "text"),
        ("page.html", "page"),
        ("page.htm", "page"),
        ("README", None),
        ("archive.zip", None),
    ],
)
def test_the_kind_comes_from_the_end_of_the_name(name, kind):
    assert kind_of(name) == kind


@pytest.mark.parametrize(
    ("content_type", "refused"),
    [
        ("text/html; charset=utf-8", True),
        ("TEXT/HTML", True),
        ("application/xhtml+xml", True),
        ("application/gzip", False),
        ("application/octet-stream", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_a_file_served_as_an_html_page_is_refused_by_its_declared_type(content_type, refused):
    assert (declared_problem("tar.gz", content_type) is not None) == refused
    assert declared_problem("page", content_type) is None, "pages are HTML"
