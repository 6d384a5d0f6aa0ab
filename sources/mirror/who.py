"""The WHO stand-in: `www.who.int` with robots.txt, a sitemap index, guideline pages and two generated PDFs, and
`iris.who.int`, WHO's repository, answering the DSpace 7 REST calls a harvester makes.

Pages are the article fragments in `data/who/articles/` wrapped in WHO-like site chrome (`data/who/page.html`: cookie
banner, navigation, share links, footer) so that boilerplate removal is exercised. The PDFs are laid out here from
`data/who/pdfs/*.txt` with pymupdf: a title page in a large font, larger section headings, a running header and a
page number on every page, and fixed metadata so the bytes are the same on every build.

Planted for curate: a page under maintenance (too short), a soft 404 (a "Page not found" page served with status 200
at a publication's URL), a French translation (not English), a 2025 update that nearly duplicates its 2019 page, and
a page in windows-1252. The sitemap also lists two URLs that are not served:
one under `/private/`, which robots.txt disallows, and an infographic, which the WHO module's EXCLUDE drops.

IRIS (`data/who/iris/items.json`, PDFs from `data/who/iris/pdfs/*.txt`) follows DSpace 7's REST contract: the
Discovery search `/server/api/discover/search/objects` (HAL: `_embedded.searchResult._embedded.objects[]
._embedded.indexableObject`, `page`, `_links.next`) for the query the WHO module sends, with each item's bundles and
bitstreams embedded (`embed=bundles/bitstreams`), the items at `/server/api/core/items/{uuid}` and the files at
`/server/api/core/bitstreams/{uuid}/content` (and at their legacy `/bitstream/handle/...` URLs); robots.txt has the
rules of DSpace's default one. Planted: the server serves two results a page whatever `size` asks (the next page is
reached through `_links.next`), a meeting report that the full-text query finds but is no guideline, a spreadsheet
annex beside a guideline's PDF, and a guideline whose PDF the www.who.int sitemap also lists.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlencode

from gap_replay.sources.mirror.kit import (
    PdfSource,
    query_file,
    read_pdf_source,
    render_pdf,
    robots,
    sitemap_index,
    urlset,
    write,
)

HOST = "https://www.who.int"
ITEM_PATH = "publications/i/item"
PDF_PATH = "publications/m/item"
ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /search\n\nSitemap: https://www.who.int/sitemap.xml\n"

IRIS = "https://iris.who.int"
IRIS_API = f"{IRIS}/server/api"
IRIS_ROBOTS = robots(  # the rules of DSpace 7's default robots.txt
    [
        "/search",
        "/admin/*",
        "/processes",
        "/submit",
        "/workspaceitems",
        "/profile",
        "/workflowitems",
        "/entities/*?f",
        "/collections/*?f",
        "/communities/*?spc.page",
    ],
    [f"{IRIS}/sitemap_index.xml", f"{IRIS}/sitemap_index.html"],
)
SEARCH = {  # the first search page a harvester asks for (the WHO module's query)
    "query": "guideline",
    "dsoType": "ITEM",
    "sort": "dc.date.accessioned,ASC",
    "embed": "bundles/bitstreams",
    "page": "0",
    "size": "100",
}
UUIDS = uuid.UUID("6f1c8e52-3b0a-4d6e-9a57-1e2f3a4b5c6d")  # namespace of the stand-in's fixed UUIDs


def build(data: Path, site: Path) -> None:
    """Write `site/www.who.int/` and `site/iris.who.int/` from `data/who/`."""
    source = data / "who"
    root = site / "www.who.int"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    pages = manifest["pages"]
    pdfs = [read_pdf_source(source / "pdfs" / f"{slug}.txt", slug) for slug in manifest["pdfs"]]

    write(root / "robots.txt", ROBOTS.encode("ascii"))
    for page in pages:
        article = (source / "articles" / f"{page['slug']}.html").read_text(encoding="utf-8")
        html = _page(template, page, article, f"{HOST}/{ITEM_PATH}/{page['slug']}")
        write(root / ITEM_PATH / page["slug"] / "index.html", html.encode(page["charset"]))
    for pdf in pdfs:
        write(root / PDF_PATH / f"{pdf.slug}.pdf", render_pdf(pdf))
    write(root / "publications" / "guidelines" / "index.html", _index(template, pages, pdfs).encode("utf-8"))

    publications = [(f"{HOST}/{ITEM_PATH}/{page['slug']}", page["date"]) for page in pages]
    publications += [(f"{HOST}/{PDF_PATH}/{pdf.slug}.pdf", pdf.date) for pdf in pdfs]
    publications += build_iris(source / "iris", site / "iris.who.int")
    publications += [(url, None) for url in manifest["listed_but_not_served"]]
    write(root / "sitemap-publications.xml", urlset(publications))
    write(root / "sitemap-pages.xml", urlset([(url, None) for url in manifest["other_pages"]]))
    write(root / "sitemap.xml", sitemap_index([f"{HOST}/sitemap-publications.xml", f"{HOST}/sitemap-pages.xml"]))


def _page(template: Template, page: dict, article: str, url: str) -> str:
    return template.substitute(
        lang=page["lang"],
        charset=page["charset"],
        title=escape(page["title"]),
        description=escape(page["description"]),
        url=url,
        date=page["date"],
        article=article.strip(),
    )


def _index(template: Template, pages: list[dict], pdfs: list[PdfSource]) -> str:
    links = [f'<li><a href="{HOST}/{ITEM_PATH}/{page["slug"]}">{escape(page["title"])}</a></li>' for page in pages]
    links += [f'<li><a href="{HOST}/{PDF_PATH}/{pdf.slug}.pdf">{escape(pdf.title)} (PDF)</a></li>' for pdf in pdfs]
    article = "<h1>Guidelines</h1>\n<ul>\n" + "\n".join(links) + "\n</ul>"
    page = {"lang": "en", "charset": "utf-8", "title": "Guidelines", "description": "WHO guidelines", "date": ""}
    return _page(template, page, article, f"{HOST}/publications/guidelines")


# --- IRIS --------------------------------------------------------------------------------------------------------


def build_iris(source: Path, root: Path) -> list[tuple[str, str]]:
    """Write `root` (`iris.who.int/`): robots.txt, the search pages, items and files; return the (legacy file URL,
    date) of the PDFs that the www.who.int sitemap lists too."""
    manifest = json.loads((source / "items.json").read_text(encoding="utf-8"))
    items, size = manifest["items"], manifest["page_size"]
    pdfs = {path.stem: render_pdf(read_pdf_source(path, path.stem)) for path in sorted((source / "pdfs").glob("*.txt"))}
    write(root / "robots.txt", IRIS_ROBOTS)
    listed = []
    for item in items:
        write(root / "server" / "api" / "core" / "items" / _uuid("item", item["handle"]), _json(_item(item)))
        for name in item["files"]:
            data = pdfs.get(name.removesuffix(".pdf"))
            if data is None:
                continue
            write(root / "server" / "api" / "core" / "bitstreams" / _file_uuid(item, name) / "content", data)
            write(root / "bitstream" / "handle" / item["handle"] / name, data)
            if item["in_sitemap"]:
                listed.append((f"{IRIS}/bitstream/handle/{item['handle']}/{quote(name)}", item["issued"]))
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    for number, chunk in enumerate(chunks):
        asked = SEARCH if number == 0 else _search_params(number, size)
        page = _search_page(chunk, number, size, len(items), len(chunks), pdfs)
        write(query_file(root / "server" / "api" / "discover" / "search" / "objects", asked), _json(page))
    return listed


def _json(value: Any) -> bytes:
    """A REST answer as the stand-in serves it: indented, UTF-8, the same bytes on every build."""
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _uuid(*parts: str) -> str:
    """A fixed UUID for a stand-in object, so the build is reproducible."""
    return str(uuid.uuid5(UUIDS, "/".join(parts)))


def _file_uuid(item: dict, name: str) -> str:
    return _uuid("bitstream", item["handle"], name)


def _value(value: str, language: str | None = None) -> dict:
    """One metadata value as DSpace writes it."""
    return {"value": value, "language": language, "authority": None, "confidence": -1, "place": 0}


def _values(values: list[str], language: str | None = None) -> list[dict]:
    return [{**_value(value, language), "place": place} for place, value in enumerate(values)]


def _link(path: str) -> dict:
    return {"href": f"{IRIS_API}/{path}"}


def _search_params(number: int, size: int) -> dict[str, str]:
    return {**SEARCH, "page": str(number), "size": str(size)}


def _search_url(number: int, size: int) -> str:
    return f"{IRIS_API}/discover/search/objects?{urlencode(_search_params(number, size))}"


def _item(item: dict) -> dict:
    """An item as `/server/api/core/items/{uuid}` answers (default projection: nothing embedded)."""
    uid = _uuid("item", item["handle"])
    metadata = {
        "dc.contributor.author": _values(["World Health Organization"]),
        "dc.date.accessioned": _values([item["accessioned"]]),
        "dc.date.available": _values([item["accessioned"]]),
        "dc.date.issued": _values([item["issued"]]),
        "dc.identifier.uri": _values([f"{IRIS}/handle/{item['handle']}"]),
        "dc.language.iso": _values(["en"]),
        "dc.publisher": _values(["World Health Organization"]),
        "dc.rights": _values(["CC BY-NC-SA 3.0 IGO"]),
        "dc.rights.uri": _values(["https://creativecommons.org/licenses/by-nc-sa/3.0/igo/"]),
        "dc.subject.mesh": _values(item["subjects"], "en"),
        "dc.title": _values([item["title"]], "en"),
        "dc.type": _values([item["type"]]),
    }
    if item["isbn"]:
        metadata["dc.identifier.isbn"] = _values([item["isbn"]])
    links = ["accessStatus", "bundles", "mappedCollections", "owningCollection", "relationships", "version"]
    return {
        "id": uid,
        "uuid": uid,
        "name": item["title"],
        "handle": item["handle"],
        "metadata": dict(sorted(metadata.items())),
        "inArchive": True,
        "discoverable": True,
        "withdrawn": False,
        "lastModified": item["modified"],
        "entityType": None,
        "type": "item",
        "_links": {
            **{name: _link(f"core/items/{uid}/{name}") for name in links},
            "templateItemOf": _link(f"core/items/{uid}/templateItemOf"),
            "thumbnail": _link(f"core/items/{uid}/thumbnail"),
            "self": _link(f"core/items/{uid}"),
        },
    }


def _bitstream(item: dict, bundle: str, name: str, sequence: int, pdfs: dict[str, bytes]) -> dict:
    """A bitstream record; the stand-in's PDFs carry their real size and checksum, other files made-up ones."""
    uid = _file_uuid(item, name) if bundle == "ORIGINAL" else _uuid("bitstream", item["handle"], bundle, name)
    data = pdfs.get(name.removesuffix(".pdf")) if bundle == "ORIGINAL" else None
    digest = hashlib.md5(data if data is not None else name.encode("utf-8")).hexdigest()
    size = len(data) if data is not None else 1000 + int(digest[:4], 16)
    return {
        "id": uid,
        "uuid": uid,
        "name": name,
        "handle": None,
        "metadata": {"dc.title": _values([name])},
        "bundleName": bundle,
        "sizeBytes": size,
        "checkSum": {"checkSumAlgorithm": "MD5", "value": digest},
        "sequenceId": sequence,
        "type": "bitstream",
        "_links": {
            "content": _link(f"core/bitstreams/{uid}/content"),
            "bundle": _link(f"core/bitstreams/{uid}/bundle"),
            "format": _link(f"core/bitstreams/{uid}/format"),
            "thumbnail": _link(f"core/bitstreams/{uid}/thumbnail"),
            "self": _link(f"core/bitstreams/{uid}"),
        },
    }


