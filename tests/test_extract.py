"""Guideline text extraction: web pages (trafilatura) and PDFs (pymupdf) to Markdown-ish text as clean as PMC's:
error pages told apart, citations and reference lists dropped, layout (columns, rotation, running heads) undone."""

import random
import re
from pathlib import Path

import pymupdf
import pytest

from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines.extract import (
    declared_charset,
    decode_html,
    drop_citation_markers,
    error_page_reason,
    html_to_markdown,
    pdf_to_markdown,
    tidy_markdown,
    with_title_heading,
)

FIXTURES = Path(__file__).parent / "fixtures" / "guidelines"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "guidelines"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real sample files not present ({SAMPLES})")

RUNNING_HEADER = "Malaria vector control handbook, second edition"
HELVETICA = pymupdf.Font("helv")
STAMP = "D:20240101000000Z"


def make_pdf(pages: int = 3) -> bytes:
    """A small guideline PDF: a title, larger section headings, a running header and page numbers on every page,
    and a word hyphenated across a line end."""
    document = pymupdf.open()
    for number in range(1, pages + 1):
        page = document.new_page(width=595, height=842)
        page.insert_text((72, 40), RUNNING_HEADER, fontsize=8)
        page.insert_text((290, 815), str(number), fontsize=9)
        y = 110
        if number == 1:
            page.insert_text((72, y), "Malaria vector control", fontsize=24)
            y += 44
        page.insert_text((72, y), f"{number}. Insecticide-treated nets", fontsize=14)
        y += 26
        for line in (
            "Long-lasting insecticidal nets should be distributed free of charge to every",
            "household in areas with ongoing transmission, with one net for every two people.",
            "Nets lose their protective effect as the insecticide wears off and holes appear, so",
            "campaigns are repeated every three years, and routine distribution through antenatal clinics",
            "and immunization services keeps coverage high between campaigns. Indoor residual spray-",
            "ing is an alternative where nets are not accepted.",
        ):
            page.insert_text((72, y), line, fontsize=10)
            y += 13
        y += 12
        page.insert_text((72, y), "• Hang the net over the sleeping place every night.", fontsize=10)
        page.insert_text((72, y + 13), "• Tuck the edges under the mattress.", fontsize=10)
    document.set_metadata({"title": "", "creationDate": "D:20240101000000Z", "modDate": "D:20240101000000Z"})
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data


Run = tuple  # (x, y, text, font size[, insert_text options]): one `insert_text` call


def layout_pdf(*pages: list[Run], title: str = "") -> bytes:
    """A PDF laid out run by run (A4 pages), with fixed metadata so that it is the same every time."""
    document = pymupdf.open()
    for runs in pages:
        page = document.new_page(width=595, height=842)
        for x, y, text, size, *options in runs:
            page.insert_text((x, y), text, fontsize=size, **(options[0] if options else {}))
    document.set_metadata({"title": title, "creationDate": STAMP, "modDate": STAMP})
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data


def lines(x: float, y: float, texts: list[str], size: float = 10, leading: float = 13) -> list[Run]:
    """Lines of text one under another."""
    return [(x, y + index * leading, text, size) for index, text in enumerate(texts)]


def inline(x: float, y: float, pieces: list[tuple], scripts_last: bool = False) -> list[Run]:
    """Pieces (text, font size, rise[, base-14 font name]) set one after another on a baseline, a positive rise
    raising a piece; with `scripts_last` the raised and lowered pieces are drawn after the rest of the line, as some
    typesetters do."""
    runs, scripts = [], []
    for text, size, rise, *font in pieces:
        name = font[0] if font else "helv"
        (scripts if rise and scripts_last else runs).append((x, y - rise, text, size, {"fontname": name}))
        x += pymupdf.Font(name).text_length(text, fontsize=size)
    return runs + scripts


def unmapped_bullets_pdf() -> bytes:
    """Two list items whose bullet is a Wingdings glyph with no Unicode mapping (mupdf reads it as U+FFFD), and
    one such glyph in the middle of a line (a symbol lost the same way)."""
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)
    page.insert_text((72, 80), "Hand hygiene", fontsize=16)
    resources = int(document.xref_get_key(page.xref, "Resources")[1].split()[0])
    font = document.get_new_xref()
    document.update_object(
        font,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Wingdings-Regular"
        " /Encoding << /Type /Encoding /Differences [159 /g159] >> >>",
    )
    document.xref_set_key(resources, "Font/FW", f"{font} 0 R")
    page.clean_contents()
    contents = int(document.xref_get_key(page.xref, "Contents")[1].split()[0])
    stream = document.xref_stream(contents)
    for index, item in enumerate(
        (b"Clean hands before touching a patient.", b"Clean hands after body fluid exposure.")
    ):
        stream += b" BT /FW 10 Tf 72 %d Td <9f> Tj /helv 10 Tf ( %s) Tj ET" % (720 - 14 * index, item)
    stream += (
        b" BT /helv 10 Tf 72 670 Td (Rub hands for 20 seconds, dose ) Tj /FW 10 Tf <9f> Tj /helv 10 Tf ( 3 ml.) Tj ET"
    )
    document.update_stream(contents, stream)
    document.set_metadata({"title": "", "creationDate": STAMP, "modDate": STAMP})
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    document.close()
    return data


