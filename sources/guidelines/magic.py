"""MAGIC (MAGICapp, the MAGIC Evidence Ecosystem Foundation's guideline platform): published public guidelines with
their recommendations and recommendation strengths, one document per guideline.

Discovery: MAGICapp's REST API at `api.magicapp.org`, which answers unauthenticated requests for public content
(MAGICapp's help pages: API documentation at `/swagger-ui/index.html`; public content needs no API user). The list
of guidelines (`GET /api/v1/guidelines`), then per guideline its metadata (`/api/v1/guidelines/{id}`), sections
(`.../sections`) and recommendations (`.../recommendations`), kept together as one raw bundle (`<guidelineId>.json`).
Modelled: the recommendation objects exactly as in saved v1 `/guidelines/{id}/recommendations` responses
(`sectionId`, `order`, `strength`, `heading`, `text`, `remarks`, `advice`, `rational`, `keyInfo`, HTML in the text
fields, citations as `span.magic-ref > cite.magic-cite`); the list entries' fields (`guidelineId`, `publishedId`,
`shortCode`, `name`, `language`, `publishDate`, `publishedRecommendationCount`) and the section fields
(`sectionId`, `heading`, `sectionNumber`, `text`) as public client code reads them. Not verifiable here: the full
metadata and section shapes (`parentId` and `order` for nesting are assumed), whether the list pages, and the
strength values beyond `STRONG`, `WEAK`, `INFO` and `NOTSET` seen in the saved responses.

Keep/stop rules: a list entry without a publish date and published version (an unpublished draft) is skipped
without a request; a recommendation without text is left out; robots.txt is obeyed.

Text: the guideline's name as title; per section a heading (nested sections one level deeper); per recommendation
its heading when present, its strength written out ("Strong recommendation", "Weak (conditional) recommendation",
"Practice statement"), its text, then the remarks, rationale, practical info and key info (benefits and harms,
certainty of the evidence, preferences and values, resources) that are not empty, all HTML through
`fragment_to_markdown`, which drops the citations.

Licence: MAGICapp's terms for public guidelines could not be found here; the content belongs to each guideline's
publishing organisation, whose terms vary (some publish under Creative Commons, many do not state one). The
reference corpus did not release MAGIC, so documents are not marked redistributable.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from gap_replay.documents import Document
from gap_replay.http import HttpError, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.fragments import fragment_to_markdown

KEY = "magic"
NAME = "MAGIC Evidence Ecosystem Foundation (MAGICapp)"
LICENSE = "MAGICapp-terms"
REDISTRIBUTABLE = False
COLLECTABLE = True
DISCOVERY = "MAGICapp public REST API: guideline list, then each guideline's metadata, sections and recommendations"

# --- site knowledge ----------------------------------------------------------------------------------------------

LIST_URL = "https://api.magicapp.org/api/v1/guidelines?limit=5000"
GUIDELINE_URL = "https://api.magicapp.org/api/v1/guidelines/{id}"
PARTS = {"sections": "/sections", "recommendations": "/recommendations"}  # appended to the guideline's URL
PAGE_URL = "https://app.magicapp.org/#/guideline/{short_code}"  # where a reader opens the guideline
PUBLISHED_FIELDS = ("publishDate", "publishedId")  # a list entry lacking one is not published
PART_URL = re.compile(r"/api/v1/guidelines/\d+(?P<part>/sections|/recommendations)?/?$")
STRENGTHS = {
    "STRONG": "Strong recommendation",
    "WEAK": "Weak (conditional) recommendation",
    "INFO": "Practice statement",
    "NOTSET": "",
    "NO_STRENGTH": "",
}
DETAILS = (("remarks", "Remarks"), ("rational", "Rationale"), ("advice", "Practical info"))
KEY_INFO = (
    ("benefits", "Benefits and harms"),
    ("evidence", "Certainty of the evidence"),
    ("preferences", "Preferences and values"),
    ("resources", "Resources and other considerations"),
)
MAX_LEVEL = 6


# --- fetch -------------------------------------------------------------------------------------------------------


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download one bundle per published MAGICapp guideline into `raw_dir` (`raw/guidelines/magic`);
    `config.url` replaces the list URL."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    log = fetch_log(raw_dir)
    for guideline_id in published_guidelines(client, config.url or LIST_URL, summary):
        if config.limit is not None and summary.downloaded + summary.skipped >= config.limit:
            break
        url = GUIDELINE_URL.format(id=guideline_id)
        dest = raw_dir / f"{guideline_id}.json"
        try:
            first = client.get(url, headers=site.conditional_headers(log, url, dest))
            if first.status == 304:
                summary.skipped += 1
                continue
            pages = [site.json_page(first), *(site.json_page(client.get(url + suffix)) for suffix in PARTS.values())]
        except RobotsDisallowed:
            summary.disallowed += 1
            continue
        except HttpError as error:
            summary.fail(url, error.reason)
            continue
        site.save_bundle(url, pages, dest, log, summary)
    return summary


def published_guidelines(client: PoliteClient, list_url: str, summary: FetchSummary) -> list[int]:
    """The ids of the published guidelines the list names, in order; a failed list is counted in `summary`."""
    try:
        entries = json.loads(site.json_page(client.get(list_url)).content)
    except HttpError as error:
        summary.fail(list_url, f"guideline list failed: {error.reason}")
        return []
    if not isinstance(entries, list):
        summary.fail(list_url, "the guideline list is not a JSON array")
        return []
    ids = {entry["guidelineId"] for entry in entries if isinstance(entry, dict) and is_published(entry)}
    return sorted(ids)


def is_published(entry: dict[str, Any]) -> bool:
    """Whether a list entry is a published guideline (an unpublished draft has no publish date or version)."""
    return isinstance(entry.get("guidelineId"), int) and all(entry.get(field) for field in PUBLISHED_FIELDS)


# --- parse -------------------------------------------------------------------------------------------------------


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """The Document of one guideline bundle (metadata, sections, recommendations)."""
    parts = _parts(site.read_bundle(stream.read(), name), name)
    guideline, sections, recommendations = parts["guideline"], parts["sections"], parts["recommendations"]
    if not isinstance(guideline, dict) or not guideline.get("name") or "guidelineId" not in guideline:
        raise ParseError(f"{name}: not a MAGICapp guideline")
    if not isinstance(sections, list) or not isinstance(recommendations, list):
        raise ParseError(f"{name}: sections and recommendations must be lists")
    title = " ".join(str(guideline["name"]).split())
    kept = [rec for rec in recommendations if isinstance(rec, dict) and fragment_to_markdown(rec.get("text") or "")]
    short_code = guideline.get("shortCode")
    published = guideline.get("publishDate")
    yield site.make_document(
        KEY,
        str(guideline["guidelineId"]),
        guideline_text(title, [s for s in sections if isinstance(s, dict)], kept),
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=title,
        url=PAGE_URL.format(short_code=short_code) if short_code else None,
        date=str(published)[:10] if published else None,
        meta={
            "file": PurePosixPath(name.replace("\\", "/")).name,
            "format": "json",
            "short_code": short_code,
            "language": guideline.get("language"),
            "recommendations": len(kept),
        },
    )


def _parts(responses: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The bundle's guideline metadata, sections and recommendations, told apart by their URLs."""
    parts: dict[str, Any] = {}
    for response in responses:
        match = PART_URL.search(str(response.get("url") or "").split("?", 1)[0])
        if match:
            parts[(match.group("part") or "/guideline").lstrip("/")] = site.response_json(response, name)
    missing = [part for part in ("guideline", "sections", "recommendations") if part not in parts]
    if missing:
        raise ParseError(f"{name}: bundle lacks the guideline's {', '.join(missing)}")
    return parts


