"""PubMed's `batches`: a file cut into self-contained XML documents of whole records, so that `gap-replay parse` can
hand them to several workers and still write what one parser reads."""

import gzip
import io
import random
import string
from pathlib import Path

import pytest

from gap_replay.sources import pubmed

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pubmed"
HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>\n'


def article(pmid: int, text: str = "An abstract.") -> bytes:
    return (
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article><ArticleTitle>Title {pmid}.</ArticleTitle>"
        f"<Abstract><AbstractText>{text}</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>\n"
    ).encode()


def pubmed_file(*records: bytes, head: bytes = HEAD, tail: bytes = b"</PubmedArticleSet>\n") -> bytes:
    return head + b"".join(records) + tail


def cut(data: bytes, batch_bytes: int) -> list[bytes]:
    return list(pubmed.batches(io.BytesIO(data), batch_bytes))


def parsed(data: bytes) -> list:
    return list(pubmed.parse(io.BytesIO(data), "pubmed26n0001.xml"))


def test_a_batch_ends_with_the_first_record_to_end_at_or_past_the_batch_size():
    data = pubmed_file(article(1), article(2), article(3))
    first_end = data.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    second_end = data.index(b"</PubmedArticle>", first_end) + len(b"</PubmedArticle>")

    exactly = cut(data, first_end)
    assert exactly[0] == data[:first_end] + b"</PubmedArticleSet>"
    one_more = cut(data, first_end + 1)
    assert one_more[0] == data[:second_end] + b"</PubmedArticleSet>"


@pytest.mark.parametrize("padding", range(32))
def test_a_record_ending_exactly_at_the_batch_size_ends_the_batch_wherever_it_falls(padding):
    """32 paddings put the first record's end at every remainder modulo 32."""
    data = pubmed_file(article(1, "x" * padding), article(2), article(3))
    first_end = data.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    assert cut(data, first_end)[0] == data[:first_end] + b"</PubmedArticleSet>"


def test_every_batch_after_the_first_repeats_the_head_and_the_last_keeps_the_file_s_own_end():
    data = pubmed_file(
        article(1),
        article(2),
        article(3),
        tail=b"<DeleteCitation><PMID>9</PMID></DeleteCitation>\n</PubmedArticleSet>\n",
    )
    batches = cut(data, 1)
    assert len(batches) == 4, "one batch per record, and the tail with the deletions"
    for batch in batches[1:]:
        assert batch.startswith(HEAD)
    for batch in batches[:-1]:
        assert batch.endswith(b"</PubmedArticle></PubmedArticleSet>")
    assert batches[-1] == HEAD + b"<DeleteCitation><PMID>9</PMID></DeleteCitation>\n</PubmedArticleSet>\n"


def test_batches_parse_alone_to_the_items_the_whole_file_gives_in_the_same_order():
    data = pubmed_file(
        article(1),
        article(2, "Second."),
        article(3, "Third."),
        tail=b"<DeleteCitation><PMID>1</PMID></DeleteCitation></PubmedArticleSet>",
    )
    for batch_bytes in (1, len(article(1)) * 2, len(data)):
        assert [item for batch in cut(data, batch_bytes) for item in parsed(batch)] == parsed(data)


def test_a_file_smaller_than_a_batch_is_one_batch_of_itself():
    data = pubmed_file(article(1), article(2))
    assert cut(data, len(data) + 1) == [data]


@pytest.mark.parametrize("fixture", ["articles.xml", "legacy.xml"])
def test_fixture_files_cut_at_every_record_give_what_the_whole_file_gives(fixture):
    data = (FIXTURES / fixture).read_bytes()
    batches = cut(data, 1)
    record = b"<PubmedArticle>" if fixture == "articles.xml" else b"<MedlineCitation "
    assert len(batches) == data.count(record) + 1
    assert [item for batch in batches for item in parsed(batch)] == parsed(data)


def test_the_current_layout_is_never_cut_after_the_medline_citation_inside_an_article():
    data = (FIXTURES / "articles.xml").read_bytes()
    for batch in cut(data, 1)[:-1]:
        assert batch.rstrip().endswith(b"</PubmedArticle></PubmedArticleSet>")