# --- HTML ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def article() -> str:
    return html_to_markdown((FIXTURES / "article_page.html").read_bytes()).text


def test_site_chrome_is_removed(article: str) -> None:
    for chrome in ("cookies", "Skip to content", "Topics A to Z", "Share this page", "Privacy notice", "Copyright"):
        assert chrome not in article


def test_headings_and_bullets_are_kept_as_markdown(article: str) -> None:
    assert article.startswith("# Post-exposure prophylaxis for rabies\n")
    assert "\n## Wound care\n" in article
    assert "\n- Category II: nibbling of uncovered skin, minor scratches without bleeding.\n" in article


def test_a_table_is_kept_with_its_cells(article: str) -> None:
    assert "| Intramuscular | 1 dose per visit | 0, 3, 7 and 14 to 28 |" in article


def test_page_metadata_comes_from_the_page() -> None:
    page = html_to_markdown((FIXTURES / "article_page.html").read_bytes())
    assert page.title == "Post-exposure prophylaxis for rabies"
    assert page.canonical_url == "https://health.example.org/guidance/rabies-pep"
    assert page.date == "2022-04-11"
    assert page.lang == "en"


def test_windows_1252_page_is_decoded_by_its_declared_charset() -> None:
    page = html_to_markdown((FIXTURES / "heat_plan_cp1252.html").read_bytes())
    assert page.title == "Heat–health action plans"
    assert "Zürich with the Société suisse de médecine" in page.text
    assert "aged 75–84 years" in page.text
    assert "\ufffd" not in page.text


def test_latin_1_label_means_windows_1252() -> None:
    assert declared_charset(b'<html><head><meta charset="ISO-8859-1">') == "cp1252"
    assert declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">') == "cp1252"
    assert declared_charset(b'<?xml version="1.0" encoding="utf-8"?><html>') == "utf-8"
    assert declared_charset(b"<html><p>no declaration</p></html>") is None


def test_decoding_prefers_valid_utf8_over_a_wrong_declaration() -> None:
    mislabelled = '<meta charset="iso-8859-1"><p>Müller – 5 µg</p>'.encode()
    assert "Müller – 5 µg" in decode_html(mislabelled)
    assert "Müller – 5 µg" in decode_html('<meta charset="windows-1252"><p>Müller – 5 µg</p>'.encode("cp1252"))


def test_title_heading_is_added_only_when_missing() -> None:
    assert with_title_heading("Dengue", "Dengue is a viral infection.") == "Dengue is a viral infection."
    assert with_title_heading("Dengue and severe dengue", "# Dengue\n\nText") == "# Dengue\n\nText"
    assert with_title_heading("Dengue", "## Key facts\n\nText") == "# Dengue\n\n## Key facts\n\nText"


def test_a_title_heading_after_a_label_moves_up_instead_of_repeating() -> None:
    text = "Position statement\n\n# Vitamin D for infants\n\nPosted: Oct 3, 2022"
    assert with_title_heading("Vitamin D for infants", text) == (
        "# Vitamin D for infants\n\nPosition statement\n\nPosted: Oct 3, 2022"
    )


def test_a_title_heading_far_down_the_page_is_not_moved() -> None:
    text = "Intro\n\nMore\n\nEven more\n\n# Vitamin D for infants"
    assert with_title_heading("Vitamin D for infants", text) == f"# Vitamin D for infants\n\n{text}"


def test_tidy_joins_bare_bullets_and_collapses_blank_lines() -> None:
    assert tidy_markdown("- \nMeasles\n\t\t\n\n\n\nUpdated 2014  \n") == "- Measles\n\nUpdated 2014"


@pytest.mark.parametrize("data", [b"", b"\x00\x01 binary", b"<html><body><script>var a = 1;</script></body></html>"])
def test_page_without_content_gives_empty_text(data: bytes) -> None:
    assert html_to_markdown(data).text == ""


# --- error pages ---------------------------------------------------------------------------------------------------

GUIDELINE_WITH_ERROR_WORDS = (
    "# Blood cultures in febrile children\n\nTake two sets of blood cultures before the first antibiotic dose. "
    "If no organism is found after 48 hours, stop antibiotics in a well child. Errors in labelling are the commonest "
    "reason a sample is rejected, so label tubes at the bedside. Access to the laboratory out of hours is denied "
    "only for non-urgent samples; urgent samples go straight to the analyser. The page of the request form that "
    "cannot be found should be reprinted rather than written by hand."
)


