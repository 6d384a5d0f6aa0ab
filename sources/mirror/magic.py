"""The MAGICapp stand-in: `api.magicapp.org`, the public REST API, built from `data/magic/`.

`data/magic/list.json` is the guideline list (`GET /api/v1/guidelines?limit=5000`); each
`data/magic/guidelines/<id>.json` holds one guideline's metadata, sections and recommendations. Recommendations are
written compactly there and expanded here into the full objects MAGICapp's v1 API returns (tracked-change copies of
each text field, `hasData` flags, key info with its strength fields, reference and PICO ids), and every response is
pretty-printed the way that API prints JSON (`"key" : value`).

The metadata lives at `/api/v1/guidelines/<id>` while sections and recommendations are below it; a static tree
cannot hold a file and a folder of one name, so the metadata is the folder's `index.json`, which the mirror server
answers for the folder's own URL, as the real API does.

Planted: an unpublished draft in the list (no publish date, no published version) that must be skipped; a
guideline robots.txt keeps crawlers off (withdrawn by its publisher, still listed); a recommendation with every
field but its text empty; citation markup in recommendation text and key info.
"""

from __future__ import annotations

import json
from pathlib import Path

from gap_replay.sources.mirror.kit import query_file, write
from gap_replay.sources.mirror.server import RESOURCE

HOST = "api.magicapp.org"
LIST_QUERY = {"limit": "5000"}
ROBOTS = """User-agent: *
Disallow: /api/v1/users
Disallow: /api/v1/guidelines/*/pdf
Disallow: /api/v1/guidelines/*/docx
# Withdrawn by its publishing organisation; kept out of automated collection until it leaves the list.
Disallow: /api/v1/guidelines/4077
"""
TEXT_FIELDS = ("heading", "text", "remarks", "advice", "rational", "adaptation")
KEY_INFO_FIELDS = ("benefits", "evidence", "preferences", "resources")
HAS_DATA = ("advice", "adaptation", "decisionAids", "discussion", "keyInfo", "emrCodes", "evidence", "rational")


def build(data: Path, site: Path) -> None:
    """Write `site/api.magicapp.org/` from `data/magic/`."""
    source = data / "magic"
    root = site / HOST
    write(root / "robots.txt", ROBOTS.encode("ascii"))
    guidelines = root / "api" / "v1" / "guidelines"
    write(query_file(guidelines, LIST_QUERY), _json(json.loads((source / "list.json").read_text(encoding="utf-8"))))
    for path in sorted((source / "guidelines").glob("*.json")):
        guideline = json.loads(path.read_text(encoding="utf-8"))
        folder = guidelines / str(guideline["guideline"]["guidelineId"])
        write(folder / RESOURCE, _json(guideline["guideline"]))
        write(folder / "sections", _json(guideline["sections"]))
        recommendations = [
            _recommendation(guideline["guideline"]["guidelineId"], rec) for rec in guideline["recommendations"]
        ]
        write(folder / "recommendations", _json(recommendations))


def _json(value: object) -> bytes:
    """JSON as MAGICapp's API prints it: two-space indent, `"key" : value`."""
    return json.dumps(value, ensure_ascii=False, indent=2, separators=(",", " : ")).encode("utf-8")


def _recommendation(guideline_id: int, rec: dict) -> dict:
    """A compact recommendation expanded into the API's full object, fields in the API's order."""
    texts = {field: rec.get(field, "") for field in TEXT_FIELDS}
    return {
        "recommendationId": rec["recommendationId"],
        "shortCode": rec["shortCode"],
        "guidelineId": guideline_id,
        "sectionId": rec["sectionId"],
        "order": rec["order"],
        "strength": rec["strength"],
        "status": rec["status"],
        **texts,
        "showAdaptation": False,
        "hasData": _has_data(rec, texts),
        "keyInfoType": "SUMMARY",
        "keyInfoDisplayMode": "TEXT",
        "shortName": rec["shortCode"],
        **{f"track{field.capitalize()}": texts[field] for field in TEXT_FIELDS},
        "keyInfo": _key_info(rec["recommendationId"], rec["keyInfo"]),
        "referenceId": rec["referenceId"],
        "picoId": rec["picoId"],
        "links": [],
    }


def _has_data(rec: dict, texts: dict) -> dict:
    """The API's flags for which parts of a recommendation have content."""
    key_info = any(rec["keyInfo"].get(field) for field in KEY_INFO_FIELDS)
    flags = {name: bool(texts.get(name)) for name in HAS_DATA}
    counts = {"discussionCount": 0, "discussionUnresolvedCount": 0, "evidenceCount": 0}
    return {**flags, "keyInfo": key_info, **counts, "references": bool(rec["referenceId"])}


def _key_info(recommendation_id: int, key_info: dict) -> dict:
    fields: dict = {"keyInfoType": "SUMMARY", "recommendationId": recommendation_id}
    for field in KEY_INFO_FIELDS:
        fields[field] = key_info.get(field, "")
        fields[f"track{field.capitalize()}"] = key_info.get(field) or None
    for field in KEY_INFO_FIELDS:
        fields[f"{field}Strength"] = key_info.get(f"{field}Strength", "NOTSET")
    return {**fields, "interventions": [], "links": []}
