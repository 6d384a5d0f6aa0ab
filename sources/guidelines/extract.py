"""Guideline pages and PDFs to Markdown-ish text: `#` headings, `- ` bullets, paragraphs split by blank lines.

The entry point the organisation modules import from. HTML goes through trafilatura in `html_text.py`, PDFs through
pymupdf and a layout pass of our own in `pdf_text.py`; the text-level cleaning both share (tidying, title heading,
citation markers, reference lists, error pages) lives in `markdown.py`.
"""

from __future__ import annotations

from gap_replay.sources.guidelines.html_text import ExtractedPage, declared_charset, decode_html, html_to_markdown
from gap_replay.sources.guidelines.markdown import (
    drop_citation_markers,
    error_page_reason,
    tidy_markdown,
    with_title_heading,
)
from gap_replay.sources.guidelines.pdf_text import PDF_ERRORS, ExtractedPdf, pdf_to_markdown

__all__ = [
    "PDF_ERRORS",
    "ExtractedPage",
    "ExtractedPdf",
    "declared_charset",
    "decode_html",
    "drop_citation_markers",
    "error_page_reason",
    "html_to_markdown",
    "pdf_to_markdown",
    "tidy_markdown",
    "with_title_heading",
]
