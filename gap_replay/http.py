"""The polite HTTP client every source fetches through: robots.txt, one request at a time per host, retries, logs.

Politeness rules, per host (scheme + host + port):
- robots.txt is fetched once and obeyed for our User-Agent, including a `Crawl-delay` longer than ours. A 4xx on
  robots.txt means "no rules" (allow all); a 5xx, 429, timeout or connection error that persists through the
  retries means "do not crawl this host" (disallow all), as Google's and most crawlers' robots handling does.
- One request at a time, with at least `delay` seconds between the starts of consecutive requests.
- 429, 5xx, timeouts and dropped connections are retried with exponential backoff (or the server's `Retry-After`),
  capped at 60 s; any other 4xx fails at once.
- Redirects are followed hop by hop: each target is checked against its own host's robots.txt and paced as a
  request to that host.

Integrity: a download resumes its `.part` only when the server proves the file unchanged (`If-Range` with the ETag
or Last-Modified seen when the part began, and the same validators on the 206); otherwise it starts over. What
arrives must be what the file name promises (`sniff`: declared type and magic bytes), so a 200 error page is never
kept. A file has a deadline (retries included) and a minimum transfer rate over a window, so a host that drips
bytes cannot stall the crawl; a host that fails `max_host_failures` requests in a row (no answer, 5xx, 429, too
slow) is given up for the rest of the run. Pages and listings are read whole but bounded in size and time.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from protego import Protego

from gap_replay.sniff import HEAD_BYTES, content_problem, declared_problem, kind_of

if TYPE_CHECKING:
    from gap_replay.recipe import HttpConfig

logger = logging.getLogger(__name__)

MAX_WAIT = 60.0
MAX_REDIRECTS = 10
CHUNK = 1 << 16
PART_META = ".json"  # `<file>.part.json` beside a `.part`: the validators the partial file was started under
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

    def current(self) -> list[FetchRecord]:
        """The newest record of every URL in the log, in URL order."""
        with self._lock:
            self._catch_up()
            return [self._latest[url] for url in sorted(self._latest)]

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


def _transient(status: int) -> bool:
    """Statuses worth another try: too many requests, and server errors."""
    return status == 429 or status >= 500


def utc_now() -> str:
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


def _decode(content: bytes, headers: Mapping[str, str]) -> str:
    """Text of a response: the declared charset, else UTF-8, else the detected encoding (never HTTP's Latin-1)."""
    declared = requests.utils.get_encoding_from_headers(headers)
    if "charset" in headers.get("Content-Type", "").lower() and declared:
        try:
            return content.decode(declared, errors="replace")
        except LookupError:
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        detected = requests.compat.chardet.detect(content)["encoding"] if requests.compat.chardet else None
        return content.decode(detected or "utf-8", errors="replace")


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
    failures: int = 0  # consecutive requests that found the host down, slow or failing (5xx, 429, no answer)


@dataclass(frozen=True)
class Page:
    """A page or listing read whole: its final URL (after redirects, never the mirror's), status, headers, body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return _decode(self.content, self.headers)


@dataclass(frozen=True)
class _Validators:
    """What a partial download was started under; a resume must see the same file (RFC 9110 `If-Range`)."""

    url: str
    etag: str | None
    last_modified: str | None
    total: int | None

    @property
    def if_range(self) -> str | None:
        """The validator to send: a strong ETag, else Last-Modified; None when the file cannot be proven unchanged."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def matches(self, response: requests.Response) -> bool:
        """Whether a 206 carries the validators the part was started under (a server may ignore `If-Range`)."""
        pairs = ((self.etag, response.headers.get("ETag")), (self.last_modified, response.headers.get("Last-Modified")))
        return all(kept is None or sent is None or kept == sent for kept, sent in pairs)


class TooSlow(Exception):
    """A transfer moved fewer bytes per second than the minimum over a window (worth another try)."""


class PastDeadline(Exception):
    """A transfer was not finished by its deadline (not worth another try in this run)."""


class TransferGuard:
    """Cuts a transfer that passes its deadline (PastDeadline) or, once `window` seconds have passed, moves fewer
    than `min_rate` bytes per second over the last window (TooSlow); `check` runs after each chunk."""

    def __init__(self, deadline: float | None, min_rate: float, window: float, clock: Callable[[], float]):
        self._deadline = deadline
        self._min_rate = min_rate
        self._window = window
        self._clock = clock
        self._mark_time = clock()
        self._mark_bytes = 0

    def check(self, received: int) -> None:
        """`received`: the bytes received so far in this transfer."""
        now = self._clock()
        if self._deadline is not None and now > self._deadline:
            raise PastDeadline(f"not finished by its deadline ({received:,} bytes into this attempt)")
        if now - self._mark_time >= self._window:
            rate = (received - self._mark_bytes) / (now - self._mark_time)
            if rate < self._min_rate:
                raise TooSlow(f"transfer too slow: {rate:,.0f} B/s over {now - self._mark_time:.0f} s")
            self._mark_time, self._mark_bytes = now, received


def arriving(response: requests.Response, decode: bool = False) -> Iterator[bytes]:
    """A streamed body as it arrives, never waiting to fill a chunk (so a guard sees a drip as one)."""
    while chunk := response.raw.read1(CHUNK, decode_content=decode):
        yield chunk


def _read_validators(part: Path) -> _Validators | None:
    try:
        data = json.loads(part.with_name(part.name + PART_META).read_text(encoding="utf-8"))
        return _Validators(data["url"], data.get("etag"), data.get("last_modified"), data.get("total"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_validators(part: Path, url: str, response: requests.Response) -> None:
    length = response.headers.get("Content-Length")
    data = {
        "url": url,
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
        "total": int(length) if length and length.isdigit() else None,
    }
    part.with_name(part.name + PART_META).write_text(json.dumps(data), encoding="utf-8")


def _discard_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_name(part.name + PART_META).unlink(missing_ok=True)


def _file_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def _content_range(response: requests.Response) -> tuple[int, int | None] | None:
    """(start, total) of a 206's `Content-Range: bytes START-END/TOTAL`; total None when `*`; None if unreadable."""
    unit, _, span = response.headers.get("Content-Range", "").partition(" ")
    first, _, total = span.partition("/")
    start = first.partition("-")[0]
    if unit != "bytes" or not start.isdigit():
        return None
    return int(start), int(total) if total.isdigit() else None


class PoliteClient:
    """A `requests.Session` that obeys robots.txt, paces each host, retries transient failures, checks what it
    downloads and logs it. `clock` and `sleep` can be replaced (tests drive deadlines and pacing without waiting)."""

    def __init__(
        self,
        user_agent: str,
        delay: float = 1.0,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
        mirror: str | None = None,
        file_deadline: float = 4 * 3600.0,
        min_rate: float = 4096,
        rate_window: float = 60.0,
        max_page_bytes: int = 64 << 20,
        page_deadline: float = 300.0,
        max_host_failures: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.user_agent = user_agent
        self.delay = delay
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.mirror = mirror
        self.file_deadline = file_deadline
        self.min_rate = min_rate
        self.rate_window = rate_window
        self.max_page_bytes = max_page_bytes
        self.page_deadline = page_deadline
        self.max_host_failures = max_host_failures
        self._clock = clock
        self._sleep = sleep
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
            file_deadline=config.file_deadline_seconds,
            min_rate=config.min_bytes_per_second,
            rate_window=config.rate_window_seconds,
            max_page_bytes=config.max_page_bytes,
            page_deadline=config.page_deadline_seconds,
            max_host_failures=config.max_host_failures,
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, headers: dict[str, str] | None = None) -> Page:
        """GET `url` politely and read its body whole (at most `max_page_bytes`, within `page_deadline` seconds)."""
        deadline = self._clock() + self.page_deadline

        def attempt() -> Page:
            with self._exchange(url, headers) as response:
                content = self._read_page(url, response, deadline)
                return Page(response.url, response.status_code, response.headers, content)

        with self._host_health(url):
            return self._with_retries(url, attempt, deadline)

    def get_text(self, url: str) -> str:
        """The body of `url` as text (declared charset, else UTF-8, else detected)."""
        return self.get(url).text

    def get_bytes(self, url: str) -> bytes:
        """The body of `url` as bytes, read whole: for pages and listings, not for bulk files (use `download`)."""
        return self.get(url).content

    def download(
        self,
        url: str,
        dest: Path,
        log: FetchLog,
        md5: str | None = None,
        kind: str | None = None,
        revalidate: bool = False,
    ) -> tuple[FetchRecord, bool]:
        """Fetch `url` into `dest` unless the log shows the file already there intact; returns (record, downloaded).

        Streams into `dest.part` (resumed only when the server proves the file unchanged), checks that the bytes
        are of the `kind` the name promises (or `kind`) and match `md5` when given, and only then renames into
        place; every outcome is appended to `log`, and failures raise HttpError. `dest` must lie in the log's folder.
        With `revalidate`, a file already in place is asked for again conditionally (If-None-Match or
        If-Modified-Since with what it was fetched with): a 304 keeps it, a 200 replaces it (pages that change).
        """
        dest = Path(dest)
        kind = kind or kind_of(dest.name)
        folder = log.path.parent
        if not os.path.abspath(dest).startswith(os.path.join(os.path.abspath(folder), "")):
            raise HttpError(url, None, f"refusing to write {dest}: outside {folder}")
        relative = Path(os.path.relpath(dest, folder)).as_posix()
        previous = log.latest(url)
        fresh = previous is not None and previous.ok and previous.path == relative and dest.is_file()
        conditional: dict[str, str] = {}
        if fresh and previous.sha256 == _file_sha256(dest) and content_problem(kind, _file_head(dest)) is None:
            if revalidate and previous.etag:
                conditional = {"If-None-Match": previous.etag}
            elif revalidate and previous.last_modified:
                conditional = {"If-Modified-Since": previous.last_modified}
            else:
                return previous, False
        part = dest.with_name(dest.name + ".part")
        deadline = self._clock() + self.file_deadline
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with self._host_health(url):
                record = self._with_retries(
                    url, lambda: self._download_once(url, part, relative, md5, kind, deadline, conditional), deadline
                )
            if record is None:  # 304: the copy in place is current
                assert previous is not None
                return previous, False
            os.replace(part, dest)
            _discard_part(part)
        except HttpError as error:
            failure = error
        except OSError as error:
            failure = HttpError(url, None, f"cannot write {dest}: {error.strerror or error}")
        else:
            log.append(record)
            return record, True
        log.append(FetchRecord(url, None, utc_now(), failure.status, 0, None, None, None, False, failure.reason))
        raise failure

    @contextlib.contextmanager
    def _host_health(self, url: str) -> Iterator[None]:
        """Count the host's consecutive failures to answer (no response, 5xx, 429, too slow); past
        `max_host_failures` the host is given up for the rest of the run, so one dead or crawling host cannot hold
        the fetch for hours. A host that answers (even 404) is healthy again."""
        host = self._host(url)
        if self.max_host_failures and host.failures >= self.max_host_failures:
            raise HttpError(url, None, f"host given up after {host.failures} consecutive failures in this run")
        try:
            yield
        except HttpError as error:
            if not isinstance(error, RobotsDisallowed) and (error.status is None or _transient(error.status)):
                host.failures += 1
            else:
                host.failures = 0
            raise
        host.failures = 0

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
        deadline = self._clock() + self.page_deadline

        def attempt() -> bytes:
            with self._turn(host):
                response = self._send(robots_url, None)
                with response:
                    return self._read_page(robots_url, response, deadline)

        try:
            rules = self._with_retries(robots_url, attempt, deadline).decode("utf-8", errors="replace")
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
                wait = host.last_start + host.delay - self._clock()
                if wait > 0:
                    self._sleep(wait)
            host.last_start = self._clock()
            yield

    @contextlib.contextmanager
    def _exchange(self, url: str, headers: dict[str, str] | None) -> Iterator[requests.Response]:
        """One request, redirects followed hop by hop (each target checked against its host's robots.txt and paced);
        yields the final response, whose `.url` is the original-space URL, while holding its host's turn."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            host = self._allowed(current)
            with self._turn(host):
                response = self._send(current, headers)
                if not response.is_redirect:
                    response.url = current
                    with response:
                        yield response
                    return
                location = response.headers["Location"]
                response.close()
            current = self._redirect_target(current, location)
        raise HttpError(url, None, f"more than {MAX_REDIRECTS} redirects")

    def _redirect_target(self, url: str, location: str) -> str:
        """Where a redirect from `url` points, in the original URL space (a mirror's own URLs are mapped back)."""
        if not self.mirror:
            return urljoin(url, location)
        return unmirror_url(urljoin(mirror_url(url, self.mirror), location), self.mirror, urlsplit(url).scheme)

    def _with_retries(self, url: str, attempt: Callable[[], T], deadline: float | None = None) -> T:
        failure: _Retry | None = None
        for number in range(self.retries + 1):
            if failure is not None:
                wait = failure.retry_after if failure.retry_after is not None else self.backoff * 2 ** (number - 1)
                wait = min(wait, MAX_WAIT)
                if deadline is not None and self._clock() + wait > deadline:
                    raise HttpError(url, failure.status, f"deadline reached after {number} attempts: {failure.reason}")
                self._sleep(wait)
            try:
                return attempt()
            except _Retry as error:
                failure = error
        assert failure is not None
        attempts = "1 attempt" if self.retries == 0 else f"{self.retries + 1} attempts"
        raise HttpError(url, failure.status, f"gave up after {attempts}: {failure.reason}")

    def _send(self, url: str, headers: dict[str, str] | None) -> requests.Response:
        """One streamed GET, redirects not followed; raises _Retry for transient failures and HttpError for final
        ones."""
        target = mirror_url(url, self.mirror) if self.mirror else url
        try:
            response = self._session.get(
                target, headers=headers, stream=True, allow_redirects=False, timeout=(self.timeout, self.timeout)
            )
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise _Retry(None, _describe(error)) from None
        except requests.RequestException as error:
            raise HttpError(url, None, _describe(error)) from None
        status = response.status_code
        if status < 400:
            return response
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        response.close()
        if _transient(status):
            raise _Retry(status, reason, retry_after)
        raise HttpError(url, status, reason)

    def _chunks(self, url: str, response: requests.Response, deadline: float) -> Iterator[bytes]:
        """The body as it arrives, guarded by the deadline and the minimum rate; a dropped connection or a slow
        transfer is a _Retry, a passed deadline an HttpError."""
        guard = TransferGuard(deadline, self.min_rate, self.rate_window, self._clock)
        received = 0
        try:
            for chunk in arriving(response):
                received += len(chunk)
                yield chunk
                guard.check(received)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as error:
            raise _Retry(None, f"connection lost after {received} bytes: {_describe(error)}") from None
        except TooSlow as error:
            raise _Retry(None, str(error)) from None
        except PastDeadline as error:
            raise HttpError(url, None, str(error)) from None

    def _read_page(self, url: str, response: requests.Response, deadline: float) -> bytes:
        """A page's body, at most `max_page_bytes`, within the deadline and above the minimum rate."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_page_bytes:
            raise HttpError(url, response.status_code, f"page of {int(declared):,} bytes, over {self.max_page_bytes:,}")
        body = bytearray()
        for chunk in self._chunks(url, response, deadline):
            body += chunk
            if len(body) > self.max_page_bytes:
                raise HttpError(url, response.status_code, f"page larger than {self.max_page_bytes:,} bytes")
        return bytes(body)

    def _download_once(
        self,
        url: str,
        part: Path,
        relative: str,
        md5: str | None,
        kind: str | None,
        deadline: float,
        conditional: dict[str, str],
    ) -> FetchRecord | None:
        """One attempt at streaming `url` into `part`, resuming it when its validators allow; complete on return.
        None when a conditional request found the copy in place current (304)."""
        validators = _read_validators(part) if part.exists() else None
        if validators is None or validators.url != url or validators.if_range is None:
            _discard_part(part)  # a part nobody can prove is of the current file is worth nothing
            validators = None
        offset = part.stat().st_size if validators is not None else 0
        headers = {"Accept-Encoding": "identity"}
        if validators is not None and offset:
            headers |= {"Range": f"bytes={offset}-", "If-Range": validators.if_range}
        else:
            headers |= conditional
        try:
            with self._exchange(url, headers) as response:
                if response.status_code == 304 and conditional:
                    return None
                return self._receive(url, response, part, relative, md5, kind, deadline, validators if offset else None)
        except HttpError as error:
            if error.status != 416 or not offset:
                raise
            _discard_part(part)
            raise _Retry(416, "partial file does not fit the remote one; restarting", retry_after=0) from None

    def _receive(
        self,
        url: str,
        response: requests.Response,
        part: Path,
        relative: str,
        md5: str | None,
        kind: str | None,
        deadline: float,
        resuming: _Validators | None,
    ) -> FetchRecord:
        """Append a 206 that continues the same file to `part`, or write a 200 from scratch; check what arrived."""
        status = response.status_code
        offset = part.stat().st_size if resuming is not None else 0
        if status == 206:
            span = _content_range(response)
            same_total = span is not None and (resuming is None or resuming.total in (None, span[1]))
            if (
                resuming is None
                or span is None
                or span[0] != offset
                or not same_total
                or not resuming.matches(response)
            ):
                _discard_part(part)
                raise _Retry(206, "the server resumed another version or offset of the file; restarting", 0)
        elif status == 200:
            problem = declared_problem(kind, response.headers.get("Content-Type"))
            if problem is not None:
                raise HttpError(url, status, problem)
            _discard_part(part)
            _write_validators(part, url, response)
            offset = 0
        else:
            raise HttpError(url, status, f"unexpected HTTP {status} {response.reason or ''}".rstrip())
        sha256, digest_md5 = hashlib.sha256(), hashlib.md5()
        if offset:
            with open(part, "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    sha256.update(chunk)
                    digest_md5.update(chunk)
        size = offset
        with open(part, "ab" if offset else "wb") as handle:
            for chunk in self._chunks(url, response, deadline):
                handle.write(chunk)
                sha256.update(chunk)
                digest_md5.update(chunk)
                size += len(chunk)
        problem = content_problem(kind, _file_head(part))
        if problem is not None:
            _discard_part(part)
            raise HttpError(url, status, problem)
        if md5 is not None and digest_md5.hexdigest() != md5.strip().lower():
            _discard_part(part)
            raise HttpError(url, status, f"md5 mismatch: expected {md5}, got {digest_md5.hexdigest()}")
        return FetchRecord(
            url=url,
            path=relative,
            time=utc_now(),
            status=status,
            bytes=size,
            sha256=sha256.hexdigest(),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            ok=True,
        )
