"""WikiDoc (www.wikidoc.org, "the free medical textbook"): every content page of the wiki, as wikitext from its
MediaWiki Action API, turned into Markdown by a small converter of our own.

Collected: every page of the main namespace (the reference corpus had 33,058), one Document per page, id
`guidelines/wikidoc:<Title_with_underscores>` (MediaWiki's own key for a title, so ids are unique and readable), URL
`https://www.wikidoc.org/index.php/<Title>`, date = the day of the page's latest revision (its full timestamp in
`meta["revised"]`).

Discovery goes through `api.php` only, never through the HTML pages:
- `action=query&list=allpages&apnamespace=0&apfilterredir=nonredirects&aplimit=500`, followed through the
  `continue` block each answer carries (`apcontinue` and `continue` sent back as they are) until there is none;
- for each listing answer, its titles in batches of 50, `action=query&prop=revisions&rvprop=content|timestamp&
  rvslots=main&titles=A|B|...`, itself followed through `continue` (`rvcontinue`) when a batch's text passes the
  API's result size. All the answers of one batch are kept together as one raw `.json` bundle, `pages-NNNNN.json`
  (numbered in listing order), which gives one Document per page.

Revisions rather than `action=parse`: one request carries 50 pages instead of one (about 700 requests for the whole
wiki instead of 33,000), it costs the wiki no parser run, and it carries the revision timestamp. The price is the
wikitext converter below: templates (on WikiDoc: navigation boxes, editor credits, infoboxes), references, files,
categories and interlanguage links are dropped, links keep their text, tables become pipe tables, and the
References / External links / See also sections go. Text a page only transcludes from a template is lost; WikiDoc's
chapters are pages of their own and are collected as such.

Not collected: redirects (the listing leaves them out; a page turned into a redirect after the listing is skipped
when parsed), disambiguation pages, pages with no text left after cleaning (hubs made only of navigation
templates), other namespaces (talk, user, templates, files), and the site's HTML pages (robots.txt disallows the
`index.php?` actions a link walker would reach anyway).

A re-crawl lists the titles again and skips every batch whose titles are unchanged and whose bundle is in place: a
changed listing re-fetches the batches from the change on. The listing carries no revision ids, so edits to pages of
an unchanged batch are picked up by removing the raw folder.

Licence: WikiDoc's text is published under CC BY-SA 3.0 (as its page footers state; not verified against the live
site from here, which is unreachable, and the search corpus held no copy of its copyright page). The reference corpus
released WikiDoc, so REDISTRIBUTABLE = True: under the same licence, crediting WikiDoc (each document keeps its URL).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from gap_replay.documents import Document
from gap_replay.http import FetchLog, HttpError, Page, PoliteClient, RobotsDisallowed
from gap_replay.recipe import OrganisationConfig
from gap_replay.sources.base import FetchSummary, ParseError, fetch_log
from gap_replay.sources.guidelines import site
from gap_replay.sources.guidelines.extract import tidy_markdown

KEY = "wikidoc"
NAME = "WikiDoc"
LICENSE = "CC-BY-SA-3.0"
REDISTRIBUTABLE = True  # the reference corpus released it; share-alike, with attribution
COLLECTABLE = True
DISCOVERY = "MediaWiki Action API: list=allpages (main namespace, no redirects), then prop=revisions, 50 titles a call"

API = "https://www.wikidoc.org/api.php"  # the recipe's `url` overrides it
PAGE_URL = "https://www.wikidoc.org/index.php/"
LISTING = {
    "action": "query",
    "list": "allpages",
    "apnamespace": "0",
    "apfilterredir": "nonredirects",
    "aplimit": "500",
    "format": "json",
    "formatversion": "2",
}
CONTENT = {
    "action": "query",
    "prop": "revisions",
    "rvprop": "content|timestamp",
    "rvslots": "main",
    "format": "json",
    "formatversion": "2",
}
BATCH = 50  # titles per content request: the API's cap on page content for clients without the bot right
MAX_LISTING_REQUESTS = 10_000  # a guard against a listing that never stops continuing
BUNDLE_NAME = "pages-{:05d}.json"

# Keep/stop rules, on a page's wikitext.
REDIRECT = re.compile(r"^\s*#redirect\s*:?\s*\[\[", re.IGNORECASE)
DISAMBIGUATION = re.compile(r"\{\{\s*(disambig|disambiguation|dab|disamb|hndis|geodis)\s*[|}]", re.IGNORECASE)
DROPPED_SECTIONS = frozenset({"references", "external links", "see also", "further reading", "related chapters"})
DROPPED_NAMESPACES = frozenset({"file", "image", "media", "category"})  # `[[File:...]]` etc.; `[[:Category:x|y]]` stays
INTERLANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:")  # `[[fr:Insuffisance cardiaque]]`
DROPPED_ELEMENTS = re.compile(
    r"<(ref|references|gallery|imagemap|timeline|math|chem|score|graph)\b[^>]*?(/>|>.*?</\1\s*>)",
    re.IGNORECASE | re.DOTALL,
)

# Wikitext syntax.
COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
NOWIKI = re.compile(r"<nowiki>(.*?)</nowiki>", re.IGNORECASE | re.DOTALL)
BRACES = re.compile(r"\{\{|\}\}")
EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
EMPHASIS = re.compile(r"'{2,}")
MAGIC_WORD = re.compile(r"__[A-Z]+__")
BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<(sup|sub)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*/?>")
HEADING = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$")
LIST_ITEM = re.compile(r"^([*#:;]+)\s*(.*)$")
RULE = re.compile(r"^-{4,}\s*$")
LINK_BRACKETS = re.compile(r"\[\[|\]\]")
SPACE = re.compile(r"\s+")


# --- fetch -------------------------------------------------------------------------------------------------------


def fetch(config: OrganisationConfig, raw_dir: Path, client: PoliteClient) -> FetchSummary:
    """Download every WikiDoc content page (at most `config.limit` titles) as batches of API answers into
    `raw_dir` (`raw/guidelines/wikidoc`); a failed batch is counted and the crawl goes on with the next."""
    summary = FetchSummary(f"{site.NAME}/{KEY}")
    api = config.url or API
    log = fetch_log(raw_dir)
    number = 0
    for titles in listing(client, api, config.limit, summary):
        for start in range(0, len(titles), BATCH):
            number += 1
            fetch_batch(client, api, titles[start : start + BATCH], raw_dir / BUNDLE_NAME.format(number), log, summary)
    if number == 0 and not (summary.failed or summary.disallowed):
        summary.fail(api, "the allpages listing names no page to collect")
    return summary


def api_url(api: str, params: dict[str, str]) -> str:
    """The URL of one API request; the same parameters always give the same URL (a batch's log key)."""
    return f"{api}?{urlencode(params)}"


def continuation(data: dict[str, Any]) -> dict[str, str]:
    """The parameters an answer's `continue` block asks to send back; empty when the answer is the last."""
    block = data.get("continue")
    return {str(name): str(value) for name, value in block.items()} if isinstance(block, dict) else {}


def api_call(client: PoliteClient, url: str) -> tuple[Page, dict[str, Any]]:
    """One API answer and its JSON; HttpError when it is not JSON or is a MediaWiki error (sent with status 200)."""
    page = client.get(url)
    try:
        data = json.loads(page.content)
    except ValueError as error:
        raise HttpError(url, page.status, f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise HttpError(url, page.status, "not a MediaWiki API answer")
    if "error" in data:
        error = data["error"] if isinstance(data["error"], dict) else {}
        raise HttpError(url, page.status, f"API error {error.get('code')}: {error.get('info')}")
    return page, data


def listing(client: PoliteClient, api: str, limit: int | None, summary: FetchSummary) -> Iterator[list[str]]:
    """The titles of each allpages answer, in order, until the listing ends or `limit` titles are out; a listing
    that fails or is refused is counted in `summary` and ends the walk."""
    sent = 0
    resume: dict[str, str] = {}
    for _ in range(MAX_LISTING_REQUESTS):
        url = api_url(api, {**LISTING, **resume})
        try:
            _, data = api_call(client, url)
            titles = [str(page["title"]) for page in data["query"]["allpages"]]
            resume = continuation(data)
        except RobotsDisallowed:
            summary.disallowed += 1
            return
        except HttpError as error:
            summary.fail(url, f"listing failed: {error.reason}")
            return
        except (KeyError, TypeError, AttributeError):
            summary.fail(url, "listing failed: not an allpages answer")
            return
        if limit is not None:
            titles = titles[: limit - sent]
        sent += len(titles)
        yield titles
        if not resume or (limit is not None and sent >= limit):
            return
    summary.fail(api, f"listing still continuing after {MAX_LISTING_REQUESTS} requests")


def fetch_batch(
    client: PoliteClient, api: str, titles: list[str], dest: Path, log: FetchLog, summary: FetchSummary
) -> None:
    """Keep the content answers for `titles` (continuations included) as one bundle at `dest`, unless the bundle of
    the same request is already in place."""
    url = api_url(api, {**CONTENT, "titles": "|".join(titles)})
    if site.bundle_current(log, url, dest):
        summary.skipped += 1
        return
    pages: list[Page] = []
    resume: dict[str, str] = {}
    try:
        for _ in range(len(titles) + 1):  # each continuation brings at least one more page's text
            page, data = api_call(client, api_url(api, {**CONTENT, "titles": "|".join(titles), **resume}))
            pages.append(page)
            resume = continuation(data)
            if not resume:
                break
        else:
            raise HttpError(url, None, f"still continuing after {len(pages)} answers")
    except RobotsDisallowed:
        summary.disallowed += 1
        return
    except HttpError as error:
        summary.fail(url, error.reason)
        return
    site.save_bundle(url, pages, dest, log, summary)


# --- parse -------------------------------------------------------------------------------------------------------


def parse(stream: BinaryIO, name: str) -> Iterator[Document]:
    """The Documents of one raw batch: each content page of it, redirects, disambiguation pages and pages without
    text skipped."""
    responses = site.read_bundle(stream.read(), name)
    for page in batch_pages(responses, name):
        document = page_document(page, name)
        if document is not None:
            yield document


def batch_pages(responses: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The pages of a batch's answers, in order, each with its revisions: a page whose text came in a continuation
    answer is listed again, without revisions, in the others. Answers in format version 1 (pages keyed by id) and
    2 (a list) are both read."""
    pages: dict[str, dict[str, Any]] = {}
    for response in responses:
        data = site.response_json(response, name)
        try:
            listed = data.get("query", {}).get("pages", [])
            listed = list(listed.values()) if isinstance(listed, dict) else list(listed)
            for page in listed:
                title = str(page["title"])
                if page.get("revisions") or title not in pages:
                    pages[title] = page
        except (AttributeError, KeyError, TypeError):
            raise ParseError(f"{name}: {response.get('url')}: not a prop=revisions answer") from None
    return list(pages.values())


def page_document(page: dict[str, Any], name: str) -> Document | None:
    """The Document of one page of an answer; None for a missing page, a redirect, a disambiguation page, or a page
    with no text left after cleaning."""
    revision = (page.get("revisions") or [None])[0]
    if not isinstance(revision, dict):
        return None
    main = revision.get("slots", {}).get("main", revision)
    wikitext = main.get("content", main.get("*"))
    if not isinstance(wikitext, str) or REDIRECT.match(wikitext) or DISAMBIGUATION.search(wikitext):
        return None
    title = str(page["title"])
    text = wikitext_to_markdown(wikitext, title)
    if not text:
        return None
    key = title_key(title)
    return site.make_document(
        KEY,
        key,
        text,
        license=LICENSE,
        redistributable=REDISTRIBUTABLE,
        title=title,
        url=PAGE_URL + quote(key, safe="/:(),!*;@$~"),
        date=(revision.get("timestamp") or "")[:10] or None,
        meta={
            "file": PurePosixPath(name.replace("\\", "/")).name,
            "format": "wikitext",
            "pageid": page.get("pageid"),
            "revised": revision.get("timestamp"),
        },
    )


def title_key(title: str) -> str:
    """MediaWiki's key for a title (spaces as underscores): unique per page, as in the page's URL."""
    return SPACE.sub("_", title.strip())


# --- wikitext to Markdown ----------------------------------------------------------------------------------------


def wikitext_to_markdown(wikitext: str, title: str) -> str:
    """The page as Markdown under a `# title` heading; empty when nothing but markup is left."""
    body = blocks(inline(wikitext))
    if not any(re.search(r"\w", line) for line in body.splitlines() if not line.startswith("#")):
        return ""
    return tidy_markdown(f"# {title}\n\n{body}")


def inline(wikitext: str) -> str:
    """Wikitext with comments, references, templates, files, categories, link and emphasis markup and HTML tags
    gone, links reduced to their text; lines and table syntax are left for `blocks`."""
    text = COMMENT.sub("", wikitext)
    text = DROPPED_ELEMENTS.sub("", text)
    text = NOWIKI.sub(r"\1", text)
    text = without_templates(text)
    text = resolve_links(text)
    text = EXTERNAL_LINK.sub(lambda match: match.group(1) or "", text)
    text = EMPHASIS.sub("", text)
    text = MAGIC_WORD.sub("", text)
    text = BREAK_TAG.sub(" ", text)
    text = SCRIPT_TAG.sub(lambda match: ("^" if match.group(1).lower() == "sup" else "_") + match.group(2), text)
    text = TAG.sub("", text)
    return html.unescape(text)


def without_templates(text: str) -> str:
    """`text` without `{{...}}` templates and parser functions, nested ones included; an opener that is never
    closed is dropped alone."""
    kept: list[str] = []
    depth, start, opened = 0, 0, 0
    for match in BRACES.finditer(text):
        if match.group() == "{{":
            if depth == 0:
                kept.append(text[start : match.start()])
                opened = match.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                start = match.end()
    if depth:
        return "".join(kept) + without_templates(text[opened + 2 :])
    return "".join(kept) + text[start:]


def resolve_links(text: str) -> str:
    """Internal links as their label (or target); file, category and interlanguage links dropped whole, captions
    with their own links included."""
    parts: list[str] = []
    position = 0
    while (start := text.find("[[", position)) != -1:
        end = closing(text, start)
        if end is None:
            break
        parts += [text[position:start], link_text(text[start + 2 : end - 2])]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def closing(text: str, start: int) -> int | None:
    """The index just past the `]]` that closes the `[[` at `start`; None when it is never closed."""
    depth = 0
    for match in LINK_BRACKETS.finditer(text, start):
        depth += 1 if match.group() == "[[" else -1
        if depth == 0:
            return match.end()
    return None


def link_text(inner: str) -> str:
    """The text an internal link shows (`[[target|label]]`, `[[target]]`); nothing for files, categories and
    interlanguage links."""
    target, pipe, label = inner.partition("|")
    target = target.strip()
    namespace = target.partition(":")[0].strip().lower() if ":" in target else ""
    if not target.startswith(":") and (namespace in DROPPED_NAMESPACES or INTERLANGUAGE.match(target)):
        return ""
    return resolve_links(label if pipe and label.strip() else target.lstrip(":"))


def blocks(text: str) -> str:
    """Line-level wikitext (after `inline`) as Markdown: `##` headings, `- ` bullets, paragraphs, pipe tables;
    the sections in DROPPED_SECTIONS are left out."""
    out: list[str] = []
    paragraph: list[str] = []
    lines = text.split("\n")
    dropped_level: int | None = None
    index = 0

    def flush() -> None:
        joined = clean(" ".join(paragraph))
        if joined:
            out.extend(["", joined])
        paragraph.clear()

    while index < len(lines):
        line = lines[index].rstrip()
        index += 1
        heading = HEADING.match(line)
        if heading:
            flush()
            level, name = len(heading.group(1)), clean(heading.group(2))
            if dropped_level is not None and level <= dropped_level:
                dropped_level = None
            if dropped_level is None and name.casefold() in DROPPED_SECTIONS:
                dropped_level = level
            if dropped_level is None and name:
                out.extend(["", "#" * max(2, level) + " " + name])
            continue
        if dropped_level is not None:
            continue
        if line.lstrip().startswith("{|"):
            flush()
            end = table_end(lines, index - 1)
            out.extend(["", *table(lines[index - 1 : end])])
            index = end
        elif item := LIST_ITEM.match(line):
            flush()
            items = list_lines(*item.groups())
            if items and items[0] and out and not out[-1].lstrip().startswith("- "):
                out.append("")
            out.extend(items)
        elif not line.strip() or RULE.match(line):
            flush()
        else:
            paragraph.append(line)
    flush()
    return "\n".join(out).strip()


def list_lines(marks: str, content: str) -> list[str]:
    """A list line: `*`/`#` items as bullets (nested by depth), `;` terms in bold, `:` indented text as is."""
    text = clean(content)
    if not text:
        return []
    if marks[-1] in "*#":
        return ["  " * (len(marks) - 1) + "- " + text]
    if marks[-1] == ";":
        term, _, definition = text.partition(":")
        return ["", f"**{term.strip()}**", *([definition.strip()] if definition.strip() else [])]
    return ["", text]


def table_end(lines: list[str], start: int) -> int:
    """The index just past the `|}` closing the table opened at `start` (nested tables included)."""
    depth = 0
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith("{|"):
            depth += 1
        elif stripped.startswith("|}"):
            depth -= 1
            if depth == 0:
                return index + 1
    return len(lines)


def table(lines: list[str]) -> list[str]:
    """A wikitext table as a pipe table (first row as the header); captions and nested tables are dropped."""
    rows: list[list[str]] = []
    row: list[str] = []
    depth = 0
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("{|"):
            depth += 1
        elif stripped.startswith("|}"):
            depth -= 1
        elif depth != 1 or stripped.startswith("|+"):
            continue
        elif stripped.startswith("|-"):
            rows.append(row)
            row = []
        elif stripped[:1] in ("!", "|"):
            row += [cell(part) for part in re.split(r"!!|\|\|", stripped[1:])]
        elif row and stripped:
            row[-1] = clean(f"{row[-1]} {stripped}")
    rows = [cells for cells in [*rows, row] if any(cells)]
    if not rows:
        return []
    width = max(len(cells) for cells in rows)
    rows = [cells + [""] * (width - len(cells)) for cells in rows]
    header = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in range(width)) + "|"]
    return header + ["| " + " | ".join(cells) + " |" for cells in rows[1:]]


def cell(part: str) -> str:
    """A cell's text without its attributes (`style="..." | text`)."""
    attributes, pipe, content = part.partition("|")
    return clean(content if pipe and "=" in attributes else part).replace("|", "\\|")


def clean(text: str) -> str:
    """Whitespace runs, line breaks included, as single spaces."""
    return SPACE.sub(" ", text).strip()
