"""The guideline extractors' text rules (`sources/guidelines/markdown.py`) on both sides of each boundary: error pages,
the title heading, Markdown tidying, sub- and superscripts, citation markers and reference lists. Expected values are
worked out by hand from each rule's docstring and constants."""

import pytest

from gap_replay.sources.guidelines.markdown import (
    _heading_level,
    _reference_section_end,
    drop_citation_markers,
    drop_reference_sections,
    error_page_reason,
    is_exponent,
    reads_like_reference,
    script_text,
    tidy_markdown,
    with_title_heading,
)


def filler(count: int) -> str:
    """`count` words of text that say nothing of errors."""
    return " ".join(["fluids"] * count)


# --- error pages ---------------------------------------------------------------------------------------------------

NOT_FOUND_SENTENCE = "The page you requested could not be found."  # 8 words


def page_titled(label: str, given_as: str) -> tuple[str | None, str]:
    """A short page's (title, text) with `label` as its title, its first heading, or a heading under a line."""
    if given_as == "title":
        return label, filler(5)
    if given_as == "first heading":
        return None, f"# {label}\n\n{filler(5)}"
    return None, f"{filler(2)}\n  ## {label}\n{filler(5)}"


@pytest.mark.parametrize(
    ("title", "text", "reason"),
    [
        ("Not Found", filler(200), "page not found"),
        ("Not Found", filler(201), None),
        (None, f"# Not Found\n\n{filler(198)}", "page not found"),  # the heading's 2 words count
        (None, f"# Not Found\n\n{filler(199)}", None),
        ("Not Found", f"{filler(197)} 3.5 mg", "page not found"),  # `3.5` is two words: 200 in all
        ("Not Found", f"{filler(198)} 3.5 mg", None),  # 201 words, though 200 split by spaces
    ],
    ids=["title-200", "title-201", "heading-200", "heading-201", "counted-200", "counted-201"],
)
def test_an_error_title_with_200_words_is_an_error_page_and_201_is_not(
    title: str | None, text: str, reason: str | None
) -> None:
    assert error_page_reason(title, text) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{NOT_FOUND_SENTENCE} {filler(92)}", "page not found"),
        (f"{NOT_FOUND_SENTENCE} {filler(93)}", None),
        (f"{NOT_FOUND_SENTENCE} {filler(150)}", None),
    ],
    ids=["100-words", "101-words", "150-words"],
)
def test_an_error_sentence_in_100_words_is_an_error_page_and_in_101_is_not(text: str, reason: str | None) -> None:
    assert error_page_reason(None, text) == reason


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("Not Found", "page not found"),
        ("Unauthorised", "access denied"),
        ("Forbidden", "access denied"),
        ("Bad Gateway", "server error"),
        ("Error", "server error"),
        ("Attention Required! | Cloudflare", "bot check"),
    ],
)
@pytest.mark.parametrize("given_as", ["title", "first heading", "heading under a line"])
def test_each_error_title_names_its_reason_as_title_or_first_heading(label: str, reason: str, given_as: str) -> None:
    assert error_page_reason(*page_titled(label, given_as)) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (NOT_FOUND_SENTENCE, "page not found"),
        ("You do not have permission to access this document.", "access denied"),
        ("An error occurred while processing your request.", "server error"),
        ("Please complete the CAPTCHA to continue.", "bot check"),
    ],
)
def test_each_error_sentence_names_its_reason(text: str, reason: str) -> None:
    assert error_page_reason(None, f"{filler(3)}\n\n{text}") == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# Forbidden\n\n# Notice\n\nfluids", "access denied"),
        ("# Notice\n\n# Forbidden\n\nfluids", None),  # only the first heading is the page's title
    ],
)
def test_only_the_first_heading_is_read_as_a_title(text: str, reason: str | None) -> None:
    assert error_page_reason(None, text) == reason


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Health agency | 404", "page not found"),
        ("Health agency - Not found", "page not found"),
        ("Health agency::Not found", "page not found"),
        ("Error :: Health agency", "server error"),
        ("Forbidden · Health agency", "access denied"),
        ("Health agency » Unauthorized", "access denied"),
        ("Health agency — Just a moment", "bot check"),
        ("Health agency|Not found", None),  # a bar is a separator only with spaces around it
        ("Health agency -Not found", None),
        ("Health agency-404", None),
    ],
)
def test_a_title_says_error_in_any_of_its_separated_parts(title: str, reason: str | None) -> None:
    assert error_page_reason(title, "Try the search box.") == reason


