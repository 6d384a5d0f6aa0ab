"""Progress lines: counts add up, a line comes at most every interval, with the rate since the start."""

import io
import threading

from tqdm import tqdm

from gap_replay.progress import LogBar, Progress, Whole, bar


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_comes_only_once_the_interval_has_passed():
    clock, out = Clock(), io.StringIO()
    progress = Progress("curate", "documents", every_seconds=30, clock=clock, stream=out)

    clock.now = 110.0
    assert progress.add(documents=500, files=2) is None
    clock.now = 130.0
    line = progress.add(documents=700, files=1)

    assert line == "curate: 1,200 documents, 3 files so far (40 documents/s)"  # 1,200 in 30 s
    assert out.getvalue() == line + "\n"
    clock.now = 159.0
    assert progress.add(documents=1) is None  # 29 s after the last line
    clock.now = 160.0
    assert progress.add(documents=1) == "curate: 1,202 documents, 3 files so far (20 documents/s)"


def test_a_log_bar_says_the_share_done_the_rate_and_the_time_left():
    clock, out = Clock(), io.StringIO()
    files = LogBar(total=40, desc="pubmed baseline", unit="files", every_seconds=30, clock=clock, stream=out)

    clock.now = 120.0
    assert files.update(5) is None  # 20 s after the start: too soon
    clock.now = 130.0
    # 12 files in 30 s: 0.4 files/s; 28 left take 70 s.
    assert files.update(7) == "pubmed baseline: 12 files of 40 files (30%), 0.4 files/s, about 70 s left"
    clock.now = 145.0
    assert files.close() == "pubmed baseline: 12 files in 45 s"
    assert files.close() is None, "one last line"
    assert out.getvalue().splitlines() == [
        "pubmed baseline: 12 files of 40 files (30%), 0.4 files/s, about 70 s left",
        "pubmed baseline: 12 files in 45 s",
    ]


def test_a_log_bar_over_bytes_scales_them():
    clock, out = Clock(), io.StringIO()
    download = LogBar(total=50e6, desc="download", unit="B", unit_scale=True, every_seconds=10, clock=clock, stream=out)
    clock.now = 110.0
    assert download.update(20e6) == "download: 20.0 MB of 50.0 MB (40%), 2.0 MB/s, about 15 s left"


def test_a_log_bar_counts_what_it_iterates_and_ends_with_the_loop():
    clock, out = Clock(), io.StringIO()
    seen = []
    for item in LogBar(["a", "b", "c"], desc="replay", unit="files", every_seconds=2, clock=clock, stream=out):
        seen.append(item)
        clock.now += 1
    assert seen == ["a", "b", "c"]
    assert out.getvalue().splitlines() == [
        "replay: 2 files of 3 files (67%), 1 files/s, about 1 s left",
        "replay: 3 files in 3 s",
    ]


def test_work_done_before_the_first_line_was_due_says_nothing():
    clock, out = Clock(), io.StringIO()
    for _ in LogBar(range(3), desc="pmc", unit="packages", every_seconds=30, clock=clock, stream=out):
        clock.now += 1
    assert out.getvalue() == ""


def test_a_log_bar_takes_updates_from_many_threads():
    counter = LogBar(total=8000, desc="download", unit="B", stream=io.StringIO())
    threads = [threading.Thread(target=lambda: [counter.update(1) for _ in range(1000)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.n == 8000


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_is_tqdm_on_a_terminal_and_plain_lines_in_a_log():
    assert isinstance(bar(total=3, desc="fetch", unit="files", stream=Terminal()), tqdm)
    assert isinstance(bar(total=3, desc="fetch", unit="files", stream=io.StringIO()), LogBar)


def test_workers_sharing_a_folder_report_the_whole_job_with_the_time_left(tmp_path):
    clock, wall, out = Clock(), Clock(), io.StringIO()
    whole = Whole(str(tmp_path), total=1000, started=wall.now)
    first, second = (
        Progress("build: tokenizing", "documents", every_seconds=10, clock=clock, stream=out, whole=whole, wall=wall)
        for _ in range(2)
    )
    clock.now = wall.now = 110.0
    first.add(documents=150)  # its count lands in the folder with its line
    clock.now = wall.now = 120.0
    # 150 + 250 of 1,000 in the 20 s since the job started: 20 documents/s, 600 left take 30 s.
    assert second.add(documents=250) == (
        "build: tokenizing: 400 documents of 1,000 documents (40%), 20 documents/s, about 30 s left"
    )


def test_without_a_total_the_whole_job_has_a_count_and_a_rate(tmp_path):
    clock, wall, out = Clock(), Clock(), io.StringIO()
    whole = Whole(str(tmp_path), total=None, started=90.0)
    cleaning = Progress(
        "curate: cleaning", "documents", every_seconds=0, clock=clock, stream=out, whole=whole, wall=wall
    )
    assert cleaning.add(documents=500) == "curate: cleaning: 500 documents so far (50 documents/s)"
