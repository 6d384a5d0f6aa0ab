import gzip
import hashlib
import json
import pickle
import threading

import pytest
from scripted_server import USER_AGENT, Step, client, drop_midway, ranged, reply, server, stall

from gap_replay.http import (
    FetchLog,
    FetchRecord,
    HttpError,
    PoliteClient,
    RobotsDisallowed,
    mirror_url,
    retry_after_seconds,
    unmirror_url,
)
from gap_replay.recipe import HttpConfig

# A real `.xml.gz` body, so downloads pass the check that a file is what its name promises.
LINES = (f"<p n='{n}'>{hashlib.sha256(str(n).encode()).hexdigest()}</p>\n".encode() for n in range(100))
XML = b"<?xml version='1.0'?>\n<notes>" + b"".join(LINES)
PAYLOAD = gzip.compress(XML + b"</notes>\n", mtime=0)

__all__ = ["client", "server"]  # fixtures


def partial(dest, data: bytes, url: str, etag: str | None = '"v1"', total: int | None = None) -> None:
    """A `.part` left by an earlier attempt, with the validators it was started under."""
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    validators = {"url": url, "etag": etag, "last_modified": None, "total": total}
    part.with_name(part.name + ".json").write_text(json.dumps(validators))


# Retries and failures


def test_429_twice_with_retry_after_then_200_succeeds(server, client):
    url = server.route(
        "/page", reply(429, headers={"Retry-After": "0"}), reply(429, headers={"Retry-After": "0"}), reply(200, b"ok")
    )
    assert client(retries=2).get_text(url) == "ok"
    assert len(server.hits("/page")) == 3


def test_500_then_200_succeeds(server, client):
    url = server.route("/page", reply(500), reply(200, b"recovered"))
    assert client().get_bytes(url) == b"recovered"


def test_persistent_503_gives_up_naming_the_last_status(server, client):
    url = server.route("/page", reply(503))
    with pytest.raises(HttpError) as raised:
        client(retries=2).get(url)
    assert raised.value.status == 503
    assert "503" in str(raised.value) and url in str(raised.value)
    assert len(server.hits("/page")) == 3


def test_timeout_is_retried_then_fails_naming_the_url(server, client):
    url = server.route("/slow", stall(1.0))
    with pytest.raises(HttpError) as raised:
        client(retries=1, timeout=0.3).get(url)
    assert str(raised.value).startswith(url)
    assert "timed out" in raised.value.reason
    assert raised.value.status is None
    assert len(server.hits("/slow")) == 2


@pytest.mark.parametrize("status", [404, 403, 410])
def test_other_4xx_fails_at_once_without_retry(server, client, status):
    url = server.route("/gone", reply(status))
    with pytest.raises(HttpError) as raised:
        client(retries=3).get(url)
    assert raised.value.status == status
    assert len(server.hits("/gone")) == 1


def test_connection_refused_is_an_http_error(client):
    with pytest.raises(HttpError) as raised:
        client(retries=1).get("http://127.0.0.1:9/nothing")
    assert raised.value.status is None


def test_http_error_survives_pickling():
    error = pickle.loads(pickle.dumps(HttpError("https://example.org/a", 503, "HTTP 503 Service Unavailable")))
    assert (error.url, error.status, str(error)) == (
        "https://example.org/a",
        503,
        "https://example.org/a: HTTP 503 Service Unavailable",
    )


@pytest.mark.parametrize(("header", "seconds"), [("0", 0.0), ("2.5", 2.5), (None, None), ("soon", None)])
def test_retry_after_reads_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_retry_after_reads_an_http_date_in_the_past_as_zero():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# Robots and identity


def test_robots_disallow_raises_and_never_requests_the_page(server, client):
    server.route("/robots.txt", reply(200, b"User-agent: *\nDisallow: /private/\n"))
    server.route("/private/page", reply(200, b"secret"))
    with pytest.raises(RobotsDisallowed):
        client().get(server.base + "/private/page")
    assert server.hits("/private/page") == []


def test_robots_rules_for_our_product_token_apply_to_our_full_user_agent(server, client):
    server.route("/robots.txt", reply(200, b"User-agent: testbot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"))
    with pytest.raises(RobotsDisallowed):
        client().get(server.base + "/anything")


def test_robots_is_fetched_once_per_host(server, client):
    server.route("/robots.txt", reply(200, b"User-agent: *\nAllow: /\n"))
    server.route("/a", reply(200, b"a"))
    server.route("/b", reply(200, b"b"))
    polite = client()
    polite.get(server.base + "/a")
    polite.get(server.base + "/b")
    assert len(server.hits("/robots.txt")) == 1


