"""The GuidelineCentral stand-in: `www.guidelinecentral.com` with robots.txt, the guidelines landing page, a medical
society's paginated list of guideline summaries, three free summaries and one for members only.

Modelled on the public site's layout (a WordPress site): the landing page `/guidelines/` links each society's list
`/guidelines/<society>/`, whose results (`div.result-meta h3 a`) link summaries at `/guideline/<id>/` and pocket
guides in the shop `/shop/<product>/`, with a "next page of results" link to `/guidelines/<society>/page/<n>/`. The
landing page's quick searches open the site's scripted search (`/guidelines/?t=guideline&f=<JSON filter>`). A summary
is `main.site-main > article` with the society, the headline, the publication date, and sections of key points,
recommendations and tables. Pages come in GuidelineCentral-like chrome (`data/guidelinecentral/page.html`: cookie
notice, navigation with "Sign In", sidebar with a newsletter box, footer). The summary text in
`data/guidelinecentral/summaries/` is written for this project.

Planted for the GuidelineCentral module's rules: the society list runs over two pages (two summaries are only on the
second); it lists a pocket guide from the shop, which is not a summary; the second page links a members-only summary
whose page shows "Sign in to read the full summary" instead of the text; and robots.txt disallows the scripted
search the landing page's quick search links to.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template
from urllib.parse import urlencode

from gap_replay.sources.mirror.kit import write

HOST = "https://www.guidelinecentral.com"
ROBOTS = (
    "User-agent: *\n"
    "Disallow: /wp-admin/\n"
    "Allow: /wp-admin/admin-ajax.php\n"
    "Disallow: /cart/\n"
    "Disallow: /checkout/\n"
    "Disallow: /my-account/\n"
    "Disallow: /search/\n"
    "Disallow: /guidelines/?\n"
).encode("ascii")


def build(data: Path, site: Path) -> None:
    """Write `site/www.guidelinecentral.com/` from `data/guidelinecentral/`."""
    source = data / "guidelinecentral"
    root = site / "www.guidelinecentral.com"
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    template = Template((source / "page.html").read_text(encoding="utf-8"))

    write(root / "robots.txt", ROBOTS)
    write(root / "guidelines" / "index.html", _landing(template, manifest))
    for society in manifest["societies"]:
        for number, results in enumerate(society["pages"], start=1):
            html = _society_page(template, society, number, results, manifest)
            write(root / _society_path(society["slug"], number).strip("/") / "index.html", html)
    for identifier, summary in sorted(manifest["summaries"].items()):
        article = (source / "summaries" / f"{identifier}.html").read_text(encoding="utf-8").strip()
        society = next(society for society in manifest["societies"] if _lists(society, identifier))
        write(root / "guideline" / identifier / "index.html", _summary(template, identifier, summary, society, article))


def _lists(society: dict, identifier: str) -> bool:
    return any(identifier in results for results in society["pages"])


def _society_path(slug: str, number: int) -> str:
    return f"/guidelines/{slug}/" if number == 1 else f"/guidelines/{slug}/page/{number}/"


def _page(template: Template, title: str, path: str, content: str, **extra: str) -> str:
    return template.substitute(
        title=escape(title),
        description=escape(extra.get("description", title)),
        og_type=extra.get("og_type", "website"),
        url=f"{HOST}{path}",
        article_meta=extra.get("article_meta", ""),
        body_class=extra.get("body_class", "page"),
        content=content,
    )


def _landing(template: Template, manifest: dict) -> str:
    """`/guidelines/`: the societies, and quick searches that open the scripted search."""
    societies = "\n".join(
        f'<li><a href="{HOST}{_society_path(society["slug"], 1)}">{escape(society["name"])}</a></li>'
        for society in manifest["societies"]
    )
    searches = "\n".join(
        f'<li><a href="{HOST}/guidelines/?{escape(_search_query(kind, state))}">{escape(label)}</a></li>'
        for label, kind, state in manifest["quick_searches"]
    )
    content = (
        '<header class="page-header"><h1 class="page-title">Clinical Guidelines</h1></header>\n'
        "<p>Concise summaries of clinical practice guidelines from medical societies, by society.</p>\n"
        f'<h2>Browse by society</h2>\n<ul class="society-list">\n{societies}\n</ul>\n'
        f'<h2>Quick searches</h2>\n<ul class="quick-searches">\n{searches}\n</ul>'
    )
    return _page(template, "Clinical Guidelines", "/guidelines/", content)


def _search_query(kind: str, state: dict) -> str:
    return urlencode({"t": kind, "f": json.dumps(state, sort_keys=True, separators=(",", ":"))})


def _society_page(template: Template, society: dict, number: int, results: list[str], manifest: dict) -> str:
    """One page of a society's results: summaries and shop products, then the links to the other pages."""
    items = [_result(entry, society, manifest) for entry in results]
    paging = []
    if number > 1:
        paging.append(
            f'<a class="page-link prev" href="{HOST}{_society_path(society["slug"], number - 1)}">Previous</a>'
        )
    if number < len(society["pages"]):
        target = f"{HOST}{_society_path(society['slug'], number + 1)}"
        paging.append(f'<a class="page-link next-page-of-results" href="{target}">Next</a>')
    title = f"{society['name']} Guidelines"
    content = (
        f'<header class="page-header"><h1 class="page-title">{escape(title)}</h1></header>\n'
        f'<div class="search-results">\n{"".join(items)}</div>\n'
        f'<nav class="pagination" aria-label="Results pages">{" ".join(paging)}</nav>'
    )
    return _page(template, title, _society_path(society["slug"], number), content, body_class="archive")


def _result(entry: str, society: dict, manifest: dict) -> str:
    if entry.startswith("shop:"):
        product = entry.removeprefix("shop:")
        href, title, kind = f"{HOST}/shop/{product}/", manifest["products"][product], "Pocket Guide"
    else:
        summary = manifest["summaries"][entry]
        href, title = f"{HOST}/guideline/{entry}/", summary["title"]
        kind = f"Guideline Summary | {society['acronym']} | {summary['published'][:4]}"
    return (
        f'<div class="result"><div class="result-meta"><h3><a href="{href}">{escape(title)}</a></h3>'
        f'<p class="result-type">{escape(kind)}</p></div></div>\n'
    )


def _summary(template: Template, identifier: str, summary: dict, society: dict, article: str) -> str:
    """A summary page: society, headline and date above the text (or above the members' sign-in wall)."""
    published = summary["published"]
    classes = "guideline type-guideline" + (" members-only" if summary.get("members_only") else "")
    content = (
        f'<article id="post-{identifier}" class="{classes}">\n'
        '<header class="entry-header">\n'
        f'<p class="guideline-society"><a href="{HOST}{_society_path(society["slug"], 1)}">'
        f"{escape(society['name'])}</a></p>\n"
        f'<h1 class="entry-title">{escape(summary["title"])}</h1>\n'
        f'<p class="entry-meta">Guideline Summary | Published <time datetime="{published}">{published}</time></p>\n'
        "</header>\n"
        f'<div class="entry-content">\n{article}\n</div>\n'
        "</article>"
    )
    meta = f'<meta property="article:published_time" content="{published}T00:00:00+00:00">'
    return _page(
        template,
        summary["title"],
        f"/guideline/{identifier}/",
        content,
        description=summary["description"],
        og_type="article",
        article_meta=meta,
        body_class="guideline-template-default single single-guideline",
    )
