import pickle

import pytest

from gap_replay.dedup.survivor import choose_survivor, licence_rank, survivor_key
from gap_replay.documents import Document

PRIORITY = ["pmc", "guidelines", "pubmed", "replay"]


def doc(doc_id: str, **fields) -> Document:
    source = fields.pop("source", "pubmed")
    defaults = {"text": "Same text.", "license": "CC-BY-4.0", "date": "2020-01-01", "meta": {}}
    return Document(id=doc_id, source=source, subsource=source, **(defaults | fields))


def survivor(*docs: Document, priority=PRIORITY) -> str:
    return choose_survivor({d.id: survivor_key(d, priority) for d in docs})


def test_full_text_beats_the_abstract():
    assert survivor(doc("pubmed:1", source="pubmed"), doc("pmc:PMC1", source="pmc")) == "pmc:PMC1"


def test_source_priority_is_configurable_and_unknown_sources_come_last():
    guideline, abstract = doc("guidelines/who:x", source="guidelines"), doc("pubmed:1", source="pubmed")
    assert survivor(guideline, abstract) == "guidelines/who:x"
    assert survivor(guideline, abstract, priority=["pubmed", "guidelines"]) == "pubmed:1"
    assert survivor(doc("a:1", source="elsewhere"), doc("z:1", source="replay")) == "z:1"


def test_source_outranks_version_date_licence_and_length():
    newer_abstract = doc("pubmed:1", meta={"version": 3}, date="2024-01-01", license="CC0-1.0", text="x" * 999)
    assert survivor(newer_abstract, doc("pmc:PMC1", source="pmc", license=None)) == "pmc:PMC1"


def test_newest_version_wins():
    assert survivor(doc("pubmed:a", meta={"version": 1}), doc("pubmed:b", meta={"version": 2})) == "pubmed:b"


def test_versions_compare_as_numbers_and_a_stated_version_beats_none():
    assert survivor(doc("g:a", meta={"version": "v2.10"}), doc("g:b", meta={"version": "2.9"})) == "g:a"
    assert survivor(doc("g:a", meta={"version": "2"}), doc("g:b", meta={"version": "2.1"})) == "g:b"
    assert survivor(doc("g:a"), doc("g:b", meta={"version": 1})) == "g:b"


def test_version_outranks_date():
    older_v2 = doc("pubmed:a", meta={"version": 2}, date="2019-01-01")
    assert survivor(older_v2, doc("pubmed:b", meta={"version": 1}, date="2024-01-01")) == "pubmed:a"


def test_later_date_wins_and_missing_dates_come_last():
    assert survivor(doc("pubmed:a", date="2019-05-01"), doc("pubmed:b", date="2021-02-03")) == "pubmed:b"
    assert survivor(doc("pubmed:a", date=None), doc("pubmed:b", date="1999")) == "pubmed:b"
    assert survivor(doc("pubmed:a", date="2021"), doc("pubmed:b", date="2021-06")) == "pubmed:b"


@pytest.mark.parametrize(
    ("licence", "rank"),
    [
        ("public-domain-us-gov", 0),
        ("CC0-1.0", 0),
        ("https://creativecommons.org/publicdomain/zero/1.0/", 0),
        ("CC-BY-4.0", 1),
        ("CC BY 3.0 IGO", 1),
        ("http://creativecommons.org/licenses/by/4.0/", 1),
        ("cc-by-sa-4.0", 2),
        ("CC-BY-NC-3.0", 3),
        ("CC-BY-NC-SA-3.0-IGO", 4),
        ("CC-BY-ND-4.0", 5),
        ("CC-BY-NC-ND-4.0", 6),
        ("all-rights-reserved", 7),
        (None, 7),
    ],
)
def test_licence_ranks_from_public_domain_to_unknown(licence, rank):
    assert licence_rank(licence) == rank


