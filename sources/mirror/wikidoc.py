"""The WikiDoc stand-in: `www.wikidoc.org`'s MediaWiki Action API (`/api.php`) answering from stored responses, and a
few of the wiki's HTML pages in its skin.

The API answers are MediaWiki's JSON (`format=json&formatversion=2`), as its API documentation describes them:
- `action=query&list=allpages&apnamespace=0&apfilterredir=nonredirects&aplimit=500` answers in two parts (a wiki
  in miser mode may return fewer titles than asked): the first carries `continue: {apcontinue, continue: "-||"}`,
  and the request that sends both back gets the rest, with no `continue`;
- `action=query&prop=revisions&rvprop=content|timestamp&rvslots=main&titles=A|B|...` for the titles of each listing
  part. The second part's text passes the API's result size here, so its first answer carries `continue:
  {rvcontinue, continue: "||"}` and the text of the last page comes in a second answer, which lists the pages
  already sent again, without revisions. `batchcomplete` is set on the last answer only.

Pages (`data/wikidoc/pages/*.wiki`, written for this project) are the wikitext a WikiDoc chapter has: navigation and
editor-credit templates, references, a table, lists, files, categories, an interlanguage link. Planted: a page that
was listed as content but has become a redirect by the time its text is asked for, a hub made only of templates and
categories (no text), and a disambiguation page.

HTML pages at `/index.php/<Title>` (rendered here from the wikitext, roughly as MediaWiki does) and
`/index.php/Special:AllPages` wear a MediaWiki skin: cookie notice, site notice, navigation, edit and history links,
categories and footer. robots.txt allows `api.php` and disallows the `index.php?` actions and special pages, as
MediaWiki sites usually do; a harvester that used the API never needs them.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from gap_replay.sources.mirror.kit import query_file, robots, write

HOST = "www.wikidoc.org"
ROBOTS = robots(
    [
        "/index.php?",
        "/index.php/Special:",
        "/index.php/Special%3A",
        "/index.php/User:",
        "/index.php/User_talk:",
        "/index.php/Talk:",
        "/skins/",
    ]
)
LISTING = {  # the listing request, as a client asks it (MediaWiki's parameters)
    "action": "query",
    "list": "allpages",
    "apnamespace": "0",
    "apfilterredir": "nonredirects",
    "aplimit": "500",
    "format": "json",
    "formatversion": "2",
}
CONTENT = {  # the content request, less its `titles`
    "action": "query",
    "prop": "revisions",
    "rvprop": "content|timestamp",
    "rvslots": "main",
    "format": "json",
    "formatversion": "2",
}
TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
REFERENCE = re.compile(r"<ref[^>/]*(/>|>(.*?)</ref>)", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
DROPPED_LINK = re.compile(r"\[\[(File|Category|[a-z]{2}):.*\]\]")  # whole lines here: files, categories, languages
LINK = re.compile(r"\[\[([^|\]]+)(?:\|([^\]]*))?\]\]")
EXTERNAL = re.compile(r"\[(https?://\S+) ([^\]]+)\]")
HEADING = re.compile(r"^(={2,6})\s*(.*?)\s*\1$")
CATEGORY = re.compile(r"\[\[Category:([^\]|]+)")


def build(data: Path, site: Path) -> None:
    """Write `site/www.wikidoc.org/` from `data/wikidoc/`."""
    source = data / "wikidoc"
    root = site / HOST
    manifest = json.loads((source / "site.json").read_text(encoding="utf-8"))
    pages = {page["title"]: page for page in manifest["pages"]}
    texts = {page["title"]: (source / "pages" / page["file"]).read_text(encoding="utf-8") for page in manifest["pages"]}
    template = Template((source / "page.html").read_text(encoding="utf-8"))

    write(root / "robots.txt", ROBOTS)
    write_listing(root, manifest["listing"], pages)
    for batch in manifest["batches"]:
        write_content(root, batch, pages, texts)
    for title in manifest["html_pages"]:
        body = article(texts[title], key(title))
        html = html_page(template, pages[title], body, CATEGORY.findall(texts[title]), key(title))
        write(root / "index.php" / key(title), html)
    all_pages = "\n".join(f'<li><a href="/index.php/{quote(key(title))}">{escape(title)}</a></li>' for title in pages)
    special = {"title": "All pages", "revid": 0, "timestamp": "2024-03-01T00:00:00Z"}
    body = f'<ul class="mw-allpages-chunk">\n{all_pages}\n</ul>'
    write(root / "index.php" / "Special:AllPages", html_page(template, special, body, [], "Special:AllPages"))


def key(title: str) -> str:
    """MediaWiki's key for a title, as in its URL: spaces as underscores."""
    return title.replace(" ", "_")


def api_json(answer: dict[str, Any]) -> bytes:
    """An answer as MediaWiki's JSON printer writes it with formatversion=2: compact, UTF-8."""
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_listing(root: Path, parts: list[list[str]], pages: dict[str, dict]) -> None:
    """The allpages answers, each but the last continued to the next."""
    resume: dict[str, str] = {}
    for number, titles in enumerate(parts):
        answer: dict[str, Any] = {"batchcomplete": True}
        if number + 1 < len(parts):
            answer["continue"] = {"apcontinue": key(parts[number + 1][0]), "continue": "-||"}
        listed = [{"pageid": pages[title]["pageid"], "ns": 0, "title": title} for title in titles]
        answer["query"] = {"allpages": listed}
        write(query_file(root / "api.php", {**LISTING, **resume}), api_json(answer))
        resume = answer.get("continue", {})