@pytest.mark.parametrize(
    "title, text, reason",
    [
        ("Page not found | Health agency", "# Page not found\n\nTry the search box.", "page not found"),
        ("404", "Go back to the home page.", "page not found"),
        ("Error 404 - Health agency", "", "page not found"),
        (None, "# Sorry\n\nThe page you requested could not be found. Try the search box.", "page not found"),
        ("Health agency", "# Sorry, we can't find that page\n\nIt may have moved.", "page not found"),
        ("Access Denied", "You don't have permission to access this server.", "access denied"),
        ("403 Forbidden", "nginx", "access denied"),
        (None, "Access denied\n\nReference #18.5f3c2e17", "access denied"),
        ("Service Unavailable", "The server is temporarily unable to service your request.", "server error"),
        ("500 Internal Server Error", "", "server error"),
        ("Just a moment...", "Checking your browser before accessing the site.", "bot check"),
    ],
)
def test_error_pages_are_named_by_their_reason(title: str | None, text: str, reason: str) -> None:
    assert error_page_reason(title, text) == reason


@pytest.mark.parametrize(
    "title, text",
    [
        ("Blood cultures in febrile children", GUIDELINE_WITH_ERROR_WORDS),
        ("Medication errors in primary care", "# Medication errors in primary care\n\nReport every error."),
        ("Access to emergency contraception", "Pharmacists must not deny access to emergency contraception."),
        ("Amoxicillin 500 mg capsules", "Take one capsule three times a day for five days."),
        ("Error-prone abbreviations", "Write units in full: never use U for units or IU for international units."),
        ("Page not found", " ".join(["Give oral rehydration solution in small frequent sips."] * 30)),
    ],
    ids=["error-words", "errors-title", "access-title", "500-mg", "error-prone", "long-text"],
)
def test_real_guidelines_are_not_error_pages(title: str, text: str) -> None:
    assert error_page_reason(title, text) is None


def test_a_soft_404_served_as_a_page_is_an_error_page() -> None:
    page = html_to_markdown((FIXTURES / "soft_404.html").read_bytes())
    assert error_page_reason(page.title, page.text) == "page not found"


def test_an_access_denied_page_is_an_error_page() -> None:
    page = html_to_markdown((FIXTURES / "access_denied.html").read_bytes())
    assert error_page_reason(page.title, page.text) == "access denied"


def test_a_guideline_page_is_not_an_error_page() -> None:
    page = html_to_markdown((FIXTURES / "article_page.html").read_bytes())
    assert error_page_reason(page.title, page.text) is None


# --- HTML leftovers: tags, indentation, bullet glyphs, nested headings ---------------------------------------------


@pytest.fixture(scope="module")
def otitis() -> str:
    return html_to_markdown((FIXTURES / "otitis_leftovers.html").read_bytes()).text


def test_no_raw_html_tags_are_left(otitis: str) -> None:
    assert not re.search(r"</?(sup|sub|a|div|span)\b", otitis)


def test_citation_superscripts_are_dropped(otitis: str) -> None:
    assert "resolve within three days without antibiotics. Offer paracetamol" in otitis
    assert "as the first step. A delayed prescription" in otitis


def test_meaningful_sub_and_superscripts_keep_their_meaning(otitis: str) -> None:
    assert "irrigated at 10^-4 s^-1 flow in CO_2-free saline over 2 cm^2; it was the 5th audit." in otitis


def test_markdown_escapes_are_not_left_in_the_text(otitis: str) -> None:
    assert "Refer children with a CD4 count < 200 cells." in otitis
    assert "\\" not in otitis


def test_source_indentation_does_not_make_code_blocks(otitis: str) -> None:
    assert "**First choice:** amoxicillin for five days, with clarithromycin" in otitis
    assert not re.search(r"(?m)^ {4}", otitis)


def test_nested_list_items_keep_their_indentation(otitis: str) -> None:
    assert "- Complications to look for:\n  - mastoiditis\n  - facial nerve palsy" in otitis


def test_bullet_glyphs_become_plain_list_items(otitis: str) -> None:
    assert "- Review the child if symptoms last beyond three days.\n" in otitis
    assert "- Tell parents to seek help the same day if the child becomes drowsy.\n" in otitis
    assert "- Give written information about the expected course." in otitis
    assert "- Do not use decongestants or antihistamines" in otitis
    assert not re.search("[\u2022\ufffd\uf0b7\u0095]", otitis)


def test_a_heading_wrapped_in_a_div_and_link_is_kept(otitis: str) -> None:
    assert "\n## When to prescribe immediately\n" in otitis


def test_headings_wrapped_in_a_link_or_span_are_kept(otitis: str) -> None:
    assert "\n## Review and safety netting\n" in otitis
    assert "\n### Units and notation\n" in otitis


def test_reference_footnotes_are_dropped_and_other_footnotes_kept(otitis: str) -> None:
    assert "Cochrane Database Syst Rev" not in otitis and "Br J Gen Pract" not in otitis
    assert otitis.endswith(
        "Children younger than three months with a temperature of 38 °C or more need same-day assessment."
    )


def test_tidy_strips_indentation_except_nested_list_items_and_fenced_code() -> None:
    text = "Intro\n        indented prose line\n- item\n  - nested\n        - too deep\n```\n    kept code\n```"
    assert (
        tidy_markdown(text)
        == "Intro\nindented prose line\n- item\n  - nested\n      - too deep\n```\n    kept code\n```"
    )


# --- HTML titles and dates -----------------------------------------------------------------------------------------


