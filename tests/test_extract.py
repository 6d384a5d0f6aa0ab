"""Guideline text extraction: web pages (trafilatura) and PDFs (pymupdf) to Markdown-ish text."""

import os
import re
from pathlib import Path

import pymupdf
import pytest

from gap_replay.sources.base import ParseError
from gap_replay.sources.guidelines.extract import (
    declared_charset,
    decode_html,
    html_to_markdown,
    pdf_to_markdown,
    tidy_markdown,
    with_title_heading,
)

FIXTURES = Path(__file__).parent / "fixtures" / "guidelines"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "guidelines"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real sample files not present ({SAMPLES})")

RUNNING_HEADER = "Malaria vector control handbook, second edition"


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


def test_tidy_joins_bare_bullets_and_collapses_blank_lines() -> None:
    assert tidy_markdown("- \nMeasles\n\t\t\n\n\n\nUpdated 2014  \n") == "- Measles\n\nUpdated 2014"


@pytest.mark.parametrize("data", [b"", b"\x00\x01 binary", b"<html><body><script>var a = 1;</script></body></html>"])
def test_page_without_content_gives_empty_text(data: bytes) -> None:
    assert html_to_markdown(data).text == ""


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
        lambda data: os.urandom(4000),
        lambda data: b"%PDF-1.7\n" + os.urandom(4000) + b"\n%%EOF\n",
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
