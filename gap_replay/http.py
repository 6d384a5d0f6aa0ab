"""The polite HTTP client every source fetches through: robots.txt, one request at a time per host, retries, logs.

Politeness rules, per host (scheme + host + port):
- robots.txt is fetched once and obeyed for our User-Agent, including a `Crawl-delay` longer than ours. A 4xx on
  robots.txt means "no rules" (allow all); a 5xx, 429, timeout or connection error that persists through the
  retries means "do not crawl this host" (disallow all), as Google's and most crawlers' robots handling does.
- One request at a time, with at least `delay` seconds between the starts of consecutive requests.
- 429, 5xx, timeouts and dropped connections are retried with exponential backoff (or the server's `Retry-After`),
  capped at 60 s; any other 4xx fails at once.

Redirects are followed within the request's turn, by the transport (as `requests` does), without a separate robots
check of the target.

With `mirror` set, only the transport changes: `https://host/path` is requested as `<mirror>/host/path`, while
robots, pacing, logs and errors all speak of the original URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from protego import Protego

if TYPE_CHECKING:
    from gap_replay.recipe import HttpConfig

logger = logging.getLogger(__name__)

MAX_WAIT = 60.0
CHUNK = 1 << 16
ALLOW_ALL = "User-agent: *\nAllow: /\n"
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"

T = TypeVar("T")


class HttpError(Exception):
    """A fetch that failed for good; `status` is the last HTTP status (None when no response came back)."""

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        super().__init__(url, status, reason)
        self.url = url
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


class RobotsDisallowed(HttpError):
    """robots.txt forbids this URL to our User-Agent, so it was never requested."""


class _Retry(Exception):
    """An attempt failed in a way worth retrying (429, 5xx, timeout, dropped connection)."""

    def __init__(self, status: int | None, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class FetchRecord:
    """One line of a fetch log: what was asked, what came back, and where the bytes went (relative to the log)."""

    url: str
    path: str | None
    time: str
    status: int | None
    bytes: int
    sha256: str | None
    etag: str | None
    last_modified: str | None
    ok: bool
    error: str | None = None


FIELDS = tuple(field.name for field in dataclasses.fields(FetchRecord))


class FetchLog:
    """An append-only JSONL log of fetches (e.g. `raw/pubmed/fetch_log.jsonl`), read incrementally as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._latest: dict[str, FetchRecord] = {}
        self._offset = 0
        self._lines = 0
        self._lock = threading.Lock()

    def latest(self, url: str) -> FetchRecord | None:
        """The newest record for `url`, including lines appended by other writers since the last look."""
        with self._lock:
            self._catch_up()
            return self._latest.get(url)

    def append(self, record: FetchRecord) -> None:
        """Append one record as a JSON line and flush it, so a crash loses at most the line being written."""
        line = json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as handle:
                if handle.tell() and not _ends_with_newline(self.path):
                    line = "\n" + line
                handle.write(line.encode("utf-8"))
                handle.flush()
            self._catch_up()

    def _catch_up(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        for raw in complete.splitlines():
            self._lines += 1
            record = _parse_record(raw, self.path, self._lines) if raw.strip() else None
            if record is not None:
                self._latest[record.url] = record
        self._offset += len(complete)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _parse_record(raw: bytes, path: Path, number: int) -> FetchRecord | None:
    try:
        data = json.loads(raw)
        return FetchRecord(**{name: data[name] for name in FIELDS if name in data})
    except (ValueError, TypeError) as error:
        logger.warning("%s:%d: skipping unreadable fetch-log line (%s)", path, number, error)
        return None


def mirror_url(url: str, mirror: str) -> str:
    """Where `url` lives on a mirror laid out as `<host>/<path>`: `https://h/a?x=1` -> `<mirror>/h/a?x=1`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url}: not an absolute http(s) URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{mirror.rstrip('/')}/{host}{parts.path or '/'}{query}"


def unmirror_url(url: str, mirror: str, scheme: str) -> str:
    """The original URL behind a mirror URL (e.g. after a redirect on the mirror); other URLs come back unchanged."""
    prefix = mirror.rstrip("/") + "/"
    if not url.startswith(prefix):
        return url
    host, _, rest = url[len(prefix) :].partition("/")
    return f"{scheme}://{host}/{rest}"


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header as seconds from now (it may be a number or an HTTP date); None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decode(content: bytes, response: requests.Response) -> str:
    """Text of a response: the declared charset, else UTF-8, else the detected encoding (never HTTP's Latin-1)."""
    if "charset" in response.headers.get("Content-Type", "").lower() and response.encoding:
        return content.decode(response.encoding, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode(response.apparent_encoding or "utf-8", errors="replace")


def _describe(error: BaseException) -> str:
    if isinstance(error, requests.Timeout | urllib3.exceptions.TimeoutError):
        return f"timed out ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"


@dataclass
class _Host:
    """Per-host state: the pacing lock, when the last request started, the delay and the robots rules."""

    delay: float
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    robots_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    last_start: float | None = None
    robots: Protego | None = None
    robots_note: str = "disallowed by robots.txt"


class PoliteClient:
    """A `requests.Session` that obeys robots.txt, paces each host, retries transient failures and logs downloads."""

    def __init__(
        self,
        user_agent: str,
        delay: float = 1.0,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
        mirror: str | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.delay = delay
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.mirror = mirror
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        # A proxy from the environment must not intercept the loopback mirror.
        self._session.trust_env = not (mirror and _is_loopback(mirror))
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: HttpConfig, mirror: str | None = None) -> PoliteClient:
        """A client configured by the recipe's `http` section."""
        return cls(
            user_agent=config.user_agent,
            delay=config.delay_seconds,
            retries=config.retries,
            backoff=config.backoff_seconds,
            timeout=config.timeout_seconds,
            mirror=mirror,
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, headers: dict[str, str] | None = None, stream: bool = False) -> requests.Response:
        """GET `url` politely; returns a response with status < 400 whose `.url` is the original (unmirrored) URL.

        With `stream=True` the host's turn ends when the headers arrive; the caller reads (and closes) the body.
        """
        host = self._allowed(url)
        return self._with_retries(url, lambda: self._paced_get(url, host, headers, stream))

    def get_text(self, url: str) -> str:
        """The body of `url` as text (declared charset, else UTF-8, else detected)."""
        response = self.get(url)
        return _decode(response.content, response)

    def get_bytes(self, url: str) -> bytes:
        """The body of `url` as bytes, read whole: for pages and listings, not for bulk files (use `download`)."""
        return self.get(url).content

    def download(self, url: str, dest: Path, log: FetchLog, md5: str | None = None) -> tuple[FetchRecord, bool]:
        """Fetch `url` into `dest` unless the log shows the file already there intact; returns (record, downloaded).

        Streams into `dest.part`, resuming it with a Range request when present, checks `md5` when given, and only
        then renames into place; every outcome is appended to `log`, and failures raise HttpError.
        """
        dest = Path(dest)
        relative = Path(os.path.relpath(dest, log.path.parent)).as_posix()
        previous = log.latest(url)
        fresh = previous is not None and previous.ok and previous.path == relative and dest.is_file()
        if fresh and previous.sha256 == _file_sha256(dest):
            return previous, False
        part = dest.with_name(dest.name + ".part")
        try:
            host = self._allowed(url)
            dest.parent.mkdir(parents=True, exist_ok=True)
            record = self._with_retries(url, lambda: self._download_once(url, host, part, relative, md5))
            os.replace(part, dest)
        except HttpError as error:
            failure = error
        except OSError as error:
            failure = HttpError(url, None, f"cannot write {dest}: {error.strerror or error}")
        else:
            log.append(record)
            return record, True
        log.append(FetchRecord(url, None, _utc_now(), failure.status, 0, None, None, None, False, failure.reason))
        raise failure

    def _host(self, url: str) -> _Host:
        key = self._host_key(url)
        with self._hosts_lock:
            if key not in self._hosts:
                self._hosts[key] = _Host(delay=self.delay)
            return self._hosts[key]

    @staticmethod
    def _host_key(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(url, None, "not an absolute http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.scheme}://{parts.hostname}:{port}"

    def _allowed(self, url: str) -> _Host:
        """The host's state once its robots.txt is known; raises RobotsDisallowed if `url` is off limits."""
        host = self._host(url)
        with host.robots_lock:
            if host.robots is None:
                self._load_robots(url, host)
        assert host.robots is not None
        if not host.robots.can_fetch(url, self.user_agent):
            raise RobotsDisallowed(url, None, host.robots_note)
        return host

    def _load_robots(self, url: str, host: _Host) -> None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/robots.txt"
        try:
            response = self._with_retries(robots_url, lambda: self._paced_get(robots_url, host, None, False))
            rules = response.content.decode("utf-8", errors="replace")
        except HttpError as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                rules = ALLOW_ALL
            else:
                logger.warning("%s: robots.txt unavailable, not crawling this host (%s)", robots_url, error.reason)
                rules = DISALLOW_ALL
                host.robots_note = f"robots.txt unavailable ({error.reason}), so the host is treated as disallowed"
        host.robots = Protego.parse(rules)
        crawl_delay = host.robots.crawl_delay(self.user_agent)
        if crawl_delay is not None and crawl_delay > host.delay:
            host.delay = crawl_delay

    @contextlib.contextmanager
    def _turn(self, host: _Host) -> Iterator[None]:
        """Hold the host for one request, starting it no sooner than `delay` after the previous start."""
        with host.lock:
            if host.last_start is not None:
                wait = host.last_start + host.delay - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            host.last_start = time.monotonic()
            yield

    def _with_retries(self, url: str, attempt: Callable[[], T]) -> T:
        failure: _Retry | None = None
        for number in range(self.retries + 1):
            if failure is not None:
                wait = failure.retry_after if failure.retry_after is not None else self.backoff * 2 ** (number - 1)
                time.sleep(min(wait, MAX_WAIT))
            try:
                return attempt()
            except _Retry as error:
                failure = error
        assert failure is not None
        attempts = "1 attempt" if self.retries == 0 else f"{self.retries + 1} attempts"
        raise HttpError(url, failure.status, f"gave up after {attempts}: {failure.reason}")

    def _paced_get(self, url: str, host: _Host, headers: dict[str, str] | None, stream: bool) -> requests.Response:
        with self._turn(host):
            return self._send(url, headers, stream)

    def _send(self, url: str, headers: dict[str, str] | None, stream: bool) -> requests.Response:
        """One GET; raises _Retry for transient failures and HttpError for final ones."""
        target = mirror_url(url, self.mirror) if self.mirror else url
        try:
            response = self._session.get(target, headers=headers, stream=stream, timeout=(self.timeout, self.timeout))
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise _Retry(None, _describe(error)) from None
        except requests.RequestException as error:
            raise HttpError(url, None, _describe(error)) from None
        if self.mirror:
            response.url = unmirror_url(response.url, self.mirror, urlsplit(url).scheme)
        status = response.status_code
        if status < 400:
            return response
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        response.close()
        if status == 429 or status >= 500:
            raise _Retry(status, reason, retry_after)
        raise HttpError(url, status, reason)

    def _download_once(self, url: str, host: _Host, part: Path, relative: str, md5: str | None) -> FetchRecord:
        """One attempt at streaming `url` into `part` (resuming it if present); the part is complete on return."""
        with self._turn(host):
            offset = part.stat().st_size if part.exists() else 0
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                response = self._send(url, headers, stream=True)
            except HttpError as error:
                if error.status != 416 or not offset:
                    raise
                part.unlink()
                raise _Retry(416, "partial file does not fit the remote one; restarting", retry_after=0) from None
            with response:
                if response.status_code == 206 and not _starts_at(response, offset):
                    part.unlink()
                    raise _Retry(206, "server resumed at the wrong offset; restarting", retry_after=0)
                resumed = response.status_code == 206
                sha256, digest_md5 = hashlib.sha256(), hashlib.md5()
                if resumed:
                    with open(part, "rb") as handle:
                        for chunk in iter(lambda: handle.read(CHUNK), b""):
                            sha256.update(chunk)
                            digest_md5.update(chunk)
                size = offset if resumed else 0
                try:
                    with open(part, "ab" if resumed else "wb") as handle:
                        for chunk in response.raw.stream(CHUNK, decode_content=False):
                            handle.write(chunk)
                            sha256.update(chunk)
                            digest_md5.update(chunk)
                            size += len(chunk)
                except (urllib3.exceptions.HTTPError, requests.RequestException) as error:
                    raise _Retry(None, f"connection lost after {size} bytes: {_describe(error)}") from None
        if md5 is not None and digest_md5.hexdigest() != md5.strip().lower():
            part.unlink()
            raise HttpError(url, response.status_code, f"md5 mismatch: expected {md5}, got {digest_md5.hexdigest()}")
        return FetchRecord(
            url=url,
            path=relative,
            time=_utc_now(),
            status=response.status_code,
            bytes=size,
            sha256=sha256.hexdigest(),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            ok=True,
        )


def _starts_at(response: requests.Response, offset: int) -> bool:
    """Whether a 206's `Content-Range: bytes START-END/TOTAL` starts where the partial file ends."""
    value = response.headers.get("Content-Range", "")
    unit, _, span = value.partition(" ")
    start = span.partition("-")[0]
    return unit == "bytes" and start.isdigit() and int(start) == offset
