"""The SPOR Evidence Alliance stand-in: the CPG database page of `sporevidencealliance.ca` and the developers'
sites it links to.

Modelled on the WordPress site: robots.txt as WordPress writes it (admin disallowed, the wp-sitemap named), the
database at `/key-activities/cpg-asset-map/cpg-database/` as a TablePress table (guideline title linked to the
developer's copy, developer, year, topic), split into WordPress page parts (`.../cpg-database/2/`, "Pages: 1 2"),
with an introduction that links the Alliance's own report on how the database was built. Pages come in the site
chrome of `data/spor/page.html` (cookie bar, menu, sidebar widget, footer).

The listed guidelines live on their developers' sites. The developers here are fictional, on `.example` hosts, since
the guideline text is written for this project and must not be attributed to real organisations. Planted: an entry
that links to a developer's web page (not a PDF), an entry whose PDF sits under a path its host's robots.txt
disallows (`/members/`), a PDF whose name ends in `.PDF`, an `http://` link, and a second page part.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

from gap_replay.sources.mirror.kit import read_pdf_source, render_pdf, robots, write

HOST = "https://sporevidencealliance.ca"
DATABASE = "key-activities/cpg-asset-map/cpg-database"
TITLE = "Clinical Practice Guidelines Database"
ROBOTS = (
    "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n\n"
    "Sitemap: https://sporevidencealliance.ca/wp-sitemap.xml\n"
)


def build(data: Path, site: Path) -> None:
    """Write `site/sporevidencealliance.ca/` and the developers' hosts from `data/spor/`."""
    source = data / "spor"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    root = site / "sporevidencealliance.ca"
    write(root / "robots.txt", ROBOTS)
    pages = manifest["pages"]
    for number, entries in enumerate(pages, start=1):
        url = _part_url(number)
        content = _database(manifest, entries, number, len(pages))
        html = template.substitute(title=TITLE, url=url, content=content.strip())
        write(root / urlsplit(url).path.strip("/") / "index.html", html)
    for host, developer in manifest["developers"].items():
        write(site / host / "robots.txt", robots(developer["disallow"]))
    for entry in (entry for entries in pages for entry in entries if "pdf" in entry):
        parts = urlsplit(entry["url"])
        publisher = manifest["developers"][parts.hostname]["name"]
        pdf = read_pdf_source(source / "pdfs" / f"{entry['pdf']}.txt", entry["pdf"], publisher)
        write(site / parts.hostname / parts.path.lstrip("/"), render_pdf(pdf))


def _part_url(number: int) -> str:
    """WordPress page parts: the page itself, then `<page>/2/`, `<page>/3/`..."""
    return f"{HOST}/{DATABASE}/" + (f"{number}/" if number > 1 else "")


def _database(manifest: dict[str, Any], entries: list[dict[str, Any]], number: int, parts: int) -> str:
    """One page part: the introduction (with the Alliance's report), the table of guidelines, the part links."""
    rows = "\n".join(_row(index, entry, manifest["developers"]) for index, entry in enumerate(entries, start=2))
    links = " ".join(
        f'<span class="post-page-numbers current" aria-current="page">{part}</span>'
        if part == number
        else f'<a href="{_part_url(part)}" class="post-page-numbers">{part}</a>'
        for part in range(1, parts + 1)
    )
    return (
        "<p>This database lists clinical practice guidelines developed in Canada, with links to each developer's "
        "copy. The Alliance does not have the authority to recommend or endorse any of the guidelines.</p>\n"
        f"<p>This database was last updated in April 2018. You can read the full report on how this database was "
        f'created <a href="{manifest["report"]}">here</a>.</p>\n'
        '<table id="tablepress-3" class="tablepress tablepress-id-3">\n'
        '<thead><tr class="row-1"><th class="column-1">Guideline</th><th class="column-2">Developer</th>'
        '<th class="column-3">Year</th><th class="column-4">Topic</th></tr></thead>\n'
        f'<tbody class="row-hover">\n{rows}\n</tbody>\n</table>\n'
        f'<div class="page-links">Pages: {links}</div>'
    )


def _row(index: int, entry: dict[str, Any], developers: dict[str, Any]) -> str:
    developer = developers[urlsplit(entry["url"]).hostname]["name"]
    return (
        f'<tr class="row-{index}"><td class="column-1"><a href="{escape(entry["url"])}">{escape(entry["title"])}</a>'
        f'</td><td class="column-2">{escape(developer)}</td><td class="column-3">{entry["year"]}</td>'
        f'<td class="column-4">{escape(entry["topic"])}</td></tr>'
    )