@pytest.mark.parametrize(
    ("title", "text", "reason"),
    [
        ("Forbidden", NOT_FOUND_SENTENCE, "page not found"),
        ("Bad Gateway", "You do not have permission to access this document.", "access denied"),
        ("Not Found", "Checking your browser before accessing the site.", "page not found"),
    ],
)
def test_when_two_reasons_match_the_first_in_order_is_given(title: str, text: str, reason: str) -> None:
    """The order is page not found, access denied, server error, bot check; title or text alike."""
    assert error_page_reason(title, text) == reason


@pytest.mark.parametrize(
    ("title", "text"),
    [(None, "Give fluids."), ("Croup in children", "Give fluids."), (None, "# Croup in children\n\nGive fluids.")],
)
def test_a_short_page_without_an_error_title_or_sentence_is_no_error_page(title: str | None, text: str) -> None:
    assert error_page_reason(title, text) is None


# --- the title heading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "text"), [(None, "Dengue is common."), ("", "Dengue is common."), ("Dengue", "")])
def test_without_a_title_or_a_text_the_text_is_returned_as_it_is(title: str | None, text: str) -> None:
    assert with_title_heading(title, text) == text


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Dengue", "# Dengue: key facts\n\nText"),  # the title inside the first line
        ("Dengue and severe dengue", "Dengue\n\nText"),  # the first line inside the title
        ("DENGUE – key facts", "## Dengue: Key Facts\n\nText"),  # equal in words, whatever the case and marks
        ("Dengue", "\n\n   Dengue fact sheet\nText"),  # blank lines before the first line do not count
    ],
)
def test_a_text_opening_with_its_title_is_kept_as_it_is(title: str, text: str) -> None:
    assert with_title_heading(title, text) == text


@pytest.mark.parametrize(
    ("title", "text", "headed"),
    [
        ("Dengue", "Key facts\nDengue is common.", "# Dengue\n\nKey facts\nDengue is common."),  # the first line only
        ("Dengue", "* * *\n\nDengue is common.", "# Dengue\n\n* * *\n\nDengue is common."),  # a line without words
        ("  Dengue  ", "Key facts", "# Dengue\n\nKey facts"),
    ],
)
def test_a_text_not_opening_with_its_title_gets_the_title_heading(title: str, text: str, headed: str) -> None:
    assert with_title_heading(title, text) == headed


VITAMIN_D = "Vitamin D for infants"


@pytest.mark.parametrize(
    ("text", "moved"),
    [
        (
            "Position statement\n# Vitamin D for infants\nPosted: Oct 3, 2022",
            "# Vitamin D for infants\n\nPosition statement\nPosted: Oct 3, 2022",
        ),
        (
            "Position statement\nNutrition committee\n\n# Vitamin D for infants\n\nPosted.",
            "# Vitamin D for infants\n\nPosition statement\nNutrition committee\n\nPosted.",
        ),
        (
            "Position statement\n\n\n\nNutrition committee\n\n\n\n# Vitamin D for infants",
            "# Vitamin D for infants\n\nPosition statement\n\nNutrition committee",
        ),
        (
            "Position statement\n\n# VITAMIN D, for infants!\n\nPosted.",
            "# VITAMIN D, for infants!\n\nPosition statement\n\nPosted.",
        ),
    ],
    ids=["2nd-line", "3rd-line", "3rd-non-blank-line", "same-words"],
)
def test_a_title_heading_on_the_2nd_or_3rd_non_blank_line_moves_up(text: str, moved: str) -> None:
    assert with_title_heading(VITAMIN_D, text) == moved


