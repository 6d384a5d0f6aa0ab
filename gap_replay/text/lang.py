"""Language of a document: the one its source states (PubMed's `eng`, `fre`...) or langdetect's, seeded.

langdetect samples n-grams at random, so an unseeded detector can answer differently for the same text; here the
seed is fixed and a fresh detector is made per call, which makes the answer a pure function of the text. Only a
prefix is examined: the language of a medical document is settled in its first paragraphs, and detection time
grows with length.
"""

from __future__ import annotations

import functools

from langdetect import detector_factory
from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from gap_replay.documents import Document
from gap_replay.recipe import LanguageConfig

SEED = 0

# ISO 639-1 code -> its ISO 639-2 codes (bibliographic and terminology forms; PubMed uses the bibliographic ones,
# plus the retired `scc`/`scr` for Serbian and Croatian).
_ISO639_2 = {
    "af": "afr",
    "am": "amh",
    "ar": "ara",
    "az": "aze",
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "bo": "tib bod",
    "bs": "bos",
    "ca": "cat",
    "cs": "cze ces",
    "cy": "wel cym",
    "da": "dan",
    "de": "ger deu",
    "el": "gre ell",
    "en": "eng",
    "eo": "epo",
    "es": "spa",
    "et": "est",
    "eu": "baq eus",
    "fa": "per fas",
    "fi": "fin",
    "fr": "fre fra",
    "ga": "gle",
    "gd": "gla",
    "gl": "glg",
    "gu": "guj",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv scr",
    "hu": "hun",
    "hy": "arm hye",
    "id": "ind",
    "is": "ice isl",
    "it": "ita",
    "ja": "jpn",
    "ka": "geo kat",
    "kk": "kaz",
    "km": "khm",
    "kn": "kan",
    "ko": "kor",
    "la": "lat",
    "lt": "lit",
    "lv": "lav",
    "mi": "mao mri",
    "mk": "mac mkd",
    "ml": "mal",
    "mn": "mon",
    "mr": "mar",
    "ms": "may msa",
    "mt": "mlt",
    "my": "bur mya",
    "nb": "nob",
    "ne": "nep",
    "nl": "dut nld",
    "nn": "nno",
    "no": "nor",
    "pa": "pan",
    "pl": "pol",
    "ps": "pus",
    "pt": "por",
    "ro": "rum ron mol",
    "ru": "rus",
    "rw": "kin",
    "sa": "san",
    "si": "sin",
    "sk": "slo slk",
    "sl": "slv",
    "so": "som",
    "sq": "alb sqi",
    "sr": "srp scc",
    "sv": "swe",
    "sw": "swa",
    "ta": "tam",
    "te": "tel",
    "th": "tha",
    "tl": "tgl",
    "tr": "tur",
    "uk": "ukr",
    "ur": "urd",
    "uz": "uzb",
    "vi": "vie",
    "xh": "xho",
    "yi": "yid",
    "zh": "chi zho",
    "zu": "zul",
}
_TO_ISO639_1 = {three: two for two, threes in _ISO639_2.items() for three in threes.split()}


def iso639_1(code: str | None) -> str | None:
    """The two-letter code of a language code (`eng` -> `en`, `zh-cn` -> `zh`); None when unknown or undetermined."""
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if len(primary) == 2 and primary.isalpha():
        return primary
    return _TO_ISO639_1.get(primary)


@functools.cache
def _factory() -> DetectorFactory:
    """langdetect's shared factory with its language profiles, loaded once per process (about a second)."""
    detector_factory.init_factory()
    return detector_factory._factory


def detect_language(text: str, prefix_chars: int = 2000) -> tuple[str | None, float]:
    """The most probable language of the text's prefix and its probability; (None, 0.0) when undecidable."""
    prefix = text[:prefix_chars]
    if not any(char.isalpha() for char in prefix):
        return None, 0.0
    DetectorFactory.seed = SEED
    detector = _factory().create()
    try:
        detector.append(prefix)
        probabilities = detector.get_probabilities()
    except LangDetectException:
        return None, 0.0
    if not probabilities:
        return None, 0.0
    return iso639_1(probabilities[0].lang), probabilities[0].prob


def document_language(doc: Document, config: LanguageConfig) -> tuple[str | None, float, str]:
    """(language, probability, how): the source's stated language when trusted and known, else the detected one."""
    if config.trust_stated:
        stated = iso639_1(doc.lang)
        if stated:
            return stated, 1.0, "stated"
    language, probability = detect_language(doc.text, config.prefix_chars)
    return language, probability, "detected"
