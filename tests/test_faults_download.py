"""`gap-replay download` against hostile manifests and servers: shards only from where the manifest may point, over
the schemes allowed, bounded reads, and nothing written outside DEST."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from scripted_server import drip, endless, reply, server
from test_download import TRAIN, publish

from gap_replay.cli import main
from gap_replay.shards import download as download_module
from gap_replay.shards.download import DownloadError, download

__all__ = ["server"]  # fixture


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download_module, "BACKOFF", 0.0)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_a_manifest_over_http_cannot_send_the_download_to_local_files(server, tmp_path):
    secrets = tmp_path / "secrets"
    publish(secrets)  # files that exist on this machine, with a manifest that knows their sha256
    manifest = manifest_of(secrets) | {"base_url": secrets.as_uri()}
    url = server.route("/tokens/manifest.json", reply(200, json.dumps(manifest).encode()))
    with pytest.raises(DownloadError, match=r"sends the shards to file://.* \(file\), but it was read over http"):
        download(url, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    downloaded = download(url, tmp_path / "dest", allow_schemes=["file"])  # unless the user says so
    assert downloaded["base_url"] == secrets.as_uri()


def test_the_command_line_names_the_scheme_to_allow(server, tmp_path, capsys):
    manifest = manifest_of(publish(tmp_path / "published").parent) | {"base_url": "s3://bucket/tokens"}
    url = server.route("/manifest.json", reply(200, json.dumps(manifest).encode()))
    assert main(["download", url, str(tmp_path / "dest")]) == 2
    assert "pass --allow-scheme s3 to allow that" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["../escaped", "/etc/escaped", "a/../../escaped", "train\\..\\x", ".hidden", "a//b"])
def test_shard_paths_that_are_not_plain_relative_names_are_refused(tmp_path, path):
    published = publish(tmp_path / "published").parent
    manifest = manifest_of(published)
    manifest["shards"][0]["path"] = path
    (published / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DownloadError, match=r"path|relative"):
        download(str(published / "manifest.json"), tmp_path / "dest")
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.glob("dest/**/*.part"))


def test_a_symbolic_link_inside_dest_cannot_carry_a_shard_outside(tmp_path):
    published = publish(tmp_path / "published").parent
    manifest = manifest_of(published)
    manifest["shards"][0]["path"] = f"sub/{TRAIN}"
    (published / "sub").mkdir()
    for suffix in (".bin", ".idx"):
        shutil.move(published / f"{TRAIN}{suffix}", published / "sub" / f"{TRAIN}{suffix}")
    (published / "manifest.json").write_text(json.dumps(manifest))
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    os.symlink(outside, dest / "sub")
    with pytest.raises(DownloadError, match=rf"shard path 'sub/{TRAIN}' is not a plain relative name inside"):
        download(str(published / "manifest.json"), dest)
    assert list(outside.iterdir()) == []


def test_a_manifest_body_that_never_ends_is_cut_at_the_size_limit(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "MAX_MANIFEST_BYTES", 64 << 10)
    url = server.route("/manifest.json", endless(b'{"format": "gap-replay-manifest/1", "pad": "' + b"x" * 4096))
    with pytest.raises(DownloadError, match=r"larger than 65,536 bytes; not a manifest or tokenizer"):
        download(url, tmp_path / "dest")


def test_a_manifest_that_drips_is_cut_at_its_deadline(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "SMALL_FILE_DEADLINE", 0.3)
    url = server.route("/manifest.json", drip(b"{" + b" " * 1000 + b"}", every=0.02))
    with pytest.raises(DownloadError, match="not finished by its deadline"):
        download(url, tmp_path / "dest")


def test_a_shard_that_drips_is_retried_then_named(server, tmp_path, monkeypatch):
    published = publish(tmp_path / "published").parent
    monkeypatch.setattr(download_module, "STALL_SECONDS", 0.2)
    monkeypatch.setattr(download_module, "MIN_RATE", 1000)
    manifest = manifest_of(published) | {"base_url": server.base + "/tokens"}
    for shard in manifest["shards"]:
        for kind in ("bin", "idx"):
            data = (published / f"{shard['path']}.{kind}").read_bytes()
            slow = shard["path"] == TRAIN and kind == "bin"
            server.route(f"/tokens/{shard['path']}.{kind}", drip(data, every=0.05) if slow else reply(200, data))
    url = server.route("/tokens/manifest.json", reply(200, json.dumps(manifest).encode()))
    with pytest.raises(DownloadError, match=rf"shard {TRAIN}: .*transfer too slow.* rerun to resume"):
        download(url, tmp_path / "dest")
    assert not (tmp_path / "dest" / "manifest.json").exists()
