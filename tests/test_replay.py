"""Replay: RedPajama-v1 records (JSONL, JSONL.gz, Parquet) to Documents, and fetching the listed files."""

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gap_replay.http import PoliteClient
from gap_replay.recipe import ReplayConfig
from gap_replay.sources import replay
from gap_replay.sources.base import ParseError
from gap_replay.sources.mirror import DATA, redpajama
from gap_replay.sources.mirror.server import serve

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
HIP_TITLE = "Early mobilisation after hip fracture surgery in older adults: a prospective cohort study"


def parse_file(path: Path, name: str | None = None) -> list:
    with open(path, "rb") as stream:
        return list(replay.parse(stream, name or str(path)))


def test_meta_object_gives_title_url_language_date_and_licence() -> None:
    tide, glacier = parse_file(FIXTURES / "wikipedia" / "articles.jsonl", "raw/replay/wikipedia/articles.jsonl")
    assert tide.id == "replay/wikipedia:" + hashlib.sha1(tide.text.encode()).hexdigest()
    assert (tide.source, tide.subsource, tide.license) == ("replay", "wikipedia", "CC-BY-SA-3.0")
    assert (tide.title, tide.url) == ("Tide", "https://en.wikipedia.org/wiki/Tide")
    assert (tide.lang, tide.date) == ("en", "2023-03-20")
    assert tide.meta["timestamp"] == "20230320"
    assert glacier.text.startswith("Glacier\n\nA glacier")


def test_meta_as_json_string_is_decoded_and_subset_field_wins() -> None:
    question, paper = parse_file(FIXTURES / "hf_export.jsonl", "raw/replay/book/hf_export.jsonl")
    assert (question.subsource, question.license) == ("stackexchange", "CC-BY-SA-4.0")
    assert question.meta["question_score"] == "12"
    assert question.date == "2023-03-29"
    assert (paper.subsource, paper.license, paper.url) == ("arxiv", "arxiv-various", "https://arxiv.org/abs/2302.99001")


def test_subset_comes_from_the_folder_under_replay() -> None:
    assert replay.folder_subset("out/sample/raw/replay/stackexchange/part-0.jsonl") == "stackexchange"
    assert replay.folder_subset("downloads/wikipedia/articles.jsonl") == "wikipedia"
    assert replay.folder_subset("raw/replay/loose.jsonl") is None
    assert replay.folder_subset("downloads/misc/articles.jsonl") is None


def test_bad_lines_are_reported_with_line_numbers_after_the_good_ones() -> None:
    documents = []
    with open(FIXTURES / "arxiv" / "damaged.jsonl", "rb") as stream, pytest.raises(ParseError) as caught:
        for document in replay.parse(stream, "raw/replay/arxiv/damaged.jsonl"):
            documents.append(document)
    assert [document.text.split()[0] for document in documents] == ["First", "Second", "Third"]
    message = str(caught.value)
    assert "damaged.jsonl" in message
    assert "skipped 3 malformed record(s)" in message
    assert "line 2: not JSON" in message
    assert "line 4: no 'text' string" in message
    assert "line 6: 'meta' is neither an object" in message


def test_without_field_or_folder_the_subset_is_meta_source() -> None:
    documents = []
    with open(FIXTURES / "arxiv" / "damaged.jsonl", "rb") as stream, pytest.raises(ParseError):
        documents.extend(replay.parse(stream, "downloads/damaged.jsonl"))
    assert [document.subsource for document in documents] == ["arxiv", "unknown", "unknown"]
    assert documents[1].meta == {"arxiv_id": "2301.99002"}
    assert documents[2].meta == {}


def test_gzipped_jsonl_is_read() -> None:
    data = gzip.compress((FIXTURES / "wikipedia" / "articles.jsonl").read_bytes())
    documents = list(replay.parse(io.BytesIO(data), "raw/replay/wikipedia/articles.jsonl.gz"))
    assert [document.title for document in documents] == ["Tide", "Glacier"]


