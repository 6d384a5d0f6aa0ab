"""WikiDoc: the stand-in wiki's Action API, discovery by allpages and batched revisions, wikitext to Markdown."""

import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from protego import Protego

from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import site, wikidoc
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import wikidoc as wikidoc_mirror
from gap_replay.sources.mirror.server import MirrorHandler, serve

HOST = "/www.wikidoc.org"
CONTENT_PAGES = {
    "Community-acquired_pneumonia",
    "Diabetic_ketoacidosis",
    "Heart_failure_with_reduced_ejection_fraction",
    "Hyperkalemia",
}
FIRST_LISTING = [
    "Community-acquired pneumonia",
    "Congestive heart failure",
    "Diabetic ketoacidosis",
    "Heart failure with reduced ejection fraction",
]
RAW = "raw/guidelines/wikidoc/pages-00009.json"


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def recorder() -> type[MirrorHandler]:
    """A mirror handler class that notes the path of every request it answers."""

    class Recorder(MirrorHandler):
        requests: ClassVar[list[str]] = []

        def do_GET(self) -> None:
            self.requests.append(self.path)
            super().do_GET()

    return Recorder


@dataclass
class Fetch:
    summary: FetchSummary
    requests: list[str]


def run_fetch(base: str, requests: list[str], raw: Path, config: OrganisationConfig | None = None) -> Fetch:
    start = len(requests)
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = wikidoc.fetch(config or OrganisationConfig(), raw, client)
    return Fetch(summary, requests[start:])


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    wikidoc_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def served(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    handler = recorder()
    with serve(mirror, handler=handler) as base:
        yield base, handler.requests


@pytest.fixture(scope="module")
def fetched(served: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Fetch, Fetch]:
    """The raw folder after a fetch, and the first and repeated fetches (summary and requests each)."""
    raw = tmp_path_factory.mktemp("raw") / "wikidoc"
    first = run_fetch(*served, raw)
    return raw, first, run_fetch(*served, raw)


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, Fetch, Fetch]) -> dict[str, object]:
    raw = fetched[0]
    parsed = {}
    for path in sorted(raw.glob("*.json")):
        with open(path, "rb") as stream:
            parsed.update((document.id, document) for document in wikidoc.parse(stream, str(path)))
    return parsed


def bundle(*answers: object) -> bytes:
    """A raw batch as the fetch keeps it: the answers' bodies verbatim."""
    responses = [
        {"url": f"https://www.wikidoc.org/api.php?answer={number}", "content_type": "application/json", "body": body}
        for number, body in enumerate(answer if isinstance(answer, str) else json.dumps(answer) for answer in answers)
    ]
    return json.dumps({"format": site.BUNDLE_FORMAT, "url": "https://www.wikidoc.org/api.php", "responses": responses})


def page(title: str, wikitext: str) -> dict:
    main = {"contentmodel": "wikitext", "content": wikitext}
    return {
        "pageid": 1,
        "ns": 0,
        "title": title,
        "revisions": [{"timestamp": "2024-01-02T03:04:05Z", "slots": {"main": main}}],
    }


def parse_pages(*pages: dict) -> dict[str, object]:
    data = bundle({"batchcomplete": True, "query": {"pages": list(pages)}}).encode()
    return {document.title: document for document in wikidoc.parse(io.BytesIO(data), RAW)}


def text_of(wikitext: str) -> str:
    (document,) = parse_pages(page("Topic", wikitext)).values()
    return document.text


# --- the mirror ------------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    wikidoc_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_robots_allows_the_api_and_disallows_page_actions_and_special_pages(mirror: Path) -> None:
    rules = Protego.parse((mirror / "www.wikidoc.org" / "robots.txt").read_text())
    assert rules.can_fetch("https://www.wikidoc.org/api.php?action=query&list=allpages", "test")
    assert rules.can_fetch("https://www.wikidoc.org/index.php/Hyperkalemia", "test")
    assert not rules.can_fetch("https://www.wikidoc.org/index.php?title=Hyperkalemia&action=edit", "test")
    assert not rules.can_fetch("https://www.wikidoc.org/index.php/Special:AllPages", "test")


def test_mirror_html_pages_wear_the_wiki_chrome(mirror: Path) -> None:
    html = (mirror / "www.wikidoc.org" / "index.php" / "Hyperkalemia").read_text()
    assert "WikiDoc uses cookies" in html and "View history" in html and "Privacy policy" in html
    assert '<a href="/index.php?title=Hyperkalemia&amp;action=edit&amp;section=1">edit</a>' in html


