"""The RCH stand-in: `www.rch.org.au/clinicalguide/`, The Royal Children's Hospital Melbourne's clinical practice
guidelines, as its Squiz Matrix site serves them (folder URLs with a trailing slash, content in `div.widgetBody`).

The guideline index at `/clinicalguide/` shows the letter A and a letter bar (`#tabnav-letter-blocks`) linking the
other letters' pages (`/clinicalguide/guideline_index/?letter=B`); each guideline is at
`/clinicalguide/guideline_index/<Name>/`. A guideline page has a "Key points" box, sections, dose tables and a
"Last updated" line, in RCH-like chrome (`data/rch/page.html`: cookie notice, header, left navigation, disclaimer,
footer) that also carries Dublin Core metadata (`DCTERMS.modified` when the site records an edit date).

Planted: a stub guideline that only points to its parent guideline; "Citing our guidelines" and the feedback page,
which live under `guideline_index/` but are not guidelines; an alias entry ("Adrenaline (see Anaphylaxis)") that
links a guideline a second time; a draft listed on the index that robots.txt disallows (and which is not served); a
guideline without a visible "Last updated" line, dated only by its metadata.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template

from gap_replay.sources.mirror.kit import query_file, robots, write

HOST = "www.rch.org.au"
SITE = f"https://{HOST}"
INDEX = "clinicalguide/guideline_index"
FIRST_LETTER = "A"  # the letter the index page opens on
ROBOTS = robots(["/_designs/", "/__data/", "/_admin/", "/search/", "/clinicalguide/guideline_index/Draft_"])


def build(data: Path, site: Path) -> None:
    """Write `site/www.rch.org.au/` from `data/rch/`."""
    source = data / "rch"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))
    letters: dict[str, list[list[str]]] = manifest["letters"]

    write(root / "robots.txt", ROBOTS)
    for page in manifest["pages"]:
        article = (source / "guidelines" / f"{page['name']}.html").read_text(encoding="utf-8")
        url = f"{SITE}/{INDEX}/{page['name']}/"
        write(root / INDEX / page["name"] / "index.html", _page(template, page, article, url))
    for letter in letters:
        article = _letter_page(letters, letter)
        page = {"title": f"Guideline index: {letter}", "description": "Clinical practice guidelines A to Z"}
        url = f"{SITE}/{INDEX}/?letter={letter}"
        write(query_file(root / INDEX, {"letter": letter}), _page(template, page, article, url))
    page = {"title": "Guideline index", "description": "Clinical practice guidelines A to Z"}
    article = _letter_page(letters, FIRST_LETTER)
    write(root / "clinicalguide" / "index.html", _page(template, page, article, f"{SITE}/clinicalguide/"))


def _page(template: Template, page: dict, article: str, url: str) -> bytes:
    modified = page.get("modified")
    html = template.substitute(
        title=escape(page["title"]),
        description=escape(page["description"]),
        modified=f'<meta name="DCTERMS.modified" content="{modified}">\n' if modified else "",
        url=url,
        article=article.strip(),
    )
    return html.encode("utf-8")


def _letter_page(letters: dict[str, list[list[str]]], letter: str) -> str:
    """One letter of the A-Z index: the letter bar (letters without guidelines are not links) and the entries."""
    bar = []
    for each in map(chr, range(ord("A"), ord("Z") + 1)):
        if each in letters:
            bar.append(f'<li><a href="/{INDEX}/?letter={each}">{each}</a></li>')
        else:
            bar.append(f'<li class="empty"><span>{each}</span></li>')
    entries = [f'<li><a href="/{INDEX}/{name}/">{escape(label)}</a></li>' for label, name in letters[letter]]
    return (
        "<h1>Guideline index</h1>\n"
        '<ul id="tabnav-letter-blocks">\n' + "\n".join(bar) + "\n</ul>\n"
        f'<div id="tab-{letter}" class="letter-block">\n<h2>{letter}</h2>\n<ul>\n'
        + "\n".join(entries)
        + "\n</ul>\n</div>"
    )