@pytest.mark.parametrize(
    "text",
    [
        "Position statement\nNutrition committee\nPaediatric society\n# Vitamin D for infants\nPosted.",  # 4th line
        "Position statement\n\n## Vitamin D for infants\n\nPosted.",  # not level 1
        "Position statement\n\n#Vitamin D for infants\n\nPosted.",  # not a heading
        "Position statement\n\nVitamin D for infants\n\nPosted.",  # plain text
        "Position statement\n\n# Vitamin D\n\nPosted.",  # fewer words
        "Position statement\n\n# Vitamin D for infants and children\n\nPosted.",  # more words
    ],
    ids=["4th-line", "level-2", "no-space", "plain-line", "fewer-words", "more-words"],
)
def test_other_lines_near_the_top_are_not_moved_and_the_title_is_added(text: str) -> None:
    assert with_title_heading(VITAMIN_D, text) == f"# {VITAMIN_D}\n\n{text}"


# --- tidying Markdown ----------------------------------------------------------------------------------------------


def test_fenced_code_is_kept_as_it_is_and_tidying_resumes_after_the_fence() -> None:
    text = "Run:\n   ```bash\n  a  b\n\n\n\t-\n```\n    after  the   fence\n\n\n-\nitem"
    assert tidy_markdown(text) == "Run:\n```bash\n  a  b\n\n\n\t-\n```\nafter the fence\n\n- item"


@pytest.mark.parametrize(
    ("line", "tidied"),
    [
        ("a  b", "a b"),
        ("a b", "a b"),
        ("a\tb", "a b"),
        ("a \t b", "a b"),
        ("a\u00a0\u00a0b", "a b"),
        ("a\u00a0b", "a\u00a0b"),
        ("a b   ", "a b"),
    ],
    ids=["two-spaces", "one-space", "one-tab", "mixed-run", "two-nbsp", "one-nbsp", "trailing"],
)
def test_whitespace_runs_inside_a_line_become_one_space(line: str, tidied: str) -> None:
    assert tidy_markdown(f"Intro\n{line}") == f"Intro\n{tidied}"


@pytest.mark.parametrize(
    ("text", "tidied"),
    [
        ("Vaccines:\n-\nMeasles\nMumps", "Vaccines:\n- Measles\nMumps"),
        ("Vaccines:\n*\nMeasles", "Vaccines:\n- Measles"),
        ("Vaccines:\n-\n\n \n\nMeasles\nMumps", "Vaccines:\n- Measles\nMumps"),  # blank lines between are skipped
        ("- Vaccines\n  -\n  Measles", "- Vaccines\n  - Measles"),  # a nested bare bullet keeps its depth
        ("Vaccines:\n+\nMeasles", "Vaccines:\n+\nMeasles"),  # `+` alone is no bullet
        ("Vaccines:\n-", "Vaccines:"),  # nothing to join: the bullet goes
        ("Vaccines:\n\n-\n\n", "Vaccines:"),
    ],
    ids=["dash", "star", "blank-lines", "nested", "plus", "last-line", "last-line-blanks"],
)
def test_a_bare_bullet_is_joined_to_the_next_non_blank_line(text: str, tidied: str) -> None:
    assert tidy_markdown(text) == tidied


@pytest.mark.parametrize(
    ("text", "tidied"),
    [
        ("A\n\n\n\nB", "A\n\nB"),
        ("A\n\nB\n\n\nC", "A\n\nB\n\nC"),
        ("A\n \t \n\u00a0\nB", "A\n\nB"),  # lines of whitespace are blank
        ("\n\n  \nA\nB", "A\nB"),
    ],
    ids=["run", "second-run", "whitespace-lines", "leading"],
)
def test_at_most_one_blank_line_in_a_row_and_none_first(text: str, tidied: str) -> None:
    assert tidy_markdown(text) == tidied


