import pickle
from pathlib import Path

import pytest
import trafilatura
from lxml import etree

from gap_replay.documents import Document
from gap_replay.recipe import FilterConfig
from gap_replay.text.clean import normalize_text
from gap_replay.text.quality import build_rules, first_failure

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="real sample files (../shared/samples) not present")

DEFAULT_RULES = build_rules(FilterConfig())

# --- medical text that must pass with the defaults -------------------------------------------------------------

ABSTRACT_60_WORDS = (
    "Background: Iron deficiency is common in pregnancy. Methods: We randomised 240 women at 16 weeks to daily or "
    "alternate-day oral iron (60 mg elemental). Results: Haemoglobin at 28 weeks was similar (mean difference "
    "0.8 g/L, 95% CI -1.9 to 3.5), while gastrointestinal side effects fell from 41% to 22% (p < 0.01). "
    "Conclusion: Alternate-day dosing is as effective and better tolerated."
)

DOSING_TABLE = """# Neonatal sepsis: empirical antibiotics

Start treatment within one hour of the decision to treat. Adjust the gentamicin interval to the baby's
gestational age and check trough levels before the third dose.

| Drug | Dose | Interval | Route |
|---|---|---|---|
| Benzylpenicillin | 25 mg/kg | every 12 h | IV |
| Gentamicin | 5 mg/kg | every 36 h | IV |
| Cefotaxime | 50 mg/kg | every 12 h | IV |
| Amoxicillin | 30 mg/kg | every 12 h | IV or oral |

Give 7 days in total for culture-positive sepsis and 48 hours when cultures are negative."""

BULLET_RECOMMENDATIONS = """## Recommendations

- Offer a fasting plasma glucose test to adults with symptoms of hyperglycaemia.
- Diagnose diabetes when fasting glucose is 7.0 mmol/L or more on two occasions.
- Use HbA1c 48 mmol/mol (6.5%) as an alternative where assays are quality assured.
- Do not use HbA1c in pregnancy, in children, or after recent blood loss.
- Repeat the test within 2 weeks if the first result is borderline.
- Refer people with suspected type 1 diabetes to a specialist team on the same day."""

FORMULA = """# Estimating body size

Body mass index is calculated from weight and height:

BMI = weight (kg) / height (m)^2

Body surface area (Mosteller) is used for chemotherapy dosing:

BSA (m^2) = sqrt(height (cm) x weight (kg) / 3600)

For an adult of 70 kg and 175 cm, the BMI is 22.9 kg/m^2 and the body surface area is 1.84 m^2. Recalculate
both whenever weight changes by more than 10%, because doses based on an outdated weight are a frequent cause
of toxicity."""

# A checklist: "- Yes" / "- No" / "- N/A" repeat on every item but are too short to count as duplicate lines.
CHECKLIST = "# Hand hygiene audit\n\n" + "\n".join(
    f"{number}. {item}\n   - Yes\n   - No\n   - N/A"
    for number, item in enumerate(
        [
            "Alcohol-based hand rub is available at every point of care.",
            "Staff clean their hands before touching a patient.",
            "Staff clean their hands after contact with body fluids.",
            "Gloves are removed and hands cleaned before leaving the room.",
            "Posters showing the five moments are displayed in each ward.",
            "Soap and single-use towels are available at each sink.",
        ],
        start=1,
    )
)

# --- junk that must fail ---------------------------------------------------------------------------------------

COOKIE_BANNER = """We value your privacy
We use cookies to improve your experience on our website.
Accept all cookies
Reject all
Manage preferences
Privacy policy | Cookie policy | Terms of use"""