def test_truncated_gzip_raises_parse_error_naming_the_file() -> None:
    data = gzip.compress((FIXTURES / "wikipedia" / "articles.jsonl").read_bytes() * 50)
    with pytest.raises(ParseError, match=r"articles\.jsonl\.gz: damaged file"):
        list(replay.parse(io.BytesIO(data[: len(data) // 2]), "raw/replay/wikipedia/articles.jsonl.gz"))


def test_parquet_is_read_batch_by_batch(tmp_path: Path) -> None:
    rows = [
        {"text": f"Record {number} about river deltas.", "meta": json.dumps({"title": f"Delta {number}"})}
        for number in range(2500)
    ]
    path = tmp_path / "replay" / "wikipedia" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=1000)
    documents = parse_file(path)
    assert len(documents) == 2500
    assert documents[-1].title == "Delta 2499"
    assert {document.subsource for document in documents} == {"wikipedia"}


def test_not_a_parquet_file_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="damaged file"):
        list(replay.parse(io.BytesIO(b"PAR1 not really"), "raw/replay/c4/part-0.parquet"))


@pytest.mark.parametrize(
    "timestamp, expected",
    [("2023-03-29T10:00:00", "2023-03-29"), ("20230320", "2023-03-20"), (1680000000, "2023-03-28"), ("soon", None)],
)
def test_timestamp_becomes_an_iso_date(timestamp: object, expected: str | None) -> None:
    assert replay.record_date({"timestamp": timestamp}) == expected


def test_listing_keeps_wanted_subsets_and_limits_files_per_subset() -> None:
    listing = "\n".join(
        f"https://data.together.xyz/redpajama-data-1T/v1.0.0/{path}"
        for path in ("arxiv/a.jsonl", "arxiv/b.jsonl", "c4/c4-train.00000-of-01024.jsonl", "book/book.jsonl")
    )
    files = replay.listed_files(listing + "\n\n# comment\n", ["arxiv", "book"], limit=1)
    assert [(subset, name) for subset, name, _ in files] == [("arxiv", "a.jsonl"), ("book", "book.jsonl")]


# --- fetch from the offline mirror ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("site")
    redpajama.build(DATA, site)
    with serve(site) as url:
        yield url


def test_fetch_downloads_the_listed_files_once(base: str, tmp_path: Path) -> None:
    config = ReplayConfig()
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        first = replay.fetch(config, tmp_path, client)
        second = replay.fetch(config, tmp_path, client)
    assert (first.downloaded, first.failed, first.errors) == (5, 0, [])
    assert (second.downloaded, second.skipped) == (0, 5)
    assert sorted(path.relative_to(tmp_path).parts[0] for path in tmp_path.glob("*/*.jsonl")) == [
        "arxiv",
        "arxiv",
        "book",
        "stackexchange",
        "wikipedia",
    ]
    assert (tmp_path / "fetch_log.jsonl").is_file()


def test_fetch_keeps_only_the_recipe_subsets(base: str, tmp_path: Path) -> None:
    config = ReplayConfig(subsets=["arxiv"], limit=1)
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = replay.fetch(config, tmp_path, client)
    assert summary.downloaded == 1
    assert [path.parent.name for path in tmp_path.glob("*/*.jsonl")] == ["arxiv"]


def test_missing_listing_is_a_counted_failure(base: str, tmp_path: Path) -> None:
    config = ReplayConfig(url="https://data.together.xyz/redpajama-data-1T/v9/urls.txt")
    with PoliteClient(user_agent="test", delay=0, retries=0, mirror=base) as client:
        summary = replay.fetch(config, tmp_path, client)
    assert summary.failed == 1
    assert "urls.txt: listing failed: HTTP 404" in summary.errors[0]


def test_fetched_mirror_parses_with_its_planted_duplicates(base: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "replay"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        replay.fetch(ReplayConfig(), raw, client)
    documents = [document for path in sorted(raw.glob("*/*.jsonl")) for document in parse_file(path)]
    by_subset: dict[str, int] = {}
    for document in documents:
        by_subset[document.subsource] = by_subset.get(document.subsource, 0) + 1
        assert 150 <= len(document.text.split()) <= 600
    assert by_subset == {"arxiv": 6, "book": 6, "stackexchange": 6, "wikipedia": 8}
    ids = [document.id for document in documents]
    assert len(ids) - len(set(ids)) == 1  # one arXiv record appears in both arXiv files
    hip = [document for document in documents if document.text.startswith(HIP_TITLE + "\n\n")]
    assert len(hip) == 1 and hip[0].subsource == "wikipedia"
    books = [document for document in documents if document.subsource == "book"]
    assert all(document.license is None and document.meta["short_book_title"] for document in books)
