"""The NICE stand-in: `www.nice.org.uk` (published-guidance listing, overview and chapter pages) and
`api.nice.org.uk` (the syndication API: guidance index, product and chapter records), built from `data/nice/`.

Each product is `data/nice/site.json` metadata plus HTML fragments in `data/nice/products/<ref>/`: `overview.html`
(the product's summary) and one XHTML file per chapter, in the shape of NICE's chapter content (`div.chapter` >
`div.section`, `h2`/`h3` titles, numbered paragraphs). The same fragments feed both hosts, so both discovery paths
see the same guidance: the pages wrap them in NICE-like chrome (`data/nice/page.html`: cookie banner, navigation,
breadcrumbs, footer), the API puts them in HAL JSON records shaped like NICE's publications feed (the product's
`Summary` and chapter list; each chapter's `Content`).

Planted: a second listing page; a withdrawn product (CG157: its record is `Withdrawn`, its overview page says it was
replaced) and an in-development one (GID-NG10412) that the rules must skip; a listing filter link that must not be
followed; a chapter page robots.txt disallows (a committee-members chapter); and an API host that refuses requests
without the key (401) or with another key (403), through the server's `.required-headers.json` rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from string import Template
from urllib.parse import quote

import lxml.html

from gap_replay.sources.mirror.kit import query_file, write
from gap_replay.sources.mirror.server import REQUIRED_HEADERS

WWW = "https://www.nice.org.uk"
API = "https://api.nice.org.uk"
API_HOST = "api.nice.org.uk"
API_KEY = "mirror-nice-api-key"  # the key the stand-in API accepts
API_KEY_HEADER = "API-Key"
LISTING_PATH = "guidance/published"
WWW_ROBOTS = """User-agent: *
Disallow: /search
Disallow: /guidance/*/resources/
# Committee membership pages list people's names; they are kept out of search engines.
Disallow: /guidance/*/chapter/*committee-members*
"""
API_ROBOTS = "User-agent: *\nDisallow: /services/search\n"
INDEX_PATH = "services/guidance/index/current.json"
STAMP = "T09:00:00Z"  # time of day given to the records' dates
ARIA_CURRENT = ' aria-current="page"'
TABS = (("", "Guidance"), ("/resources", "Tools and resources"), ("/history", "History"))
LISTING_TITLE = "Published guidance, advice and quality standards"
STATUS_TABS = (
    '<a href="/guidance/published" aria-current="page">Published</a> '
    '<a href="/guidance/inconsultation">In consultation</a> <a href="/guidance/indevelopment">In development</a>'
)
FILTERS = ("NICE guidelines", "Quality standards", "Technology appraisal guidance")  # links the crawl must not follow


@dataclass(frozen=True)
class Chapter:
    slug: str  # the feed's chapter slug (lower case)
    title: str
    content: str  # XHTML

    @property
    def page_slug(self) -> str:
        """The website's chapter slug: the title with its words joined by hyphens (`1-Recommendations`)."""
        return "-".join(re.findall(r"[A-Za-z0-9]+", self.title))


@dataclass(frozen=True)
class Product:
    ref: str
    meta: dict
    overview: str
    chapters: list[Chapter]

    @property
    def page(self) -> str:
        return f"{WWW}/guidance/{self.ref.lower()}"


def build(data: Path, site: Path) -> None:
    """Write `site/www.nice.org.uk/` and `site/api.nice.org.uk/` from `data/nice/`."""
    source = data / "nice"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    products = [_product(source / "products" / entry["ref"].lower(), entry) for entry in manifest["products"]]
    _write_pages(site / "www.nice.org.uk", template, manifest, products)
    _write_api(site / API_HOST, manifest, products)


def _product(folder: Path, entry: dict) -> Product:
    chapters = []
    for slug in entry["chapters"]:
        content = (folder / f"{slug}.html").read_text(encoding="utf-8").strip()
        title = lxml.html.fragment_fromstring(content).get("title")
        chapters.append(Chapter(slug, title, content))
    overview = (folder / "overview.html").read_text(encoding="utf-8").strip()
    return Product(entry["ref"], entry, overview, chapters)


# --- www.nice.org.uk -----------------------------------------------------------------------------------------------


def _write_pages(root: Path, template: Template, manifest: dict, products: list[Product]) -> None:
    write(root / "robots.txt", WWW_ROBOTS.encode("ascii"))
    for product in products:
        folder = root / "guidance" / product.ref.lower()
        if not product.chapters:  # a withdrawn product: one page saying so, no chapters
            write(folder, _product_page(template, product, product.overview))
            continue
        write(folder / "index.html", _product_page(template, product, _overview(product)))
        for index, chapter in enumerate(product.chapters):
            main = _chapter_nav(product, chapter.page_slug) + chapter.content + _next_link(product, index + 1)
            write(folder / "chapter" / chapter.page_slug, _product_page(template, product, main, chapter))
    for item in manifest["in_development"]:
        url = f"{WWW}/guidance/indevelopment/{item['ref'].lower()}"
        main = f"<h1>{escape(item['title'])}</h1>\n<p>Status: in progress. Reference number: {item['ref']}.</p>"
        write(root / "guidance" / "indevelopment" / item["ref"].lower(), _page(template, item["title"], url, main))
    pages = sorted({entry["listing_page"] for entry in manifest["products"]})
    for number in pages:
        path = root / LISTING_PATH
        if number > 1:
            path = query_file(path, {"ps": str(manifest["page_size"]), "pa": str(number)})
        write(path, _listing(template, manifest, products, number, pages[-1]))


def _page(template: Template, title: str, url: str, main: str, description: str | None = None) -> bytes:
    """A page of the site: `main` in the site chrome."""
    fields = {
        "title": escape(title),
        "description": escape(description or title),
        "canonical": url,
        "crumb": escape(title),
        "main": main,
    }
    return template.substitute(fields).encode("utf-8")


def _product_page(template: Template, product: Product, main: str, chapter: Chapter | None = None) -> bytes:
    """A page of a product (its overview, or one chapter): the product's header, then `main`."""
    title, url = product.meta["title"], product.page
    if chapter is not None:
        title, url = f"{chapter.title} | {title}", f"{url}/chapter/{chapter.page_slug}"
    return _page(template, title, url, _header(product) + "\n" + main, product.meta["description"])


def _header(product: Product) -> str:
    items = [f"<li>{product.meta['type_name']}</li>", f"<li>Reference number: {product.ref}</li>"]
    items.append(f"<li>Published: {_time(product.meta['published'])}</li>")
    if product.meta["updated"]:
        items.append(f"<li>Last updated: {_time(product.meta['updated'])}</li>")
    heading = f'<h1 class="page-header__heading">{escape(product.meta["title"])}</h1>'
    return f'<div class="page-header">\n{heading}\n<ul class="page-header__metadata">{"".join(items)}</ul>\n</div>'


def _time(day: str) -> str:
    when = date.fromisoformat(day)
    return f'<time datetime="{day}">{when.day} {when:%B %Y}</time>'


def _chapter_nav(product: Product, current: str | None) -> str:
    """The product's tabs and chapter list, as on every page of a product."""
    base = f"/guidance/{product.ref.lower()}"
    links = [(base, "Overview", current is None)]
    links += [(f"{base}/chapter/{c.page_slug}", c.title, c.page_slug == current) for c in product.chapters]
    items = "".join(
        f'<li><a href="{href}"{ARIA_CURRENT if here else ""}>{escape(title)}</a></li>' for href, title, here in links
    )
    tabs = "".join(f'<a href="{base}{tab}">{label}</a> ' for tab, label in TABS)
    chapters = f'<nav class="stacked-nav" aria-label="Chapters"><ol>{items}</ol></nav>'
    return f'<nav class="tabs" aria-label="Product sections">{tabs.strip()}</nav>\n{chapters}\n'


def _next_link(product: Product, index: int) -> str:
    if index >= len(product.chapters):
        return ""
    chapter = product.chapters[index]
    href = f"/guidance/{product.ref.lower()}/chapter/{chapter.page_slug}"
    return (
        f'\n<nav class="pagination" aria-label="Next chapter"><a href="{href}">Next: {escape(chapter.title)}</a></nav>'
    )


def _overview(product: Product) -> str:
    content = f'<div class="chapter" title="Overview" id="overview">\n{product.overview}\n</div>'
    return _chapter_nav(product, None) + content + _next_link(product, 0)


def _listing(template: Template, manifest: dict, products: list[Product], number: int, last: int) -> bytes:
    """One page of the published-guidance listing: status tabs, type filters, a results table, pagination."""
    rows = [
        f'<tr><td><a href="/guidance/{p.ref.lower()}">{escape(p.meta["title"])}</a></td><td>{p.ref}</td>'
        f"<td>{_time(p.meta['published'])}</td><td>{_time(p.meta['updated'] or p.meta['published'])}</td></tr>"
        for p in products
        if p.meta["listing_page"] == number
    ]
    rows += [
        f'<tr><td><a href="/guidance/indevelopment/{item["ref"].lower()}">{escape(item["title"])}</a></td>'
        f"<td>{item['ref']}</td><td>In development</td><td></td></tr>"
        for item in manifest["in_development"]
        if item["listing_page"] == number
    ]
    size = manifest["page_size"]
    pages = [(_listing_href(n, size), str(n)) for n in range(1, last + 1)]
    if number < last:
        pages.append((_listing_href(number + 1, size), "Next page"))
    pagination = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in pages)
    filters = "".join(f'<li><a href="/guidance/published?ngt={quote(kind)}">{kind}</a></li>' for kind in FILTERS)
    main = (
        f"<h1>{LISTING_TITLE}</h1>\n"
        f'<nav class="horizontal-nav" aria-label="Guidance status">{STATUS_TABS}</nav>\n'
        f'<div class="filters"><h2>Filter by type</h2><ul>{filters}</ul></div>\n'
        '<table class="results"><thead><tr><th>Title</th><th>Reference number</th><th>Published</th>'
        f"<th>Last updated</th></tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
        f'<nav class="pagination" aria-label="Pagination"><ol>{pagination}</ol></nav>'
    )
    return _page(template, LISTING_TITLE, f"{WWW}/guidance/published", main)


def _listing_href(number: int, size: int) -> str:
    return "/guidance/published" if number == 1 else f"/guidance/published?ps={size}&amp;pa={number}"


# --- api.nice.org.uk -----------------------------------------------------------------------------------------------


def _write_api(root: Path, manifest: dict, products: list[Product]) -> None:
    write(root / "robots.txt", API_ROBOTS.encode("ascii"))
    write(root / REQUIRED_HEADERS, json.dumps({API_KEY_HEADER: API_KEY}))
    write(root / INDEX_PATH, _json(_index(manifest, products)))
    for product in products:
        write(root / "feeds" / "product" / f"{product.ref}.json", _json(_record(product)))
        for chapter in product.chapters:
            path = root / "feeds" / "product" / product.ref / "part" / "1" / "chapter" / f"{chapter.slug}.json"
            write(path, _json(_chapter_record(product, chapter)))


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _modified(product: Product) -> str:
    return (product.meta["updated"] or product.meta["published"]) + STAMP


def _index(manifest: dict, products: list[Product]) -> dict:
    items = [
        {
            "GuidanceNumber": p.ref,
            "Title": p.meta["title"],
            "GuidanceProgramme": p.meta["type_name"],
            "LastModified": _modified(p),
            "Uri": p.page,
        }
        for p in products
    ]
    items += [
        {
            "GuidanceNumber": item["ref"],
            "Title": item["title"],
            "GuidanceProgramme": "In development",
            "LastModified": None,
            "Uri": f"{WWW}/guidance/indevelopment/{item['ref'].lower()}",
        }
        for item in manifest["in_development"]
    ]
    return {
        "Title": "Guidance Index",
        "Links": [{"Rel": "self", "Uri": f"{API}/services/guidance/index/current", "Title": "Guidance Index"}],
        "IndexItems": items,
    }


def _self(href: str | None) -> dict:
    return {"self": [{"href": href} if href else {}]}


def _chapter_path(product: Product, slug: str) -> str:
    return f"/feeds/product/{product.ref}/part/1/chapter/{slug}"


def _record(product: Product) -> dict:
    """A product record in the publications feed's HAL shape: chapter list, content parts, dates, summary."""
    headings = [("Overview", f"/{product.ref}")]
    headings += [(c.title, f"/{product.ref}/chapter/{c.page_slug}") for c in product.chapters]
    infos = [("overview", "Overview")] + [(c.slug, c.title) for c in product.chapters]
    published = product.meta["published"] + "T00:00:00"
    return {
        "_links": _self(None),
        "_embedded": {
            "nice.publications:chapter-heading-list": {
                "_links": _self(None),
                "_embedded": {
                    "nice.publications:chapter-heading": [
                        {"_links": _self(None), "ETag": None, "Title": title, "Url": url} for title, url in headings
                    ]
                },
                "ETag": None,
            },
            "nice.publications:content-part-list2": {
                "_links": _self(None),
                "_embedded": {
                    "nice.publications:content-parts": [
                        {
                            "_links": _self(None),
                            "_embedded": {
                                "nice.publications:html-content": {
                                    "_links": _self(f"/feeds/product/{product.ref}/content/1/html"),
                                    "_embedded": {
                                        "nice.publications:html-chapter-content-info": [
                                            {
                                                "_links": _self(_chapter_path(product, slug)),
                                                "ETag": None,
                                                "Reference": product.ref,
                                                "PartId": 1,
                                                "ChapterSlug": slug,
                                                "Title": title,
                                            }
                                            for slug, title in infos
                                        ]
                                    },
                                    "ETag": None,
                                    "Reference": product.ref,
                                    "PartId": 1,
                                }
                            },
                            "ETag": None,
                            "Title": product.meta["title"],
                            "Type": "UploadAndConvertContentPart",
                        }
                    ]
                    if product.chapters
                    else []
                },
                "ETag": None,
            },
        },
        "ETag": None,
        "Id": product.ref,
        "LastModified": _modified(product),
        "ProductType": product.meta["type"],
        "Title": product.meta["title"],
        "ShortTitle": None,
        "MetaDescription": product.meta["description"],
        "Summary": product.overview,
        "ProductStatus": product.meta["status"],
        "PublishedDate": published,
        "LastMajorModificationDate": (product.meta["updated"] or product.meta["published"]) + "T00:00:00",
        "ProductTypeName": product.meta["type_name"],
    }


def _chapter_record(product: Product, chapter: Chapter) -> dict:
    """A chapter record: its sections (the `h3` titles of its `div.section`s) and its XHTML `Content`."""
    section_titles = re.findall(r'<div class="section" title="([^"]+)"', chapter.content)
    sections = [
        {
            "_links": _self(None),
            "ETag": None,
            "Reference": product.ref,
            "PartId": 1,
            "ChapterSlug": "-".join(re.findall(r"[a-z0-9]+", title.lower())),
            "Title": title,
        }
        for title in section_titles
    ]
    return {
        "_links": _self(_chapter_path(product, chapter.slug)),
        "_embedded": {"nice.publications:html-chapter-section-info": sections},
        "ETag": None,
        "Reference": product.ref,
        "PartId": 1,
        "ChapterSlug": chapter.slug,
        "Title": product.meta["title"],
        "Content": chapter.content,
    }
