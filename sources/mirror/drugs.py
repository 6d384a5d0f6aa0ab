"""The Drugs.com stand-in: `www.drugs.com` with robots.txt, the dosage landing page, the A to Z dosage index and
four dosage pages.

Modelled on the public site's layout: the landing page `/dosage/` links the "Complete Drug Dosage A to Z index",
whose letter pages are `/dosage-<letter><page>.html` (a letter navigation, a two-column list of drugs and a "Next
page" link), and every drug's dosage page is `/dosage/<drug>.html`, its text inside `div.ddc-main-content` under
"Usual Adult Dose for ..." / "Usual Pediatric Dose for ..." headings, then the renal and liver adjustments,
precautions, dialysis and other comments. Pages come in Drugs.com-like chrome (`data/drugs/page.html`: consent
banner, main menu, breadcrumb, sidebar tools and newsletter, footer). The dosage text in `data/drugs/dosage/` is
written for this project.

Planted for the Drugs.com module's rules: letter M runs over two pages (montelukast is only on the second); every
letter page offers a "Most popular" sort link (`?sort=popular`), which robots.txt disallows; the A page also links
an interaction page and the pill identifier, which are not dosage pages.
"""

from __future__ import annotations

import json
from html import escape
from itertools import groupby
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import robots, write

HOST = "https://www.drugs.com"
ROBOTS = robots(["/account/", "/api/", "/imprints.php", "/interaction/list/", "/search.php", "/*?sort="])
LANDING_TEXT = """<h1>Drug Dosage</h1>
<p>Dosage information on this site is a guide only. Always ask a doctor or pharmacist before changing the dose of a
medicine.</p>
<p>A dose is the amount of a medicine taken at one time; the dosage regimen says how often it is taken. The right
dose depends on age, body weight, kidney and liver function and the other medicines a person takes.</p>
<p><a href="/dosage-a1.html">Complete Drug Dosage A to Z index</a></p>"""


def build(data: Path, site: Path) -> None:
    """Write `site/www.drugs.com/` from `data/drugs/`."""
    source = data / "drugs"
    root = site / "www.drugs.com"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    drugs = sorted(manifest["drugs"], key=lambda drug: drug["index_page"])
    pages = {page: list(group) for page, group in groupby(drugs, key=lambda drug: drug["index_page"])}
    letters = sorted({page[0] for page in pages})

    write(root / "robots.txt", ROBOTS)
    landing = LANDING_TEXT + "\n" + _letter_nav(letters)
    write(root / "dosage" / "index.html", _page(template, "Drug Dosage", "Drug Dosage", "/dosage/", landing))
    for page, listed in pages.items():
        html = _index_page(template, page, listed, letters, set(pages), manifest["related_tools"].get(page, []))
        write(root / f"dosage-{page}.html", html)
    for drug in drugs:
        article = (source / "dosage" / f"{drug['slug']}.html").read_text(encoding="utf-8").strip()
        write(root / "dosage" / f"{drug['slug']}.html", _dosage_page(template, drug, article))


def _page(template: Template, title: str, crumb: str, path: str, content: str, **extra: str) -> str:
    return template.substitute(
        title=escape(title),
        headline=escape(extra.get("headline", title)),
        description=escape(extra.get("description", title)),
        url=f"{HOST}{path}",
        structured_data=extra.get("structured_data", ""),
        crumb=escape(crumb),
        content=content,
    )


def _letter_nav(letters: list[str]) -> str:
    links = "".join(f'<li><a href="/dosage-{letter}1.html">{letter.upper()}</a></li>' for letter in letters)
    return f'<nav class="ddc-paging" aria-label="Drug list navigation by first letter"><ul>{links}</ul></nav>'


def _index_page(
    template: Template, page: str, listed: list[dict], letters: list[str], served: set[str], tools: list[list[str]]
) -> str:
    """One letter page of the dosage index: letter navigation, sort links, the drugs, related tools, next page."""
    letter, number = page[0], int(page[1:])
    items = "\n".join(f'<li><a href="/dosage/{drug["slug"]}.html">{escape(drug["name"])}</a></li>' for drug in listed)
    parts = [
        f"<h1>Drug Dosage Information: {letter.upper()}</h1>",
        _letter_nav(letters),
        f'<p class="ddc-sort">Sort: <span>A-Z</span> | <a href="/dosage-{page}.html?sort=popular">Most popular</a></p>',
        f'<ul class="ddc-list-column-2">\n{items}\n</ul>',
    ]
    if tools:
        links = " | ".join(f'<a href="{href}">{escape(text)}</a>' for href, text in tools)
        parts.append(f'<p class="ddc-related">Related tools: {links}</p>')
    following = f"{letter}{number + 1}"
    if following in served:
        link = f'<a aria-label="Next page" href="/dosage-{following}.html">Next</a>'
        parts.append(f'<p class="ddc-paging-next">{link}</p>')
    title = f"Drug Dosage Information: {letter.upper()}"
    return _page(template, title, title, f"/dosage-{page}.html", "\n".join(parts))


def _dosage_page(template: Template, drug: dict, article: str) -> str:
    path = f"/dosage/{drug['slug']}.html"
    headline = f"{drug['name']} Dosage Guide + Max Dose, Adjustments"
    metadata = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "name": headline,
        "url": f"{HOST}{path}",
        "dateModified": drug["modified"],
    }
    structured = f'<script type="application/ld+json">{json.dumps(metadata, sort_keys=True)}</script>'
    return _page(
        template,
        headline,
        f"{drug['name']} Dosage",
        path,
        article,
        headline=headline,
        description=drug["description"],
        structured_data=structured,
    )