# --- fetch -----------------------------------------------------------------------------------------------------------


def test_fetch_keeps_one_bundle_per_content_batch(fetched: tuple[Path, Fetch, Fetch]) -> None:
    raw, first, _ = fetched
    assert {path.name for path in raw.glob("*.json")} == {"pages-00001.json", "pages-00002.json"}
    assert (first.summary.downloaded, first.summary.failed, first.summary.disallowed) == (2, 0, 0)
    assert first.summary.bytes == sum(path.stat().st_size for path in raw.glob("*.json"))


def test_listing_is_followed_through_its_continue_block(fetched: tuple[Path, Fetch, Fetch]) -> None:
    listings = [path for path in fetched[1].requests if "list=allpages" in path]
    assert len(listings) == 2
    assert "apcontinue" not in listings[0]
    assert "apcontinue=Hyperkalemia" in listings[1] and "continue=-%7C%7C" in listings[1]


def test_each_listing_part_is_asked_for_as_one_batch_of_titles(fetched: tuple[Path, Fetch, Fetch]) -> None:
    batches = [path for path in fetched[1].requests if "prop=revisions" in path and "rvcontinue" not in path]
    assert [path.split("titles=")[1] for path in batches] == [
        "Community-acquired+pneumonia%7CCongestive+heart+failure%7CDiabetic+ketoacidosis"
        "%7CHeart+failure+with+reduced+ejection+fraction",
        "Hyperkalemia%7CNephrology%7CPneumonia+%28disambiguation%29",
    ]


def test_a_batch_continued_with_rvcontinue_is_kept_in_one_bundle(fetched: tuple[Path, Fetch, Fetch]) -> None:
    kept = json.loads((fetched[0] / "pages-00002.json").read_text())
    assert len(kept["responses"]) == 2
    assert "rvcontinue" not in kept["url"], "the bundle is logged under the batch's own request"
    assert "rvcontinue=1702245" in kept["responses"][1]["url"]


def test_fetch_asks_the_api_only_never_the_html_pages(fetched: tuple[Path, Fetch, Fetch]) -> None:
    requests = fetched[1].requests
    assert requests[0] == f"{HOST}/robots.txt"
    assert all(path.startswith(f"{HOST}/api.php?") for path in requests[1:])


def test_second_fetch_lists_again_and_downloads_nothing(fetched: tuple[Path, Fetch, Fetch]) -> None:
    second = fetched[2]
    assert (second.summary.downloaded, second.summary.skipped, second.summary.failed) == (0, 2, 0)
    assert second.requests[0] == f"{HOST}/robots.txt"
    assert all("list=allpages" in path for path in second.requests[1:])


def test_limit_caps_the_titles_asked_for(served: tuple[str, list[str]], tmp_path: Path) -> None:
    fetch = run_fetch(*served, tmp_path, OrganisationConfig(limit=4))
    assert fetch.summary.downloaded == 1 and fetch.summary.failed == 0
    assert len([path for path in fetch.requests if "list=allpages" in path]) == 1, "no need for the second part"
    (kept,) = tmp_path.glob("*.json")
    with open(kept, "rb") as stream:
        titles = [document.title for document in wikidoc.parse(stream, str(kept))]
    assert titles == [title for title in FIRST_LISTING if title != "Congestive heart failure"]


def test_an_api_that_robots_txt_refuses_is_counted_as_disallowed(mirror: Path, tmp_path: Path) -> None:
    site_copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    (site_copy / "www.wikidoc.org" / "robots.txt").write_text("User-agent: *\nDisallow: /api.php\n")
    handler = recorder()
    with serve(site_copy, handler=handler) as base:
        fetch = run_fetch(base, handler.requests, tmp_path / "raw")
    summary = fetch.summary
    assert (summary.downloaded, summary.failed, summary.disallowed) == (0, 0, 1)
    assert fetch.requests == [f"{HOST}/robots.txt"]


def test_an_api_error_answer_is_a_counted_failure(mirror: Path, tmp_path: Path) -> None:
    site_copy = Path(shutil.copytree(mirror, tmp_path / "site"))
    (first,) = [
        path
        for path in (site_copy / "www.wikidoc.org").glob("api.php?*")
        if "allpages" in path.name and "apcontinue" not in path.name
    ]
    first.write_text('{"error":{"code":"readapidenied","info":"You need read permission to use this module."}}')
    with serve(site_copy) as base:
        summary = run_fetch(base, [], tmp_path / "raw").summary
    assert (summary.downloaded, summary.failed) == (0, 1)
    assert "API error readapidenied" in summary.errors[0]