def guideline_text(title: str, sections: list[dict[str, Any]], recommendations: list[dict[str, Any]]) -> str:
    """`# title`, then each section (by `parentId`/`order`) with its text and recommendations; recommendations
    whose section is unknown come last."""
    by_section: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for rec in sorted(recommendations, key=lambda rec: rec.get("order") or 0):
        by_section[rec.get("sectionId")].append(rec)
    parts = [f"# {title}"]
    placed: set[Any] = set()
    for section, depth in ordered_sections(sections):
        level = min(MAX_LEVEL, 2 + depth)
        heading = " ".join(f"{section.get('sectionNumber') or ''} {_inline(section.get('heading'))}".split())
        parts += [f"{'#' * level} {heading}"] if heading else []
        parts.append(fragment_to_markdown(section.get("text") or "", top_level=min(MAX_LEVEL, level + 1)))
        parts += [recommendation_text(rec, min(MAX_LEVEL, level + 1)) for rec in by_section[section.get("sectionId")]]
        placed.add(section.get("sectionId"))
    for section_id, recs in by_section.items():
        if section_id not in placed:
            parts += [recommendation_text(rec, 2) for rec in recs]
    return "\n\n".join(part for part in parts if part) + "\n"


def ordered_sections(sections: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Sections depth first, siblings by `order`, each with its depth (0 for a top-level section)."""
    ids = {section.get("sectionId") for section in sections}
    children: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for section in sections:
        parent = section.get("parentId")
        children[parent if parent in ids else None].append(section)
    ordered: list[tuple[dict[str, Any], int]] = []

    def visit(parent: Any, depth: int) -> None:
        for section in sorted(children[parent], key=lambda section: section.get("order") or 0):
            ordered.append((section, depth))
            if section.get("sectionId") is not None:
                visit(section.get("sectionId"), depth + 1)

    visit(None, 0)
    return ordered


def recommendation_text(rec: dict[str, Any], level: int) -> str:
    """A recommendation under a heading (its own, else its strength): strength, text, then the details present."""
    strength = strength_label(rec.get("strength"))
    heading = _inline(rec.get("heading"))
    parts = [f"{'#' * level} {heading or strength or 'Recommendation'}"]
    if heading and strength:
        parts.append(strength)
    below = min(MAX_LEVEL, level + 1)
    parts.append(fragment_to_markdown(rec.get("text") or "", top_level=below))
    key_info = rec.get("keyInfo") if isinstance(rec.get("keyInfo"), dict) else {}
    fields = [(rec.get(field), label) for field, label in DETAILS]
    fields += [(key_info.get(field), label) for field, label in KEY_INFO]
    for html, label in fields:
        text = fragment_to_markdown(html or "", top_level=min(MAX_LEVEL, below + 1))
        if text:
            parts += [f"{'#' * below} {label}", text]
    return "\n\n".join(part.strip() for part in parts if part.strip())


def strength_label(strength: Any) -> str:
    """A strength written out; an unknown value as itself in words (`CONSENSUS` -> `Consensus`)."""
    value = str(strength or "").strip().upper()
    if value in STRENGTHS:
        return STRENGTHS[value]
    return value.replace("_", " ").capitalize()


def _inline(html: Any) -> str:
    """An HTML fragment as one line of text (a heading)."""
    return " ".join(fragment_to_markdown(str(html or "")).split())