@pytest.mark.parametrize(
    ("depth", "kept"),
    [(0, 0), (2, 2), (4, 4), (5, 4), (8, 4)],
)
def test_a_nested_list_item_is_indented_at_most_4_more_than_the_item_before(depth: int, kept: int) -> None:
    assert tidy_markdown(f"Doses:\n- Adults\n{' ' * depth}- Children") == f"Doses:\n- Adults\n{' ' * kept}- Children"


@pytest.mark.parametrize(
    ("text", "tidied"),
    [
        ("- a\n      - b\n            - c", "- a\n    - b\n        - c"),  # each step capped on the last item's depth
        ("- a\n  - b\n- c", "- a\n  - b\n- c"),
        ("- a\n\n  - b", "- a\n\n  - b"),  # a blank line does not end the list
        ("- a\ntext\n  - b", "- a\ntext\n- b"),  # a line of text does
        ("Intro\n    - a\n- b", "Intro\n- a\n- b"),  # a list's first item is not indented
    ],
    ids=["capped-twice", "back-out", "blank-line", "text-line", "first-item"],
)
def test_list_indentation_follows_the_item_before(text: str, tidied: str) -> None:
    assert tidy_markdown(text) == tidied


@pytest.mark.parametrize(
    ("text", "tidied"),
    [
        ("Intro\n    indented\n\tTabbed", "Intro\nindented\nTabbed"),
        ("- item\n  continued", "- item\ncontinued"),
    ],
)
def test_lines_that_are_not_list_items_lose_their_indentation(text: str, tidied: str) -> None:
    assert tidy_markdown(text) == tidied


@pytest.mark.parametrize(
    ("marker", "is_item"),
    [("1.", True), ("12)", True), ("123.", True), ("+", True), ("*", True), ("1234.", False), ("1.5", False)],
)
def test_numbered_items_have_one_to_three_digits(marker: str, is_item: bool) -> None:
    indent = "  " if is_item else ""
    assert tidy_markdown(f"- Doses:\n  {marker} daily") == f"- Doses:\n{indent}{marker} daily"


# --- sub- and superscripts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "inner", "before", "text"),
    [
        ("sup", "", "risk", ""),
        ("sup", " \n ", "10", ""),
        ("sub", "  ", "CO", ""),
        ("sup", " 2 ", "m", "^2"),  # whitespace inside goes
        ("sub", "2 ", "CO", "_2"),
    ],
)
def test_an_empty_script_reads_as_nothing_and_spaces_inside_go(kind: str, inner: str, before: str, text: str) -> None:
    assert script_text(kind, inner, before) == text


@pytest.mark.parametrize(
    ("inner", "before", "text"),
    [
        ("2", "CO", "_2"),
        ("2", "exhaled CO", "_2"),
        ("2", "(H", "_2"),
        ("2", "CO  ", "_2"),
        ("max", "C", "_max"),
        ("1", "5", "_1"),
        ("2", "(", "2"),
        ("a", "levels.", "a"),
        ("2", "", "2"),
        ("2", "  ", "2"),
    ],
)
def test_a_subscript_after_a_letter_or_digit_gets_an_underscore_and_otherwise_reads_plain(
    inner: str, before: str, text: str
) -> None:
    assert script_text("sub", inner, before) == text


@pytest.mark.parametrize(
    ("inner", "before", "text"),
    [
        ("®", "Panadol", "®"),
        ("™", "Brand", "™"),
        ("©", "2024", "©"),
        ("℠", "Service", "℠"),
        ("st", "1", "st"),
        ("nd", "the 2", "nd"),
        ("rd", "23 ", "rd"),
        ("th", "the 5", "th"),
        ("TH", "5", "TH"),
        ("th", "n", "^th"),  # after a letter it is no ordinal: the nth power
        ("st", "Fir", "^st"),
    ],
)
def test_trademark_signs_and_ordinals_after_a_digit_read_plain(inner: str, before: str, text: str) -> None:
    assert script_text("sup", inner, before) == text