LINK_LIST = "# Fact sheets: diseases\n\n" + "\n".join(
    f"- {name}\n  Updated {month} 2014"
    for name, month in [
        ("Buruli ulcer", "March"),
        ("Chagas disease", "April"),
        ("Cholera", "February"),
        ("Dengue and severe dengue", "May"),
        ("Ebola virus disease", "September"),
        ("Hepatitis A", "June"),
        ("Hepatitis B", "July"),
        ("Leishmaniasis", "January"),
        ("Leprosy", "October"),
        ("Lymphatic filariasis", "November"),
        ("Poliomyelitis", "December"),
        ("Yellow fever", "August"),
    ]
)

TEASERS = "\n".join(
    [
        "Researchers report that a short daily walk after dinner may lower blood sugar in older adults with...",
        "A large new study suggests that people who sleep fewer than six hours each night could face a...",
        "Doctors are warning parents about a surprising everyday habit that may be harming the teeth of their...",
        "Scientists have found an unexpected link between the bacteria living in our gut and the way we...",
        "Five simple changes to your breakfast that nutrition experts say could help you feel full until...",
    ]
)

REPEATED_LINES = "\n".join(
    ["Subscribe to our newsletter for the latest health news"] * 6
    + ["Flu season is here: get your vaccine at a pharmacy near you."]
    + ["Subscribe to our newsletter for the latest health news"] * 4
)

HASHTAGS = " ".join(["#health #wellness #fitness ... amazing tips #diet #nutrition ... follow #gym"] * 8)

SYMBOLS_ONLY = "$$$ *** !!! ### ... >>> <<< ||| ~~~ +++ === %%% @@@ &&& ^^^ ??? ;;; ::: ''' \"\"\""

NUMBER_DUMP = "Lot numbers " + " ".join(str(7_340_000 + 37 * index) for index in range(80))

HASH_BLOB = "checksum " + " ".join(f"{index:08x}9f3ad2c4b8e1f07d6a5c3b2e1f0a9d8c7b6" for index in range(60))


def doc(text: str, **meta) -> Document:
    return Document(id="guidelines/who:test", source="guidelines", subsource="who", text=text, meta=meta)


@pytest.mark.parametrize(
    "text",
    [ABSTRACT_60_WORDS, DOSING_TABLE, BULLET_RECOMMENDATIONS, FORMULA, CHECKLIST],
    ids=["60-word abstract", "dosing table", "bullet recommendations", "formula", "yes-no checklist"],
)
def test_medical_text_passes_the_default_rules(text):
    assert len(text.split()) >= 50
    assert first_failure(doc(text), DEFAULT_RULES) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (COOKIE_BANNER, "too_few_words"),
        (LINK_LIST, "line_punctuation"),
        (TEASERS, "ellipsis_lines"),
        (REPEATED_LINES, "duplicate_lines"),
        (HASHTAGS, "symbol_ratio"),
        (SYMBOLS_ONLY, "too_few_words"),
        (NUMBER_DUMP, "alpha_word_ratio"),
        (HASH_BLOB, "mean_word_length"),
    ],
    ids=["cookie banner", "link list", "teasers", "repeated lines", "hashtags", "symbols", "numbers", "hashes"],
)
def test_junk_fails_with_its_reason(text, reason):
    assert first_failure(doc(text), DEFAULT_RULES) == reason


def test_markdown_heading_marks_are_not_counted_as_symbols():
    sections = "\n\n".join(
        f"### {title}\n\nAssess {title.lower()} at every visit."
        for title in ["Pain", "Mobility", "Nutrition", "Sleep", "Mood", "Skin integrity"]
    )
    rules = build_rules(FilterConfig(min_words=10))
    assert first_failure(doc(sections), rules) is None
    assert first_failure(doc(sections.replace("### ", "#")), rules) == "symbol_ratio"