def page_with(head: str, body: str) -> bytes:
    """A small page: `head` markup, a site header with a logo, and an article holding `body` and some text."""
    return (
        f"<html lang='en'><head><meta charset='utf-8'>{head}</head><body>"
        "<header><div class='site-logo'><a href='/'>Health agency</a></div><nav><a href='/'>Home</a></nav></header>"
        f"<main><article>{body}<p>Croup is a viral infection of the upper airway that causes a barking cough, a "
        "hoarse voice and noisy breathing. Give one dose of oral dexamethasone to every child with croup.</p>"
        "</article></main><footer>Copyright 2024 Health agency</footer></body></html>"
    ).encode()


def test_the_headline_is_the_title_when_the_title_is_the_site_banner() -> None:
    page = html_to_markdown((FIXTURES / "croup_banner_title.html").read_bytes())
    assert page.title == "Croup in children"
    assert page.text.startswith("# Croup in children\n\nCroup is a viral infection")
    assert "Health agency" not in page.text


@pytest.mark.parametrize(
    "head, body, title",
    [
        ("<title>Home</title>", "<h1>Croup in children</h1>", "Croup in children"),
        (
            "<meta property='og:title' content='Croup in children | Health agency'>",
            "<h1>Croup in children</h1>",
            "Croup in children",
        ),
        (
            "<title>Croup in children - Health agency</title>",
            "<h1>Croup in children</h1><h1>Other</h1>",
            "Croup in children",
        ),
        (
            "<meta property='og:title' content='Croup: assessment and treatment'>",
            "<h1>Croup in children</h1>",
            "Croup: assessment and treatment",
        ),
    ],
    ids=["generic-title", "site-suffix", "title-split", "own-og-title-kept"],
)
def test_titles_drop_site_names_but_keep_their_own_wording(head: str, body: str, title: str) -> None:
    assert html_to_markdown(page_with(head, body)).title == title


def test_an_inline_time_element_keeps_its_text_and_gives_the_date() -> None:
    page = html_to_markdown(
        page_with("", "<p>Published: <time datetime='2023-03-14'>March 14, 2023</time></p>").replace(
            b"<nav>", b"<nav><time datetime='2019-09-09'>9 September 2019</time>"
        )
    )
    assert "Published: March 14, 2023" in page.text
    assert page.date == "2023-03-14"


def test_a_page_details_box_inside_the_main_content_is_dropped() -> None:
    page = html_to_markdown(
        page_with(
            "",
            "<div class='patient-details'><p>Children over six months with a barking cough are the usual patients"
            " seen with croup.</p></div><section class='pagedetails'><a href='/report'>Report a problem on this"
            " page</a><dl><dt>Date modified:</dt><dd><time>2023-03-24</time></dd></dl></section>",
        )
    )
    assert "Report a problem" not in page.text and "Date modified" not in page.text
    assert "Children over six months with a barking cough" in page.text


def test_the_date_comes_from_json_ld_not_from_scripts_or_comments() -> None:
    assert html_to_markdown((FIXTURES / "croup_banner_title.html").read_bytes()).date == "2023-02-10"


SCRIPT_DATES = "<script>/* build 2011-01-01 */ var built = '2011-01-01';</script><!-- cached 2012-02-02 -->"


@pytest.mark.parametrize(
    "head, body, day",
    [
        ("<meta name='dcterms.modified' content='2023-02-10'>", SCRIPT_DATES, "2023-02-10"),
        ("<meta itemprop='datePublished' content='2020-06-01'>", SCRIPT_DATES, "2020-06-01"),
        ("<meta property='article:modified_time' content='2023-02-10T09:00:00+00:00'>", SCRIPT_DATES, "2023-02-10"),
        ("", SCRIPT_DATES + "<p>Last reviewed: 12 May 2023</p>", "2023-05-12"),
        ("", SCRIPT_DATES + "<p>April 17, 2015 -- Croup peaks in late autumn.</p>", "2015-04-17"),
        ("", SCRIPT_DATES, None),
    ],
    ids=["dcterms", "itemprop", "article-meta", "visible-label", "dateline", "scripts-only"],
)
def test_dates_come_from_metadata_or_the_visible_date_never_from_scripts(head: str, body: str, day: str | None) -> None:
    assert html_to_markdown(page_with(head, body)).date == day


# --- PDF -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_text() -> str:
    return pdf_to_markdown(make_pdf()).text


def test_pdf_headings_come_from_larger_fonts(pdf_text: str) -> None:
    assert pdf_text.startswith("# Malaria vector control\n")
    assert "\n## 2. Insecticide-treated nets\n" in pdf_text


def test_pdf_running_header_and_page_numbers_are_removed(pdf_text: str) -> None:
    assert RUNNING_HEADER not in pdf_text
    assert not re.search(r"(?m)^\d+$", pdf_text)


def test_pdf_lines_are_joined_and_hyphenation_undone(pdf_text: str) -> None:
    assert "free of charge to every household in areas" in pdf_text
    assert "Indoor residual spraying is an alternative" in pdf_text
    assert "Long-lasting insecticidal nets" in pdf_text