@pytest.mark.parametrize(
    ("inner", "before"),
    [
        ("12", "risk"),
        ("3,4", "risk"),
        ("1-3", "disease"),
        ("1–3", "disease"),
        ("12*", "trial"),
        ("*", "trial"),
        ("†", "trial"),
        ("a", "trial"),
        ("12", "bleeding."),
        ("999", "risk"),
    ],
)
def test_a_citation_mark_after_a_word_is_dropped(inner: str, before: str) -> None:
    assert script_text("sup", inner, before) == ""


@pytest.mark.parametrize(
    ("inner", "before", "text"),
    [
        ("4", "10", "^4"),
        ("2", "10 ", "^2"),
        ("2", "m", "^2"),
        ("3", "mm", "^3"),
        ("-1", "s", "^-1"),
        ("a", "x", "^a"),
        ("+", "Rh", "^+"),  # not a citation mark, so it means something
        ("2+", "Ca", "^2+"),
        ("1000", "risk", "^1000"),  # four digits are no citation
    ],
)
def test_a_superscript_after_an_exponent_base_or_that_is_no_citation_mark_stays(
    inner: str, before: str, text: str
) -> None:
    assert script_text("sup", inner, before) == text


@pytest.mark.parametrize(
    "before",
    [
        "10",
        "dose 3",
        "dose 3  ",
        "x",
        "per m",
        *(f"2 {unit}" for unit in ("cm", "mm", "km", "dm", "nm", "µm", "μm", "um", "ft", "ms", "ml", "dl", "kg")),
        *(f"2 {unit}" for unit in ("mg", "mol", "mmol")),
        "2 MM",
        "2 Kg",
        "5mg",
        "4 mm  ",
    ],
)
def test_a_digit_a_single_letter_or_a_unit_is_an_exponent_base(before: str) -> None:
    assert is_exponent(before)


@pytest.mark.parametrize("before", ["in", "risk", "2 mmols", "disease.", "(2 m)", "", "   "])
def test_other_words_and_punctuation_are_no_exponent_base(before: str) -> None:
    assert not is_exponent(before)


# --- citations -----------------------------------------------------------------------------------------------------

REFERENCE_CUE_EXAMPLES = {
    "et al": "Jones et al, Lancet",
    "doi": "Croup trial, doi:10.1056/NEJMoa021",
    "volume and pages": "Lancet 331:1601-6",
    "web address": "Croup, https://www.who.int/croup",
    "authors": "Smith AB. Croup in children",
    "edited book": "In: Textbook of paediatrics",
}


@pytest.mark.parametrize("cue", sorted(REFERENCE_CUE_EXAMPLES))
def test_one_cue_reads_like_a_reference_with_a_year_and_not_without(cue: str) -> None:
    assert reads_like_reference(f"{REFERENCE_CUE_EXAMPLES[cue]}, 2019.")
    assert not reads_like_reference(f"{REFERENCE_CUE_EXAMPLES[cue]}.")


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("Croup peaked in the winter of 2019.", False),  # a year and no cue
        ("Smith AB, Jones C, et al. Croup in children.", True),  # two cues, no year
        ("Smith AB, et al. Lancet 331:1601-6.", True),  # three cues, no year
    ],
)
def test_two_cues_read_like_a_reference_without_a_year_and_a_year_alone_does_not(text: str, reference: bool) -> None:
    assert reads_like_reference(text) is reference


