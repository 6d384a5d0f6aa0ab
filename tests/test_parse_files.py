"""`parse_files`, the work of `gap-replay parse`: a file's batches parsed on worker processes give, byte for byte,
the output and the report of one process reading it whole, including when a batch, the file or a worker fails."""

import functools
import gzip
import io
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from test_pubmed_batches import article, pubmed_file

from gap_replay import parse_files as parse_files_module
from gap_replay.parse_files import Workers, available_cores, parse_files
from gap_replay.sources import batcher_for, pubmed

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pubmed"
SMALL_BATCHES = functools.partial(pubmed.batches, batch_bytes=300)


def run(files, out: Path, workers: int, parse=pubmed.parse, batcher=SMALL_BATCHES) -> tuple[bytes, str, int, int]:
    """(output bytes, report, documents, failed files) of one parse_files call."""
    log = io.StringIO()
    documents, failures = parse_files(parse, files, out, batcher, workers, log)
    return out.read_bytes(), log.getvalue(), documents, failures


def in_both_ways(tmp_path: Path, files, parse=pubmed.parse) -> tuple[tuple, tuple]:
    """The run with two workers and the run in this process alone, on the same files."""
    return run(files, tmp_path / "two.jsonl", 2, parse), run(files, tmp_path / "one.jsonl", 1, parse)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def many_articles(count: int, text: str = "An abstract of several words.") -> bytes:
    return pubmed_file(*(article(pmid, text) for pmid in range(1, count + 1)))


def test_two_workers_write_what_one_process_writes(tmp_path):
    files = [
        write(tmp_path / "pubmed26n0001.xml", many_articles(40)),
        FIXTURES / "articles.xml",
        FIXTURES / "legacy.xml",
        write(tmp_path / "pubmed26n0002.xml.gz", gzip.compress(many_articles(25))),
    ]
    two, one = in_both_ways(tmp_path, files)
    assert two == one
    assert two[2] == two[0].count(b"\n") > 40 + 25 and two[3] == 0


def test_the_documents_of_each_file_come_in_file_order(tmp_path):
    first = write(tmp_path / "pubmed26n0001.xml", many_articles(30))
    second = write(tmp_path / "pubmed26n0002.xml", pubmed_file(*(article(pmid) for pmid in range(100, 130))))
    output, _, documents, _ = run([first, second], tmp_path / "out.jsonl", 2)
    ids = [line.split(b'"id":"pubmed:')[1].split(b'"')[0] for line in output.splitlines()]
    assert ids == [str(pmid).encode() for pmid in [*range(1, 31), *range(100, 130)]] and documents == 60


def test_a_record_whose_cdata_holds_an_end_tag_is_read_when_the_file_is_read_again_whole(tmp_path):
    tricky = article(18, "<![CDATA[the tag </PubmedArticle> in text]]>")
    data = pubmed_file(*(article(pmid) for pmid in range(1, 18)), tricky, article(19))
    two, one = in_both_ways(tmp_path, [write(tmp_path / "pubmed26n0001.xml", data)])
    assert two == one and two[2] == 19 and two[3] == 0
    assert b"the tag </PubmedArticle> in text" in two[0]


