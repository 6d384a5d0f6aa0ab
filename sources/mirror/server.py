"""A loopback static server for the mirror site tree (`<site>/<host>/<path>`), behaving like the real hosts' servers.

It answers GET and HEAD with the headers crawlers look at (Content-Type, Content-Length, ETag, Last-Modified),
answers conditional requests (If-None-Match, If-Modified-Since) with 304, resumes with `Range` (ignored, as RFC 9110
says, when an `If-Range` validator no longer matches), and lists folders without an `index.html` the way Apache's
autoindex (NCBI's FTP-over-HTTPS pages) does, so listing parsers meet the same HTML they meet online. A request
with a query string is answered from the file named `<name>?<sorted query>` when the site has one (a stand-in API's
stored responses), else the query is ignored.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import logging
import mimetypes
import re
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from gap_replay.sources.mirror.kit import canonical_query

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
TYPES = {
    ".gz": "application/gzip",
    ".md5": "text/plain",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".jsonl": "application/jsonl",
    ".json": "application/json",
}
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
REQUIRED_HEADERS = ".required-headers.json"  # in a host's folder: {"Header": "value"} every request must carry
RESOURCE = "index.json"  # a folder's own JSON: `/guidelines/7` when `/guidelines/7/sections` also exists


def content_type(path: Path) -> str:
    """The Content-Type for a file: known extensions, then mimetypes, then a sniff when there is no extension or
    the file is a stored API response (`<name>?<query>`)."""
    suffix = path.suffix.lower()
    if suffix in TYPES:
        return TYPES[suffix]
    if not suffix or "?" in path.name:
        with open(path, "rb") as handle:
            head = handle.read(512).lstrip()
        if head.startswith((b"{", b"[")):
            return "application/json; charset=utf-8"
        if head.startswith(b"<?xml"):
            return "application/xml"
        return "text/html" if head.startswith(b"<") else "application/octet-stream"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte span a `Range` header asks for; None means "send it all".

    Raises ValueError when the range cannot be satisfied (the caller answers 416). Multiple ranges and headers
    that do not parse are ignored, as RFC 9110 allows.
    """
    match = RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(f"range {start}-{last} outside {size} bytes")
    return start, end


def _human_size(size: int) -> str:
    """Apache's short size: bytes as they are, then one decimal below 10 (`4.0K`), else whole units (`19M`)."""
    value, unit = float(size), ""
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            break
        value /= 1024
    if not unit:
        return str(size)
    return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"


def autoindex(folder: Path, url_path: str) -> str:
    """An Apache-style listing of `folder`: one `<a href="name">name</a>` line per entry, folders with a `/`."""
    entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    lines = []
    for entry in entries:
        name = entry.name + ("/" if entry.is_dir() else "")
        stat = entry.stat()
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(stat.st_mtime))
        size = "-" if entry.is_dir() else _human_size(stat.st_size)
        link = f'<a href="{quote(name)}">{html.escape(name)}</a>'
        lines.append(f"{link}{' ' * max(1, 50 - len(name))}{stamp}  {size:>5}  ")
    rows = "\n".join(lines)
    title = html.escape(f"Index of {url_path}")
    parent = '<a href="../">Parent Directory</a>' + " " * 35 + "-   \n" if url_path != "/" else ""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
        f"<html>\n <head>\n  <title>{title}</title>\n </head>\n <body>\n<h1>{title}</h1>\n"
        f"<pre>Name{' ' * 46}Last modified      Size  <hr>{parent}{rows}\n<hr></pre>\n</body></html>\n"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, handler: type[MirrorHandler]) -> None:
        self.root = root.resolve()
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Clients that hang up mid-response are normal for a crawler's server; anything else is logged."""
        logger.debug("mirror server: error while serving %s", client_address, exc_info=True)


