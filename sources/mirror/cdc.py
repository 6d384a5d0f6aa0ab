"""The CDC stand-in: CDC Stacks (`stacks.cdc.gov`) and the CDC Content Services API v2 (`tools.cdc.gov`).

CDC Stacks, the agency's digital repository, is modelled as its server-rendered pages: a collection listing
(`/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100&start=0`, result rows in `div.search-result-row`, a "Next"
link to `start=100`, facet and sort links), item pages at `/view/cdc/<id>` and the item's file at
`/view/cdc/<id>/cdc_<id>_DS1.pdf`. Item pages are `index.html` files in the item's folder (the folder also holds the
PDF), so the server answers `/view/cdc/<id>` with a redirect to `/view/cdc/<id>/`.

The Content Services API is modelled on its v2 reference (tools.cdc.gov/api/docs/info.aspx): `/api/v2/resources/
media.json?<query>&pagenum=N` answers `{"meta": {..., "pagination": {...}}, "results": [media...]}`, a media item
is `/api/v2/resources/media/<id>.json` (`results: [media]`), and its syndicated content is
`/api/v2/resources/media/<id>/syndicate.json` (`results: {"content": "<html>"}`). The stand-in answers the one query
in `data/cdc/site.json`, split over two pages.

Planted: a video and an image among the API results (not guidance), a Stacks record that links to a website and has
no file, and a withdrawn Stacks item that robots.txt disallows. The text is written for this project.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode

from gap_replay.sources.mirror.kit import query_file, read_pdf_source, render_pdf, write

STACKS = "https://stacks.cdc.gov"
TOOLS = "https://tools.cdc.gov"
MEDIA_PATH = "api/v2/resources/media"
PUBLISHER = "Centers for Disease Control and Prevention"
PAGE_SIZE = "100"
STACKS_ROBOTS = (
    "User-agent: *\n"
    "Disallow: /gsearch\n"
    "Disallow: /cbrowse?*fq=\n"
    "# Items withdrawn from public view\n"
    "Disallow: /view/cdc/149870\n"
)
TOOLS_ROBOTS = "User-agent: *\nDisallow: /medialibrary/admin/\nDisallow: /api/v2/resources/media/*/embed\n"
RESULT_SET = "5c0a4c1e-2f7b-4d3a-9e61-0b8d2f4a7c15"


def build(data: Path, site: Path) -> None:
    """Write `site/stacks.cdc.gov/` and `site/tools.cdc.gov/` from `data/cdc/`."""
    source = data / "cdc"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    _build_stacks(source, manifest["stacks"], site / "stacks.cdc.gov")
    _build_api(source, manifest["media"], site / "tools.cdc.gov")


# --- CDC Stacks ----------------------------------------------------------------------------------------------------


def _build_stacks(source: Path, stacks: dict[str, Any], root: Path) -> None:
    template = Template((source / "stacks.html").read_text(encoding="utf-8"))
    items = {item["id"]: item for item in stacks["items"] + stacks["withdrawn"]}
    write(root / "robots.txt", STACKS_ROBOTS)
    pages = stacks["listing"]
    for number, ids in enumerate(pages):
        params = _listing_params(stacks["collection"], number)
        main = _listing(stacks, [items[item_id] for item_id in ids], number, len(pages))
        url = f"{STACKS}/cbrowse?{urlencode(params)}"
        write(query_file(root / "cbrowse", params), _page(template, stacks["collection_title"], url, main))
    for item in stacks["items"]:
        folder = root / "view" / "cdc" / item["id"]
        url = f"{STACKS}/view/cdc/{item['id']}"
        write(folder / "index.html", _page(template, item["title"], url, _item(stacks, item)))
        if "pdf" in item:
            pdf = read_pdf_source(source / "pdfs" / f"{item['pdf']}.txt", item["pdf"], PUBLISHER)
            write(folder / f"cdc_{item['id']}_DS1.pdf", render_pdf(pdf))


def _listing_params(collection: str, number: int) -> dict[str, str]:
    return {"pid": collection, "parentId": collection, "maxResults": PAGE_SIZE, "start": str(number * int(PAGE_SIZE))}


def _page(template: Template, title: str, url: str, main: str) -> str:
    return template.substitute(title=escape(title), url=escape(url), main=main.strip())


def _listing(stacks: dict[str, Any], items: list[dict[str, Any]], number: int, pages: int) -> str:
    """A collection page: facets and sort links (not to be crawled), result rows, and Previous/Next links."""
    collection = stacks["collection"]
    base = {"pid": collection, "parentId": collection}
    subjects = sorted({subject for item in stacks["items"] for subject in item["subjects"]})
    facets = "".join(
        f'<li><a href="/cbrowse?{escape(urlencode({**base, "fq": f"subject_topic:{name}"}))}">{escape(name)}</a></li>'
        for name in subjects
    )
    sorts = "".join(
        f'<a href="/cbrowse?{escape(urlencode({**base, "sort": key, "start": "0"}))}">{label}</a> '
        for key, label in (("title_sort asc", "Title"), ("date_sort desc", "Newest"))
    )
    rows = "\n".join(_row(item) for item in items)
    pager = []
    if number > 0:
        pager.append(f'<a href="/cbrowse?{escape(urlencode(_listing_params(collection, number - 1)))}">Previous</a>')
    if number + 1 < pages:
        pager.append(f'<a href="/cbrowse?{escape(urlencode(_listing_params(collection, number + 1)))}">Next</a>')
    return (
        f"<h1>{escape(stacks['collection_title'])}</h1>\n"
        f'<aside class="facets"><h2>Subject</h2><ul>{facets}</ul></aside>\n'
        f'<div class="sort-by">Sort by: {sorts.strip()}</div>\n'
        f'<div class="search-results">\n{rows}\n</div>\n'
        f'<nav class="pagination" aria-label="Results pages">{" ".join(pager)}</nav>'
    )


def _row(item: dict[str, Any]) -> str:
    """One result row, shaped as Stacks renders it: the title link sits in the card body's first div."""
    link = f'<a href="/view/cdc/{item["id"]}">{escape(item["title"])}</a>'
    return (
        '<div class="search-result-row card"><div class="card-body">'
        f'<div class="search-result-title"><div>{link}</div></div>'
        f'<div class="search-result-meta">Published Date: {_long_date(item["date"])}</div>'
        "</div></div>"
    )