@pytest.mark.parametrize(
    ("year", "reference"),
    [("1799", False), ("1800", True), ("1999a", True), ("2099", True), ("2100", False), ("19999", False)],
)
def test_a_reference_year_runs_from_1800_to_2099(year: str, reference: bool) -> None:
    assert reads_like_reference(f"Jones et al, Lancet, {year}") is reference


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("Bleeding was rare [12].", "Bleeding was rare."),
        ("Bleeding was rare[12].", "Bleeding was rare."),
        ("rare [1, 2] and [3–5] or [ 7 ]", "rare and or"),
        ("rare [999].", "rare."),
        ("rare [1000].", "rare [1000]."),
        ("[12] Assess the airway.", "[12] Assess the airway."),
        ("Assess.\n\n[12] The airway.", "Assess.\n\n[12] The airway."),
        ("|[12]| Dose |", "|[12]| Dose |"),
    ],
    ids=["after-space", "after-word", "lists", "three-digits", "four-digits", "text-start", "line-start", "cell"],
)
def test_bracketed_citations_after_text_go_and_at_a_line_start_or_in_a_cell_stay(text: str, cleaned: str) -> None:
    assert drop_citation_markers(text) == cleaned


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("common in children¹² and", "common in children and"),
        ("Risk in women¹ rose.", "Risk in women rose."),
        ("in children.¹,³ It", "in children. It"),
        ("in children)¹⁻³ and", "in children) and"),
        ("over 2 m² of skin", "over 2 m² of skin"),
        ("m² of skin", "m² of skin"),
        ("the mean of x² and", "the mean of x² and"),
        ("2 mm³ of blood", "2 mm³ of blood"),
        ("2 mmol³ of blood", "2 mmol³ of blood"),
        ("10⁴ cells", "10⁴ cells"),
    ],
    ids=["word", "word-at-13", "after-stop", "after-bracket", "letter", "text-start", "x", "unit", "mmol", "digit"],
)
def test_superscript_digits_after_a_word_go_and_after_a_letter_or_unit_stay(text: str, cleaned: str) -> None:
    assert drop_citation_markers(text) == cleaned


# --- reference lists -----------------------------------------------------------------------------------------------

# Each reference has a year and at least one cue, and twelve words or more (long enough to count as prose otherwise).
REF_1 = "1. Smith AB, Jones C. Oral dexamethasone for croup in children seen in primary care. Lancet 2019;393:1-9."
REF_2 = "2. Brown D, Green E. Nebulised budesonide for croup in children admitted to hospital wards. BMJ 2018;356:j11."
REF_3 = "3. White F. A second dose of dexamethasone for croup in children who still have stridor. Thorax 2017;72:5-8."
# Paragraphs that do not read like references: short notes, and prose of exactly 12 and of 11 words.
NOTE_1 = "Further reading is listed on the agency site."
NOTE_2 = "Older editions are kept by the library."
NOTE_3 = "Ask the guideline team for copies."
PROSE_12_A = "Panels review this guidance every five years, or sooner when trials report."
PROSE_12_B = "Send comments on the guidance to the guideline team at any time."
PROSE_11_A = "Panels review this guidance every five years, or when trials report."
PROSE_11_B = "Send comments on the guidance to the guideline team by email."
PROSE_LONG = "The guideline team thanks the parents and children who took part in the consultation on this guidance."


def page(*lines: str) -> str:
    """A page of the given lines, one under another."""
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("# A", 1),
        ("## A", 2),
        ("### A", 3),
        ("#### A", 4),
        ("##### A", 5),
        ("###### A", 6),
        ("####### A", 0),
        ("#A", 0),
        ("A", 0),
        ("", 0),
    ],
)
def test_a_heading_has_one_to_six_hashes_and_a_space(line: str, level: int) -> None:
    assert _heading_level(line) == level


@pytest.mark.parametrize(
    ("paragraphs", "dropped"),
    [
        ((REF_1, NOTE_1, REF_2, NOTE_2), True),  # 2 of 4
        ((NOTE_1, REF_1), True),  # 1 of 2
        ((REF_1, REF_2), True),
        ((REF_1, NOTE_1, REF_2, NOTE_2, NOTE_3), False),  # 2 of 5
        ((NOTE_1, REF_1, NOTE_2), False),  # 1 of 3
        ((NOTE_1, NOTE_2), False),
    ],
    ids=["2-of-4", "1-of-2", "all", "2-of-5", "1-of-3", "none"],
)
def test_a_section_is_a_reference_list_when_half_its_paragraphs_read_like_references(
    paragraphs: tuple[str, ...], dropped: bool
) -> None:
    text = page("Intro.", "", "References", *paragraphs, "## Annex", "Text.")
    assert drop_reference_sections(text) == (page("Intro.", "", "## Annex", "Text.") if dropped else text)