def test_more_permissive_licence_wins():
    assert survivor(doc("pmc:a", license="CC-BY-NC-4.0"), doc("pmc:b", license="CC-BY-4.0")) == "pmc:b"
    assert survivor(doc("pmc:a", license=None), doc("pmc:b", license="CC-BY-ND-4.0")) == "pmc:b"


def test_longer_text_wins():
    assert survivor(doc("pubmed:a", text="Short."), doc("pubmed:b", text="A longer text.")) == "pubmed:b"


def test_smallest_id_breaks_a_full_tie():
    assert survivor(doc("pubmed:2"), doc("pubmed:10"), doc("pubmed:1")) == "pubmed:1"


def test_key_is_plain_values_that_survive_pickling():
    key = survivor_key(doc("pubmed:1", meta={"version": "2.1"}), PRIORITY)
    assert all(isinstance(part, int | str) for part in key)
    assert pickle.loads(pickle.dumps(key)) == key


def test_choose_survivor_needs_a_candidate():
    with pytest.raises(ValueError, match="no candidates"):
        choose_survivor({})


def test_a_later_update_of_the_same_article_wins_over_an_earlier_one():
    baseline = doc("pmc:PMC1", source="pmc", date="2020-01-01", meta={"last_updated": "2024-06-18 10:00:00"})
    incremental = doc("pmc:PMC1b", source="pmc", date="2020-01-01", meta={"last_updated": "2025-02-03 08:00:00"})
    assert survivor(baseline, incremental) == "pmc:PMC1b"


# --- each component on both sides of its boundary: the documents differ in it and in a longer text, which wins
# --- only when the component ties


def longer(doc_id: str, **fields) -> Document:
    return doc(doc_id, text="A longer text than the other one.", **fields)


def test_the_newer_revision_wins_and_revision_zero_is_no_newer_than_none():
    assert survivor(doc("pubmed:a", meta={"revision": 250002}), longer("pubmed:b", meta={"revision": 250001})) == (
        "pubmed:a"
    )
    assert survivor(doc("pubmed:a", meta={"revision": 0}), longer("pubmed:b")) == "pubmed:b"
    assert survivor(doc("pubmed:a", meta={"revision": "250002"}), longer("pubmed:b")) == "pubmed:b"  # not a number


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("2020-05-04", "2020-05-03"),  # by a day
        ("2020-05-02", "2020-05-01"),
        ("2020-06-01", "2020-05-31"),  # by a month, against a later day
        ("2021-01-01", "2020-12-31"),  # by a year, against a later month and day
        ("2020-01-01", "2020"),  # a stated day is later than a year alone (its month and day count as 0)
        ("2020-01", "2020"),
    ],
)
def test_the_later_date_wins_down_to_the_day(newer, older):
    assert survivor(doc("pubmed:a", date=newer), longer("pubmed:b", date=older)) == "pubmed:a"


def test_the_same_date_ties_and_the_next_component_decides():
    assert survivor(doc("pubmed:a", date="2020-05-04"), longer("pubmed:b", date="2020-05-04")) == "pubmed:b"


@pytest.mark.parametrize(
    ("stated", "other"),
    [("1.2.3.5", "1.2.3.4"), ("0", None), ("10", "9")],  # the fourth part counts; a stated 0 beats none
)
def test_a_higher_version_wins_to_the_fourth_part(stated, other):
    other_meta = {} if other is None else {"version": other}
    assert survivor(doc("g:a", meta={"version": stated}), longer("g:b", meta=other_meta)) == "g:a"


@pytest.mark.parametrize(("first", "second"), [("2", "2.0"), ("1.2.3.4.9", "1.2.3.4.1")])
def test_versions_equal_to_the_fourth_part_tie(first, second):
    assert survivor(doc("g:a", meta={"version": first}), longer("g:b", meta={"version": second})) == "g:b"


@pytest.mark.parametrize(("licence", "rank"), [("PD", 0), ("pd", 0), ("PROPRIETARY", 7), ("PE-terms", 7)])
def test_only_pd_itself_or_a_public_domain_name_ranks_as_public_domain(licence, rank):
    assert licence_rank(licence) == rank
