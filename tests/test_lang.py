from pathlib import Path

import pytest
from langdetect.detector_factory import DetectorFactory
from lxml import etree

from gap_replay.documents import Document
from gap_replay.recipe import LanguageConfig
from gap_replay.text.lang import detect_language, document_language, iso639_1

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="real sample files (../shared/samples) not present")

ENGLISH = (
    "Children with fast breathing and no danger signs should receive oral amoxicillin for five days. "
    "Those with chest indrawing need a review within two days, and any child who cannot drink is referred."
)
PARAGRAPHS = {
    "fr": "Les enfants qui respirent rapidement sans signe de danger doivent recevoir de l'amoxicilline par voie "
    "orale pendant cinq jours. Un enfant qui ne peut pas boire doit être orienté vers l'hôpital sans attendre.",
    "de": "Kinder mit schneller Atmung und ohne Warnzeichen sollten fünf Tage lang Amoxicillin zum Einnehmen "
    "erhalten. Ein Kind, das nicht trinken kann, wird sofort in ein Krankenhaus überwiesen.",
    "es": "Los niños con respiración rápida y sin signos de peligro deben recibir amoxicilina por vía oral durante "
    "cinco días. Un niño que no puede beber debe ser remitido al hospital de inmediato.",
}


def doc(text: str, lang: str | None = None) -> Document:
    return Document(id="pubmed:1", source="pubmed", subsource="pubmed", text=text, lang=lang)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("eng", "en"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("ger", "de"),
        ("deu", "de"),
        ("chi", "zh"),
        ("scr", "hr"),
        ("EN", "en"),
        ("zh-cn", "zh"),
        ("pt_BR", "pt"),
        ("und", None),
        ("mul", None),
        ("", None),
        (None, None),
    ],
)
def test_iso639_1_maps_pubmed_and_langdetect_codes_to_two_letters(code, expected):
    assert iso639_1(code) == expected


def test_english_is_detected_with_high_probability():
    language, probability = detect_language(ENGLISH)
    assert language == "en" and probability > 0.9


@pytest.mark.parametrize("language", sorted(PARAGRAPHS))
def test_french_german_and_spanish_paragraphs_are_detected(language):
    assert detect_language(PARAGRAPHS[language])[0] == language


def test_detection_is_the_same_on_every_call():
    text = "Paracetamol 500 mg, ibuprofen 400 mg, amoxicilline 1 g"
    assert len({detect_language(text) for _ in range(20)}) == 1


def test_detection_does_not_depend_on_a_seed_changed_elsewhere():
    text = "Paracetamol 500 mg, ibuprofen 400 mg, amoxicilline 1 g"
    expected = detect_language(text)
    saved = DetectorFactory.seed
    try:
        DetectorFactory.seed = 12345
        assert detect_language(text) == expected
    finally:
        DetectorFactory.seed = saved


@pytest.mark.parametrize("text", ["", "12.5 / 3.0 -- 10^9 (95%)", "   \n\t "])
def test_text_without_letters_has_no_language(text):
    assert detect_language(text) == (None, 0.0)


def test_only_the_prefix_is_examined():
    text = ENGLISH + " " + PARAGRAPHS["fr"] * 20
    assert detect_language(text, prefix_chars=len(ENGLISH))[0] == "en"
    assert detect_language(text, prefix_chars=2000)[0] == "fr"


def test_stated_language_is_trusted_and_converted():
    assert document_language(doc(PARAGRAPHS["de"], lang="eng"), LanguageConfig()) == ("en", 1.0, "stated")


def test_stated_language_is_ignored_when_not_trusted():
    language, probability, how = document_language(
        doc(PARAGRAPHS["de"], lang="eng"), LanguageConfig(trust_stated=False)
    )
    assert (language, how) == ("de", "detected") and probability > 0.9


@pytest.mark.parametrize("stated", [None, "und"])
def test_missing_or_undetermined_stated_language_falls_back_to_detection(stated):
    assert document_language(doc(PARAGRAPHS["es"], lang=stated), LanguageConfig())[::2] == ("es", "detected")


@needs_samples
def test_real_pubmed_translated_abstracts_are_detected_in_their_stated_language():
    root = etree.parse(str(SAMPLES / "pubmed/pubmed21n1298_slice1023.xml.gz")).getroot()
    found = {}
    for other in root.iter("OtherAbstract"):
        text = " ".join("".join(part.itertext()) for part in other.iter("AbstractText"))
        found[other.getparent().findtext("PMID")] = (iso639_1(other.get("Language")), detect_language(text)[0])
    assert found["30600808"] == ("es", "es")
    assert found["32436023"] == ("de", "de")
    assert all(stated == detected for stated, detected in found.values())
