import email.utils
import hashlib
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from gap_replay.http import FetchLog, PoliteClient
from gap_replay.sources.mirror.kit import query_file, write
from gap_replay.sources.mirror.server import byte_range, content_type, serve

NOTE = b"Adults with uncomplicated malaria should receive artemisinin-based combination therapy for three days.\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small site tree: files, a folder with an index page, a folder to be listed, and a secret outside it."""
    root = tmp_path / "site"
    (root / "example.org" / "guides").mkdir(parents=True)
    (root / "example.org" / "x.txt").write_bytes(NOTE)
    (root / "example.org" / "guides" / "index.html").write_text("<html><body>Guides</body></html>")
    listing = root / "ftp.example.org" / "pubmed" / "baseline"
    (listing / "archive").mkdir(parents=True)
    (listing / "pubmed26n0002.xml.gz").write_bytes(b"\x1f\x8b second")
    (listing / "pubmed26n0001.xml.gz").write_bytes(b"\x1f\x8b first")
    (listing / "pubmed26n0001.xml.gz.md5").write_text("MD5(pubmed26n0001.xml.gz)= 0123\n")
    (tmp_path / "secret.txt").write_text("outside the site")
    return root


@pytest.fixture
def base(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


def raw_get(base: str, path: str) -> int:
    """The status for a request path sent exactly as written (requests would normalise `..` away)."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_file_is_served_with_its_bytes_and_headers(base, site):
    response = requests.get(f"{base}/example.org/x.txt", timeout=5)
    assert response.status_code == 200
    assert response.content == NOTE
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Content-Length"] == str(len(NOTE))
    assert re.fullmatch(r'"[^"]+"', response.headers["ETag"])
    modified = email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
    assert int(modified.timestamp()) == int((site / "example.org" / "x.txt").stat().st_mtime)


def test_head_sends_the_headers_without_a_body(base):
    response = requests.head(f"{base}/example.org/x.txt", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(NOTE))
    assert response.content == b""


def test_gzip_files_are_application_gzip_and_not_content_encoded(base):
    response = requests.get(f"{base}/ftp.example.org/pubmed/baseline/pubmed26n0001.xml.gz", timeout=5)
    assert response.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in response.headers
    assert response.content == b"\x1f\x8b first"


def test_autoindex_lists_entries_sorted_with_folders_slashed(base):
    response = requests.get(f"{base}/ftp.example.org/pubmed/baseline/", timeout=5)
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Index of /pubmed/baseline</title>" in response.text
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', response.text)
    assert links == [
        ("../", "Parent Directory"),
        ("archive/", "archive/"),
        ("pubmed26n0001.xml.gz", "pubmed26n0001.xml.gz"),
        ("pubmed26n0001.xml.gz.md5", "pubmed26n0001.xml.gz.md5"),
        ("pubmed26n0002.xml.gz", "pubmed26n0002.xml.gz"),
    ]


def test_a_folder_without_trailing_slash_redirects_to_the_slash_form(base):
    response = requests.get(f"{base}/ftp.example.org/pubmed/baseline", allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == "/ftp.example.org/pubmed/baseline/"


def test_a_folder_with_index_html_serves_it(base):
    response = requests.get(f"{base}/example.org/guides/", timeout=5)
    assert response.text == "<html><body>Guides</body></html>"
    assert response.headers["Content-Type"] == "text/html"


@pytest.mark.parametrize(("header", "body"), [("bytes=6-", NOTE[6:]), ("bytes=0-5", NOTE[:6]), ("bytes=-4", NOTE[-4:])])
def test_range_requests_get_206_with_content_range(base, header, body):
    response = requests.get(f"{base}/example.org/x.txt", headers={"Range": header}, timeout=5)
    assert response.status_code == 206
    assert response.content == body
    first = len(NOTE) - len(body) if header == "bytes=-4" else int(header[6:].split("-")[0])
    assert response.headers["Content-Range"] == f"bytes {first}-{first + len(body) - 1}/{len(NOTE)}"


def test_an_unsatisfiable_range_gets_416(base):
    response = requests.get(f"{base}/example.org/x.txt", headers={"Range": f"bytes={len(NOTE)}-"}, timeout=5)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(NOTE)}"


@pytest.mark.parametrize(
    "path",
    ["/../secret.txt", "/example.org/../../secret.txt", "/%2e%2e/secret.txt", "/example.org/../example.org/x.txt"],
)
def test_path_traversal_is_404(base, path):
    assert raw_get(base, path) == 404


def test_a_symlink_leading_out_of_the_site_is_404(base, site):
    (site / "example.org" / "leak.txt").symlink_to(site.parent / "secret.txt")
    assert raw_get(base, "/example.org/leak.txt") == 404


def test_a_missing_file_is_404(base):
    assert requests.get(f"{base}/example.org/nothing.txt", timeout=5).status_code == 404


def test_the_port_is_closed_after_the_block(site):
    with serve(site) as url:
        assert requests.get(f"{url}/example.org/x.txt", timeout=5).ok
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/example.org/x.txt", timeout=5)


def test_serving_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"), serve(tmp_path / "nowhere"):
        pass


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("file.md5", b"", "text/plain"),
        ("file.xml", b"", "application/xml"),
        ("file.csv", b"", "text/csv"),
        ("file.jsonl", b"", "application/jsonl"),
        ("file.pdf", b"", "application/pdf"),
        ("page", b"  <!doctype html><html>", "text/html"),
        ("blob", b"\x00\x01", "application/octet-stream"),
    ],
)
def test_content_type_by_extension_or_sniffing(tmp_path, name, data, expected):
    (tmp_path / name).write_bytes(data)
    assert content_type(tmp_path / name) == expected


def test_byte_range_ignores_what_it_cannot_parse():
    assert byte_range(None, 10) is None
    assert byte_range("bytes=0-1,4-5", 10) is None
    assert byte_range("bytes=2-100", 10) == (2, 9)


def test_polite_client_through_the_mirror_gets_the_site_file(base):
    with PoliteClient("testbot/1.0", delay=0, retries=0, mirror=base) as client:
        assert client.get_bytes("https://example.org/x.txt") == NOTE
        response = client.get("https://ftp.example.org/pubmed/baseline")
        assert response.url == "https://ftp.example.org/pubmed/baseline/"


def test_polite_client_resumes_a_partial_download_from_the_mirror(base, tmp_path):
    dest = tmp_path / "raw" / "x.txt"
    dest.parent.mkdir()
    (dest.parent / "x.txt.part").write_bytes(NOTE[:20])
    etag = requests.head(f"{base}/example.org/x.txt", timeout=5).headers["ETag"]
    validators = {"url": "https://example.org/x.txt", "etag": etag, "last_modified": None, "total": len(NOTE)}
    (dest.parent / "x.txt.part.json").write_text(json.dumps(validators))
    with PoliteClient("testbot/1.0", delay=0, retries=0, mirror=base) as client:
        record, downloaded = client.download(
            "https://example.org/x.txt",
            dest,
            FetchLog(tmp_path / "raw" / "fetch_log.jsonl"),
            md5=hashlib.md5(NOTE).hexdigest(),
        )
    assert downloaded and record.status == 206
    assert dest.read_bytes() == NOTE


def test_a_query_is_answered_from_its_stored_response_whatever_the_parameter_order(site, base):
    api = site / "wiki.example.org" / "w" / "api.php"
    write(query_file(api, {"action": "query", "list": "allpages", "format": "json"}), b'{"query": {"allpages": []}}')
    write(query_file(api, {"action": "query", "list": "allpages", "format": "json", "apcontinue": "B"}), b"[2]")
    first = requests.get(f"{base}/wiki.example.org/w/api.php?list=allpages&format=json&action=query", timeout=5)
    second = requests.get(f"{base}/wiki.example.org/w/api.php?apcontinue=B&action=query&list=allpages&format=json")
    assert (first.status_code, first.content) == (200, b'{"query": {"allpages": []}}')
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert second.content == b"[2]"
    assert requests.get(f"{base}/wiki.example.org/w/api.php?action=parse", timeout=5).status_code == 404
    assert requests.get(f"{base}/example.org/x.txt?utm_source=feed", timeout=5).content == NOTE, "else ignored"


def test_conditional_requests_are_answered_with_304_while_the_file_is_unchanged(site, base):
    first = requests.get(f"{base}/example.org/x.txt", timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert requests.get(f"{base}/example.org/x.txt", headers={"If-None-Match": etag}, timeout=5).status_code == 304
    assert requests.get(f"{base}/example.org/x.txt", headers={"If-Modified-Since": modified}).status_code == 304
    assert requests.get(f"{base}/example.org/x.txt", headers={"If-None-Match": '"other"'}).status_code == 200
    (site / "example.org" / "x.txt").write_bytes(NOTE + b"Revised.\n")
    changed = requests.get(f"{base}/example.org/x.txt", headers={"If-None-Match": etag}, timeout=5)
    assert (changed.status_code, changed.content) == (200, NOTE + b"Revised.\n")


def test_a_host_that_requires_a_key_answers_401_without_it_and_403_with_another(site, base):
    write(site / "api.example.org" / ".required-headers.json", '{"API-Key": "k1"}')
    write(site / "api.example.org" / "robots.txt", "User-agent: *\nAllow: /\n")
    write(site / "api.example.org" / "index.json", b"{}")
    url = f"{base}/api.example.org/index.json"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"API-Key": "k2"}, timeout=5).status_code == 403
    assert requests.get(url, headers={"API-Key": "k1"}, timeout=5).content == b"{}"
    assert requests.get(f"{base}/api.example.org/robots.txt", timeout=5).status_code == 200, "robots.txt is open"
    rules = requests.get(f"{base}/api.example.org/.required-headers.json", headers={"API-Key": "k1"}, timeout=5)
    assert rules.status_code == 404, "the rules are never served"


def test_a_resource_with_sub_resources_is_served_at_its_own_url_without_a_redirect(site, base):
    write(site / "api.example.org" / "guidelines" / "7" / "index.json", b'{"guidelineId": 7}')
    write(site / "api.example.org" / "guidelines" / "7" / "sections", b"[]")
    own = requests.get(f"{base}/api.example.org/guidelines/7", allow_redirects=False, timeout=5)
    assert (own.status_code, own.content) == (200, b'{"guidelineId": 7}')
    assert requests.get(f"{base}/api.example.org/guidelines/7/sections", timeout=5).content == b"[]"
