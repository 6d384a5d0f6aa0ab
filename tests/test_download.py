import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gap_replay.shards import download as download_module
from gap_replay.shards.download import DownloadError, download
from gap_replay.shards.manifest import ShardEntry, build_manifest, shard_name, verify, write_manifest, write_shard
from gap_replay.sources.mirror import server
from gap_replay.sources.mirror.server import serve

EOS = 0
TOKENIZER_JSON = b'{"version": "1.0", "model": {"type": "BPE"}}\n'
TRAIN = shard_name("train", 0, 2)
OTHER = shard_name("train", 1, 2)
VALID = shard_name("valid", 0, 1)


def write_entry(folder: Path, path: str, split: str, documents: list[tuple[str, list[int]]]) -> ShardEntry:
    """Write a shard of (source, tokens) documents and return its manifest entry."""
    return write_shard(folder, path, split, documents, np.dtype(np.uint16))


def publish(folder: Path) -> Path:
    """A published tokens folder: three shards, tokenizer.json and the manifest; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = [
        write_entry(folder, TRAIN, "train", [("pmc", [*range(1, 3000), EOS]), ("pubmed", [7, 8, EOS])]),
        write_entry(folder, OTHER, "train", [("guidelines", [3, 4, 5, EOS])]),
        write_entry(folder, VALID, "valid", [("pubmed", [9, EOS])]),
    ]
    (folder / "tokenizer.json").write_bytes(TOKENIZER_JSON)
    digest = hashlib.sha256(TOKENIZER_JSON).hexdigest()
    tokenizer = {"name": "test-bpe", "vocab_size": 3000, "eos_id": EOS, "sha256": digest}
    manifest = build_manifest("sample", {"name": "sample"}, "cd" * 32, tokenizer, "uint16", shards)
    write_manifest(manifest, folder / "manifest.json")
    return folder / "manifest.json"


def shard_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.suffix in (".bin", ".idx")}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download_module, "BACKOFF", 0.0)


@pytest.fixture
def source(tmp_path) -> Path:
    return publish(tmp_path / "published")


@pytest.fixture
def site(tmp_path) -> Path:
    """A mirror site whose host folder `shards.example.org` holds a published tokens folder under `tokens/`."""
    publish(tmp_path / "site" / "shards.example.org" / "tokens")
    return tmp_path / "site"


@pytest.fixture
def requests_seen(monkeypatch) -> list[tuple[str, str | None]]:
    """Every GET the mirror server answers, as (path, Range header)."""
    seen: list[tuple[str, str | None]] = []
    answer = server.MirrorHandler.do_GET

    def recording(handler):
        seen.append((handler.path, handler.headers.get("Range")))
        answer(handler)

    monkeypatch.setattr(server.MirrorHandler, "do_GET", recording)
    return seen


def test_download_from_a_local_path_copies_every_shard_and_returns_the_manifest(source, tmp_path):
    dest = tmp_path / "dest"

    manifest = download(str(source), dest)

    assert manifest == json.loads(source.read_text())
    assert shard_files(dest) == shard_files(source.parent)
    assert (dest / "manifest.json").read_bytes() == source.read_bytes()
    assert (dest / "tokenizer.json").read_bytes() == TOKENIZER_JSON
    assert verify(dest / "manifest.json") == []
    assert not list(dest.glob("*.part")) and not list(dest.glob(".*"))


def test_download_from_a_file_url(source, tmp_path):
    dest = tmp_path / "dest"

    download(source.as_uri(), dest, workers=1)

    assert shard_files(dest) == shard_files(source.parent)
    assert verify(dest / "manifest.json") == []


def test_a_folder_stands_for_the_manifest_inside_it(source, tmp_path):
    download(str(source.parent), tmp_path / "dest")

    assert (tmp_path / "dest" / "manifest.json").read_bytes() == source.read_bytes()


def test_download_over_http_from_the_mirror_server(site, tmp_path, requests_seen):
    dest = tmp_path / "dest"

    with serve(site) as base:
        download(f"{base}/shards.example.org/tokens/manifest.json", dest)

    assert shard_files(dest) == shard_files(site / "shards.example.org" / "tokens")
    assert (dest / "tokenizer.json").read_bytes() == TOKENIZER_JSON
    assert verify(dest / "manifest.json") == []
    shards = [f"{shard}.{kind}" for shard in (TRAIN, OTHER, VALID) for kind in ("bin", "idx")]
    assert sorted(path.rsplit("/", 1)[1] for path, _ in requests_seen) == sorted(
        ["manifest.json", "tokenizer.json", *shards]
    )


def test_base_url_points_the_shards_elsewhere(tmp_path):
    shards = tmp_path / "bucket"
    publish(shards)
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["base_url"] = shards.as_uri()
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "manifest.json").write_text(json.dumps(manifest))

    download(str(tmp_path / "catalog" / "manifest.json"), tmp_path / "dest")

    assert shard_files(tmp_path / "dest") == shard_files(shards)
    assert not (tmp_path / "dest" / "tokenizer.json").exists()


def test_a_partial_file_is_resumed_and_hashed_with_its_prefix(source, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    whole = (source.parent / f"{TRAIN}.bin").read_bytes()
    (dest / f"{TRAIN}.bin.part").write_bytes(whole[: len(whole) // 2])

    download(str(source), dest)

    assert (dest / f"{TRAIN}.bin").read_bytes() == whole
    assert not (dest / f"{TRAIN}.bin.part").exists()


def test_a_damaged_partial_file_fails_the_checksum_and_is_removed(source, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    whole = bytearray((source.parent / f"{TRAIN}.bin").read_bytes())
    whole[0] ^= 0xFF
    (dest / f"{TRAIN}.bin.part").write_bytes(whole[: len(whole) // 2])

    with pytest.raises(DownloadError, match=rf"shard {TRAIN}: sha256 \w+ of .*{TRAIN}\.bin does not match"):
        download(str(source), dest)

    assert not (dest / f"{TRAIN}.bin.part").exists()
    download(str(source), dest)
    assert verify(dest / "manifest.json") == []


def test_http_resume_asks_only_for_the_missing_bytes(site, tmp_path, requests_seen):
    dest = tmp_path / "dest"
    dest.mkdir()
    whole = (site / "shards.example.org" / "tokens" / f"{TRAIN}.bin").read_bytes()
    half = len(whole) // 2
    (dest / f"{TRAIN}.bin.part").write_bytes(whole[:half])

    with serve(site) as base:
        download(f"{base}/shards.example.org/tokens/manifest.json", dest)

    assert (dest / f"{TRAIN}.bin").read_bytes() == whole
    assert [rng for path, rng in requests_seen if path.endswith(f"{TRAIN}.bin")] == [f"bytes={half}-"]


def test_a_server_that_ignores_range_restarts_the_file(site, tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    dest.mkdir()
    whole = (site / "shards.example.org" / "tokens" / f"{TRAIN}.bin").read_bytes()
    (dest / f"{TRAIN}.bin.part").write_bytes(b"\x00" * (len(whole) // 2))
    answer = server.MirrorHandler.do_GET

    def without_range(handler):
        del handler.headers["Range"]
        answer(handler)

    monkeypatch.setattr(server.MirrorHandler, "do_GET", without_range)

    with serve(site) as base:
        download(f"{base}/shards.example.org/tokens/manifest.json", dest)

    assert (dest / f"{TRAIN}.bin").read_bytes() == whole


def test_a_dropped_connection_is_resumed_within_the_run(site, tmp_path, monkeypatch, requests_seen):
    dest = tmp_path / "dest"
    whole = (site / "shards.example.org" / "tokens" / f"{TRAIN}.bin").read_bytes()
    half = len(whole) // 2
    send_file = server.MirrorHandler._send_file
    dropped: list[str] = []

    def drop_first_bin_halfway(handler, path, send_body):
        if path.name != f"{TRAIN}.bin" or dropped:
            return send_file(handler, path, send_body)
        dropped.append(handler.path)
        handler._head(server.HTTPStatus.OK, "application/octet-stream", len(whole), {})
        handler.wfile.write(whole[:half])
        handler.close_connection = True

    monkeypatch.setattr(server.MirrorHandler, "_send_file", drop_first_bin_halfway)
    monkeypatch.setattr(download_module, "CHUNK", 1024)  # so whole chunks reach the .part before the drop

    with serve(site) as base:
        download(f"{base}/shards.example.org/tokens/manifest.json", dest)

    assert (dest / f"{TRAIN}.bin").read_bytes() == whole
    first, second = [rng for path, rng in requests_seen if path.endswith(f"{TRAIN}.bin")]
    assert first is None
    assert 0 < int(second.removeprefix("bytes=").removesuffix("-")) <= half


def test_a_corrupted_source_shard_names_the_shard_and_writes_no_manifest(source, tmp_path):
    bin_path = source.parent / f"{OTHER}.bin"
    data = bytearray(bin_path.read_bytes())
    data[-3] ^= 0x01
    bin_path.write_bytes(bytes(data))
    dest = tmp_path / "dest"

    with pytest.raises(DownloadError, match=rf"shard {OTHER}: sha256 \w+ of .*{OTHER}\.bin does not match") as error:
        download(str(source), dest)

    assert len(error.value.problems) == 1
    assert not (dest / "manifest.json").exists()
    assert not (dest / f"{OTHER}.bin").exists() and not (dest / f"{OTHER}.bin.part").exists()
    assert (dest / f"{TRAIN}.bin").exists()


def test_a_source_larger_than_the_manifest_says_is_an_error(source, tmp_path):
    bin_path = source.parent / f"{VALID}.bin"
    bin_path.write_bytes(bin_path.read_bytes() + b"\x00\x00")

    with pytest.raises(DownloadError, match=rf"shard {VALID}: .*{VALID}\.bin has more than the 4 bytes"):
        download(str(source), tmp_path / "dest")

    assert not (tmp_path / "dest" / f"{VALID}.bin.part").exists()


def test_a_source_shorter_than_the_manifest_says_is_an_error(source, tmp_path):
    bin_path = source.parent / f"{VALID}.bin"
    bin_path.write_bytes(bin_path.read_bytes()[:2])

    with pytest.raises(DownloadError, match=rf"shard {VALID}: .*{VALID}\.bin has 2 bytes, the manifest says 4"):
        download(str(source), tmp_path / "dest")


def test_a_missing_shard_is_an_error_naming_it(source, tmp_path):
    (source.parent / f"{VALID}.idx").unlink()

    with pytest.raises(DownloadError, match=rf"shard {VALID}: .*{VALID}\.idx is missing"):
        download(str(source), tmp_path / "dest")

    assert not (tmp_path / "dest" / "manifest.json").exists()


def test_a_shard_missing_on_the_server_is_an_error_naming_it(site, tmp_path):
    (site / "shards.example.org" / "tokens" / f"{OTHER}.bin").unlink()

    with serve(site) as base, pytest.raises(DownloadError, match=rf"shard {OTHER}: http://\S+/{OTHER}\.bin is missing"):
        download(f"{base}/shards.example.org/tokens/manifest.json", tmp_path / "dest")


def test_complete_files_are_not_fetched_again(site, tmp_path, requests_seen):
    dest = tmp_path / "dest"
    with serve(site) as base:
        url = f"{base}/shards.example.org/tokens/manifest.json"
        download(url, dest)
        stamps = {path.name: path.stat().st_mtime_ns for path in dest.iterdir() if path.suffix in (".bin", ".idx")}
        requests_seen.clear()

        download(url, dest)

    assert {path.name: path.stat().st_mtime_ns for path in dest.iterdir() if path.suffix in (".bin", ".idx")} == stamps
    assert sorted(path.rsplit("/", 1)[1] for path, _ in requests_seen) == ["manifest.json", "tokenizer.json"]
    assert verify(dest / "manifest.json") == []


def test_a_damaged_local_file_is_fetched_again(source, tmp_path):
    dest = tmp_path / "dest"
    download(str(source), dest)
    (dest / f"{TRAIN}.idx").write_bytes(b"not an index")

    download(str(source), dest)

    assert shard_files(dest) == shard_files(source.parent)


def test_a_missing_tokenizer_is_not_an_error(source, tmp_path):
    (source.parent / "tokenizer.json").unlink()

    download(str(source), tmp_path / "dest")

    assert not (tmp_path / "dest" / "tokenizer.json").exists()
    assert verify(tmp_path / "dest" / "manifest.json") == []


def test_a_tokenizer_that_does_not_match_the_manifest_is_an_error(source, tmp_path):
    (source.parent / "tokenizer.json").write_bytes(b"{}")

    with pytest.raises(DownloadError, match=r"tokenizer\.json: sha256 \w+ of .* does not match the manifest"):
        download(str(source), tmp_path / "dest")

    assert not (tmp_path / "dest" / "manifest.json").exists()


def test_shards_that_fail_verification_leave_no_manifest(tmp_path):
    (tmp_path / "published").mkdir()
    entry = write_entry(tmp_path / "published", VALID, "valid", [("pubmed", [1, 2])])
    tokenizer = {"name": "t", "vocab_size": 300, "eos_id": EOS, "sha256": "0" * 64}
    manifest = build_manifest("m", {}, "0" * 64, tokenizer, "uint16", [entry])
    write_manifest(manifest, tmp_path / "published" / "manifest.json")

    with pytest.raises(DownloadError, match="do not end with the EOS id 0"):
        download(str(tmp_path / "published" / "manifest.json"), tmp_path / "dest")

    assert sorted(path.name for path in (tmp_path / "dest").iterdir()) == [f"{VALID}.bin", f"{VALID}.idx"]


def test_a_missing_manifest_is_an_error_naming_it(tmp_path):
    with pytest.raises(DownloadError, match=r"absent\.json: no such manifest"):
        download(str(tmp_path / "absent.json"), tmp_path / "dest")


def test_a_manifest_that_is_not_one_is_an_error_naming_it(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')

    with pytest.raises(DownloadError, match=r"manifest\.json: format is 'something-else'"):
        download(str(tmp_path / "manifest.json"), tmp_path / "dest")


def test_an_unreachable_server_is_an_error_after_retries(tmp_path):
    with serve(tmp_path) as base:
        pass

    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+/manifest\.json: ConnectionError \(3 attempts\)"):
        download(f"{base}/manifest.json", tmp_path / "dest")