def test_pdf_bullets_become_list_items(pdf_text: str) -> None:
    assert "- Hang the net over the sleeping place every night.\n- Tuck the edges under the mattress." in pdf_text


def test_pdf_title_and_pages() -> None:
    extracted = pdf_to_markdown(make_pdf(pages=4))
    assert extracted.title == "Malaria vector control"
    assert extracted.pages == 4


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:200],
        lambda data: random.Random(7).randbytes(4000),
        lambda data: b"%PDF-1.7\n" + random.Random(8).randbytes(4000) + b"\n%%EOF\n",
        lambda data: b"<html><body>Not found</body></html>",
    ],
    ids=["truncated", "header-only", "random", "random-with-markers", "html"],
)
def test_broken_pdf_raises_parse_error(damage) -> None:
    with pytest.raises(ParseError):
        pdf_to_markdown(damage(make_pdf()))


def test_encrypted_pdf_raises_parse_error() -> None:
    document = pymupdf.open(stream=make_pdf(), filetype="pdf")
    encrypted = document.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    with pytest.raises(ParseError, match="encrypted"):
        pdf_to_markdown(encrypted)


# --- PDF: citations, reference lists, advertising ------------------------------------------------------------------


@pytest.fixture(scope="module")
def journal() -> str:
    """A journal-style guideline: bracketed citations, a reference list, an annex after it, and a publisher's
    advert on the last page."""
    return pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Thromboprophylaxis after major trauma", 16),
                (72, 115, "Background", 12),
                *lines(
                    72,
                    135,
                    [
                        "Without prophylaxis, deep venous thrombosis affects over half of injured patients [1-3].",
                        "Low molecular weight heparin is the first choice [4], and compression devices are used",
                        "when bleeding risk is high [5,6]. Doses are given in Table 1 [see appendix] and (2) below.",
                    ],
                ),
                (72, 190, "References", 10),
                *lines(
                    72,
                    205,
                    [
                        "1. Geerts WH, Code KI, Jay RM. A prospective study of venous thromboembolism after major",
                        "trauma. N Engl J Med 1994, 331:1601-6.",
                        "2. Knudson MM, Ikossi DG. Venous thromboembolism after trauma. J Trauma 2004, 56:1-10.",
                    ],
                    size=8,
                    leading=10,
                ),
                (72, 260, "Annex 1: Search strategy", 12),
                *lines(72, 280, ["The guideline manuscript had a thorough peer review by an external panel."]),
            ],
            [
                *lines(72, 80, ["Guideline panels should reassess the evidence every five years."]),
                (330, 600, "Submit your next manuscript to BioMed Central", 9),
                (330, 612, "and take full advantage of:", 9),
                (330, 630, "\u2022 Convenient online submission", 8),
                (330, 642, "\u2022 Thorough peer review", 8),
                (330, 676, "Submit your manuscript at www.biomedcentral.com/submit", 8),
            ],
        )
    ).text


def test_pdf_bracketed_citation_markers_are_dropped(journal: str) -> None:
    assert "affects over half of injured patients. Low molecular weight heparin is the first choice, and" in journal
    assert "used when bleeding risk is high. Doses" in journal


def test_pdf_brackets_and_parentheses_that_are_not_citations_stay(journal: str) -> None:
    assert "Doses are given in Table 1 [see appendix] and (2) below." in journal


def test_pdf_reference_list_is_dropped_up_to_the_next_heading(journal: str) -> None:
    assert "Geerts WH" not in journal and "Knudson MM" not in journal and "References" not in journal
    assert "\n## Annex 1: Search strategy\n\nThe guideline manuscript had a thorough peer review" in journal


def test_pdf_publisher_advert_is_dropped_and_the_page_text_kept(journal: str) -> None:
    assert journal.endswith("Guideline panels should reassess the evidence every five years.")
    for advert in ("Submit your", "BioMed Central", "Convenient online submission", "biomedcentral.com"):
        assert advert not in journal


def test_pdf_prose_after_a_reference_list_without_a_heading_is_kept() -> None:
    text = pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Thromboprophylaxis after major trauma", 16),
                *lines(72, 110, ["Low molecular weight heparin is the first choice for injured adults."]),
                (72, 140, "References", 10),
                *lines(72, 155, ["1. Geerts WH, Code KI. Venous thromboembolism. N Engl J Med 1994, 331:1601-6."], 8),
                *lines(72, 180, ["Panels reassess this guidance every five years, or sooner when trials report."]),
                *lines(72, 210, ["Comments on the guidance can be sent to the guideline team at any time of year."]),
            ]
        )
    ).text
    assert "Geerts WH" not in text
    assert text.endswith(
        "Panels reassess this guidance every five years, or sooner when trials report.\n\n"
        "Comments on the guidance can be sent to the guideline team at any time of year."
    )


def test_a_references_heading_over_prose_is_kept() -> None:
    text = pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Record keeping", 16),
                (72, 115, "References", 12),
                *lines(72, 135, ["Staff refer to the local policy before they release any record to a patient."]),
            ]
        )
    ).text
    assert "## References\n\nStaff refer to the local policy" in text


