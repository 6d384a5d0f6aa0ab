"""AAFP clinical recommendations: the offline mirror, discovery through the topic pages, polite download, and
parsing the recommendation pages."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gap_replay.documents import Document
from gap_replay.http import FetchLog, PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines import aafp
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import aafp as aafp_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

SECTION = "https://www.aafp.org/family-physician/patient-care/clinical-recommendations"
RECOMMENDATIONS = {"acute-pain-musculoskeletal-injuries", "adult-sinusitis", "hypertension-adults"}
NULL_ONLY = f"{SECTION}/all-clinical-recommendations/tick-bite-prophylaxis.html?null"


class RecordingHandler(MirrorHandler):
    """The mirror's handler, noting each requested path (`/www.aafp.org/...`)."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    aafp_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def server(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    """The mirror's base URL and the paths requested from it."""
    handler = type("Recording", (RecordingHandler,), {"requests": []})
    with serve(mirror, handler=handler) as url:
        yield url, handler.requests


@pytest.fixture(scope="module")
def fetched(server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The AAFP raw folder after a fetch, and the two fetch summaries (first, repeat)."""
    base, _ = server
    raw = tmp_path_factory.mktemp("raw") / "aafp"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summaries = [aafp.fetch(OrganisationConfig(), raw, client) for _ in range(2)]
    return raw, summaries


@pytest.fixture(scope="module")
def requested(server: tuple[str, list[str]], fetched: tuple[Path, list]) -> list[str]:
    """The paths the two fetches requested from the mirror."""
    _, requests = server
    return list(requests)


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list]) -> dict[str, Document]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.html")):
        with open(path, "rb") as stream:
            for document in aafp.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


def test_module_declares_licence_and_collection() -> None:
    assert (aafp.KEY, aafp.NAME) == ("aafp", "American Academy of Family Physicians")
    assert (aafp.LICENSE, aafp.REDISTRIBUTABLE, aafp.COLLECTABLE) == ("AAFP-terms", False, True)


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    aafp_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_disallows_links_with_a_stray_null_query(mirror: Path) -> None:
    robots = (mirror / "www.aafp.org" / "robots.txt").read_text()
    assert "Disallow: *.html?null$" in robots


# --- discovery and download ----------------------------------------------------------------------------------------


def test_fetch_follows_topic_pages_to_every_recommendation(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert {path.stem for path in raw.glob("*.html")} == RECOMMENDATIONS
    assert (first.source, first.downloaded, first.failed) == ("guidelines/aafp", 3, 0)
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.html"))


def test_page_explaining_endorsement_categories_is_not_collected(fetched: tuple[Path, list], requested: list) -> None:
    raw, _ = fetched
    assert not (raw / "endorsed.html").exists()
    assert not any(path.endswith("/endorsed.html") for path in requested)


def test_link_only_with_a_null_query_is_disallowed_not_fetched(fetched: tuple[Path, list], requested: list) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1, "obeying robots.txt is no failure"
    refused = FetchLog(raw / "fetch_log.jsonl").latest(NULL_ONLY)
    assert refused is not None and (refused.ok, refused.status, refused.path) == (False, None, None)
    assert not any("tick-bite-prophylaxis" in path for path in requested)


def test_recommendation_linked_twice_is_fetched_once_by_its_clean_url(requested: list) -> None:
    assert not any("?null" in path for path in requested)
    sinusitis = [path for path in requested if "adult-sinusitis" in path]
    assert len(sinusitis) == 2, "once per fetch: downloaded, then revalidated"


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.disallowed) == (0, 3, 1)


