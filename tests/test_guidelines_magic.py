"""MAGICapp guidelines: the offline API mirror, discovery through the public REST API, bundles, parsing."""

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from gap_replay.http import PoliteClient
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError
from gap_replay.sources.guidelines import magic, site
from gap_replay.sources.mirror import DATA
from gap_replay.sources.mirror import magic as magic_mirror
from gap_replay.sources.mirror.server import serve

SOURCE = DATA / "magic"
COLLECTED = {"5131", "5208"}  # 4077 is kept off by robots.txt, 5377 is an unpublished draft
API = "https://api.magicapp.org/api/v1/guidelines"
STRENGTH_WORDS = {"STRONG": "Strong recommendation", "WEAK": "Weak (conditional) recommendation"}
STRENGTH_WORDS["INFO"] = "Practice statement"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "guidelines" / "real" / "magic"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(),
    reason="the real MAGICapp samples are in ../shared, which is not beside the repository",
)


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def source(guideline_id: int) -> dict:
    return json.loads((SOURCE / "guidelines" / f"{guideline_id}.json").read_text(encoding="utf-8"))


def bundle(guideline: object, sections: object, recommendations: object) -> bytes:
    """A raw bundle of a guideline's three responses, as `site.save_bundle` writes one."""
    gid = guideline["guidelineId"] if isinstance(guideline, dict) else 1
    parts = [(f"{API}/{gid}/", guideline), (f"{API}/{gid}/sections", sections)]
    parts.append((f"{API}/{gid}/recommendations", recommendations))
    responses = [{"url": url, "content_type": None, "etag": None, "body": json.dumps(body)} for url, body in parts]
    return json.dumps({"format": site.BUNDLE_FORMAT, "url": f"{API}/{gid}", "responses": responses}).encode()