def _page_of(name: str, path: str, entries: list[dict]) -> dict:
    """An embedded list as DSpace pages it: `_embedded.<name>`, `_links.self`, `page`."""
    page = {"number": 0, "size": 20, "totalPages": 1, "totalElements": len(entries)}
    return {"_embedded": {name: entries}, "_links": {"self": _link(path)}, "page": page}


def _bundles(item: dict, pdfs: dict[str, bytes]) -> dict:
    """The item's bundles with their bitstreams, as `embed=bundles/bitstreams` embeds them."""
    files = item["files"]
    derived = [name for name in files if name.endswith(".pdf")]
    contents = {
        "ORIGINAL": files,
        "LICENSE": ["license.txt"],
        "TEXT": [f"{name}.txt" for name in derived],
        "THUMBNAIL": [f"{name}.jpg" for name in derived],
    }
    bundles = []
    sequence = 0
    item_uid = _uuid("item", item["handle"])
    for bundle, names in contents.items():
        uid = _uuid("bundle", item["handle"], bundle)
        bitstreams = []
        for name in names:
            sequence += 1
            bitstreams.append(_bitstream(item, bundle, name, sequence, pdfs))
        bundles.append(
            {
                "uuid": uid,
                "name": bundle,
                "handle": None,
                "metadata": {"dc.title": _values([bundle])},
                "type": "bundle",
                "_links": {
                    "item": _link(f"core/bundles/{uid}/item"),
                    "bitstreams": _link(f"core/bundles/{uid}/bitstreams"),
                    "primarybitstream": _link(f"core/bundles/{uid}/primaryBitstream"),
                    "self": _link(f"core/bundles/{uid}"),
                },
                "_embedded": {"bitstreams": _page_of("bitstreams", f"core/bundles/{uid}/bitstreams", bitstreams)},
            }
        )
    return _page_of("bundles", f"core/items/{item_uid}/bundles", bundles)


