"""`gap-replay download`: fetch a published tokens folder (manifest, shards, tokenizer) resumably, and verify it.

Sources are http(s) URLs (through `requests`, resumed with `Range`), or anything fsspec opens: local paths,
`file://`, `gs://`, `s3://` (resumed by seeking). Each file is written to `<name>.part`, hashed while it arrives
(the resumed prefix included), and renamed into place only when its size and sha256 match the manifest. The
manifest is written last, and only once every shard has passed `manifest.verify`: a folder with a manifest is
complete.

A manifest is not trusted to point anywhere: shards come only from the manifest's own folder or its `base_url`,
and only over the manifest's own scheme (or one the user allows), so a manifest fetched over HTTP cannot make the
download read local files; shard paths must be plain relative names, and nothing is written outside DEST. The
manifest and tokenizer are read with a size limit and a deadline, and every transfer must keep moving.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import fsspec
import requests
import urllib3

from gap_replay import __version__
from gap_replay.files import atomic_path
from gap_replay.http import PastDeadline, TooSlow, TransferGuard, arriving
from gap_replay.progress import Counted, bar
from gap_replay.shards.manifest import read_manifest, verify

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
CHUNK = 1 << 20
TIMEOUT = 60.0
ATTEMPTS = 3
BACKOFF = 2.0
USER_AGENT = f"gap-replay/{__version__} (shard download)"
_GONE = (404, 410)
MAX_MANIFEST_BYTES = 64 << 20
MAX_TOKENIZER_BYTES = 512 << 20
SMALL_FILE_DEADLINE = 300.0  # seconds to read the manifest or the tokenizer, retries included
STALL_SECONDS = 120.0  # a transfer slower than MIN_RATE over this window is cut (and retried)
MIN_RATE = 1024  # bytes per second
SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")

T = TypeVar("T")


class DownloadError(ValueError):
    """A download that cannot complete; each problem names the shard or file and the reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Transient(Exception):
    """A failure worth another attempt from where the `.part` stopped: a dropped connection, a 5xx, a 429."""


@dataclass(frozen=True)
class _Remote:
    """One file to fetch: where it is, where it goes, what the manifest says it holds, and how to name it."""

    url: str
    target: Path
    bytes: int
    sha256: str
    label: str