# --- parse -----------------------------------------------------------------------------------------------------------


def test_wikidoc_is_share_alike_redistributable_and_collected_through_its_api() -> None:
    assert (wikidoc.LICENSE, wikidoc.REDISTRIBUTABLE, wikidoc.COLLECTABLE) == ("CC-BY-SA-3.0", True, True)
    assert wikidoc.API == "https://www.wikidoc.org/api.php"


def test_the_documents_are_the_four_content_pages(documents: dict) -> None:
    assert set(documents) == {f"guidelines/wikidoc:{key}" for key in CONTENT_PAGES}


def test_a_document_carries_its_title_url_revision_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/wikidoc:Heart_failure_with_reduced_ejection_fraction"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "wikidoc", "CC-BY-SA-3.0")
    assert document.title == "Heart failure with reduced ejection fraction"
    assert document.url == "https://www.wikidoc.org/index.php/Heart_failure_with_reduced_ejection_fraction"
    assert document.date == "2024-02-19"
    assert document.meta == {
        "organisation": "wikidoc",
        "redistributable": True,
        "file": "pages-00001.json",
        "format": "wikitext",
        "pageid": 53311,
        "revised": "2024-02-19T15:58:40Z",
    }
    assert document.text.startswith("# Heart failure with reduced ejection fraction\n\n## Overview\n\n")


def test_text_keeps_headings_lists_tables_and_the_text_of_links(documents: dict) -> None:
    text = documents["guidelines/wikidoc:Community-acquired_pneumonia"].text
    assert "\n## Diagnosis\n" in text and "\n### Inpatients\n" in text
    assert "Severity is scored with CURB-65, one point for each of:\n\n- Confusion of new onset\n" in text
    assert "\n  - Switch from intravenous to oral therapy once the patient has been afebrile for 48 hours\n" in text
    assert "| 3–5 | High | Hospital; consider intensive care |" in text
    assert (
        "respiratory viruses account for a large share" in text and "confirmed by a new infiltrate on a chest" in text
    )


def test_text_drops_templates_references_files_categories_and_trailing_sections(documents: dict) -> None:
    text = documents["guidelines/wikidoc:Community-acquired_pneumonia"].text
    for gone in ("{{", "[[", "'''", "cite journal", "Okafor", "thumb", "Consolidation of the right lower lobe"):
        assert gone not in text
    for gone in ("Pulmonology", "Neumonía", "Hospital-acquired pneumonia", "See also", "References"):
        assert gone not in text
    assert "Place of care by CURB-65 score" not in text, "table captions go"
    assert text.endswith("look for an empyema or a resistant organism.")


def test_text_holds_no_navigation_cookie_or_footer_text(documents: dict) -> None:
    for document in documents.values():
        assert "cookie" not in document.text.lower() and "View history" not in document.text
        assert "Creative Commons" not in document.text and "last edited" not in document.text


def test_comments_and_reference_lists_vanish_and_definition_terms_stay(documents: dict) -> None:
    ketoacidosis = documents["guidelines/wikidoc:Diabetic_ketoacidosis"].text
    assert "Paediatric management" not in ketoacidosis and "references" not in ketoacidosis
    assert "| Below 3.5 | Senior review; more potassium is needed |" in ketoacidosis
    heart = documents["guidelines/wikidoc:Heart_failure_with_reduced_ejection_fraction"].text
    assert "**Implantable cardioverter-defibrillator**\nrecommended for patients" in heart
    assert "Loop diuretics relieve congestion" in heart and "Patient leaflet" not in heart


def test_a_less_than_sign_in_the_text_is_no_tag(documents: dict) -> None:
    assert "aim for a level <5.5 mmol/L" in documents["guidelines/wikidoc:Hyperkalemia"].text


# --- keep and stop rules, each on both sides -------------------------------------------------------------------------


def test_a_redirect_is_skipped_but_a_list_that_starts_with_redirect_is_kept() -> None:
    parsed = parse_pages(
        page("CHF", "#REDIRECT [[Heart failure]]\n{{R from abbreviation}}"),
        page("Triage", "#Redirect the patient to the emergency department.\n#Call the on-call physician."),
    )
    assert list(parsed) == ["Triage"]
    assert "- Redirect the patient to the emergency department." in parsed["Triage"].text


