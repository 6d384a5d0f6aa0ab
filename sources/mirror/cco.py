"""The Cancer Care Ontario stand-in: `www.cancercareontario.ca`'s Guidelines & Advice section (a Drupal site).

Modelled on the live layout: the listing `/en/guidelines-advice/types-of-cancer` pages with a Drupal "Load more"
pager (`?page=1`) and links one page per cancer type (`/types-of-cancer/breast`); each guideline has a numeric node
page (`/types-of-cancer/61571`) with its metadata block (ID, Type of Content, Document Status, Authors), a short
summary and a `Full Report (PDF)` button that points at Drupal's file route (`/en/file/<fid>/download?token=...`).
Pages are wrapped in CCO-like chrome (`data/cco/page.html`: outdated-browser notice, cookie popup, menus, feedback
box, footer). The PDFs are laid out from `data/cco/pdfs/*.txt`.

Planted: an archived guideline whose page still links its PDF (the Document Status rule must skip it), a
`Patient Summary (PDF)` beside a Full Report (only the Full Report is the guideline), a pathway-map PDF and a
patient page linked from cancer-type pages (neither is a guideline page), and a guideline whose Full Report still
points at the legacy file handler `/common/pages/UserFile.aspx`, which robots.txt disallows. The robots.txt rules
are modelled on Drupal's default file, not copied from the live site.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import query_file, read_pdf_source, render_pdf, robots, write

HOST = "www.cancercareontario.ca"
LISTING = "/en/guidelines-advice/types-of-cancer"
PUBLISHER = "Ontario Health (Cancer Care Ontario)"
DISALLOW = ["/admin/", "/comment/reply/", "/node/add/", "/search/", "/en/search/", "/fr/search/", "/user/", "/common/"]


def build(data: Path, site: Path) -> None:
    """Write `site/www.cancercareontario.ca/` from `data/cco/`."""
    source = data / "cco"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    guidelines = {guideline["node"]: guideline for guideline in manifest["guidelines"]}

    write(root / "robots.txt", robots(DISALLOW))
    pages = manifest["listing_pages"]
    for number, nodes in enumerate(pages):
        html = _listing(template, manifest["cancer_types"], [guidelines[node] for node in nodes], number, len(pages))
        listing = root / LISTING.strip("/")
        write(query_file(listing, {"page": str(number)}) if number else listing / "index.html", html)
    for cancer in manifest["cancer_types"]:
        entries = [guideline for guideline in manifest["guidelines"] if cancer["slug"] in guideline["types"]]
        write(root / LISTING.strip("/") / cancer["slug"] / "index.html", _cancer_type(template, cancer, entries))
    for guideline in manifest["guidelines"]:
        summary = (source / "guidelines" / f"{guideline['node']}.html").read_text(encoding="utf-8")
        write(root / LISTING.strip("/") / guideline["node"] / "index.html", _guideline(template, guideline, summary))
        if "file" in guideline:
            pdf = read_pdf_source(source / "pdfs" / f"{guideline['file']['pdf']}.txt", guideline["node"], PUBLISHER)
            download = root / "en" / "file" / guideline["file"]["id"] / "download"
            write(query_file(download, {"token": guideline["file"]["token"]}), render_pdf(pdf))


def _page(template: Template, title: str, path: str, article: str) -> str:
    return template.substitute(
        title=escape(title),
        description=escape(f"{title} - Guidelines & Advice"),
        url=f"https://{HOST}{path}",
        french=path.replace("/en/", "/fr/", 1),
        article=article.strip(),
    )


def _entry(guideline: dict) -> str:
    return (
        '<div class="views-row">\n'
        f'  <h3 class="field-title"><a href="{LISTING}/{guideline["node"]}">{escape(guideline["title"])}</a></h3>\n'
        f'  <div class="field-meta"><span class="guideline-id">{escape(guideline["code"])}</span> &middot; '
        f'<span class="date">{guideline["month"]}</span> &middot; '
        f'<span class="status">{guideline["status"]}</span></div>\n'
        "</div>"
    )


def _listing(template: Template, cancers: list[dict], entries: list[dict], number: int, count: int) -> str:
    types = "\n".join(
        f'<li><a href="{LISTING}/{cancer["slug"]}">{escape(cancer["name"])}</a></li>' for cancer in cancers
    )
    pager = (
        f'<ul class="pager pager-load-more"><li class="pager-next first last">'
        f'<a href="{LISTING}?page={number + 1}">Load more</a></li></ul>'
        if number + 1 < count
        else ""
    )
    article = (
        "<h1>Guidelines &amp; Advice by Type of Cancer</h1>\n"
        '<nav class="cancer-types" aria-label="Types of cancer">\n<ul>\n' + types + "\n</ul>\n</nav>\n"
        '<div class="view-content">\n' + "\n".join(_entry(entry) for entry in entries) + "\n</div>\n" + pager
    )
    return _page(template, "Types of Cancer", LISTING, article)


def _cancer_type(template: Template, cancer: dict, entries: list[dict]) -> str:
    others = "\n".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in cancer["other_links"])
    article = (
        f"<h1>{escape(cancer['name'])}: Guidelines &amp; Advice</h1>\n"
        '<div class="view-content">\n' + "\n".join(_entry(entry) for entry in entries) + "\n</div>\n"
        f'<aside class="related-resources">\n<h2>Related resources</h2>\n<ul>\n{others}\n</ul>\n</aside>'
    )
    return _page(template, cancer["name"], f"{LISTING}/{cancer['slug']}", article)


def _file_link(href: str, label: str) -> str:
    return (
        f'<div class="guideline-file"><span class="file">'
        f'<a class="btn purple icon pdfBTN" href="{escape(href)}">{escape(label)}</a></span></div>'
    )


def _guideline(template: Template, guideline: dict, summary: str) -> str:
    if "file" in guideline:
        document = guideline["file"]
        files = [
            _file_link(
                f"/en/file/{document['id']}/download?token={document['token']}",
                f"Full Report (PDF) ({document['size']})",
            )
        ]
    else:
        files = [_file_link(f"/common/pages/UserFile.aspx?fileId={guideline['legacy_file']}", "Full Report (PDF)")]
    if "other_file" in guideline:
        other = guideline["other_file"]
        files.append(_file_link(f"/en/file/{other['id']}/download?token={other['token']}", other["label"]))
    article = (
        '<div class="ts-breaker">\n'
        f"<h1>{escape(guideline['title'])}</h1>\n"
        f'<div class="ts-p"><strong class="ts-label">ID:</strong> <span>{escape(guideline["code"])}</span> '
        f"<span>{guideline['month']}</span></div>\n"
        '<div class="ts-p"><strong>Type of Content: </strong><span>Guidelines &amp; Advice, Clinical</span></div>\n'
        f'<div class="ts-p"><strong>Document Status: </strong><span>{guideline["status"]}</span></div>\n'
        f'<div class="ts-p"><strong>Authors: </strong><span>{escape(guideline["authors"])}</span></div>\n'
        "</div>\n"
        '<div id="content" role="main">\n' + summary.strip() + "\n" + "\n".join(files) + "\n</div>"
    )
    return _page(template, guideline["title"], f"{LISTING}/{guideline['node']}", article)