def plain(html: str) -> str:
    """The words of an HTML fragment without its citations, whitespace collapsed."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for cite in root.find_class("magic-ref"):
        cite.drop_tree()
    return " ".join(root.text_content().split())


def words(text: str) -> str:
    """The words of a text, one space apart: Markdown bullets, line breaks and spacing do not count."""
    return " ".join(re.findall(r"\w+", text))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    magic_mirror.build(DATA, root)
    return root


@pytest.fixture(scope="module")
def base(mirror: Path) -> Iterator[str]:
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def fetched(base: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FetchSummary]]:
    """The MAGIC raw folder after two fetches, and their summaries (first, repeat)."""
    raw = tmp_path_factory.mktemp("raw")
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        return raw, [magic.fetch(OrganisationConfig(), raw, client) for _ in range(2)]


@pytest.fixture(scope="module")
def documents(fetched: tuple[Path, list]) -> dict[str, object]:
    raw, _ = fetched
    parsed = {}
    for path in sorted(raw.glob("*.json")):
        with open(path, "rb") as stream:
            for document in magic.parse(stream, str(path)):
                parsed[document.id] = document
    return parsed


# --- the mirror ----------------------------------------------------------------------------------------------------


def test_mirror_builds_identically_twice(mirror: Path, tmp_path: Path) -> None:
    magic_mirror.build(DATA, tmp_path)
    assert tree(tmp_path) == tree(mirror)


def test_mirror_prints_recommendations_as_the_api_does(mirror: Path) -> None:
    body = (mirror / "api.magicapp.org" / "api" / "v1" / "guidelines" / "5208" / "recommendations").read_text()
    recommendations = json.loads(body)
    assert '"recommendationId" : 89201' in body
    assert recommendations[0]["trackText"] == recommendations[0]["text"]
    assert recommendations[0]["keyInfo"]["benefitsStrength"] == "NOTSET"
    assert recommendations[2]["hasData"]["keyInfo"] is True and recommendations[1]["hasData"]["keyInfo"] is False


def test_mirror_list_holds_an_unpublished_draft(mirror: Path) -> None:
    entries = json.loads((mirror / "api.magicapp.org" / "api" / "v1" / "guidelines?limit=5000").read_text())
    draft = [entry for entry in entries if entry["guidelineId"] == 5377]
    assert draft and draft[0]["publishDate"] == "" and draft[0]["publishedId"] is None


# --- discovery -------------------------------------------------------------------------------------------------------


def test_published_list_entries_are_kept_and_drafts_skipped() -> None:
    published = {"guidelineId": 5131, "publishedId": 6620, "publishDate": "2024-09-02"}
    assert magic.is_published(published)
    assert not magic.is_published({**published, "publishDate": ""})
    assert not magic.is_published({**published, "publishedId": None})


def test_list_names_the_published_guidelines_in_order(base: str) -> None:
    summary = FetchSummary("test")
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        assert magic.published_guidelines(client, magic.LIST_URL, summary) == [4077, 5131, 5208]
    assert summary.failed == 0


def test_fetch_bundles_each_published_guideline(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert {path.stem for path in raw.glob("*.json")} == COLLECTED
    assert (first.downloaded, first.failed) == (2, 0)
    assert first.bytes == sum(path.stat().st_size for path in raw.glob("*.json"))


def test_bundle_holds_metadata_sections_and_recommendations(fetched: tuple[Path, list]) -> None:
    raw, _ = fetched
    saved = json.loads((raw / "5131.json").read_bytes())
    assert saved["url"] == f"{API}/5131"
    assert [response["url"] for response in saved["responses"]] == [
        f"{API}/5131",
        f"{API}/5131/sections",
        f"{API}/5131/recommendations",
    ]


def test_robots_disallowed_guideline_is_counted_not_fetched(fetched: tuple[Path, list]) -> None:
    raw, (first, _) = fetched
    assert first.disallowed == 1
    assert not (raw / "4077.json").exists()


def test_second_fetch_downloads_nothing(fetched: tuple[Path, list]) -> None:
    _, (_, second) = fetched
    assert (second.downloaded, second.skipped, second.failed) == (0, 2, 0)


def test_limit_caps_the_guidelines_in_place(base: str, tmp_path: Path) -> None:
    """The first guideline in order is refused by robots.txt; the crawl goes on until one is in."""
    with PoliteClient(user_agent="test", delay=0, mirror=base) as client:
        summary = magic.fetch(OrganisationConfig(limit=1), tmp_path, client)
    assert (summary.downloaded, summary.disallowed, summary.failed) == (1, 1, 0)
    assert [path.stem for path in tmp_path.glob("*.json")] == ["5131"]


# --- parse -----------------------------------------------------------------------------------------------------------


def test_parsed_guideline_has_id_title_url_date_and_licence(documents: dict) -> None:
    document = documents["guidelines/magic:5131"]
    assert (document.source, document.subsource, document.license) == ("guidelines", "magic", "MAGICapp-terms")
    assert document.title == "Thromboprophylaxis after hip and knee arthroplasty"
    assert document.url == "https://app.magicapp.org/#/guideline/Lq4mZE"
    assert document.date == "2024-09-02"
    assert document.meta["redistributable"] is False
    assert document.meta["organisation"] == "magic"
    assert (document.meta["short_code"], document.meta["recommendations"]) == ("Lq4mZE", 3)


def test_every_bundle_gives_one_document(documents: dict) -> None:
    assert set(documents) == {f"guidelines/magic:{gid}" for gid in COLLECTED}


def test_sections_are_headings_nested_by_parent(documents: dict) -> None:
    headings = [line for line in documents["guidelines/magic:5131"].text.splitlines() if line.startswith("#")]
    assert headings[:5] == [
        "# Thromboprophylaxis after hip and knee arthroplasty",
        "## 1 About this guideline",
        "## 2 Pharmacological prophylaxis",
        "### 2.1 Duration and choice of agent",
        "#### Strong recommendation",
    ]
    assert "## 3 Mechanical prophylaxis" in headings


def test_every_recommendation_appears_with_its_strength_written_out(documents: dict) -> None:
    for gid in (5131, 5208):
        text = words(documents[f"guidelines/magic:{gid}"].text)
        for rec in source(gid)["recommendations"]:
            said = words(plain(rec["text"]))
            assert said in text, (gid, said)
            assert words(STRENGTH_WORDS[rec["strength"]]) in text[: text.index(said)]


def test_recommendation_heading_comes_first_then_its_strength(documents: dict) -> None:
    text = documents["guidelines/magic:5131"].text
    heading = "This recommendation applies to adults having total knee arthroplasty without previous venous"
    assert f"#### {heading} thromboembolism\n\nWeak (conditional) recommendation\n\nWe suggest aspirin 75" in text


def test_details_that_are_not_empty_follow_under_their_labels(documents: dict) -> None:
    text = documents["guidelines/magic:5208"].text
    assert "#### Rationale\n\nStaying active shortens sick leave" in text
    assert "#### Practical info\n\nExplain that pain does not mean damage" in text
    assert "#### Benefits and harms\n\n- less pain at 2 weeks\n- earlier return to work" in text
    assert "#### Certainty of the evidence\n\nModerate certainty." in text


def test_recommendation_with_empty_fields_gives_its_strength_and_text_only(documents: dict) -> None:
    text = documents["guidelines/magic:5208"].text
    block = text.split("We suggest not offering lumbar imaging", 1)[1].split("\n## ", 1)[0]
    assert "####" not in block  # no Remarks, Rationale, Practical info or key info headings
    assert "### Weak (conditional) recommendation\n\nWe suggest not offering lumbar imaging" in text


def test_citations_are_dropped(documents: dict) -> None:
    for document in documents.values():
        assert "Stand-in" not in document.text and not re.search(r"\[\d+\]", document.text)


def test_strengths_are_written_out_and_unknown_ones_kept_in_words() -> None:
    assert magic.strength_label("STRONG") == "Strong recommendation"
    assert magic.strength_label("WEAK") == "Weak (conditional) recommendation"
    assert magic.strength_label("INFO") == "Practice statement"
    assert magic.strength_label("NOTSET") == ""
    assert magic.strength_label("CONSENSUS_BASED") == "Consensus based"


def test_recommendation_without_text_is_left_out() -> None:
    guideline = {"guidelineId": 1, "name": "Test guideline", "shortCode": "Abc123", "publishDate": "2024-01-01"}
    sections = [{"sectionId": 10, "heading": "Care", "order": 0}]
    recommendations = [
        {"sectionId": 10, "order": 0, "strength": "STRONG", "text": "<p>Offer early mobilisation.</p>"},
        {"sectionId": 10, "order": 1, "strength": "WEAK", "text": "<p> </p>", "rational": "<p>Orphan rationale.</p>"},
    ]
    (document,) = magic.parse(io.BytesIO(bundle(guideline, sections, recommendations)), "raw/guidelines/magic/1.json")
    assert "Offer early mobilisation." in document.text and "Orphan rationale" not in document.text
    assert document.meta["recommendations"] == 1


def test_truncated_bundle_raises_parse_error_naming_the_file(fetched: tuple[Path, list]) -> None:
    data = (fetched[0] / "5208.json").read_bytes()
    with pytest.raises(ParseError, match=r"5208\.json: not a bundle"):
        list(magic.parse(io.BytesIO(data[:-200]), "raw/guidelines/magic/5208.json"))


def test_html_error_page_saved_as_json_raises_parse_error() -> None:
    page = b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"
    with pytest.raises(ParseError, match=r"5208\.json: not a bundle"):
        list(magic.parse(io.BytesIO(page), "raw/guidelines/magic/5208.json"))


def test_bundle_without_recommendations_raises_parse_error() -> None:
    data = json.loads(bundle({"guidelineId": 7, "name": "Partial"}, [], []))
    data["responses"] = data["responses"][:2]
    with pytest.raises(ParseError, match=r"7\.json: bundle lacks the guideline's recommendations"):
        list(magic.parse(io.BytesIO(json.dumps(data).encode()), "raw/guidelines/magic/7.json"))


# --- the real API samples --------------------------------------------------------------------------------------------


def sample_recommendations() -> list[tuple[str, list[dict]]]:
    """Each saved recommendations response: the JSON array embedded in a JavaScript file (from its first `[`)."""
    samples = []
    for path in sorted(SAMPLES.glob("*.js")):
        script = path.read_text(encoding="utf-8")
        recommendations, _ = json.JSONDecoder().raw_decode(script[script.index("[") :])
        samples.append((path.name, recommendations))
    return samples


@needs_samples
def test_every_real_sample_recommendation_appears_with_its_strength() -> None:
    for name, recommendations in sample_recommendations():
        gid = recommendations[0]["guidelineId"]
        sections = [
            {"sectionId": sid, "heading": f"Section {sid}", "order": 0}
            for sid in {r["sectionId"] for r in recommendations}
        ]
        guideline = {"guidelineId": gid, "name": f"Sample {gid}", "shortCode": None}
        data = bundle(guideline, sections, recommendations)
        (document,) = magic.parse(io.BytesIO(data), f"raw/guidelines/magic/{gid}.json")
        text, position = words(document.text), 0
        for rec in sorted(recommendations, key=lambda rec: rec["order"]):
            said = words(plain(rec["text"]))
            found = text.index(said, position)
            assert words(STRENGTH_WORDS[rec["strength"]]) in text[position:found], (name, rec["recommendationId"])
            position = found + len(said)
        assert "magic-cite" not in document.text and "data-label" not in document.text