def test_missing_robots_allows_everything(server, client):
    url = server.route("/page", reply(200, b"ok"))
    assert client().get_text(url) == "ok"
    assert len(server.hits("/robots.txt")) == 1


def test_unreachable_robots_disallows_the_host(server, client):
    server.route("/robots.txt", reply(503))
    url = server.route("/page", reply(200, b"ok"))
    with pytest.raises(RobotsDisallowed) as raised:
        client(retries=1).get(url)
    assert "robots.txt unavailable" in raised.value.reason
    assert server.hits("/page") == []


def test_user_agent_is_sent_on_robots_and_pages(server, client):
    url = server.route("/page", reply(200, b"ok"))
    client().get(url)
    assert [request.headers["User-Agent"] for request in server.seen] == [USER_AGENT, USER_AGENT]


# Pacing


class ScriptedClock:
    """Time that passes only when the client sleeps: pacing is read exactly, and the test never waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def stamped(clock: ScriptedClock, starts: list[float], body: bytes) -> Step:
    """A route step that notes the scripted time a request arrives at, then answers 200 with `body`."""
    answer = reply(200, body)

    def step(handler) -> None:
        starts.append(clock())
        answer(handler)

    return step


def test_requests_to_one_host_are_spaced_by_the_delay_even_from_threads(server, client):
    clock, starts = ScriptedClock(), []
    for name in "abc":
        server.route(f"/{name}", stamped(clock, starts, name.encode()))
    polite = client(delay=0.2, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=polite.get, args=(f"{server.base}/{name}",)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(server.seen) == 4  # robots.txt + three pages
    assert clock.sleeps == pytest.approx([0.2, 0.2, 0.2])  # each request waits out the one before it
    assert sorted(starts) == pytest.approx([100.2, 100.4, 100.6])


@pytest.mark.parametrize(
    ("crawl_delay", "ours", "starts"),
    [(0.25, 0.1, [100.25, 100.5]), (0.05, 0.3, [100.3, 100.6])],
    ids=["robots-longer-is-honoured", "robots-shorter-leaves-ours"],
)
def test_the_longer_of_robots_crawl_delay_and_ours_spaces_requests(server, client, crawl_delay, ours, starts):
    clock, seen = ScriptedClock(), []
    server.route("/robots.txt", reply(200, f"User-agent: *\nCrawl-delay: {crawl_delay}\n".encode()))
    server.route("/a", stamped(clock, seen, b"a"))
    server.route("/b", stamped(clock, seen, b"b"))
    polite = client(delay=ours, clock=clock, sleep=clock.sleep)
    polite.get(server.base + "/a")
    polite.get(server.base + "/b")
    assert seen == pytest.approx(starts)


# Downloads and the fetch log


def test_download_writes_the_file_and_an_ok_log_record(server, client, tmp_path):
    url = server.route(
        "/files/guide.xml.gz",
        reply(200, PAYLOAD, {"ETag": '"abc"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"}),
    )
    log = FetchLog(tmp_path / "raw" / "fetch_log.jsonl")
    record, downloaded = client().download(url, tmp_path / "raw" / "files" / "guide.xml.gz", log)
    assert downloaded
    assert (tmp_path / "raw" / "files" / "guide.xml.gz").read_bytes() == PAYLOAD
    assert record.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert (record.path, record.status, record.bytes, record.ok) == ("files/guide.xml.gz", 200, len(PAYLOAD), True)
    assert (record.etag, record.last_modified) == ('"abc"', "Mon, 02 Mar 2026 10:00:00 GMT")
    line = json.loads((tmp_path / "raw" / "fetch_log.jsonl").read_text())
    assert line["url"] == url and line["sha256"] == record.sha256 and line["time"].endswith("Z")


def test_second_download_makes_no_request_at_all(server, client, tmp_path):
    url = server.route("/file.xml.gz", reply(200, PAYLOAD))
    dest, log_path = tmp_path / "file.xml.gz", tmp_path / "fetch_log.jsonl"
    client().download(url, dest, FetchLog(log_path))
    requests_before = len(server.seen)
    record, downloaded = client().download(url, dest, FetchLog(log_path))
    assert not downloaded
    assert record.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert len(server.seen) == requests_before


def test_a_changed_file_on_disk_is_downloaded_again(server, client, tmp_path):
    url = server.route("/file.xml.gz", reply(200, PAYLOAD))
    dest, log = tmp_path / "file.xml.gz", FetchLog(tmp_path / "fetch_log.jsonl")
    polite = client()
    polite.download(url, dest, log)
    dest.write_bytes(b"tampered")
    _, downloaded = polite.download(url, dest, log)
    assert downloaded and dest.read_bytes() == PAYLOAD


def test_matching_md5_is_accepted(server, client, tmp_path):
    url = server.route("/file.xml.gz", reply(200, PAYLOAD))
    record, _ = client().download(
        url, tmp_path / "f", FetchLog(tmp_path / "log.jsonl"), md5=hashlib.md5(PAYLOAD).hexdigest()
    )
    assert record.ok


def test_md5_mismatch_leaves_no_file_and_logs_a_failure(server, client, tmp_path):
    url = server.route("/file.xml.gz", reply(200, PAYLOAD))
    dest, log = tmp_path / "file.xml.gz", FetchLog(tmp_path / "fetch_log.jsonl")
    with pytest.raises(HttpError, match="md5 mismatch"):
        client().download(url, dest, log, md5="0" * 32)
    assert list(tmp_path.iterdir()) == [tmp_path / "fetch_log.jsonl"]
    failed = log.latest(url)
    assert not failed.ok
    assert failed.error == f"md5 mismatch: expected {'0' * 32}, got {hashlib.md5(PAYLOAD).hexdigest()}"


def test_a_partial_file_is_resumed_with_range(server, client, tmp_path):
    url = server.route("/big.xml.gz", ranged(PAYLOAD))
    dest = tmp_path / "big.xml.gz"
    partial(dest, PAYLOAD[:1000], url, total=len(PAYLOAD))
    record, _ = client().download(url, dest, FetchLog(tmp_path / "log.jsonl"), md5=hashlib.md5(PAYLOAD).hexdigest())
    asked = server.hits("/big.xml.gz")[0].headers
    assert (asked["Range"], asked["If-Range"]) == ("bytes=1000-", '"v1"')
    assert dest.read_bytes() == PAYLOAD
    assert record.status == 206 and record.bytes == len(PAYLOAD)
    assert record.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert not (tmp_path / "big.xml.gz.part").exists() and not (tmp_path / "big.xml.gz.part.json").exists()


def test_a_server_ignoring_range_restarts_from_zero(server, client, tmp_path):
    url = server.route("/big.xml.gz", reply(200, PAYLOAD))
    dest = tmp_path / "big.xml.gz"
    partial(dest, b"stale bytes from another version", url)
    client().download(url, dest, FetchLog(tmp_path / "log.jsonl"))
    assert server.hits("/big.xml.gz")[0].headers["Range"] == "bytes=32-"
    assert dest.read_bytes() == PAYLOAD


def test_a_partial_file_longer_than_the_remote_one_restarts_after_416(server, client, tmp_path):
    url = server.route("/big.xml.gz", reply(416, headers={"Content-Range": "bytes */10"}), reply(200, PAYLOAD))
    dest = tmp_path / "big.xml.gz"
    partial(dest, PAYLOAD + b"left over from a longer version", url)
    client(retries=1).download(url, dest, FetchLog(tmp_path / "log.jsonl"))
    assert "Range" in server.hits("/big.xml.gz")[0].headers
    assert "Range" not in server.hits("/big.xml.gz")[1].headers
    assert dest.read_bytes() == PAYLOAD


def test_a_206_at_the_wrong_offset_restarts_from_zero(server, client, tmp_path):
    wrong = reply(206, PAYLOAD[10:], {"Content-Range": f"bytes 10-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"})
    url = server.route("/big.xml.gz", wrong, reply(200, PAYLOAD))
    dest = tmp_path / "big.xml.gz"
    partial(dest, PAYLOAD[:1000], url)
    client(retries=1).download(url, dest, FetchLog(tmp_path / "log.jsonl"))
    assert dest.read_bytes() == PAYLOAD


def test_a_connection_drop_mid_body_leaves_no_file_under_dest(server, client, tmp_path):
    url = server.route("/big.xml.gz", drop_midway(PAYLOAD))
    dest, log = tmp_path / "big.xml.gz", FetchLog(tmp_path / "log.jsonl")
    with pytest.raises(HttpError, match="connection lost"):
        client(retries=1).download(url, dest, log)
    assert not dest.exists()
    assert not log.latest(url).ok


def test_a_connection_drop_is_resumed_on_the_retry(server, client, tmp_path):
    url = server.route("/big.xml.gz", drop_midway(PAYLOAD), ranged(PAYLOAD))
    dest = tmp_path / "big.xml.gz"
    client(retries=1).download(url, dest, FetchLog(tmp_path / "log.jsonl"))
    assert server.hits("/big.xml.gz")[1].headers["Range"] == f"bytes={len(PAYLOAD) // 2}-"
    assert dest.read_bytes() == PAYLOAD


def test_a_404_download_logs_a_failure_and_raises(server, client, tmp_path):
    url = server.base + "/missing.xml.gz"
    log = FetchLog(tmp_path / "log.jsonl")
    with pytest.raises(HttpError) as raised:
        client().download(url, tmp_path / "missing.xml.gz", log)
    assert raised.value.status == 404
    assert log.latest(url).status == 404 and not log.latest(url).ok
    assert not (tmp_path / "missing.xml.gz").exists()


def test_a_destination_that_cannot_be_written_is_an_http_error_and_logged(server, client, tmp_path):
    url = server.route("/file.xml.gz", reply(200, PAYLOAD))
    (tmp_path / "blocker").write_text("a file where a folder should be")
    log = FetchLog(tmp_path / "log.jsonl")
    with pytest.raises(HttpError, match="cannot write"):
        client().download(url, tmp_path / "blocker" / "file.xml.gz", log)
    assert not log.latest(url).ok


def test_fetch_log_latest_is_the_newest_record_and_sees_other_writers(tmp_path):
    path = tmp_path / "fetch_log.jsonl"
    reader, writer = FetchLog(path), FetchLog(path)
    assert reader.latest("https://example.org/a") is None
    old = FetchRecord(
        "https://example.org/a", None, "2026-01-01T00:00:00Z", 500, 0, None, None, None, False, "HTTP 500"
    )
    new = FetchRecord("https://example.org/a", "a", "2026-01-02T00:00:00Z", 200, 3, "f" * 64, None, None, True)
    writer.append(old)
    assert reader.latest("https://example.org/a") == old
    writer.append(new)
    assert reader.latest("https://example.org/a") == new


def test_fetch_log_skips_a_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "fetch_log.jsonl"
    path.write_text('{"url": "https://example.org/a", "pa')
    record = FetchRecord("https://example.org/b", "b", "2026-01-02T00:00:00Z", 200, 3, "f" * 64, None, None, True)
    FetchLog(path).append(record)
    fresh = FetchLog(path)
    assert fresh.latest("https://example.org/a") is None
    assert fresh.latest("https://example.org/b") == record


# Mirror


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.who.int/a/b?x=1", "http://127.0.0.1:8123/www.who.int/a/b?x=1"),
        (
            "https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/",
            "http://127.0.0.1:8123/ftp.ncbi.nlm.nih.gov/pubmed/baseline/",
        ),
        ("https://example.org:8443/x", "http://127.0.0.1:8123/example.org:8443/x"),
        ("http://Example.ORG", "http://127.0.0.1:8123/example.org/"),
        ("https://example.org/page#section", "http://127.0.0.1:8123/example.org/page"),
    ],
)
def test_mirror_url_keeps_the_host_in_the_path(url, expected):
    assert mirror_url(url, "http://127.0.0.1:8123") == expected
    assert mirror_url(url, "http://127.0.0.1:8123/") == expected


def test_mirror_url_rejects_relative_urls():
    with pytest.raises(ValueError, match="not an absolute"):
        mirror_url("/pubmed/baseline/", "http://127.0.0.1:8123")


def test_unmirror_url_restores_the_original():
    assert (
        unmirror_url("http://127.0.0.1:8123/www.who.int/a/", "http://127.0.0.1:8123", "https")
        == "https://www.who.int/a/"
    )


def test_mirror_transport_keeps_original_urls_for_robots_and_errors(server, client):
    server.route("/www.who.int/robots.txt", reply(200, b"User-agent: *\nDisallow: /private\n"))
    server.route("/www.who.int/news/item", reply(200, b"news"))
    polite = client(mirror=server.base)
    response = polite.get("https://www.who.int/news/item")
    assert (response.text, response.url) == ("news", "https://www.who.int/news/item")
    with pytest.raises(RobotsDisallowed):
        polite.get("https://www.who.int/private/x")
    with pytest.raises(HttpError) as raised:
        polite.get("https://www.who.int/missing")
    assert str(raised.value) == "https://www.who.int/missing: HTTP 404 Not Found"
    assert [request.path for request in server.seen] == [
        "/www.who.int/robots.txt",
        "/www.who.int/news/item",
        "/www.who.int/missing",
    ]


def test_from_config_takes_the_recipe_http_section():
    config = HttpConfig(user_agent="x/1", delay_seconds=2.0, retries=1, backoff_seconds=0.5, timeout_seconds=9.0)
    with PoliteClient.from_config(config, mirror="http://127.0.0.1:1") as polite:
        assert (polite.user_agent, polite.delay, polite.retries, polite.backoff, polite.timeout, polite.mirror) == (
            "x/1",
            2.0,
            1,
            0.5,
            9.0,
            "http://127.0.0.1:1",
        )
