"""The synthetic corpora `make bench` times: PubMed baseline files served from a loopback mirror, and a JSONL
collection that states no language (so every document needs language ID), curated through the `local` source.

Both are seeded, so every run times the same bytes; both plant what curate must remove (exact and near duplicates,
and in the JSONL collection text in other languages and navigation junk), so every step has work to do.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

from gap_replay.recipe import Recipe, parse_recipe

WORDS = [
    "patients",
    "treatment",
    "clinical",
    "risk",
    "disease",
    "therapy",
    "outcomes",
    "mortality",
    "infection",
    "dose",
    "trial",
    "cohort",
    "hospital",
    "blood",
    "pressure",
    "diabetes",
    "insulin",
    "cancer",
    "tumour",
    "chemotherapy",
    "vaccine",
    "antibody",
    "fever",
    "children",
    "adults",
    "women",
    "pregnancy",
    "cardiac",
    "stroke",
    "renal",
    "hepatic",
    "pulmonary",
    "asthma",
    "tuberculosis",
    "malaria",
    "antibiotic",
    "resistance",
    "screening",
    "diagnosis",
    "imaging",
    "biopsy",
    "survival",
    "relapse",
    "remission",
    "adverse",
    "events",
    "placebo",
    "randomised",
    "controlled",
    "follow-up",
    "months",
    "years",
    "significant",
    "reduced",
    "increased",
    "associated",
    "compared",
    "baseline",
    "incidence",
    "prevalence",
    "guideline",
    "recommendation",
    "evidence",
    "quality",
    "moderate",
    "high",
    "low",
    "surgery",
    "anaesthesia",
    "pain",
    "analgesia",
    "opioid",
    "dementia",
]
# Function words make the JSONL collection read as prose to a language detector, as real abstracts do.
GLUE = ["the", "of", "in", "and", "with", "for", "was", "were", "to", "a", "than", "after", "at", "by", "on", "not"]
OTHER_LANGUAGES = {
    "fr": "les patients traitement maladie avec dans pour une des est été chez enfants risque essai dose sang "
    "pression diabète infection fièvre hôpital résultats étude mois années plus moins",
    "es": "los pacientes tratamiento enfermedad con para una del fue en niños riesgo ensayo dosis sangre presión "
    "diabetes infección fiebre hospital resultados estudio meses años más menos",
    "de": "die Patienten Behandlung Krankheit mit für eine der wurde bei Kindern Risiko Studie Dosis Blut Druck "
    "Diabetes Infektion Fieber Krankenhaus Ergebnisse Monate Jahre mehr weniger und nicht",
}
NAVIGATION = "Home | About us | Contact | Privacy | Cookies | Sitemap | Log in | Search | Newsletter | Careers"

ARTICLE = """<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>
<Article PubModel="Print"><Journal><Title>Synthetic Journal of Medicine</Title><JournalIssue><PubDate><Year>2025</Year>
<Month>Mar</Month></PubDate></JournalIssue></Journal><ArticleTitle>{title}</ArticleTitle><Abstract>
<AbstractText Label="BACKGROUND">{background}</AbstractText><AbstractText Label="RESULTS">{results}</AbstractText>
</Abstract><Language>eng</Language><PublicationTypeList><PublicationType>Journal Article</PublicationType>
</PublicationTypeList></Article></MedlineCitation></PubmedArticle>
"""


def _sentence(rng: random.Random, words: list[str] | tuple[str, ...] = WORDS) -> str:
    words = [rng.choice(words) for _ in range(rng.randint(8, 18))]
    words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 500)} mg")
    return " ".join(words).capitalize() + "."


def _prose(rng: random.Random) -> str:
    """An English sentence: medical words with function words between them."""
    words = []
    for _ in range(rng.randint(8, 18)):
        words.append(rng.choice(WORDS))
        if rng.random() < 0.6:
            words.append(rng.choice(GLUE))
    words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 500)} mg")
    return " ".join(words).capitalize() + "."


def write_synthetic_pubmed(raw_dir: Path, documents: int, files: int = 4, seed: int = 0) -> int:
    """PubMed-style .xml.gz files of `documents` articles (2% exact and 2% near duplicates), each with NCBI's `.md5`
    beside it; returns bytes written."""
    rng = random.Random(seed)
    raw_dir.mkdir(parents=True, exist_ok=True)
    abstracts: list[tuple[str, str, str]] = []
    per_file = -(-documents // files)
    written = 0
    for number in range(files):
        path = raw_dir / f"pubmed26n{number + 1:04d}.xml.gz"
        with gzip.GzipFile(path, "wb", mtime=0) as out:
            out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n')
            for index in range(number * per_file, min(documents, (number + 1) * per_file)):
                roll = rng.random()
                if abstracts and roll < 0.02:
                    title, background, results = rng.choice(abstracts)
                elif abstracts and roll < 0.04:
                    title, background, results = rng.choice(abstracts)
                    results = results.replace(" the ", " a ", 1) + " Findings were consistent."
                else:
                    title = _sentence(rng)[:-1]
                    background = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
                    results = " ".join(_sentence(rng) for _ in range(rng.randint(4, 9)))
                    abstracts.append((title, background, results))
                article = ARTICLE.format(pmid=30_000_000 + index, title=title, background=background, results=results)
                out.write(article.encode())
            out.write(b"</PubmedArticleSet>\n")
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".md5").write_text(f"MD5({path.name})= {md5}\n")
        written += path.stat().st_size
    return written


def synthetic_text(rng: random.Random, min_bytes: int = 1024, max_bytes: int = 2048) -> str:
    """English paragraphs of `min_bytes` to `max_bytes` (UTF-8)."""
    target, paragraphs, size = rng.randint(min_bytes, max_bytes), [], 0
    while size < target:
        paragraph = " ".join(_prose(rng) for _ in range(rng.randint(2, 5)))
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 2
    return "\n\n".join(paragraphs).encode()[:max_bytes].decode("utf-8", "ignore").rsplit(" ", 1)[0] + "."


def synthetic_rows(documents: int, seed: int = 0) -> list[dict[str, str]]:
    """`documents` rows `{id, title, text}` of 1-2 KB, no language stated: 2% exact and 2% near copies of earlier
    rows, 4% in French, Spanish or German, 2% navigation junk; the rest English medical prose."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    languages = sorted(OTHER_LANGUAGES)
    for index in range(documents):
        roll = rng.random()
        if rows and roll < 0.02:
            text = rng.choice(rows)["text"]
        elif rows and roll < 0.04:
            text = rng.choice(rows)["text"].replace(" the ", " a ", 1) + "\n\nFindings were consistent."
        elif roll < 0.08:
            words = OTHER_LANGUAGES[languages[index % len(languages)]].split()
            text = "\n\n".join(" ".join(_sentence(rng, words) for _ in range(4)) for _ in range(rng.randint(3, 6)))
        elif roll < 0.10:
            text = "\n".join([NAVIGATION] * rng.randint(10, 25))
        else:
            text = synthetic_text(rng)
        rows.append({"id": f"doc-{index:07d}", "title": _sentence(rng)[:-1], "text": text})
    return rows