@pytest.mark.parametrize(
    "text, cleaned",
    [
        ("exceeds 50% [1-3].", "exceeds 50%."),
        ("first choice [4], and devices [5, 6] or [2,4–6] too", "first choice, and devices or too"),
        ("common in children.¹² It peaks", "common in children. It peaks"),
        ("over 2 m² or 4 mm³ of skin", "over 2 m² or 4 mm³ of skin"),
        ("[1] Assess the airway first.", "[1] Assess the airway first."),
        ("| [2] | Dose |", "| [2] | Dose |"),
        ("see box [A] and (3) below", "see box [A] and (3) below"),
    ],
    ids=["range", "lists", "unicode-superscript", "exponents", "line-start", "table-cell", "not-numeric"],
)
def test_citation_markers_go_and_look_alikes_stay(text: str, cleaned: str) -> None:
    assert drop_citation_markers(text) == cleaned


# --- PDF: sub- and superscripts ------------------------------------------------------------------------------------


EXPONENTS = [
    ("Clearance was 3.2 x 10", 10, 0),
    ("-", 7, 4, "symb"),
    ("4", 7, 4),
    (" s", 10, 0),
    ("-", 7, 4, "symb"),
    ("1", 7, 4),
    (" in each subject.", 10, 0),
]


@pytest.mark.parametrize("scripts_last", [False, True], ids=["in-order", "scripts-drawn-last"])
def test_pdf_exponents_keep_their_meaning_and_place(scripts_last: bool) -> None:
    data = layout_pdf([(72, 80, "Clearance of tracer gas", 16), *inline(72, 120, EXPONENTS, scripts_last)])
    assert "Clearance was 3.2 x 10^-4 s^-1 in each subject." in pdf_to_markdown(data).text


@pytest.fixture(scope="module")
def scripts() -> str:
    return pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Clearance of tracer gas", 16),
                *inline(
                    72,
                    140,
                    [
                        ("Doses were set per body surface area in mg/m", 10, 0),
                        ("2", 7, 4),
                        (" and adjusted for CO", 10, 0),
                        ("2", 7, -2),
                        (" retention.", 10, 0),
                    ],
                ),
                *inline(
                    72, 160, [("The risk of bleeding was low", 10, 0), ("12,13", 7, 4), (" and rose with age.", 10, 0)]
                ),
            ]
        )
    ).text


def test_pdf_units_and_chemical_formulas_keep_their_scripts(scripts: str) -> None:
    assert "body surface area in mg/m^2 and adjusted for CO_2 retention." in scripts


def test_pdf_superscript_citations_are_dropped(scripts: str) -> None:
    assert "The risk of bleeding was low and rose with age." in scripts


# --- PDF: hyphenation ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hyphens() -> str:
    return pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Clinics run by outside providers", 16),
                *lines(
                    72,
                    120,
                    [
                        "Clinics run by third-party providers follow the same rules. Clinics that are third-party-",
                        "owned must report infections monthly. In under-resourced settings the report may be",
                        "quarterly; under-",
                        "resourced clinics still report every death at once. Any life-threa-",
                        "tening bleeding is reported the same day. Indoor residual spray-",
                        "ing is covered in annex 2. The audit was led from the University of Wisconsin-",
                        "Madison, with data on COVID-",
                        "19 admissions from Geneva -",
                        "Switzerland. Staff understanding of the rules was good; under-",
                        "standing was tested by a short quiz.",
                    ],
                ),
            ]
        )
    ).text


def test_pdf_a_compound_broken_at_its_own_hyphen_keeps_it(hyphens: str) -> None:
    assert "Clinics that are third-party-owned must report" in hyphens
    assert "quarterly; under-resourced clinics" in hyphens


def test_pdf_a_word_broken_by_hyphenation_is_closed(hyphens: str) -> None:
    assert "Any life-threatening bleeding" in hyphens
    assert "Indoor residual spraying is covered" in hyphens
    assert "was good; understanding was tested" in hyphens


def test_pdf_a_hyphen_before_a_capital_or_digit_joins_without_a_space(hyphens: str) -> None:
    assert "University of Wisconsin-Madison, with data on COVID-19 admissions" in hyphens


def test_pdf_a_dash_with_a_space_before_it_stays_a_dash(hyphens: str) -> None:
    assert "from Geneva - Switzerland." in hyphens


# --- PDF: page layout ----------------------------------------------------------------------------------------------

LEFT_COLUMN = [
    ["Left column opens the guidance. Hand hygiene is the", "single most effective measure against infection in"],
    ["Left column goes on. Gloves are no substitute for hand", "hygiene, and hands are cleaned after removing them."],
]
RIGHT_COLUMN = [
    ["Right column follows it. Alcohol-based handrub is", "preferred unless hands are visibly soiled, when soap"],
    ["Right column ends here. Patients with diarrhoea caused", "by spore-forming bacteria need soap and water too."],
]