def write_content(root: Path, answers: list[list[str]], pages: dict[str, dict], texts: dict[str, str]) -> None:
    """The revisions answers for one batch of titles: each answer carries the text of its own pages and lists the
    others without revisions; all but the last are continued with `rvcontinue`."""
    titles = [title for part in answers for title in part]
    resume: dict[str, str] = {}
    for number, part in enumerate(answers):
        answer: dict[str, Any] = {}
        if number + 1 < len(answers):
            answer["continue"] = {"rvcontinue": str(pages[answers[number + 1][0]]["revid"]), "continue": "||"}
        else:
            answer["batchcomplete"] = True
        listed = []
        for title in titles:
            entry: dict[str, Any] = {"pageid": pages[title]["pageid"], "ns": 0, "title": title}
            if title in part:
                main = {"contentmodel": "wikitext", "contentformat": "text/x-wiki", "content": texts[title]}
                entry["revisions"] = [{"timestamp": pages[title]["timestamp"], "slots": {"main": main}}]
            listed.append(entry)
        answer["query"] = {"pages": listed}
        write(query_file(root / "api.php", {**CONTENT, "titles": "|".join(titles), **resume}), api_json(answer))
        resume = answer.get("continue", {})


def html_page(template: Template, page: dict, body: str, categories: list[str], page_key: str) -> bytes:
    """A page in the wiki's skin around `body`."""
    links = " | ".join(f'<a href="/index.php/Category:{quote(key(name))}">{escape(name)}</a>' for name in categories)
    stamp = page["timestamp"]
    return template.substitute(
        title=escape(page["title"]),
        key=quote(page_key, safe=":/"),
        revid=page["revid"],
        edited=f"{stamp[:10]}, at {stamp[11:16]}",
        article=body,
        categories=links or "Pages",
    ).encode("utf-8")


def article(wikitext: str, page_key: str) -> str:
    """The wikitext as MediaWiki's parser roughly renders it: templates gone, references numbered, links as
    anchors, headings with edit links, lists, definition lists and tables."""
    notes: list[str] = []

    def reference(match: re.Match) -> str:
        notes.append(escape(TEMPLATE.sub("", match.group(2) or "").strip() or "Reference"))
        return f'<sup class="reference"><a href="#cite_note-{len(notes)}">[{len(notes)}]</a></sup>'

    text = REFERENCE.sub(reference, COMMENT.sub("", wikitext))
    while TEMPLATE.search(text):
        text = TEMPLATE.sub("", text)
    text = DROPPED_LINK.sub("", text).replace("__NOTOC__", "")
    text = LINK.sub(lambda m: f'<a href="/index.php/{quote(key(m.group(1)))}">{m.group(2) or m.group(1)}</a>', text)
    text = EXTERNAL.sub(r'<a class="external" href="\1">\2</a>', text)
    text = re.sub(r"'''(.*?)'''", r"<b>\1</b>", text)
    text = re.sub(r"''(.*?)''", r"<i>\1</i>", text)
    html = render_lines(text.splitlines(), page_key)
    if notes:
        html.append('<div class="reflist"><ol class="references">')
        html += [f'<li id="cite_note-{number}">{note}</li>' for number, note in enumerate(notes, 1)]
        html.append("</ol></div>")
    return "\n".join(html)


def render_lines(lines: list[str], page_key: str) -> list[str]:
    """Block-level wikitext as HTML: consecutive list items share a list, table rows open as cells come."""
    html: list[str] = []
    section = 0
    open_list = ""
    row_open = False
    for line in (line.strip() for line in lines):
        kind = line[:1] if line[:1] in "*#" else ""
        if open_list and kind != open_list:
            html.append("</ul>" if open_list == "*" else "</ol>")
            open_list = ""
        heading = HEADING.match(line)
        if heading:
            section += 1
            level, name = len(heading.group(1)), heading.group(2)
            edit = f"/index.php?title={quote(page_key)}&amp;action=edit&amp;section={section}"
            html.append(
                f'<h{level}><span class="mw-headline">{name}</span>'
                f'<span class="mw-editsection">[<a href="{edit}">edit</a>]</span></h{level}>'
            )
        elif kind:
            if not open_list:
                html.append("<ul>" if kind == "*" else "<ol>")
                open_list = kind
            html.append(f"<li>{line.lstrip('*#').strip()}</li>")
        elif line.startswith("{|"):
            html.append('<table class="wikitable">')
        elif line.startswith("|}"):
            html.append("</tr></table>" if row_open else "</table>")
            row_open = False
        elif line.startswith("|+"):
            html.append(f"<caption>{line[2:].strip()}</caption>")
        elif line.startswith("|-"):
            html.append("</tr><tr>" if row_open else "<tr>")
            row_open = True
        elif line.startswith(("!", "|")):
            if not row_open:
                html.append("<tr>")
                row_open = True
            tag = "th" if line[0] == "!" else "td"
            html += [f"<{tag}>{cell.rpartition('|')[2].strip()}</{tag}>" for cell in re.split(r"!!|\|\|", line[1:])]
        elif line.startswith(";") and line[1:].strip():
            term, _, definition = line[1:].partition(":")
            html.append(f"<dl><dt>{term.strip()}</dt><dd>{definition.strip()}</dd></dl>")
        elif line and not line.startswith(";"):
            html.append(f"<p>{line}</p>")
    if open_list:
        html.append("</ul>" if open_list == "*" else "</ol>")
    return html
