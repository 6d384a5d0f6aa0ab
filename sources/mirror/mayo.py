"""The Mayo Clinic stand-in: `www.mayoclinic.org`'s Diseases & Conditions A-Z index and condition pages.

The layout is the real one: letter pages at `/diseases-conditions/index?letter=A` (entries in
`div.cmp-result-name div.cmp-link a`), and per condition a "Symptoms & causes" page at
`/diseases-conditions/<slug>/symptoms-causes/syc-<id>` and a "Diagnosis & treatment" page at
`/diseases-conditions/<slug>/diagnosis-treatment/drc-<id>`, linked to each other by the tab navigation
(`#access-nav`), which also links "Doctors & departments" and "Care at Mayo Clinic". Pages are the fragments in
`data/mayo/pages/` in Mayo-like chrome (`data/mayo/page.html`: cookie banner, navigation, footer), with the clutter
that sits inside the article on the real pages: a byline, advertisements, a "Request an appointment" box, a
newsletter sign-up, references, and the review date as a paragraph of its own. robots.txt follows the real one
(`Allow: /`, `Disallow: /edu/`).

Planted: a condition with only a "Symptoms & causes" page; letter entries that are not conditions (a symptom page,
a "Doctors & departments" tab) or that repeat one ("Allergic asthma (See: Asthma)"); letters without a page (not
linked); a listed condition whose folder robots.txt disallows (and which is not served).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import query_file, write

HOST = "www.mayoclinic.org"
SITE = f"https://{HOST}"
ROBOTS = "User-agent: *\nAllow: /\n\nDisallow: /edu/\nDisallow: /diseases-conditions/acute-flaccid-myelitis/\n"
TABS = {
    "symptoms-causes": "Symptoms &amp; causes",
    "diagnosis-treatment": "Diagnosis &amp; treatment",
    "doctors-departments": "Doctors &amp; departments",
    "care-at-mayo-clinic": "Care at Mayo Clinic",
}
PAGE_TITLES = {"symptoms-causes": "Symptoms and causes", "diagnosis-treatment": "Diagnosis and treatment"}
RELATED = (
    '<aside class="cmp-related" aria-label="Products and services">\n<h2>Products &amp; Services</h2>\n<ul>\n'
    '<li><a href="https://mcpress.mayoclinic.org/product/family-health-book/">A Book: Mayo Clinic Family Health'
    " Book</a></li>\n"
    '<li><a href="https://order.store.mayoclinic.com/newsletter">Newsletter: Mayo Clinic Health Letter</a></li>\n'
    "</ul>\n</aside>"
)


def build(data: Path, site: Path) -> None:
    """Write `site/www.mayoclinic.org/` from `data/mayo/`."""
    source = data / "mayo"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    letters: dict[str, list[list[str]]] = manifest["letters"]

    write(root / "robots.txt", ROBOTS.encode("ascii"))
    for condition in manifest["conditions"]:
        for section, page_id in condition["pages"].items():
            path = f"diseases-conditions/{condition['slug']}/{section}/{page_id}"
            content = (source / "pages" / f"{condition['slug']}-{section}.html").read_text(encoding="utf-8")
            article = _condition_article(condition, section, content)
            title = f"{condition['name']} - {PAGE_TITLES[section]}"
            write(root / path, _page(template, title, manifest["descriptions"][section], article, f"{SITE}/{path}"))
    for letter in letters:
        url = f"{SITE}/diseases-conditions/index?letter={letter}"
        page = _page(template, "Diseases & Conditions", "Diseases and conditions A-Z", _index(letters, letter), url)
        write(query_file(root / "diseases-conditions" / "index", {"letter": letter}), page)


def _page(template: Template, title: str, description: str, article: str, url: str) -> bytes:
    html = template.substitute(title=escape(title), description=escape(description), url=url, article=article)
    return html.encode("utf-8")


def _condition_article(condition: dict, section: str, content: str) -> str:
    """The condition's name, its tab navigation (the current tab marked), the page's content and the related
    products box."""
    ids = {**condition["pages"], **condition["tabs"]}
    tabs = []
    for tab, label in TABS.items():
        if tab not in ids:
            continue
        current = ' aria-current="page"' if tab == section else ""
        tabs.append(f'<a href="/diseases-conditions/{condition["slug"]}/{tab}/{ids[tab]}"{current}>{label}</a>')
    return (
        f'<div class="cmp-title"><h1>{escape(condition["name"])}</h1></div>\n'
        '<nav id="access-nav" class="cmp-tab-navigation-tabs" aria-label="Sections">\n' + "\n".join(tabs) + "\n</nav>\n"
        f'<div class="content">\n{content.strip()}\n</div>\n{RELATED}'
    )


def _index(letters: dict[str, list[list[str]]], letter: str) -> str:
    """One letter of the A-Z index: the letter bar (letters without a page are not links) and the entries."""
    bar = []
    for each in map(chr, range(ord("A"), ord("Z") + 1)):
        if each in letters:
            bar.append(f'<li><a href="/diseases-conditions/index?letter={each}">{each}</a></li>')
        else:
            bar.append(f'<li class="cmp-alphabet-facet--disabled"><span>{each}</span></li>')
    entries = [
        f'<div class="cmp-result-name"><div class="cmp-link"><a href="{href}">{escape(label)}</a></div></div>'
        for label, href in letters[letter]
    ]
    return (
        '<div class="cmp-title"><h1>Diseases &amp; Conditions</h1></div>\n'
        '<ul class="cmp-alphabet-facet">\n' + "\n".join(bar) + "\n</ul>\n"
        '<div class="cmp-back-to-top-container">\n' + "\n".join(entries) + "\n</div>"
    )