def test_limit_caps_the_recommendations_in_place(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = aafp.fetch(OrganisationConfig(limit=2), tmp_path, client)
    assert summary.downloaded == 2
    assert len(list(tmp_path.glob("*.html"))) == 2


def test_configured_url_replaces_the_topic_index(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    topic = f"{SECTION}/recommendations-by-topic/musculoskeletal-clinical-recommendations-guidelines.html"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = aafp.fetch(OrganisationConfig(url=topic), tmp_path, client)
    assert summary.downloaded == 1
    assert [path.name for path in tmp_path.glob("*.html")] == ["acute-pain-musculoskeletal-injuries.html"]


def test_index_without_recommendations_is_a_counted_failure(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    empty_topic = f"{SECTION}/all-clinical-recommendations/endorsed.html"
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = aafp.fetch(OrganisationConfig(url=empty_topic), tmp_path, client)
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "link to no document" in summary.errors[0]


# --- keep/stop rules -----------------------------------------------------------------------------------------------


def test_topic_rule_follows_topic_pages_only() -> None:
    assert re.search(aafp.TOPIC, f"{SECTION}/recommendations-by-topic/geriatric-medicine-clinical-recommendations.html")
    assert not re.search(aafp.TOPIC, f"{SECTION}/recommendations-by-topic.html")
    assert not re.search(aafp.TOPIC, "https://www.aafp.org/pubs/afp/issues/2022/0600/practice-guidelines.html")


def test_recommendation_rule_takes_recommendation_pages_with_any_query() -> None:
    assert re.search(aafp.RECOMMENDATION, f"{SECTION}/all-clinical-recommendations/adult-sinusitis.html")
    assert re.search(aafp.RECOMMENDATION, f"{SECTION}/all-clinical-recommendations/adult-sinusitis.html?null")
    assert not re.search(aafp.RECOMMENDATION, f"{SECTION}/recommendations-by-topic/ent.html")
    assert not re.search(aafp.RECOMMENDATION, f"{SECTION}/cpg-manual.html")


def test_endorsement_category_pages_are_excluded_and_recommendations_are_not() -> None:
    def excluded(url: str) -> bool:
        return any(re.search(pattern, url) for pattern in aafp.NOT_RECOMMENDATIONS)

    assert excluded(f"{SECTION}/all-clinical-recommendations/endorsed.html")
    assert excluded(f"{SECTION}/all-clinical-recommendations/affirmation-of-value.html")
    assert not excluded(f"{SECTION}/all-clinical-recommendations/endorsed-guideline-on-asthma.html")


def test_one_url_per_page_prefers_the_clean_link() -> None:
    page = f"{SECTION}/all-clinical-recommendations/adult-sinusitis.html"
    assert aafp.one_url_per_page([f"{page}?null", page, f"{page}?cmpid=nl"]) == [page]


def test_one_url_per_page_keeps_a_query_link_when_it_is_the_only_one() -> None:
    assert aafp.one_url_per_page([NULL_ONLY]) == [NULL_ONLY]


def test_publication_date_is_the_latest_month_of_the_history() -> None:
    assert aafp.published("<p>Published August 2020 &middot; Reaffirmed March 2024</p>") == "2024-03"
    assert aafp.published("<p>Clinical Practice Guideline &middot; Published June 2022</p>") == "2022-06"
    assert aafp.published("<p>Copyright 2025 American Academy of Family Physicians</p>") is None


# --- parse ---------------------------------------------------------------------------------------------------------


def test_every_recommendation_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/aafp:{slug}" for slug in RECOMMENDATIONS}


def test_parsed_recommendation_has_title_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/aafp:adult-sinusitis"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "aafp", "AAFP-terms")
    assert document.title == "Acute Bacterial Rhinosinusitis in Adults"
    assert document.url == f"{SECTION}/all-clinical-recommendations/adult-sinusitis.html"
    assert document.date == "2023-05"
    assert document.meta == {
        "organisation": "aafp",
        "redistributable": False,
        "file": "adult-sinusitis.html",
        "format": "html",
    }


def test_reaffirmed_recommendation_is_dated_by_its_reaffirmation(documents: dict) -> None:
    assert documents["guidelines/aafp:acute-pain-musculoskeletal-injuries"].date == "2024-03"


def test_parsed_text_keeps_recommendations_and_dose_table(documents: dict) -> None:
    text = documents["guidelines/aafp:adult-sinusitis"].text
    assert text.startswith("# Acute Bacterial Rhinosinusitis in Adults\n")
    assert "Suspect a bacterial infection only when symptoms persist for ten days" in text
    assert "- Offer watchful waiting without antibiotics" in text
    assert "| Doxycycline | 100 mg twice daily | Penicillin allergy |" in text


def test_parsed_text_has_no_site_chrome(documents: dict) -> None:
    for document in documents.values():
        text = document.text
        assert "cookie" not in text.lower()
        assert "Journals & Publications" not in text and "Sign In" not in text
        assert "Stay current with AAFP membership" not in text
        assert "All rights reserved" not in text


def test_pdf_saved_as_page_and_truncated_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"adult-sinusitis\.html: truncated PDF"):
        list(
            aafp.parse(io.BytesIO(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"), "raw/guidelines/aafp/adult-sinusitis.html")
        )