def test_pdf_columns_past_the_page_middle_are_read_left_then_right() -> None:
    """The left column runs 30 points past the middle of the page (wide left margin), and the right column starts
    two points higher: both columns must still be read whole, left first."""
    text = pdf_to_markdown(
        layout_pdf(
            [
                (90, 80, "Hand hygiene in outpatient clinics", 16),
                *lines(90, 110, ["A full-width lead paragraph sits above both columns and is read before them."]),
                *lines(90, 152, LEFT_COLUMN[0]),
                *lines(90, 212, LEFT_COLUMN[1]),
                *lines(338, 150, RIGHT_COLUMN[0]),
                *lines(338, 210, RIGHT_COLUMN[1]),
            ]
        )
    ).text
    starts = [text.index(part[0]) for part in ([["A full-width lead"]], LEFT_COLUMN, RIGHT_COLUMN) for part in part]
    assert starts == sorted(starts)


def test_pdf_a_rotated_table_is_read_row_by_row() -> None:
    cells = [
        ("Drug", "Dose", "Interval"),
        ("Amoxicillin", "500 mg", "every 8 hours"),
        ("Doxycycline", "100 mg", "every 12 hours"),
    ]
    table = [
        (120 + row * 40, 842 - (72 + column * 260), cells[row][column], 10, {"rotate": 90})
        for column in range(3)  # drawn column by column, as the table's cells were typeset
        for row in range(3)
    ]
    text = pdf_to_markdown(layout_pdf([(72, 80, "Antibiotic doses", 16)], table)).text
    starts = [text.index(cell) for row in cells for cell in row]
    assert starts == sorted(starts)


def test_pdf_a_vertical_margin_note_on_an_upright_page_is_dropped() -> None:
    text = pdf_to_markdown(
        layout_pdf(
            [
                (72, 80, "Croup in children", 16),
                *lines(
                    72, 120, ["Croup causes a barking cough.", "Give oral dexamethasone to every child with croup."]
                ),
                (570, 700, "Downloaded from guidance.example.org on 1 May 2024", 7, {"rotate": 90}),
            ]
        )
    ).text
    assert (
        text
        == "# Croup in children\n\nCroup causes a barking cough. Give oral dexamethasone to every child with croup."
    )


CROUP_HEADER = "Croup in children: assessment and treatment"


def test_pdf_running_header_with_the_page_number_on_alternating_sides_is_removed() -> None:
    """Even pages carry `2    header` at the left, odd pages `header    3` at the right; a one-off note in the
    bottom margin is not a running footer and stays."""
    pages = [[(72, 120, "Croup in children", 24), *lines(72, 200, ["Croup causes a barking cough in young children."])]]
    for number in (2, 3, 4):
        header = f"{number}    {CROUP_HEADER}" if number % 2 == 0 else f"{CROUP_HEADER}    {number}"
        x = 72 if number % 2 == 0 else 523 - HELVETICA.text_length(header, fontsize=8)
        pages.append([(x, 40, header, 8), *lines(72, 110, [f"Section {number} keeps the child calm and upright."])])
    pages[2].append((72, 800, "Draft for consultation only", 8))
    text = pdf_to_markdown(layout_pdf(*pages)).text
    assert CROUP_HEADER not in text
    assert "Section 3 keeps the child calm and upright.\n\nDraft for consultation only\n\nSection 4" in text


def test_pdf_unmapped_bullet_glyphs_become_list_items() -> None:
    text = pdf_to_markdown(unmapped_bullets_pdf()).text
    assert "- Clean hands before touching a patient.\n- Clean hands after body fluid exposure." in text


def test_pdf_an_unmapped_glyph_inside_a_line_is_not_a_bullet() -> None:
    assert "Rub hands for 20 seconds, dose \ufffd 3 ml." in pdf_to_markdown(unmapped_bullets_pdf()).text


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "untitled",
        "Microsoft Word - croup_guideline_v3.docx",
        "20240117",
        "croup_guideline_final",
        "Document1",
        "PowerPoint Presentation",
    ],
)
def test_pdf_junk_metadata_titles_give_way_to_the_first_page_title(metadata: str) -> None:
    data = layout_pdf(
        [(72, 120, "Croup in children", 24), *lines(72, 200, ["Croup causes a barking cough."])], title=metadata
    )
    assert pdf_to_markdown(data).title == "Croup in children"


@pytest.mark.parametrize("metadata", ["Croup in children: assessment and treatment", "Tuberculosis"])
def test_pdf_real_metadata_titles_are_kept(metadata: str) -> None:
    data = layout_pdf(
        [(72, 120, "Croup in children", 24), *lines(72, 200, ["Croup causes a barking cough."])], title=metadata
    )
    assert pdf_to_markdown(data).title == metadata


# --- real samples --------------------------------------------------------------------------------------------------

FACT_SHEETS = {
    "who.int_factsheet_fs104_tuberculosis_2016.html": [
        "Tuberculosis (TB) is one of the top 10 causes of death worldwide.",
        "Multidrug-resistant tuberculosis (MDR-TB) is a form of TB",
    ],
    "who.int_factsheet_fs094_malaria_2016.html": [
        "Malaria is a life-threatening disease caused by parasites",
        "*Anopheles* mosquitoes",
    ],
    "who.int_factsheet_fs117_dengue_2016.html": [
        "Dengue is a mosquito-borne viral infection.",
        "severe dengue",
    ],
}