def _search_page(chunk: list[dict], number: int, size: int, total: int, pages: int, pdfs: dict[str, bytes]) -> dict:
    """One page of Discovery results, the items with their bundles and bitstreams embedded."""
    objects = []
    for item in chunk:
        record = _item(item)
        objects.append(
            {
                "hitHighlights": {},
                "_links": {"indexableObject": record["_links"]["self"]},
                "_embedded": {"indexableObject": {**record, "_embedded": {"bundles": _bundles(item, pdfs)}}},
            }
        )
    links = {"first": {"href": _search_url(0, size)}}
    if number > 0:
        links["prev"] = {"href": _search_url(number - 1, size)}
    links["self"] = {"href": _search_url(number, size)}
    if number + 1 < pages:
        links["next"] = {"href": _search_url(number + 1, size)}
    links["last"] = {"href": _search_url(pages - 1, size)}
    return {
        "query": SEARCH["query"],
        "scope": None,
        "appliedFilters": [],
        "sort": {"by": "dc.date.accessioned", "order": "ASC"},
        "configuration": "default",
        "type": "discover",
        "_embedded": {
            "searchResult": {
                "_embedded": {"objects": objects},
                "_links": links,
                "page": {"number": number, "size": size, "totalPages": pages, "totalElements": total},
            }
        },
        "_links": {"self": {"href": _search_url(number, size)}},
    }