def test_a_disambiguation_page_is_skipped_but_a_page_asking_for_one_is_kept() -> None:
    parsed = parse_pages(
        page("Shock", "'''Shock''' may refer to:\n* [[Septic shock]]\n{{Disambig|medicine}}"),
        page("Cardiogenic shock", "{{Disambiguation needed}}\nCardiogenic shock is pump failure with hypoperfusion."),
    )
    assert list(parsed) == ["Cardiogenic shock"]


def test_a_page_of_templates_only_is_skipped_but_one_sentence_is_kept() -> None:
    parsed = parse_pages(
        page("Nephrology hub", "__NOTOC__\n{{SI}}\n{{CMG}}; {{AE}}\n\n{{Nephrology}}\n[[Category:Nephrology]]"),
        page("Anuria", "{{SI}}\n==Overview==\nAnuria is a urine output below 100 mL a day.\n[[Category:Nephrology]]"),
    )
    assert list(parsed) == ["Anuria"]
    assert parsed["Anuria"].text == "# Anuria\n\n## Overview\n\nAnuria is a urine output below 100 mL a day."


def test_a_missing_page_or_one_without_text_gives_nothing() -> None:
    assert parse_pages({"ns": 0, "title": "Deleted page", "missing": True}) == {}


def test_trailing_sections_go_until_the_next_heading_of_their_level() -> None:
    text = text_of(
        "==Referral==\nRefer within two weeks.\n==See also==\n* [[Anemia]]\n===Related===\nMore links.\n"
        "==Prognosis==\nMost patients recover.\n==External links==\n* [https://example.org Leaflet]"
    )
    assert text == "# Topic\n\n## Referral\n\nRefer within two weeks.\n\n## Prognosis\n\nMost patients recover."


def test_category_file_and_language_links_go_but_links_to_categories_keep_their_label() -> None:
    text = text_of(
        "See the [[:Category:Cardiology|cardiology chapters]] and [[HIV/AIDS]] or the [[Wikipedia:Style|style]].\n"
        "[[Image:Ecg.png|thumb|An [[ECG]] trace]] [[Category:Cardiology]] [[fr:Cardiologie]]"
    )
    assert text == "# Topic\n\nSee the cardiology chapters and HIV/AIDS or the style."


def test_nested_templates_go_and_an_unclosed_one_loses_only_its_braces() -> None:
    assert text_of("Give {{drug|{{dose|5 mg}}}}fluids early.") == "# Topic\n\nGive fluids early."
    assert text_of("Give {{broken fluids early.") == "# Topic\n\nGive broken fluids early."


def test_format_version_1_answers_are_read_too() -> None:
    answer = {
        "query": {
            "pages": {
                "7": {
                    "pageid": 7,
                    "ns": 0,
                    "title": "Gout",
                    "revisions": [
                        {
                            "timestamp": "2020-05-06T07:08:09Z",
                            "slots": {"main": {"*": "Gout is an inflammatory arthritis."}},
                        }
                    ],
                }
            }
        }
    }
    (document,) = wikidoc.parse(io.BytesIO(bundle(answer).encode()), RAW)
    assert (document.id, document.date) == ("guidelines/wikidoc:Gout", "2020-05-06")


# --- damaged raw files -----------------------------------------------------------------------------------------------


def test_a_truncated_bundle_raises_parse_error_naming_the_file(fetched: tuple[Path, Fetch, Fetch]) -> None:
    data = (fetched[0] / "pages-00001.json").read_bytes()
    with pytest.raises(ParseError, match=r"pages-00009\.json: not a bundle"):
        list(wikidoc.parse(io.BytesIO(data[: len(data) // 2]), RAW))


def test_an_html_error_page_saved_as_json_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match=r"pages-00009\.json: not a bundle"):
        list(wikidoc.parse(io.BytesIO(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"), RAW))


def test_an_answer_that_is_not_json_raises_parse_error_naming_the_file_and_url() -> None:
    data = bundle("<html><body>Database locked</body></html>").encode()
    with pytest.raises(ParseError, match=r"pages-00009\.json: https://www\.wikidoc\.org/api\.php\?answer=0: not JSON"):
        list(wikidoc.parse(io.BytesIO(data), RAW))


def test_an_answer_of_another_shape_raises_parse_error_naming_the_file() -> None:
    data = bundle({"query": {"pages": [{"pageid": 3}]}}).encode()
    with pytest.raises(ParseError, match=r"pages-00009\.json: .*not a prop=revisions answer"):
        list(wikidoc.parse(io.BytesIO(data), RAW))