def test_the_legacy_layout_is_cut_after_its_top_level_citations():
    data = (FIXTURES / "legacy.xml").read_bytes()
    for batch in cut(data, 1)[:-1]:
        assert batch.endswith(b"</MedlineCitation></MedlineCitationSet>")


def test_a_gzipped_file_gives_the_batches_of_its_xml():
    data = pubmed_file(*(article(pmid) for pmid in range(1, 30)))
    assert cut(gzip.compress(data), 500) == cut(data, 500)


def test_a_root_start_tag_with_attributes_is_found_and_a_longer_name_is_not():
    with_attributes = pubmed_file(article(1), article(2), head=b'<PubmedArticleSet\n  lang="en">')
    assert len(cut(with_attributes, 1)) == 3
    assert cut(pubmed_file(article(1), head=b"<PubmedArticleSetX>", tail=b"</PubmedArticleSetX>"), 1) == []


def test_there_are_no_batches_when_no_pubmed_root_starts_near_the_top():
    assert cut((FIXTURES / "error_page.html").read_bytes(), 1) == []
    padding = b"<!--" + b"x" * pubmed.HEAD_BYTES + b"-->"
    assert cut(pubmed_file(article(1), head=padding + b"<PubmedArticleSet>"), 1) == []
    near = b"<!--" + b"x" * (pubmed.HEAD_BYTES - 100) + b"-->"
    assert len(cut(pubmed_file(article(1), head=near + b"<PubmedArticleSet>"), 1)) == 2


@pytest.mark.parametrize(("comment", "batched"), [(60_000, True), (100_000, False)], ids=["within-64-kb", "past-64-kb"])
def test_the_root_is_looked_for_in_the_first_64_kb(comment, batched):
    head = b"<!--" + b"x" * comment + b"-->" + b"<PubmedArticleSet>"
    assert bool(cut(pubmed_file(article(1), article(2), head=head), 1)) is batched


def test_a_gzipped_file_whose_first_piece_passes_the_head_bytes_without_a_root_has_no_batches():
    """Letters drawn at random compress little, so the first 64 KB read inflates to more than HEAD_BYTES."""
    letters = random.Random(7).choices(string.ascii_letters, k=2 * pubmed.HEAD_BYTES)
    padding = b"<!--" + "".join(letters).encode() + b"-->"
    data = gzip.compress(pubmed_file(article(1), article(2), head=padding + b"<PubmedArticleSet>"))
    assert next(pubmed._xml_chunks(io.BytesIO(data))).find(b"<PubmedArticleSet>") < 0
    assert cut(data, 1) == []


def test_the_root_is_looked_for_across_pieces_within_the_head_bytes():
    """A gzip file of two members, the first holding only the XML declaration: the root is in the second piece."""
    declaration = b'<?xml version="1.0" encoding="utf-8"?>\n'
    data = gzip.compress(declaration) + gzip.compress(pubmed_file(article(1), article(2), head=b"<PubmedArticleSet>"))
    assert len(cut(data, 1)) == 3


def test_a_file_that_breaks_off_gives_its_batches_then_the_error():
    data = gzip.compress(pubmed_file(*(article(pmid, "word " * 200) for pmid in range(1, 400))))
    batches = pubmed.batches(io.BytesIO(data[: len(data) // 2]), 2000)
    assert next(batches).startswith(HEAD)
    with pytest.raises(EOFError):
        list(batches)


def test_a_cut_inside_cdata_makes_a_batch_that_does_not_parse():
    data = pubmed_file(article(1, "<![CDATA[see </PubmedArticle> here]]>"), article(2))
    assert len(parsed(data)) == 2, "the whole file is good XML"
    with pytest.raises(pubmed.ParseError):
        [item for batch in cut(data, 1) for item in parsed(batch)]


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples/pubmed (real NLM files)")
@pytest.mark.parametrize("name", ["medline16n0902.xml.gz", "pubmed21n1298_slice1023.xml.gz"])
def test_real_nlm_files_in_batches_give_what_the_whole_file_gives(name):
    data = (SAMPLES / name).read_bytes()
    batches = cut(data, 200_000)
    assert len(batches) > 5
    assert [item for batch in batches for item in parsed(batch)] == parsed(data)