@needs_samples
@pytest.mark.parametrize("name", sorted(FACT_SHEETS))
def test_who_fact_sheets_keep_key_facts_without_navigation(name: str) -> None:
    page = html_to_markdown((SAMPLES / "html" / name).read_bytes())
    assert "\n### Key facts\n" in page.text
    assert len(page.text.split()) > 1500
    for phrase in FACT_SHEETS[name]:
        assert phrase in page.text
    for navigation in ("Skip to main content", "Advanced search", "Media centre", "RSS Feed", "Alt+0"):
        assert navigation not in page.text
    assert page.canonical_url is None or page.canonical_url.startswith("http://www.who.int/")


@needs_samples
def test_who_index_page_gives_little_text() -> None:
    """A link list: a few hundred words of titles and dates, no line of prose (a fact sheet has 1500+ words)."""
    page = html_to_markdown((SAMPLES / "html" / "who.int_infectious-diseases-factsheet-index_2016.html").read_bytes())
    assert len(page.text.split()) < 400
    assert max(len(line.split()) for line in page.text.splitlines()) < 15


@needs_samples
def test_who_ipc_guideline_pdf_has_headings_and_no_running_footer() -> None:
    extracted = pdf_to_markdown((SAMPLES / "pdf" / "who_ipc-core-components-guidelines_2016.pdf").read_bytes())
    assert extracted.pages == 91
    assert extracted.title.startswith("Guidelines on Core Components of Infection Prevention and Control")
    headings = re.findall(r"(?m)^#{1,2} .+$", extracted.text)
    assert "## Executive Summary" in headings
    assert len(headings) > 20
    # The running footer repeats the title on all 90 inner pages; only the title heading itself may remain.
    assert extracted.text.count("Guidelines on Core Components of Infection Prevention and Control Programmes") <= 1
    assert not re.search(r"(?m)^\d{1,2}$", extracted.text)
    assert "infection prevention and control" in extracted.text


@needs_samples
@pytest.mark.parametrize(
    "name, phrase",
    [
        ("cdc_infection-prevention-outpatient-settings_v2.3_2016.pdf", "Standard Precautions"),
        ("jtmo_2010_dvt-prophylaxis-trauma-systematic-review.pdf", "low molecular weight heparins"),
    ],
)
def test_other_sample_pdfs_extract_text(name: str, phrase: str) -> None:
    extracted = pdf_to_markdown((SAMPLES / "pdf" / name).read_bytes())
    assert len(extracted.text.split()) > 1000
    assert phrase in extracted.text


@needs_samples
def test_who_ipc_guideline_pdf_is_clean_of_references_and_unmapped_bullets() -> None:
    text = pdf_to_markdown((SAMPLES / "pdf" / "who_ipc-core-components-guidelines_2016.pdf").read_bytes()).text
    assert "\ufffd" not in text
    assert "Zingg W, Holmes A" not in text and "\n## References\n" not in text
    assert "\n## Annexes\n" in text
    assert "\n- It is critical for a functioning IPC programme to have dedicated, trained professionals" in text


@needs_samples
def test_who_ipc_glossary_in_three_columns_is_read_column_by_column() -> None:
    text = pdf_to_markdown((SAMPLES / "pdf" / "who_ipc-core-components-guidelines_2016.pdf").read_bytes()).text
    terms = ["Grading of Recommendations", "Health care-associated infection incidence", "Low- and middle-income"]
    starts = [text.index(term) for term in terms]
    assert starts == sorted(starts)


@needs_samples
def test_cdc_outpatient_guide_drops_citations_and_references_and_reads_columns_in_order() -> None:
    text = pdf_to_markdown(
        (SAMPLES / "pdf" / "cdc_infection-prevention-outpatient-settings_v2.3_2016.pdf").read_bytes()
    ).text
    assert "infection prevention and surveillance activities. While data" in text
    assert "Transmission-Based Precautions" in text and "Transmission- Based" not in text
    assert "REFERENCES" not in text and "Barie PS" not in text
    assert text.index("Over the past several decades") < text.index("Compared to inpatient acute care settings")


@needs_samples
def test_journal_article_pdf_loses_references_citations_and_the_publisher_advert() -> None:
    text = pdf_to_markdown(
        (SAMPLES / "pdf" / "jtmo_2010_dvt-prophylaxis-trauma-systematic-review.pdf").read_bytes()
    ).text
    assert "Without thromboprophylaxis, overall DVT rates exceed 50%. Although" in text
    assert "Kudsk KA" not in text and "Submit your manuscript" not in text and "BioMed Central will be" not in text


@needs_samples
def test_who_dengue_fact_sheet_loses_raw_tags_and_reference_notes() -> None:
    text = html_to_markdown((SAMPLES / "html" / "who.int_factsheet_fs117_dengue_2016.html").read_bytes()).text
    assert "<sup>" not in text and "Brady OJ" not in text
    assert "(with any severity of disease). Another study" in text
