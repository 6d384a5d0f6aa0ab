"""Progress lines: counts add up, a line comes at most every interval, with the rate since the start."""

import io

from gap_replay.progress import Progress


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
