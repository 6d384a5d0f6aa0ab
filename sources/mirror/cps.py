"""The Canadian Paediatric Society stand-in: `cps.ca`'s position statement index and statements (an ExpressionEngine
site).

Modelled on the live layout: statements live at `/en/documents/position/<slug>` (French versions at
`/fr/documents/position/<slug>`); the index of position statements pages with ExpressionEngine's offset segments
(`/P10` for the second page of ten); a statement page shows its type above the `<h1>`, a
"Posted | Reaffirmed | Updated" line, the authoring committee, the text, share tools and related links, inside
`div.cell.main-body`. Pages carry CPS-like chrome (`data/cps/page.html`: cookie notice, member and language links,
search, menu, footer). The index path itself (`/en/documents/position-statements`) is modelled, not verified.

Planted: a second index page, an entry with a French version linked beside it (`<html lang="fr">`), a retired
statement still listed with its "Retired" label (its page says so; the rules must skip it), and an old entry whose
link still uses the legacy language-less route `/documents/position/...`, which the stand-in's robots.txt
disallows (the rules are modelled for this case, not copied from the live site).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import robots, write

HOST = "cps.ca"
INDEX = "/en/documents/position-statements"
PAGE_SIZE = 10
DISALLOW = ["/system/", "/themes/", "/en/search", "/fr/search", "/documents/"]
OTHER = {"en": "fr", "fr": "en"}
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def build(data: Path, site: Path) -> None:
    """Write `site/cps.ca/` from `data/cps/`."""
    source = data / "cps"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    statements = {statement["slug"]: statement for statement in manifest["statements"]}

    write(root / "robots.txt", robots(DISALLOW))
    pages = manifest["index_pages"]
    for number, slugs in enumerate(pages):
        entries = [_entry(slug, statements, manifest["legacy"], manifest["languages"]["en"]) for slug in slugs]
        article = _index(entries, number, len(pages))
        path = f"{INDEX}/P{number * PAGE_SIZE}" if number else INDEX
        html = _page(template, manifest, "en", "Position statements", path, article, "/fr/documents")
        write(root / path.strip("/") / "index.html", html)
    for statement in manifest["statements"]:
        body = (source / "statements" / f"{statement['slug']}.html").read_text(encoding="utf-8")
        words = manifest["languages"][statement["lang"]]
        path = _path(statement)
        other = OTHER[statement["lang"]]
        translation = (
            f"/{other}/documents/position/{statement['translation']}"
            if "translation" in statement
            else f"/{other}/documents"
        )
        article = _statement(statement, body, words)
        html = _page(template, manifest, statement["lang"], statement["title"], path, article, translation)
        write(root / path.strip("/") / "index.html", html)


def _path(statement: dict) -> str:
    return f"/{statement['lang']}/documents/position/{statement['slug']}"


def _page(template: Template, manifest: dict, lang: str, title: str, path: str, article: str, other_path: str) -> str:
    """A page in the site's chrome; `other_path` is the same page in the other language."""
    words = manifest["languages"][lang]
    other = OTHER[lang]
    return template.substitute(
        lang=lang,
        title=escape(title),
        society=escape(words["society"]),
        description=escape(title),
        url=f"https://{HOST}{path}",
        other_lang=other,
        other_url=f"https://{HOST}{other_path}",
        other_path=other_path,
        other_name=LANGUAGE_NAMES[other],
        skip=escape(words["skip"]),
        members=escape(words["members"]),
        cookies=escape(words["cookies"]),
        footer=escape(words["footer"]),
        article=article.strip(),
    )


def _dates(statement: dict, words: dict) -> str:
    colon = words.get("colon", ":")  # French puts a space before the colon
    fields = [field for field in ("posted", "reaffirmed", "updated") if field in statement]
    parts = [f"{words[field]}{colon} {statement[field]}" for field in fields]
    return " | ".join(parts)


def _entry(key: str, statements: dict, legacy: dict, words: dict) -> str:
    """One index entry: the title link, committee, date and status, and the French version when there is one."""
    if key.startswith("legacy:"):
        slug = key.removeprefix("legacy:")
        statement, href = legacy[slug], f"/documents/position/{slug}"
    else:
        statement, href = statements[key], _path(statements[key])
    french = ""
    if "translation" in statement:
        href_fr = f"/fr/documents/position/{statement['translation']}"
        french = f' | <a class="stmt-lang" href="{href_fr}" hreflang="fr" lang="fr">Français</a>'
    return (
        '<div class="stmt">\n'
        f'  <div class="stmt-title"><a href="{href}">{escape(statement["title"])}</a></div>\n'
        f'  <div class="stmt-meta"><span class="stmt-committee">{escape(statement["committee"])}</span> | '
        f'<span class="stmt-date">{words["posted"]}: {statement["posted"]}</span> | '
        f'<span class="stmt-status">{statement["status"]}</span>{french}</div>\n'
        "</div>"
    )


def _index(entries: list[str], number: int, count: int) -> str:
    links = [
        f'<a href="{INDEX}/P{page * PAGE_SIZE}">{page + 1}</a>' if page else f'<a href="{INDEX}">1</a>'
        for page in range(count)
    ]
    if number + 1 < count:
        links.append(f'<a class="next" href="{INDEX}/P{(number + 1) * PAGE_SIZE}">Next &rsaquo;</a>')
    return (
        '<div class="documents-index">\n<h1>Position statements</h1>\n'
        '<p class="intro">Position statements give the Society\'s recommendations on the care of children and youth. '
        "Each is reviewed by its committee and reaffirmed, revised or retired.</p>\n"
        '<div class="stmt-list">\n' + "\n".join(entries) + "\n</div>\n"
        '<div class="pagination">' + " ".join(links) + "</div>\n</div>"
    )


def _statement(statement: dict, body: str, words: dict) -> str:
    lang = statement["lang"]
    return (
        '<div class="statement-wrapper">\n'
        f'<div class="breadcrumb"><a href="/{lang}">{words["home"]}</a> / '
        f'<a href="/{lang}/documents">{words["documents"]}</a></div>\n'
        f'<p class="stmt-type">{words["type"]}</p>\n'
        f"<h1>{escape(statement['title'])}</h1>\n"
        f'<p class="stmt-dates">{_dates(statement, words)}</p>\n'
        f'<p class="stmt-authors">{escape(statement["committee"])}</p>\n' + body.strip() + "\n"
        f'<div class="share-tools"><p>{words["share"]}</p><ul>'
        '<li><a href="https://www.facebook.com/sharer/sharer.php">Facebook</a></li>'
        '<li><a href="https://x.com/intent/post">X</a></li>'
        '<li><a href="mailto:?subject=CPS">Email</a></li></ul></div>\n'
        f'<aside class="related-content"><h2>{words["related"]}</h2><ul>'
        f'<li><a href="/{lang}/documents">{words["documents"]}</a></li>'
        f'<li><a href="https://caringforkids.cps.ca/">Caring for Kids</a></li></ul></aside>\n'
        "</div>"
    )