class MirrorHandler(BaseHTTPRequestHandler):
    """Serves the site folder; subclass it (and pass it to `serve`) to make a server that behaves differently."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "gap-replay-mirror/1"

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no request lines on stderr."""

    def _serve(self, send_body: bool) -> None:
        refused = self._refused()
        if refused is not None:
            self._reply(refused, f"{refused.phrase}\n".encode("ascii"), "text/plain", send_body)
            return
        path = self._local_path()
        answer = self._query_answer(path)
        if answer is not None:
            self._send_file(answer, send_body)
            return
        if path is None or not path.exists():
            self._reply(HTTPStatus.NOT_FOUND, b"Not Found\n", "text/plain", send_body)
            return
        url_path = urlsplit(self.path).path
        if path.is_dir() and not url_path.endswith("/") and (path / RESOURCE).is_file():
            self._send_file(path / RESOURCE, send_body)  # an API resource that also has sub-resources
            return
        if path.is_dir():
            if not url_path.endswith("/"):
                query = urlsplit(self.path).query
                location = url_path + "/" + (f"?{query}" if query else "")
                self._reply(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain", send_body, {"Location": location})
                return
            if not (path / "index.html").is_file():
                listing = autoindex(path, "/" + url_path.strip("/").partition("/")[2].rstrip("/"))
                self._reply(HTTPStatus.OK, listing.encode("utf-8"), "text/html;charset=UTF-8", send_body)
                return
            path = path / "index.html"
        self._send_file(path, send_body)

    def _local_path(self) -> Path | None:
        """The file or folder under the site root for this request; None for `..` tricks and unusable names."""
        segments = unquote(urlsplit(self.path).path).split("/")
        if any(segment == ".." or "\x00" in segment for segment in segments):
            return None
        path = self.server.root.joinpath(*segments)
        return path if path.resolve().is_relative_to(self.server.root) else None

    def _refused(self) -> HTTPStatus | None:
        """401 (header missing) or 403 (another value) when the host's folder names headers every request must carry
        in `.required-headers.json` (an API that needs a key); robots.txt is exempt, and the rules file is never
        served."""
        segments = unquote(urlsplit(self.path).path).split("/")
        if len(segments) < 3 or ".." in segments or segments[2] == "robots.txt":
            return None
        if segments[-1] == REQUIRED_HEADERS:
            return HTTPStatus.NOT_FOUND
        rules = self.server.root / segments[1] / REQUIRED_HEADERS
        if not rules.is_file():
            return None
        for name, value in json.loads(rules.read_text(encoding="utf-8")).items():
            sent = self.headers.get(name)
            if sent != value:
                return HTTPStatus.UNAUTHORIZED if sent is None else HTTPStatus.FORBIDDEN
        return None

    def _query_answer(self, path: Path | None) -> Path | None:
        """For a request with a query string, the stand-in API response stored as `<name>?<sorted query>` (see
        `kit.query_file`); None when there is none (the query is then ignored, as by a static server)."""
        query = urlsplit(self.path).query
        if path is None or not query:
            return None
        answer = path.with_name(f"{path.name}?{canonical_query(query)}")
        return answer if answer.is_file() and answer.resolve().is_relative_to(self.server.root) else None

    def _send_file(self, path: Path, send_body: bool) -> None:
        stat = path.stat()
        headers = {
            "ETag": f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"',
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
            "Accept-Ranges": "bytes",
        }
        if self._not_modified(headers["ETag"], stat.st_mtime):
            self._reply(HTTPStatus.NOT_MODIFIED, b"", content_type(path), False, headers)
            return
        condition = self.headers.get("If-Range")
        ranged = condition is None or condition in (headers["ETag"], headers["Last-Modified"])
        try:
            span = byte_range(self.headers.get("Range"), stat.st_size) if ranged else None
        except ValueError:
            headers["Content-Range"] = f"bytes */{stat.st_size}"
            self._reply(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain", send_body, headers)
            return
        first, last = span if span is not None else (0, stat.st_size - 1)
        status = HTTPStatus.OK
        if span is not None:
            status = HTTPStatus.PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
        self._head(status, content_type(path), last - first + 1, headers)
        if not send_body:
            return
        with open(path, "rb") as handle:
            handle.seek(first)
            remaining = last - first + 1
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """A conditional GET the file still satisfies: If-None-Match names its ETag, or (without If-None-Match)
        If-Modified-Since is not older than it, as RFC 9110 orders them."""
        tags = self.headers.get("If-None-Match")
        if tags is not None:
            return etag in (tag.strip() for tag in tags.split(",")) or tags.strip() == "*"
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(mtime) <= when

    def _reply(
        self, status: HTTPStatus, body: bytes, kind: str, send_body: bool, headers: dict[str, str] | None = None
    ) -> None:
        self._head(status, kind, len(body), headers or {})
        if send_body:
            self.wfile.write(body)

    def _head(self, status: HTTPStatus, kind: str, length: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


@contextlib.contextmanager
def serve(
    site: Path, host: str = "127.0.0.1", port: int = 0, handler: type[MirrorHandler] = MirrorHandler
) -> Iterator[str]:
    """Serve `site` on a loopback port for the duration of the block; yields the base URL `http://HOST:PORT`."""
    if not Path(site).is_dir():
        raise FileNotFoundError(f"{site}: mirror site folder does not exist")
    server = _Server((host, port), Path(site), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