def test_repeated_section_headings_are_not_duplicate_lines():
    text = "\n\n".join(
        f"## Recommendation {number}\n\n{advice}\n\n### Rationale\n\n{rationale}"
        for number, (advice, rationale) in enumerate(
            [
                (
                    "Offer influenza vaccination every autumn to adults aged 65 and over.",
                    "Trials show fewer admissions.",
                ),
                ("Offer pneumococcal vaccination once to adults aged 65 and over.", "Invasive disease is prevented."),
                ("Offer shingles vaccination to adults aged 70 to 79 years.", "Post-herpetic neuralgia is reduced."),
            ],
            start=1,
        )
    )
    rules = build_rules(FilterConfig(min_words=10, max_duplicate_line_ratio=0.2))
    assert first_failure(doc(text), rules) is None
    assert first_failure(doc(text.replace("### Rationale", "Rationale and evidence")), rules) == "duplicate_lines"


def test_hard_wrapped_paragraphs_are_judged_by_their_last_line():
    paragraphs = [
        f"Patients with suspected {condition} should have\nlactate measured and blood cultures taken\n"
        f"before the first dose of {drug} is given."
        for condition, drug in [
            ("sepsis", "antibiotics"),
            ("meningitis", "ceftriaxone"),
            ("pyelonephritis", "gentamicin"),
            ("neutropenic fever", "piperacillin"),
            ("endocarditis", "vancomycin"),
            ("septic arthritis", "flucloxacillin"),
        ]
    ]
    text = "\n\n".join(paragraphs).replace("lactate measured and blood cultures taken", "blood cultures taken", 3)
    assert first_failure(doc(text), DEFAULT_RULES) is None
    assert first_failure(doc(text.replace(" is given.", " is given")), DEFAULT_RULES) == "line_punctuation"


def test_a_huge_separator_run_is_not_a_word():
    assert first_failure(doc(ABSTRACT_60_WORDS + "\n\n" + "=" * 200_000), DEFAULT_RULES) is None


def test_retracted_documents_are_dropped_unless_configured_otherwise():
    retracted = doc(ABSTRACT_60_WORDS, retracted=True)
    assert first_failure(retracted, DEFAULT_RULES) == "retracted"
    assert first_failure(retracted, build_rules(FilterConfig(drop_retracted=False))) is None


def test_too_many_words_is_its_own_reason():
    assert first_failure(doc(ABSTRACT_60_WORDS), build_rules(FilterConfig(max_words=40))) == "too_many_words"


def test_the_first_failing_rule_gives_the_reason():
    assert first_failure(doc("Too short.", retracted=True), DEFAULT_RULES) == "retracted"


def test_ratio_rules_at_their_no_op_bounds_are_left_out():
    relaxed = FilterConfig(
        drop_retracted=False, min_alpha_word_ratio=0.0, max_ellipsis_line_ratio=1.0, max_duplicate_line_ratio=1.0
    )
    assert len(build_rules(relaxed)) == len(DEFAULT_RULES) - 4
    assert first_failure(doc(NUMBER_DUMP), build_rules(relaxed)) is None


def test_rules_survive_pickling():
    assert pickle.loads(pickle.dumps(DEFAULT_RULES)) == DEFAULT_RULES


@needs_samples
def test_real_health_pages_pass_and_the_link_index_fails():
    reasons = {}
    for path in sorted((SAMPLES / "guidelines/html").glob("*.html")):
        text = trafilatura.extract(path.read_bytes(), output_format="markdown", include_formatting=True)
        reasons[path.stem] = first_failure(doc(normalize_text(text)), DEFAULT_RULES)
    assert reasons.pop("who.int_infectious-diseases-factsheet-index_2016") == "line_punctuation"
    assert len(reasons) == 6
    assert set(reasons.values()) == {None}


@needs_samples
def test_real_english_pubmed_abstracts_fail_only_for_being_short():
    reasons = []
    for name in ["pubmed21n1298_slice1023.xml.gz", "medline16n0902.xml.gz"]:
        for citation in etree.parse(str(SAMPLES / "pubmed" / name)).getroot().iter("MedlineCitation"):
            parts = [
                f"{part.get('Label')}: {''.join(part.itertext())}" if part.get("Label") else "".join(part.itertext())
                for part in citation.iterfind(".//Abstract/AbstractText")
            ]
            if parts and citation.findtext(".//Language") == "eng":
                title = "".join(citation.find(".//ArticleTitle").itertext())
                reasons.append(first_failure(doc(normalize_text(f"{title}\n\n" + "\n".join(parts))), DEFAULT_RULES))
    assert len(reasons) > 1000
    assert set(reasons) <= {None, "too_few_words"}
    assert reasons.count("too_few_words") < 0.01 * len(reasons)