def download(manifest_url: str, dest: Path, workers: int = 4, allow_schemes: Iterable[str] = ()) -> dict:
    """Fetch the manifest at `manifest_url` and its shards into `dest`, verify them, and return the manifest.

    Shards are read over the manifest's scheme only, or one of `allow_schemes` (for a `base_url` elsewhere)."""
    if workers < 1:
        raise DownloadError([f"workers must be at least 1, got {workers}"])
    dest = Path(dest)
    manifest_url = _manifest_location(manifest_url)
    data = _read(manifest_url, MAX_MANIFEST_BYTES)
    if data is None:
        raise DownloadError([f"{manifest_url}: no such manifest"])
    try:
        manifest = read_manifest(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise DownloadError([f"{manifest_url}: {str(error).removeprefix('manifest text: ')}"]) from error
    folder = _parent(manifest_url)
    base = _checked_base(manifest, manifest_url, folder, allow_schemes)
    remotes = _remotes(manifest["shards"], base, dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST).unlink(missing_ok=True)  # the folder stops counting as complete until every file checks out
    problems = _fetch_all(remotes, workers)
    problems += _fetch_tokenizer(f"{folder}/{TOKENIZER}", dest / TOKENIZER, manifest["tokenizer"]["sha256"])
    if problems:
        raise DownloadError(problems)
    with atomic_path(dest / MANIFEST) as temporary:
        _write_synced(temporary, data)
        problems = verify(temporary)
        if problems:
            raise DownloadError(problems)
    return manifest


def _manifest_location(url: str) -> str:
    """The manifest's URL; a folder (local, or a URL ending in `/`) means the `manifest.json` inside it."""
    if url.endswith("/") or ("://" not in url and Path(url).is_dir()):
        return f"{url.rstrip('/')}/{MANIFEST}"
    return url


def scheme_of(url: str) -> str:
    """`https`, `gs`, ...; `file` for local paths and `file://` URLs."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else "file"


def _checked_base(manifest: dict, manifest_url: str, folder: str, allow_schemes: Iterable[str]) -> str:
    """Where the shards are: `base_url`, else the manifest's folder; refused on a scheme the user did not allow."""
    base = (manifest["base_url"] or folder).rstrip("/")
    if not isinstance(base, str) or not base:
        raise DownloadError([f"{manifest_url}: base_url must be a URL, got {manifest['base_url']!r}"])
    allowed = {scheme_of(manifest_url), *(scheme.lower() for scheme in allow_schemes)}
    scheme = scheme_of(base)
    if scheme not in allowed:
        raise DownloadError(
            [
                f"{manifest_url}: the manifest sends the shards to {base} ({scheme}), but it was read over "
                f"{scheme_of(manifest_url)}; pass --allow-scheme {scheme} to allow that"
            ]
        )
    return base


def _safe_relative(path: str) -> bool:
    """A shard path made of plain names (`train-00000-of-00004`, `sub/x`): nothing absolute, `..`, or URL-like."""
    segments = path.split("/")
    return all(SAFE_SEGMENT.fullmatch(segment) for segment in segments)


def _parent(url: str) -> str:
    """The folder of a manifest URL or local path, in the same form, without a trailing slash."""
    if "://" in url:
        return url.split("?", 1)[0].rsplit("/", 1)[0]
    return str(Path(url).resolve().parent)


def _remotes(shards: list[dict], base: str, dest: Path) -> list[_Remote]:
    """The `.bin` and `.idx` of every shard: at `<base>/<path>.<kind>`, going to `<dest>/<path>.<kind>`; a path that
    is not plain, or that would land outside `dest` (through a symbolic link), is refused."""
    root = dest.resolve()
    unsafe = [shard["path"] for shard in shards if not _safe_relative(str(shard["path"]))]
    unsafe += [
        shard["path"]
        for shard in shards
        if shard["path"] not in unsafe and not (dest / shard["path"]).resolve().is_relative_to(root)
    ]
    if unsafe:
        raise DownloadError([f"shard path {path!r} is not a plain relative name inside {dest}" for path in unsafe])
    return [
        _Remote(
            url=f"{base}/{shard['path']}.{kind}",
            target=dest / f"{shard['path']}.{kind}",
            bytes=shard[kind]["bytes"],
            sha256=shard[kind]["sha256"],
            label=f"shard {shard['path']}",
        )
        for shard in shards
        for kind in ("bin", "idx")
    ]


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _fetch_all(remotes: list[_Remote], workers: int) -> list[str]:
    """Fetch every file in parallel under one progress bar over bytes; the problems of those that failed."""
    with (
        bar(total=sum(r.bytes for r in remotes), unit="B", unit_scale=True, desc="download") as progress,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        futures = [pool.submit(_fetch, remote, progress) for remote in remotes]
        problems = []
        for future in futures:
            try:
                future.result()
            except DownloadError as error:
                problems += error.problems
    return problems


def _fetch(remote: _Remote, progress: Counted) -> bool:
    """Bring one file into place; False when it was already there with the right size and sha256."""
    part = remote.target.with_name(remote.target.name + ".part")
    if _is_complete(remote.target, remote.bytes, remote.sha256):
        part.unlink(missing_ok=True)
        progress.update(remote.bytes)
        return False
    remote.target.parent.mkdir(parents=True, exist_ok=True)
    try:
        digest = _retrying(lambda: _transfer(remote, part, progress))
    except _Transient as error:
        done = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            [f"{remote.label}: {error} after {done} of {remote.bytes} bytes ({ATTEMPTS} attempts); rerun to resume"]
        ) from error
    size = part.stat().st_size
    if size != remote.bytes:
        part.unlink()
        raise DownloadError([f"{remote.label}: {remote.url} has {size} bytes, the manifest says {remote.bytes}"])
    if digest != remote.sha256:
        part.unlink()
        raise DownloadError(
            [f"{remote.label}: sha256 {digest} of {remote.url} does not match the manifest's {remote.sha256}"]
        )
    os.replace(part, remote.target)
    return True


def _retrying(action: Callable[[], T]) -> T:
    """Run `action`, again after a growing pause while it fails in a way worth retrying, at most ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS):
        try:
            return action()
        except _Transient:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
    return action()


def _is_complete(path: Path, size: int, sha256: str) -> bool:
    if not (path.is_file() and path.stat().st_size == size):
        return False
    digest = hashlib.sha256()
    _hash_into(digest, path)
    return digest.hexdigest() == sha256


def _transfer(remote: _Remote, part: Path, progress: Counted) -> str:
    """Append the rest of the file to `part` (or restart it when the source cannot resume); its sha256."""
    offset = part.stat().st_size if part.exists() else 0
    if offset > remote.bytes:
        part.unlink()
        offset = 0
    digest = hashlib.sha256()
    if offset:
        _hash_into(digest, part)
        progress.update(offset)
    if part.exists() and offset == remote.bytes:
        return digest.hexdigest()
    try:
        with _chunks(remote.url, offset) as (start, chunks):
            if start != offset:
                progress.update(start - offset)
                digest = hashlib.sha256()
            size = start
            with open(part, "ab" if start else "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > remote.bytes:
                        out.close()
                        part.unlink()
                        raise DownloadError(
                            [f"{remote.label}: {remote.url} has more than the {remote.bytes} bytes the manifest says"]
                        )
                    out.write(chunk)
                    digest.update(chunk)
                    progress.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
    except FileNotFoundError as error:
        raise DownloadError([f"{remote.label}: {remote.url} is missing"]) from error
    except _Transient:
        progress.update(-(part.stat().st_size if part.exists() else 0))
        raise
    return digest.hexdigest()


@contextlib.contextmanager
def _chunks(url: str, offset: int, deadline: float | None = None) -> Iterator[tuple[int, Iterator[bytes]]]:
    """The bytes of `url` from `offset` on, as (where they start, chunks); they start at 0 when it cannot resume.
    The chunks must keep coming at MIN_RATE over STALL_SECONDS, and end by `deadline` (a time.monotonic value).

    Raises FileNotFoundError when the file does not exist, `_Transient` for failures worth retrying, and
    DownloadError for any other refusal.
    """
    try:
        opener = _http_chunks if _is_http(url) else _fsspec_chunks
        with opener(url, offset) as (start, chunks):
            yield start, _guarded(chunks, TransferGuard(deadline, MIN_RATE, STALL_SECONDS, time.monotonic))
    except TooSlow as error:
        raise _Transient(f"{url}: {error}") from error
    except PastDeadline as error:
        raise DownloadError([f"{url}: {error}"]) from error
    except (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
    ) as error:
        raise _Transient(f"{url}: {type(error).__name__}") from error
    except FileNotFoundError:
        raise
    except (PermissionError, IsADirectoryError, NotADirectoryError) as error:
        raise DownloadError([f"{url}: {type(error).__name__} ({error})"]) from error
    except OSError as error:
        raise _Transient(f"{url}: {error}") from error


@contextlib.contextmanager
def _http_chunks(url: str, offset: int) -> Iterator[tuple[int, Iterator[bytes]]]:
    """GET with `Range: bytes=offset-`: a 206 continues the file, a 200 (or a 416) starts it over."""
    response = _get(url, {"Range": f"bytes={offset}-"} if offset else {})
    if response.status_code == 416:
        response.close()
        response = _get(url, {})
    with response:
        start = offset if response.status_code == 206 else 0
        if response.status_code == 206 and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            raise DownloadError([f"{url}: asked for bytes {offset}- and got {response.headers.get('Content-Range')}"])
        yield start, arriving(response, decode=True)


def _guarded(chunks: Iterator[bytes], guard: TransferGuard) -> Iterator[bytes]:
    received = 0
    for chunk in chunks:
        received += len(chunk)
        yield chunk
        guard.check(received)


def _get(url: str, headers: dict[str, str]) -> requests.Response:
    """A streamed GET whose status says it is worth reading; 404/410 raise FileNotFoundError, 429/5xx `_Transient`."""
    response = requests.get(url, headers={"User-Agent": USER_AGENT, **headers}, stream=True, timeout=TIMEOUT)
    status = response.status_code
    if status in (200, 206, 416):
        return response
    response.close()
    if status in _GONE:
        raise FileNotFoundError(url)
    if status == 429 or status >= 500:
        raise _Transient(f"{url}: HTTP {status}")
    raise DownloadError([f"{url}: HTTP {status} {response.reason}"])


@contextlib.contextmanager
def _fsspec_chunks(url: str, offset: int) -> Iterator[tuple[int, Iterator[bytes]]]:
    """Open through fsspec and seek to `offset`; a scheme whose filesystem package is absent is an error."""
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as error:
        raise DownloadError([f"{url}: cannot open ({error})"]) from error
    with fs.open(path, "rb") as stream:
        stream.seek(offset)
        yield offset, iter(lambda: stream.read(CHUNK), b"")


def _read(url: str, limit: int) -> bytes | None:
    """The whole of a small file (the manifest, the tokenizer), at most `limit` bytes and within
    SMALL_FILE_DEADLINE seconds; None when it does not exist."""
    deadline = time.monotonic() + SMALL_FILE_DEADLINE

    def read() -> bytes:
        body = bytearray()
        with _chunks(url, 0, deadline) as (_, chunks):
            for chunk in chunks:
                body += chunk
                if len(body) > limit:
                    raise DownloadError([f"{url}: larger than {limit:,} bytes; not a manifest or tokenizer"])
        return bytes(body)

    try:
        return _retrying(read)
    except FileNotFoundError:
        return None
    except _Transient as error:
        raise DownloadError([f"{error} ({ATTEMPTS} attempts)"]) from error


def _fetch_tokenizer(url: str, target: Path, sha256: str) -> list[str]:
    """Copy `tokenizer.json` from beside the manifest when it is published there; it must hash as the manifest says."""
    data = _read(url, MAX_TOKENIZER_BYTES)
    if data is None:
        return []
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        return [f"{TOKENIZER}: sha256 {digest} of {url} does not match the manifest's tokenizer sha256 {sha256}"]
    with atomic_path(target) as temporary:
        _write_synced(temporary, data)
    return []


def _hash_into(digest: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)


def _write_synced(path: Path, data: bytes) -> None:
    """Write and fsync, so the rename that follows never exposes a file whose bytes are still in flight."""
    with open(path, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