def _item(stacks: dict[str, Any], item: dict[str, Any]) -> str:
    """An item page: details, then the downloadable file (a link and the Download form) or the record's web link."""
    collection = escape(urlencode({"pid": stacks["collection"], "parentId": stacks["collection"]}))
    details = [
        ("Published Date", escape(_long_date(item["date"]))),
        ("Corporate Authors", escape(item["authors"])),
        ("Description", escape(item["description"])),
        ("Subjects", escape("; ".join(item["subjects"]))),
        ("Document Type", escape(item["type"])),
        ("Collection(s)", f'<a href="/cbrowse?{collection}">{escape(stacks["collection_title"])}</a>'),
    ]
    rows = "".join(f"<dt>{name}:</dt><dd>{value}</dd>" for name, value in details)
    if "pdf" in item:
        name = f"cdc_{item['id']}_DS1.pdf"
        files = (
            f'<section class="item-files"><h2>Downloadable File</h2><ul><li><a href="/view/cdc/{item["id"]}/{name}">'
            f"{name}</a> (PDF)</li></ul>"
            f'<form action="/view/cdc/{item["id"]}/{name}" method="get">'
            '<button id="download-document-submit" name="download-document-submit" value="Download">Download</button>'
            "</form></section>"
        )
    else:
        link = f'<a href="{escape(item["link"])}">Visit the website</a>'
        files = f'<section class="item-link"><h2>Link</h2><p>{link}</p></section>'
    return f'<article class="stacks-item">\n<h1>{escape(item["title"])}</h1>\n<dl>{rows}</dl>\n{files}\n</article>'


def _long_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day:%B} {day.day}, {day.year}"


# --- Content Services API ----------------------------------------------------------------------------------------


def _build_api(source: Path, media: dict[str, Any], root: Path) -> None:
    write(root / "robots.txt", TOOLS_ROBOTS)
    query = media["query"]
    items = {item["id"]: item for item in media["items"]}
    total = sum(len(page) for page in media["pages"])
    for number, ids in enumerate(media["pages"], start=1):
        params = {**query, "pagenum": str(number)}
        body = {
            "meta": _meta(_pagination(query, number, len(media["pages"]), total, len(ids))),
            "results": [_media(items[item_id]) for item_id in ids],
        }
        write(query_file(root / f"{MEDIA_PATH}.json", params), _json(body))
    for item in media["items"]:
        write(root / MEDIA_PATH / f"{item['id']}.json", _json({"meta": _meta(None), "results": [_media(item)]}))
        if "content" in item:
            content = (source / "syndicate" / f"{item['content']}.html").read_text(encoding="utf-8").strip()
            results = {"mediaId": item["id"], "mediaType": item["mediaType"], "sourceUrl": item["sourceUrl"]}
            body = {"meta": _meta(None), "results": {**results, "content": content}}
            write(root / MEDIA_PATH / str(item["id"]) / "syndicate.json", _json(body))


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _meta(pagination: dict[str, Any] | None) -> dict[str, Any]:
    return {"status": 200, "message": [], "resultSet": {"id": RESULT_SET}, "pagination": pagination}


def _pagination(query: dict[str, str], number: int, pages: int, total: int, count: int) -> dict[str, Any]:
    """The v2 pagination block; the stand-in spreads its few results over `pages` pages to exercise paging."""

    def page_url(page: int) -> str:
        return f"{TOOLS}/{MEDIA_PATH}.json?{urlencode({**query, 'pagenum': str(page)})}"

    return {
        "total": total,
        "count": count,
        "max": int(query["max"]),
        "offset": (number - 1) * int(query["max"]),
        "pageNum": number,
        "totalPages": pages,
        "sort": "datePublished DESC, name ASC",
        "currentUrl": page_url(number),
        "previousUrl": page_url(number - 1) if number > 1 else None,
        "nextUrl": page_url(number + 1) if number < pages else None,
    }


def _media(item: dict[str, Any]) -> dict[str, Any]:
    """A media object in the v2 shape (the fields a client reads, and the common ones around them)."""
    return {
        "id": item["id"],
        "name": item["name"],
        "description": item["description"],
        "mediaType": item["mediaType"],
        "language": {"name": "English", "isoCode": "eng"},
        "tags": [{"id": 0, "name": item["topic"], "language": "English", "type": "Topic"}],
        "campaigns": [],
        "source": {"name": PUBLISHER, "acronym": "CDC", "websiteUrl": "https://www.cdc.gov", "largeLogoUrl": None},
        "attribution": None,
        "domainName": "https://www.cdc.gov",
        "sourceUrl": item["sourceUrl"],
        "targetUrl": item["sourceUrl"],
        "persistentUrl": None,
        "status": "Published",
        "datePublished": item["datePublished"],
        "dateModified": item["dateModified"],
        "dateContentAuthored": item["datePublished"],
        "dateContentUpdated": item["dateModified"],
        "childCount": 0,
        "parentCount": 0,
    }