@needs_samples
def test_real_pmc_article_bodies_pass():
    for path in sorted((SAMPLES / "pmc").glob("*.nxml")):
        body = etree.parse(str(path)).getroot().find(".//body")
        blocks = ["".join(element.itertext()) for element in body.iter("title", "p")]
        assert first_failure(doc(normalize_text("\n\n".join(blocks))), DEFAULT_RULES) is None, path.name


# --- licences: what an open corpus keeps -------------------------------------------------------------------------


def licensed(license: str | None, **meta) -> Document:
    return Document(id="pmc:PMC1", source="pmc", subsource="pmc", text=ABSTRACT_60_WORDS, license=license, meta=meta)


@pytest.mark.parametrize(
    ("license", "kept"),
    [
        ("CC-BY-4.0", True),
        ("CC-BY-3.0", True),
        ("CC-BY-SA-4.0", True),
        ("CC-BY-ND-4.0", True),
        ("CC0-1.0", True),
        ("CC-BY", True),  # an article that states no version
        ("CC-BY-SA", True),
        ("CC-BY-ND", True),
        ("CC-BY-NC", False),
        ("CC-BY-NC-ND", False),
        ("CC-BYX", False),
        ("CC-BY-NC-4.0", False),
        ("CC-BY-NC-SA-3.0", False),
        ("CC-BY-NC-ND-4.0", False),
        ("public-domain", False),
        ("NLM-PubMed-terms", False),
        (None, False),
    ],
)
def test_the_biomistral_list_keeps_the_licences_that_allow_commercial_redistribution(license, kept):
    rules = build_rules(FilterConfig(allowed_licenses="biomistral"))
    assert first_failure(licensed(license), rules) == (None if kept else "license_not_allowed")


def test_an_explicit_licence_list_is_glob_patterns_and_an_empty_one_keeps_nothing():
    assert first_failure(licensed("CC-BY-SA-3.0"), build_rules(FilterConfig(allowed_licenses=["CC-BY-SA-*"]))) is None
    assert first_failure(licensed("CC-BY-3.0"), build_rules(FilterConfig(allowed_licenses=["CC-BY-SA-*"]))) == (
        "license_not_allowed"
    )
    assert first_failure(licensed("CC0-1.0"), build_rules(FilterConfig(allowed_licenses=[]))) == "license_not_allowed"


@pytest.mark.parametrize(
    ("meta", "kept"), [({"redistributable": True}, True), ({"redistributable": False}, False), ({}, False)]
)
def test_redistributable_only_keeps_what_the_source_marks_redistributable(meta, kept):
    rules = build_rules(FilterConfig(redistributable_only=True))
    assert first_failure(licensed("CC-BY-NC-SA-3.0-IGO", **meta), rules) == (None if kept else "not_redistributable")


def test_without_licence_settings_every_licence_is_kept():
    assert first_failure(licensed(None), DEFAULT_RULES) is None


def test_an_unknown_licence_list_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown licence list 'openish'; known: biomistral"):
        FilterConfig(allowed_licenses="openish")


def test_a_page_its_parser_recognised_as_an_error_page_is_dropped_with_its_own_reason():
    error = Document(id="guidelines/x:a", source="guidelines", subsource="x", text=DOSING_TABLE)
    assert first_failure(error.replace(meta={"error_page": "page not found"}), DEFAULT_RULES) == "error_page"
    assert first_failure(error.replace(meta={"error_page": None}), DEFAULT_RULES) is None