def test_a_gzip_file_cut_short_keeps_its_documents_before_the_break_and_reports_it(tmp_path):
    data = gzip.compress(many_articles(400, "Words of an abstract " * 20))
    broken = write(tmp_path / "pubmed26n0001.xml.gz", data[: len(data) // 2])
    after = write(tmp_path / "pubmed26n0002.xml", many_articles(10))
    two, one = in_both_ways(tmp_path, [broken, after])
    assert two == one
    assert f"{broken}: damaged gzip data" in two[1] and two[3] == 1
    assert 0 < two[2] - 10 < 400


@pytest.mark.parametrize("broken", [30, 49], ids=["in-the-middle", "in-the-last-batches"])
def test_malformed_xml_keeps_the_records_before_it_and_reports_it(tmp_path, broken):
    good = f"<ArticleTitle>Title {broken}.</ArticleTitle>".encode()
    data = many_articles(50).replace(good, good.replace(b"</ArticleTitle>", b"</Title>"))
    two, one = in_both_ways(tmp_path, [write(tmp_path / "pubmed26n0001.xml", data)])
    assert two == one
    assert "malformed XML" in two[1] and two[2] == broken - 1 and two[3] == 1


def test_a_file_that_is_not_pubmed_is_reported_as_the_parser_reports_it(tmp_path):
    two, one = in_both_ways(tmp_path, [FIXTURES / "error_page.html", FIXTURES / "articles.xml"])
    assert two == one
    assert f"{FIXTURES / 'error_page.html'}: " in two[1] and two[3] == 1


def dies_in_a_worker(stream, name):
    """PubMed's parser, except that a worker process handed the record with PMID 7 dies on the spot."""
    data = stream.read()
    if multiprocessing.parent_process() is not None and b"<PMID>7</PMID>" in data:
        os._exit(9)
    yield from pubmed.parse(io.BytesIO(data), name)


def test_a_worker_that_dies_costs_time_never_documents_and_the_next_file_is_still_read_in_batches(
    tmp_path, monkeypatch
):
    read_whole = []
    write_plain = parse_files_module._write_plain
    monkeypatch.setattr(
        parse_files_module,
        "_write_plain",
        lambda count, *rest: read_whole.append(count.path) or write_plain(count, *rest),
    )
    later = pubmed_file(*(article(pmid) for pmid in range(100, 130)))
    files = [write(tmp_path / "pubmed26n0001.xml", many_articles(30)), write(tmp_path / "pubmed26n0002.xml", later)]
    two = run(files, tmp_path / "two.jsonl", 2, dies_in_a_worker)
    assert read_whole == [str(files[0])]
    one = run(files, tmp_path / "one.jsonl", 1, dies_in_a_worker)
    assert two == one and two[2] == 60 and two[3] == 0


@pytest.mark.parametrize(("name", "workers"), [("articles.xml", 2), ("many.xml", 1)], ids=["one-batch", "one-worker"])
def test_one_batch_or_one_worker_parses_here_without_starting_workers(tmp_path, monkeypatch, name, workers):
    submitted = []
    monkeypatch.setattr(Workers, "submit", lambda self, *args: submitted.append(args))
    files = [FIXTURES / "articles.xml", write(tmp_path / "many.xml", many_articles(40))]
    path = next(path for path in files if path.name == name)
    output, _, documents, _ = run(
        [path], tmp_path / "out.jsonl", workers, batcher=pubmed.batches if workers > 1 else SMALL_BATCHES
    )
    assert documents == output.count(b"\n") > 0 and submitted == []


def interrupted(stream, name):
    """PubMed's parser, interrupted (as by Ctrl-C) after its second document."""
    for number, item in enumerate(pubmed.parse(stream, name)):
        if number == 2:
            raise KeyboardInterrupt
        yield item


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_parse_leaves_neither_the_output_nor_a_temporary_file(tmp_path, workers):
    (tmp_path / "in").mkdir()
    source = write(tmp_path / "in" / "pubmed26n0001.xml", many_articles(5))
    with pytest.raises(KeyboardInterrupt):
        parse_files(interrupted, [source], tmp_path / "out" / "docs.jsonl", None, workers, io.StringIO())
    assert list((tmp_path / "out").iterdir()) == []


def test_the_output_is_gzipped_when_its_name_ends_in_gz(tmp_path):
    run([FIXTURES / "articles.xml"], tmp_path / "out.jsonl", 1)
    run([FIXTURES / "articles.xml"], tmp_path / "out.jsonl.gz", 2)
    assert gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()) == (tmp_path / "out.jsonl").read_bytes()


def test_the_report_names_each_file_with_its_documents_and_deletions(tmp_path):
    deleting = pubmed_file(
        article(1), article(2), tail=b"<DeleteCitation><PMID>8</PMID><PMID>9</PMID></DeleteCitation></PubmedArticleSet>"
    )
    files = [write(tmp_path / "pubmed26n0001.xml", deleting), write(tmp_path / "pubmed26n0002.xml", many_articles(3))]
    _, report, documents, _ = run(files, tmp_path / "out.jsonl", 2)
    assert report.splitlines() == [f"{files[0]}: 2 documents, 2 deletions", f"{files[1]}: 3 documents"]
    assert documents == 5


def test_only_pubmed_cuts_its_files_into_batches():
    assert batcher_for("pubmed") is pubmed.batches
    assert batcher_for("pmc") is None and batcher_for("replay") is None and batcher_for("guidelines/who") is None


def test_the_cores_available_are_at_least_one_and_at_most_the_machine_s():
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples/pubmed (real NLM files)")
def test_real_nlm_files_on_two_workers_give_what_one_process_gives(tmp_path, monkeypatch):
    monkeypatch.setattr(parse_files_module, "BATCHES_AHEAD", 1)
    files = [SAMPLES / "medline16n0902.xml.gz", SAMPLES / "pubmed21n1298_slice1023.xml.gz"]
    two = run(files, tmp_path / "two.jsonl", 2, batcher=functools.partial(pubmed.batches, batch_bytes=100_000))
    one = run(files, tmp_path / "one.jsonl", 1)
    assert two == one and two[2] > 1000


def started_parse(tmp_path: Path) -> tuple[subprocess.Popen, Path, list[psutil.Process]]:
    """`gap-replay parse` of eight PubMed files of two batches each on two workers, once its first file is written:
    (the process, its output path, its worker processes)."""
    files = [write(tmp_path / f"pubmed26n{number:04d}.xml", many_articles(6000)) for number in range(1, 9)]
    out = tmp_path / "out" / "docs.jsonl"
    command = [sys.executable, "-m", "gap_replay.cli", "parse", "pubmed", *map(str, files), "--out", str(out)]
    process = subprocess.Popen([*command, "--workers", "2"], stderr=subprocess.PIPE, text=True)
    assert "6000 documents" in process.stderr.readline(), "the first file is written"
    return process, out, psutil.Process(process.pid).children()


def test_a_terminated_parse_stops_its_workers_and_leaves_no_output(tmp_path):
    process, out, workers = started_parse(tmp_path)
    assert len(workers) == 2
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert "interrupted" in process.stderr.read()
    assert list(out.parent.iterdir()) == []
    assert psutil.wait_procs(workers, timeout=30)[1] == []


def test_the_workers_of_a_parse_killed_outright_end_on_their_own(tmp_path):
    process, _, workers = started_parse(tmp_path)
    process.kill()
    process.wait(timeout=60)
    assert psutil.wait_procs(workers, timeout=30)[1] == [], "no worker waits for ever on a queue nobody fills"
