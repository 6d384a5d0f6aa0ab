"""The language-ID bench runs end to end on a small pass (it reports figures; nothing here checks speed)."""

from gap_replay import bench_lang


def test_the_bench_reports_accuracy_and_speed_for_each_detector(capsys):
    bench_lang.main(["--docs", "20", "--repeat", "1", "--detectors", "fasttext"])
    printed = capsys.readouterr().out
    assert "fasttext" in printed and "docs/s" in printed