@pytest.mark.parametrize(
    ("first", "second"),
    [(PROSE_12_A, PROSE_12_B), (PROSE_LONG, PROSE_12_B), (PROSE_12_A, PROSE_LONG)],
    ids=["12-and-12", "longer-first", "longer-second"],
)
def test_two_prose_paragraphs_of_12_words_or_more_end_a_reference_list_and_are_kept(first: str, second: str) -> None:
    text = page("Intro.", "", "References", "", REF_1, "", REF_2, "", first, "", second)
    assert drop_reference_sections(text) == page("Intro.", "", first, "", second)


def test_two_prose_paragraphs_of_11_words_do_not_end_a_reference_list() -> None:
    text = page("Intro.", "", "References", "", REF_1, "", REF_2, "", PROSE_11_A, "", PROSE_11_B)
    assert drop_reference_sections(text) == page("Intro.", "")  # 2 of 4 paragraphs read like references


def test_prose_paragraphs_end_a_reference_list_without_blank_lines_between() -> None:
    text = page("Intro.", "References", REF_1, REF_2, PROSE_12_A, PROSE_12_B)
    assert drop_reference_sections(text) == page("Intro.", PROSE_12_A, PROSE_12_B)


def test_one_prose_paragraph_between_references_does_not_end_the_list() -> None:
    text = page("Intro.", "References", REF_1, PROSE_12_A, REF_2, PROSE_12_B)
    assert drop_reference_sections(text) == "Intro."


def test_a_references_line_over_prose_is_kept() -> None:
    text = page("Intro.", "", "References", PROSE_12_A, PROSE_12_B, REF_1, REF_2)
    assert drop_reference_sections(text) == text


def test_long_references_in_a_row_are_not_prose() -> None:
    text = page("Intro.", "References", REF_1, REF_2, REF_3)
    assert drop_reference_sections(text) == "Intro."


@pytest.mark.parametrize(
    ("lines", "start", "level", "end"),
    [
        (["Intro.", "References", REF_1, "", PROSE_12_A, "", PROSE_12_B], 1, 0, 4),  # the first prose paragraph
        (["References", REF_1, REF_2, PROSE_12_A, PROSE_12_B], 0, 0, 3),
        (["References", REF_1, PROSE_12_A, REF_2, PROSE_12_B], 0, 0, 5),  # nothing ends it: the text's end
        (["Intro.", "References", PROSE_12_A, PROSE_12_B, REF_1], 1, 0, 2),  # prose at once: an empty list
        (["References", REF_1, "### Annex", REF_2], 0, 0, 2),
        (["## References", REF_1, "### Journals", REF_2, "## Annex"], 0, 2, 4),
    ],
)
def test_a_reference_list_ends_before_the_first_of_two_prose_paragraphs_or_at_a_heading(
    lines: list[str], start: int, level: int, end: int
) -> None:
    assert _reference_section_end(lines, start, level) == end


@pytest.mark.parametrize("heading", ["# Annex", "## Annex", "### Annex", "###### Annex"])
def test_a_plain_references_line_ends_at_any_heading(heading: str) -> None:
    text = page("Intro.", "References", REF_1, REF_2, heading, "Text.")
    assert drop_reference_sections(text) == page("Intro.", heading, "Text.")


def test_seven_hashes_are_no_heading_and_do_not_end_a_reference_list() -> None:
    text = page("Intro.", "References", REF_1, REF_2, "####### Annex", "Text.")
    assert drop_reference_sections(text) == "Intro."  # 2 of 4 paragraphs read like references