def write_synthetic_jsonl(folder: Path, documents: int, files: int = 1, seed: int = 0) -> int:
    """`synthetic_rows` in `files` JSONL files under `folder` (one file by default: curate must spread it over its
    workers); returns bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = synthetic_rows(documents, seed)
    per_file = -(-documents // files)
    written = 0
    for number in range(files):
        path = folder / f"collection-{number:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for row in rows[number * per_file : (number + 1) * per_file]:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        written += path.stat().st_size
    return written


_COMMON = {
    "http": {"delay_seconds": 0},
    "curated_shards": 1,
    "write_rejects": False,
    "split": {"valid_fraction": 0.01},
    "tokenizer": {"vocab_size": 8192},
    "shards": {"tokens_per_shard": 2_000_000},
}


def pubmed_recipe(output: Path) -> Recipe:
    """PubMed only, fetched from a loopback mirror of NCBI's baseline folder."""
    return parse_recipe(
        {
            "name": "bench-pubmed",
            "output": str(output),
            "mirror": True,
            **_COMMON,
            "sources": {
                "pubmed": {"filters": {"min_words": 40}, "update_url": None},
                "pmc": {"enabled": False},
                "guidelines": {"enabled": False},
                "replay": {"enabled": False},
            },
        }
    )


def jsonl_recipe(output: Path, collection: Path, decontamination: dict | None = None) -> Recipe:
    """The JSONL collection as a `local` source, language decided from the text; `decontamination` is the recipe's
    block (none by default)."""
    return parse_recipe(
        {
            "name": "bench-jsonl",
            "output": str(output),
            **_COMMON,
            "sources": {
                "local": {"enabled": True, "paths": [str(collection / "*.jsonl")], "license": "CC-BY-4.0"},
                "pubmed": {"enabled": False},
                "pmc": {"enabled": False},
                "guidelines": {"enabled": False},
                "replay": {"enabled": False},
            },
            **({"decontamination": decontamination} if decontamination else {}),
        }
    )


