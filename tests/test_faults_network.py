"""Fetch against servers that misbehave, on real loopback servers: a file that changes under a partial download,
200 error pages for every kind of raw file and listing, bytes that drip, connections reset mid-body, redirects to
hosts whose robots.txt says no. Nothing wrong is ever kept or trusted by a rerun, and fetch says what failed."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scripted_server import client, drip, drop_midway, endless, ranged, redirect, reply, running, server
from stage_helpers import small_sample_recipe

from gap_replay import stages
from gap_replay.cli import main
from gap_replay.http import FetchLog, HttpError, RobotsDisallowed
from gap_replay.pipelines.fetch import run_fetch
from gap_replay.recipe import parse_recipe
from gap_replay.sources.mirror import materialize
from gap_replay.sources.mirror.server import serve

__all__ = ["client", "server"]  # fixtures

ERROR_PAGE = b"<!DOCTYPE html><html><head><title>Service unavailable</title></head><body>Try later</body></html>"
V1 = gzip.compress(b"<?xml version='1.0'?><set>" + b"".join(b"<a>%d</a>" % n for n in range(4000)) + b"</set>", 0)
V2 = gzip.compress(b"<?xml version='1.0'?><set>" + b"".join(b"<b>%d</b>" % n for n in range(4100)) + b"</set>", 0)


def download(client, url: str, tmp_path: Path, name: str = "file.xml.gz"):
    return client.download(url, tmp_path / name, FetchLog(tmp_path / "fetch_log.jsonl"))


# --- a partial download and the file it belongs to -------------------------------------------------------------


def test_a_part_of_a_file_that_changed_on_the_server_is_started_over_not_resumed(server, client, tmp_path):
    url = server.route("/file.xml.gz", drop_midway(V1, '"v1"'), ranged(V2, '"v2"'))
    record, _ = download(client(retries=1), url, tmp_path)
    resumed = server.hits("/file.xml.gz")[1].headers
    assert (resumed["Range"], resumed["If-Range"]) == (f"bytes={len(V1) // 2}-", '"v1"')
    assert (tmp_path / "file.xml.gz").read_bytes() == V2, "the server sent all of v2, not v1's head and v2's tail"
    assert record.status == 200 and record.sha256 == hashlib.sha256(V2).hexdigest()


def test_a_server_that_ignores_if_range_cannot_splice_two_versions_together(server, client, tmp_path):
    url = server.route(
        "/file.xml.gz", drop_midway(V1, '"v1"'), ranged(V2, '"v2"', honour_if_range=False), ranged(V2, '"v2"')
    )
    download(client(retries=2), url, tmp_path)
    assert (tmp_path / "file.xml.gz").read_bytes() == V2
    third = server.hits("/file.xml.gz")[2].headers
    assert "Range" not in third, "the 206 of another version was thrown away and the file started over"


def test_a_partial_file_that_nothing_proves_unchanged_is_never_resumed(server, client, tmp_path):
    unmarked = reply(200, V1[: len(V1) // 2], {"Content-Length": str(len(V1))})  # no ETag, no Last-Modified
    url = server.route("/file.xml.gz", unmarked, ranged(V1))
    download(client(retries=1), url, tmp_path)
    assert "Range" not in server.hits("/file.xml.gz")[1].headers
    assert (tmp_path / "file.xml.gz").read_bytes() == V1


def test_a_connection_reset_on_every_try_fails_naming_the_url_and_the_part_waits_for_the_next_run(
    server, client, tmp_path
):
    url = server.route("/file.xml.gz", drop_midway(V1, '"v1"'))
    with pytest.raises(HttpError, match=r"gave up after 2 attempts: connection lost after \d+ bytes"):
        download(client(retries=1), url, tmp_path)
    assert not (tmp_path / "file.xml.gz").exists()
    assert (tmp_path / "file.xml.gz.part").stat().st_size == len(V1) // 2
    server.route("/file.xml.gz", ranged(V1, '"v1"'))
    download(client(), url, tmp_path)
    assert server.hits("/file.xml.gz")[-1].headers["Range"] == f"bytes={len(V1) // 2}-"
    assert (tmp_path / "file.xml.gz").read_bytes() == V1


# --- what arrives must be what was asked for -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "pubmed26n0001.xml.gz",
        "oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18.tar.gz",
        "oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18.filelist.csv",
        "wiki.jsonl",
        "wiki.jsonl.gz",
        "part-0.parquet",
        "guideline.pdf",
        "sitemap.xml",
    ],
)
@pytest.mark.parametrize("declared", ["text/html; charset=utf-8", "application/octet-stream"])
def test_a_200_error_page_is_never_kept_as_a_raw_file_nor_trusted_by_a_rerun(server, client, tmp_path, name, declared):
    url = server.route(f"/{name}", reply(200, ERROR_PAGE, {"Content-Type": declared}))
    log = FetchLog(tmp_path / "fetch_log.jsonl")
    polite = client()
    for _ in range(2):
        with pytest.raises(HttpError, match=r"served as text/html|expected .*, got"):
            polite.download(url, tmp_path / name, log)
    assert len(server.hits(f"/{name}")) == 2, "the rerun asked again"
    assert not (tmp_path / name).exists() and not (tmp_path / f"{name}.part").exists()
    assert not log.latest(url).ok


def test_a_file_an_older_run_kept_that_is_not_what_its_name_says_is_fetched_again(server, client, tmp_path):
    url = server.route("/pkg.tar.gz", reply(200, ERROR_PAGE))
    dest = tmp_path / "pkg.tar.gz"
    dest.write_bytes(ERROR_PAGE)  # as a version without content checks would have saved it, and logged it ok
    digest = hashlib.sha256(ERROR_PAGE).hexdigest()
    line = {"url": url, "path": "pkg.tar.gz", "time": "2026-01-01T00:00:00Z", "status": 200, "bytes": len(ERROR_PAGE)}
    line |= {"sha256": digest, "etag": None, "last_modified": None, "ok": True, "error": None}
    (tmp_path / "fetch_log.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(HttpError):
        download(client(), url, tmp_path, "pkg.tar.gz")
    assert len(server.hits("/pkg.tar.gz")) == 1, "the saved page was not trusted"


# --- slow hosts ------------------------------------------------------------------------------------------------


def test_a_host_that_drips_bytes_is_cut_below_the_minimum_rate_and_the_crawl_goes_on(server, client, tmp_path):
    slow = server.route("/slow.xml.gz", drip(V1, every=0.02))
    fast = server.route("/fast.xml.gz", reply(200, V2))
    polite = client(min_rate=1000, rate_window=0.2, retries=1, backoff=0)
    with pytest.raises(HttpError, match=r"gave up after 2 attempts: transfer too slow: \d+ B/s"):
        download(polite, slow, tmp_path, "slow.xml.gz")
    assert (tmp_path / "slow.xml.gz.part").exists(), "what arrived waits for a later, faster try"
    download(polite, fast, tmp_path, "fast.xml.gz")
    assert (tmp_path / "fast.xml.gz").read_bytes() == V2


def test_a_host_that_keeps_failing_is_given_up_for_the_run_and_one_that_answers_is_not(server, client, tmp_path):
    for name in "abcd":
        server.route(f"/{name}.xml.gz", reply(503))
    server.route("/missing.xml.gz", reply(404))
    polite = client(retries=0, max_host_failures=2)
    for name in "ab":
        with pytest.raises(HttpError, match="HTTP 503"):
            download(polite, f"{server.base}/{name}.xml.gz", tmp_path, f"{name}.xml.gz")
    with pytest.raises(HttpError, match="host given up after 2 consecutive failures in this run"):
        download(polite, f"{server.base}/c.xml.gz", tmp_path, "c.xml.gz")
    assert not server.hits("/c.xml.gz")
    patient = client(retries=0, max_host_failures=2)
    for name in ("a", "missing", "b", "c"):  # a 404 is an answer: the count starts again
        with pytest.raises(HttpError, match=r"HTTP (503|404)"):
            download(patient, f"{server.base}/{name}.xml.gz", tmp_path, f"{name}.xml.gz")


def test_a_file_has_a_deadline_even_while_bytes_keep_coming(server, client, tmp_path):
    url = server.route("/long.xml.gz", drip(V1, every=0.01, size=64))
    with pytest.raises(HttpError, match="not finished by its deadline"):
        download(client(min_rate=0, file_deadline=0.3), url, tmp_path, "long.xml.gz")


def test_a_listing_that_never_ends_is_cut_at_its_size_limit_and_its_deadline(server, client):
    huge = server.route("/huge", endless(b"<a href='x'>x</a>\n"))
    with pytest.raises(HttpError, match="larger than 1,024 bytes"):
        client(max_page_bytes=1024).get_text(huge)
    declared = server.route("/declared", reply(200, b"", {"Content-Length": "99999999"}))
    with pytest.raises(HttpError, match="page of 99,999,999 bytes, over 1,024"):
        client(max_page_bytes=1024).get_text(declared)
    dripping = server.route("/dripping", drip(b"<a>x</a>" * 100, every=0.02))
    with pytest.raises(HttpError, match="not finished by its deadline"):
        client(min_rate=0, page_deadline=0.2).get_text(dripping)


# --- redirects -------------------------------------------------------------------------------------------------


def test_a_redirect_to_another_host_obeys_that_hosts_robots_txt(server, client, tmp_path):
    with running() as other:
        other.route("/robots.txt", reply(200, b"User-agent: *\nDisallow: /private/\n"))
        other.route("/private/file.xml.gz", reply(200, V1))
        other.route("/public/file.xml.gz", reply(200, V2))
        closed = server.route("/closed.xml.gz", redirect(other.base + "/private/file.xml.gz"))
        opened = server.route("/open.xml.gz", redirect(other.base + "/public/file.xml.gz", 301))
        polite = client()
        with pytest.raises(RobotsDisallowed):
            download(polite, closed, tmp_path, "closed.xml.gz")
        record, _ = download(polite, opened, tmp_path, "open.xml.gz")
        assert not other.hits("/private/file.xml.gz"), "never requested"
        assert len(other.hits("/robots.txt")) == 1
    assert (tmp_path / "open.xml.gz").read_bytes() == V2 and record.url == opened


def test_a_redirect_loop_ends_with_an_error(server, client):
    server.route("/a", redirect("/b"))
    server.route("/b", redirect("/a"))
    with pytest.raises(HttpError, match="more than 10 redirects"):
        client().get_text(server.base + "/a")


# --- the sources, against a mimic that serves error pages ------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return materialize(tmp_path_factory.mktemp("mirror") / "site")


@pytest.fixture
def site(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "site"))


def sample(output: Path):
    recipe = parse_recipe(yaml.safe_load(small_sample_recipe()))
    return recipe.model_copy(update={"output": str(output)})


def fetch(site: Path, output: Path, sources: list[str]):
    return run_fetch(sample(output / "out"), sources, mirror_site=site)


NCBI = "ftp.ncbi.nlm.nih.gov"
PMC_XML = f"{NCBI}/pub/pmc/oa_bulk/oa_comm/xml"
PACKAGE = "oa_comm_xml.PMC011xxxxxx.baseline.2026-06-18"
REDPAJAMA = "data.together.xyz/redpajama-data-1T/v1.0.0"


@pytest.mark.parametrize(
    ("source", "listing", "reason"),
    [
        ("pubmed", f"{NCBI}/pubmed/baseline/index.html", "listing names no pubmedYYnNNNN.xml.gz file"),
        ("pmc", f"{PMC_XML}/index.html", "listing names no oa_comm package"),
        ("replay", f"{REDPAJAMA}/urls.txt", "lists no file of subset 'wikipedia'"),
        ("guidelines", "www.who.int/sitemap.xml", "sitemap unreadable"),
    ],
)
def test_an_error_page_served_as_a_listing_is_a_failure_not_an_empty_source(site, tmp_path, source, listing, reason):
    (site / listing).write_bytes(ERROR_PAGE)  # a folder with an index.html is served as that page, status 200
    summary = fetch(site, tmp_path, [source])[source]
    assert summary.failed >= 1 and any(reason in error for error in summary.errors), summary.errors


def test_an_empty_update_folder_is_no_failure_but_an_empty_baseline_is(site, tmp_path):
    for update in (site / NCBI / "pubmed" / "updatefiles").iterdir():
        update.unlink()
    assert fetch(site, tmp_path / "a", ["pubmed"])["pubmed"].failed == 0
    for baseline in (site / NCBI / "pubmed" / "baseline").iterdir():
        baseline.unlink()
    assert fetch(site, tmp_path / "b", ["pubmed"])["pubmed"].failed == 1


def md5_line(name: str, data: bytes) -> str:
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n"


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("pubmed", f"{NCBI}/pubmed/baseline/pubmed26n0002.xml.gz"),
        ("pubmed", f"{NCBI}/pubmed/baseline/pubmed26n0002.xml.gz.md5"),
        ("pmc", f"{PMC_XML}/{PACKAGE}.tar.gz"),
        ("pmc", f"{PMC_XML}/{PACKAGE}.filelist.csv"),
        ("replay", f"{REDPAJAMA}/book/book.jsonl"),
        ("guidelines", "www.who.int/publications/m/item/ipc-in-primary-care-clinics.pdf"),
    ],
)
def test_an_error_page_served_for_each_kind_of_raw_file_is_a_failure_and_never_recorded(site, tmp_path, source, path):
    (site / path).write_bytes(ERROR_PAGE)
    if path.endswith(".xml.gz"):  # an md5 that agrees, so only the content check can tell
        (site / f"{path}.md5").write_text(md5_line(Path(path).name, ERROR_PAGE))
    summary = fetch(site, tmp_path, [source])[source]
    assert summary.failed == 1 and Path(path).name in summary.errors[0], summary.errors
    assert summary.downloaded > 0, "the other files of the source were fetched"
    name = Path(path).name.removesuffix(".md5")
    record, _ = stages.read_record(tmp_path / "out", "fetch")
    assert not [entry for entry in record["files"] if entry["path"].endswith(name)]
    assert not list((tmp_path / "out").rglob(name))


# --- the command line ------------------------------------------------------------------------------------------


def test_fetch_exits_1_after_fetching_all_it_could_and_a_rerun_fetches_only_what_failed(site, tmp_path, capsys):
    package = site / PMC_XML / f"{PACKAGE}.tar.gz"
    good = package.read_bytes()
    package.write_bytes(ERROR_PAGE)
    recipe = tmp_path / "recipe.yaml"
    with serve(site) as base:
        recipe.write_text(small_sample_recipe().replace("mirror: true", f"mirror: {base}"))
        output = tmp_path / "out"
        command = [sys.executable, "-m", "gap_replay.cli", "fetch", "--recipe", str(recipe), "--output", str(output)]
        first = subprocess.run(command, capture_output=True, text=True, timeout=120)
        stopped = main(["corpus", "--recipe", str(recipe), "--output", str(output)])
        stopped_error = capsys.readouterr().err
        package.write_bytes(good)
        again = main(command[3:])
    assert first.returncode == 1
    assert f"{PACKAGE}.tar.gz: expected tar.gz, got not gzip data" in first.stderr
    assert "gap-replay fetch: 1 failed (listed above); run it again to retry them" in first.stderr
    assert "fetch pubmed: 3 downloaded" in first.stdout and "fetch pmc: 3 downloaded" in first.stdout
    assert stopped == 1 and not (output / "curated").exists(), "corpus stops after a fetch that failed"
    assert "gap-replay corpus: stopped after fetch" in stopped_error
    assert again == 0
    second = capsys.readouterr().out
    assert "fetch pmc: 1 downloaded, 3 already present" in second
    assert "fetch pubmed: 0 downloaded, 3 already present" in second


def test_a_download_is_never_written_outside_its_sources_raw_folder(server, client, tmp_path):
    url = server.route("/x.xml.gz", reply(200, V1))
    log = FetchLog(tmp_path / "raw" / "pubmed" / "fetch_log.jsonl")
    with pytest.raises(HttpError, match=r"refusing to write .*: outside"):
        client().download(url, tmp_path / "raw" / "pubmed" / ".." / "elsewhere.xml.gz", log)
    assert not server.hits("/x.xml.gz") and not (tmp_path / "raw" / "elsewhere.xml.gz").exists()