@pytest.mark.parametrize("heading", ["# Annex", "## Annex"])
def test_a_references_heading_ends_at_a_heading_of_its_level_or_higher(heading: str) -> None:
    text = page("Intro.", "## References", REF_1, REF_2, heading, "Text.")
    assert drop_reference_sections(text) == page("Intro.", heading, "Text.")


def test_a_references_heading_runs_on_through_lower_headings() -> None:
    text = page("Intro.", "## References", REF_1, "### Journal articles", REF_2, REF_3, "## Annex", "Text.")
    assert drop_reference_sections(text) == page("Intro.", "## Annex", "Text.")


@pytest.mark.parametrize(
    "heading",
    [
        "References",
        "REFERENCES",
        "## 7. Bibliography",
        "7.2 References",
        "Literature cited:",
        "### Notes and references",
        "Selected references :",
    ],
)
def test_reference_headings_numbered_or_not_open_a_reference_list(heading: str) -> None:
    text = page("Intro.", heading, REF_1, REF_2, "# Annex", "Text.")
    assert drop_reference_sections(text) == page("Intro.", "# Annex", "Text.")


@pytest.mark.parametrize("heading", ["####### References", "References to the trials", "Key facts"])
def test_other_lines_open_no_reference_list(heading: str) -> None:
    text = page("Intro.", heading, REF_1, REF_2)
    assert drop_reference_sections(text) == text


@pytest.mark.parametrize(
    "text",
    [
        page("Intro.", "References", "# Annex", REF_1, REF_2),
        page("Intro.", "## References", "", "## Annex", REF_1),
        page("Intro.", "References"),
        page("Intro.", "References", "", ""),
    ],
    ids=["heading-next", "blank-then-heading", "text-end", "blank-lines-only"],
)
def test_an_empty_reference_section_is_kept(text: str) -> None:
    assert drop_reference_sections(text) == text


def test_a_page_of_many_lines_is_read_to_its_end() -> None:
    text = page(*(f"Line {number}." for number in range(300)), "References", REF_1, REF_2)
    assert drop_reference_sections(text) == page(*(f"Line {number}." for number in range(300)))


def test_a_bracket_citation_never_takes_the_line_break_before_it() -> None:
    assert drop_citation_markers("Intro\n[1] Smith AB.") == "Intro\n[1] Smith AB."
    assert drop_citation_markers("as shown [12]\nnext") == "as shown\nnext"


def test_a_bracket_numbered_reference_list_under_its_heading_is_dropped() -> None:
    text = (
        "Intro.\nReferences\n[1] Smith AB, Jones C. Croup. Lancet 2019;393:1-9.\n"
        "[2] Brown D. Asthma in children. BMJ 2020;368:m1."
    )

    assert drop_reference_sections(drop_citation_markers(text)) == "Intro."


def test_a_list_indented_as_a_whole_keeps_its_items_side_by_side() -> None:
    assert tidy_markdown("Intro\n  - a\n  - b\n      - c\n  - d") == "Intro\n- a\n- b\n    - c\n- d"


@pytest.mark.parametrize(("title", "first"), [("Heart failure", "Art"), ("Malaria", "A"), ("Asthma", "Asthmatic")])
def test_a_first_line_matches_the_title_by_whole_words_only(title: str, first: str) -> None:
    assert with_title_heading(title, f"{first}\n\nText") == f"# {title}\n\n{first}\n\nText"


def test_a_bare_bullet_before_fenced_code_is_dropped() -> None:
    assert tidy_markdown("-\n```\ncode\n```\nText") == "```\ncode\n```\nText"


@pytest.mark.parametrize("text", ["# —\n\nText", "Text"])
def test_a_title_without_a_word_adds_no_heading(text: str) -> None:
    assert with_title_heading("—", text) == text


def test_an_item_nested_under_an_outdented_item_is_at_most_4_deeper_than_it() -> None:
    assert tidy_markdown("Intro\n    - a\n- b\n            - c") == "Intro\n- a\n- b\n    - c"