# What `synthetic_rows` appends to a near copy (after making its first " the " an " a ").
NEAR_COPY_SUFFIX = "\n\nFindings were consistent."


def planted_duplicates(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """(duplicate id, original id, kind) of every row of `synthetic_rows` that repeats an earlier one, by the
    generator's rules: "exact", the text of an earlier row; "near", an earlier row's text with its first " the " made
    " a " and NEAR_COPY_SUFFIX added; "navigation", a navigation-junk row after the first (each is NAVIGATION
    repeated, so any two have the same word n-grams whatever their line counts). The original named is the earliest
    row that fits, not necessarily the one the generator drew: a copy of a copy has its original's text, so the
    clusters these pairs make are the generator's."""
    first_with_text: dict[str, str] = {}
    first_near_source: dict[str, str] = {}
    first_navigation: str | None = None
    duplicates = []
    for row in rows:
        text, row_id = row["text"], row["id"]
        if set(text.split("\n")) == {NAVIGATION}:
            if first_navigation is not None:
                duplicates.append((row_id, first_navigation, "navigation"))
            first_navigation = first_navigation or row_id
        elif text in first_with_text:
            duplicates.append((row_id, first_with_text[text], "exact"))
        elif text.endswith(NEAR_COPY_SUFFIX) and text[: -len(NEAR_COPY_SUFFIX)] in first_near_source:
            duplicates.append((row_id, first_near_source[text[: -len(NEAR_COPY_SUFFIX)]], "near"))
        first_with_text.setdefault(text, row_id)
        first_near_source.setdefault(text.replace(" the ", " a ", 1), row_id)
    return duplicates


def row_kinds(rows: list[dict[str, str]]) -> dict[str, str]:
    """Each row's id -> "english", "other_language" or "navigation", by the generator's rules; a copy is of its
    original's kind (a near copy of French text ends in an English sentence, but is French text)."""
    foreign = {word.casefold() for words in OTHER_LANGUAGES.values() for word in words.split()}
    original_of = {duplicate: original for duplicate, original, _ in planted_duplicates(rows)}
    kinds: dict[str, str] = {}
    for row in rows:
        text, row_id = row["text"], row["id"]
        if row_id in original_of:
            kinds[row_id] = kinds[original_of[row_id]]
        elif set(text.split("\n")) == {NAVIGATION}:
            kinds[row_id] = "navigation"
        else:
            words = {word.strip(".").casefold() for word in text.split()} - {"mg"}
            foreign_only = all(word in foreign or word.isdigit() for word in words)
            kinds[row_id] = "other_language" if foreign_only else "english"
    return kinds
