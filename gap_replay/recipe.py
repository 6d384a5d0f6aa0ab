"""The recipe: one YAML file that says which sources, which rules, which mix, which tokenizer, where to write.

Validated on load: an unknown key or a bad value is an error that names the file and the key.
"""

from __future__ import annotations

import hashlib
import os
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gap_replay import __version__

DEFAULT_USER_AGENT = f"gap-replay/{__version__} (medical corpus builder; polite crawler; obeys robots.txt)"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# A name that becomes one path segment (a folder or file under the output): it cannot be empty, `.` or `..`, hold a
# separator, or start with a dot or a dash.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
Name = Annotated[str, Field(pattern=SAFE_NAME)]
# Upper bounds keep a typo from sizing memory or work without end (`epochs: 1e6`, `limit: 1e12`).
MAX_FILES = 10_000_000
MAX_DOCUMENTS = 100_000_000
SOURCE_NAMES = ("guidelines", "pubmed", "pmc", "local", "replay")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(Strict):
    """The polite client: who we say we are, how long we wait between requests to one host, how hard we retry."""

    user_agent: Annotated[str, Field(min_length=1, max_length=500)] = DEFAULT_USER_AGENT
    delay_seconds: Annotated[float, Field(ge=0.0, le=3600.0)] = 1.0
    retries: Annotated[int, Field(ge=0, le=20)] = 5
    backoff_seconds: Annotated[float, Field(ge=0.0, le=600.0)] = 1.0
    timeout_seconds: Annotated[float, Field(gt=0.0, le=3600.0)] = 60.0
    # One file may take at most this long, retries included; a transfer slower than `min_bytes_per_second` over
    # `rate_window_seconds` is cut and retried, so one slow host cannot stall the crawl.
    file_deadline_seconds: Annotated[float, Field(gt=0.0, le=7 * 86400.0)] = 4 * 3600.0
    min_bytes_per_second: Annotated[int, Field(ge=0, le=1_000_000_000)] = 4096
    rate_window_seconds: Annotated[float, Field(gt=0.0, le=3600.0)] = 60.0
    # Pages and listings (read whole, unlike files) are bounded in size and time.
    max_page_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 64 << 20
    page_deadline_seconds: Annotated[float, Field(gt=0.0, le=86400.0)] = 300.0
    # After this many consecutive requests that find a host down, failing or too slow, the run gives it up (0: never).
    max_host_failures: Annotated[int, Field(ge=0, le=1000)] = 10


# Named licence allow-lists. `biomistral`: the PMC Open Access licences BioMistral kept (CC0, CC BY, CC BY-SA,
# CC BY-ND: reuse and redistribution allowed, commercial use included), as the ids the PMC parser writes: with a
# version, or without one where the article states none.
LICENSE_LISTS: dict[str, tuple[str, ...]] = {
    "biomistral": ("CC0-*", "CC-BY", "CC-BY-[0-9]*", "CC-BY-SA", "CC-BY-SA-*", "CC-BY-ND", "CC-BY-ND-*"),
}


class FilterConfig(Strict):
    """Quality thresholds of one source (Gopher/C4-style rules, calibrated per source), and which licences it keeps:
    `allowed_licenses` (glob patterns on the `license` field, or the name of a list in LICENSE_LISTS; None keeps
    every licence) and `redistributable_only` (only documents their source marks as redistributable)."""

    min_words: Annotated[int, Field(ge=0, le=1_000_000)] = 50
    max_words: Annotated[int, Field(ge=1, le=100_000_000)] = 2_000_000
    min_mean_word_length: Annotated[float, Field(ge=0.0, le=100.0)] = 2.5
    max_mean_word_length: Annotated[float, Field(ge=0.0, le=100.0)] = 12.0
    max_symbol_ratio: Fraction = 0.1
    min_alpha_word_ratio: Fraction = 0.6
    max_ellipsis_line_ratio: Fraction = 0.3
    max_duplicate_line_ratio: Fraction = 0.3
    min_line_punctuation_ratio: Fraction = 0.12
    drop_retracted: bool = True
    allowed_licenses: list[Annotated[str, Field(min_length=1, max_length=100)]] | str | None = None
    redistributable_only: bool = False

    @field_validator("allowed_licenses")
    @classmethod
    def _known_list(cls, value: list[str] | str | None) -> list[str] | str | None:
        if isinstance(value, str) and value not in LICENSE_LISTS:
            raise ValueError(f"unknown licence list {value!r}; known: {', '.join(sorted(LICENSE_LISTS))}")
        return value

    def license_patterns(self) -> tuple[str, ...] | None:
        """The allowed licences as glob patterns (a named list expanded); None when every licence is kept."""
        if isinstance(self.allowed_licenses, str):
            return LICENSE_LISTS[self.allowed_licenses]
        return None if self.allowed_licenses is None else tuple(self.allowed_licenses)


class CleanConfig(Strict):
    """Text clean-up of one source; line patterns are regular expressions matched against whole lines."""

    drop_line_patterns: Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=1000)] = Field(
        default_factory=list
    )
    max_blank_lines: Annotated[int, Field(ge=1, le=100)] = 1

    @field_validator("drop_line_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"bad regular expression {pattern!r}: {error}") from None
        return patterns


class SourceConfig(Strict):
    enabled: bool = True
    limit: Annotated[int, Field(ge=1, le=MAX_FILES)] | None = None
    clean: CleanConfig = CleanConfig()
    filters: FilterConfig = FilterConfig()


class PubMedConfig(SourceConfig):
    """NLM baseline and update files; `limit` caps the files taken from each listing."""

    baseline_url: str = "https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/"
    update_url: str | None = "https://ftp.ncbi.nlm.nih.gov/pubmed/updatefiles/"


class PmcConfig(SourceConfig):
    """PMC Open Access bulk packages; `limit` caps the packages taken per subset."""

    url: str = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/"
    subsets: list[Literal["oa_comm", "oa_noncomm", "oa_other"]] = ["oa_comm", "oa_noncomm", "oa_other"]
    max_table_cells: Annotated[int, Field(ge=0, le=1_000_000)] = 400


class OrganisationConfig(Strict):
    """One guideline organisation; `url` overrides the module's start URL, `limit` caps its documents."""

    enabled: bool = True
    url: str | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_DOCUMENTS)] | None = None


class GuidelinesConfig(SourceConfig):
    """Organisations by key; a key names the folder `raw/guidelines/<key>/`, so it is a safe file name."""

    organisations: dict[Name, OrganisationConfig] = Field(default_factory=lambda: {"who": OrganisationConfig()})


class ReplayConfig(SourceConfig):
    """RedPajama-v1 subsets, from its `urls.txt` listing; `limit` caps the files per subset."""

    url: str = "https://data.together.xyz/redpajama-data-1T/v1.0.0/urls.txt"
    subsets: list[Name] = ["wikipedia", "arxiv", "book", "stackexchange"]
    max_documents_per_file: Annotated[int, Field(ge=1, le=MAX_DOCUMENTS)] | None = None


class LocalFields(Strict):
    """Which field of an input row holds each part of the record; `id` and `text` are required in every row, the
    others are read when the row has them (None: never)."""

    id: str = "id"
    text: str = "text"
    title: str | None = "title"
    url: str | None = "url"
    date: str | None = "date"
    license: str | None = "license"
    lang: str | None = None


class LocalConfig(SourceConfig):
    """A collection of one's own (JSONL, JSONL.gz or Parquet files; paths or globs, local or gs:// / s3://), curated
    and built like any other source. Its ids are kept (`local/<name>:<id>`); rows without a licence of their own
    take `license`."""

    enabled: bool = False
    name: Name = "local"
    paths: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    fields: LocalFields = LocalFields()
    license: str | None = None
    redistributable: bool = False

    @model_validator(mode="after")
    def _paths_when_enabled(self) -> LocalConfig:
        if self.enabled and not self.paths:
            raise ValueError("an enabled local source names its files in `paths`")
        return self


class SourcesConfig(Strict):
    pubmed: PubMedConfig = PubMedConfig()
    pmc: PmcConfig = PmcConfig()
    guidelines: GuidelinesConfig = GuidelinesConfig()
    local: LocalConfig = LocalConfig()
    replay: ReplayConfig = ReplayConfig()

    def enabled(self) -> list[str]:
        return [name for name in SOURCE_NAMES if getattr(self, name).enabled]


class LanguageConfig(Strict):
    """Keep documents in these languages, decided from the text: a fastText language-ID model (or langdetect) on a
    prefix, kept when its confidence reaches `min_confidence` (or the source's own threshold). A source's stated
    language is used instead only for the sources in `trust_stated`, those whose stated language is the text's
    (PubMed's `<Language>` is the article's, not its abstract's, so PubMed is not one of them by default)."""

    keep: list[str] = ["en"]
    detector: Literal["fasttext", "langdetect"] = "fasttext"
    # 1,000 characters decide as 2,000 do on the real PubMed and PMC samples (the same language for all 1,372 of
    # their documents) at about twice the speed.
    prefix_chars: Annotated[int, Field(ge=100, le=1_000_000)] = 1000
    min_confidence: Fraction = 0.5
    source_min_confidence: dict[str, Fraction] = Field(default_factory=dict)
    trust_stated: list[str] = Field(default_factory=list)


class MinHashConfig(Strict):
    """Near dedup: word n-gram shingles, `bands` x `rows` = `num_perm` LSH banding."""

    enabled: bool = True
    num_perm: Annotated[int, Field(ge=16, le=1024)] = 128
    bands: Annotated[int, Field(ge=1, le=1024)] = 16
    rows: Annotated[int, Field(ge=1, le=1024)] = 8
    ngram: Annotated[int, Field(ge=1, le=64)] = 5
    seed: int = 1
    # Connected components of the duplicate graph: on the driver when it has at most `driver_max_edges` edges
    # (`auto`), else in Beam in at most `max_rounds` rounds; `beam` and `driver` force one way. `auto` on a raw
    # input under 1 GB goes to the driver outright (curate's AUTO_DRIVER_BYTES).
    components: Literal["auto", "beam", "driver"] = "auto"
    driver_max_edges: Annotated[int, Field(ge=0, le=100_000_000)] = 1_000_000
    max_rounds: Annotated[int, Field(ge=1, le=1000)] = 64
    # Candidate pairs from LSH are kept as duplicates only when their exact Jaccard similarity (of shingle sets)
    # reaches this; None trusts LSH.
    verify_jaccard: Fraction | None = None

    @model_validator(mode="after")
    def _bands_fill_permutations(self) -> MinHashConfig:
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands * rows must equal num_perm ({self.bands} * {self.rows} != {self.num_perm})")
        return self


class BenchmarkConfig(Strict):
    """One benchmark to keep out of the corpus: JSONL rows (`question`, `options`, ...) or a Hugging Face dataset
    folder, and optionally a file of ids whose documents must not enter the corpus (PubMedQA's PMIDs), with the
    id prefix those ids take in the corpus (`pubmed:`)."""

    name: Name
    path: str
    ids: str | None = None
    id_prefix: str = "pubmed:"


class DecontaminationConfig(Strict):
    """Benchmark decontamination: word `ngram`-gram candidates against an index of every benchmark question and
    option, each verified (the share of the benchmark item's n-grams the document holds reaches `min_coverage`),
    plus id blocklists. Per source the document is dropped or the matched span cut with `margin_words` around it."""

    enabled: bool = False
    benchmarks: list[BenchmarkConfig] = Field(default_factory=list)
    ngram: Annotated[int, Field(ge=5, le=50)] = 13
    min_coverage: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    action: dict[str, Literal["drop", "cut"]] = Field(default_factory=dict)
    margin_words: Annotated[int, Field(ge=0, le=10_000)] = 50


class DedupConfig(Strict):
    prefer_full_text: bool = True
    exact: bool = True
    minhash: MinHashConfig = MinHashConfig()
    source_priority: list[str] = ["pmc", "guidelines", "pubmed", "local", "replay"]


MAX_EPOCHS = 100.0
# Source settings that only say what fetch downloads; curate reads whatever raw files fetch recorded.
FETCH_ONLY = frozenset({"limit", "url", "baseline_url", "update_url", "subsets", "organisations"})


class MixConfig(Strict):
    """Replay is a share of training tokens; `epochs` upsamples (or, below 1, downsamples) a source."""

    replay_share: Annotated[float, Field(ge=0.0, le=0.9)] = 0.01
    epochs: dict[str, Annotated[float, Field(gt=0.0, le=MAX_EPOCHS)]] = Field(default_factory=dict)


class SplitConfig(Strict):
    valid_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01


class TokenizerConfig(Strict):
    """Either `path` (a local tokenizer.json or folder, or a hub id) or a byte-level BPE trained on the corpus."""

    path: str | None = None
    eos_token: str | None = None
    vocab_size: Annotated[int, Field(ge=300, le=1_000_000)] = 32000
    train_max_documents: Annotated[int, Field(ge=1, le=10_000_000)] | None = 200_000


class ShardConfig(Strict):
    tokens_per_shard: Annotated[int, Field(ge=100, le=100_000_000_000)] = 100_000_000


class Recipe(Strict):
    """`mirror`: true serves the bundled mirror on loopback; a URL uses a mirror already served there (laid out as
    `<host>/<path>`); false fetches from the real sites."""

    name: Name
    output: str | None = None
    mirror: bool | Annotated[str, Field(pattern=r"^https?://[^/?#]+/?$")] = False
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1234
    write_rejects: bool = True
    curated_shards: Annotated[int, Field(ge=0, le=100_000)] = 0
    http: HttpConfig = HttpConfig()
    sources: SourcesConfig = SourcesConfig()
    language: LanguageConfig = LanguageConfig()
    dedup: DedupConfig = DedupConfig()
    decontamination: DecontaminationConfig = DecontaminationConfig()
    mix: MixConfig = MixConfig()
    split: SplitConfig = SplitConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    shards: ShardConfig = ShardConfig()
    cards: str = "data_cards"

    @model_validator(mode="after")
    def _epochs_name_sources(self) -> Recipe:
        unknown = sorted(set(self.mix.epochs) - set(SOURCE_NAMES))
        if unknown:
            raise ValueError(f"mix.epochs names unknown source(s): {', '.join(unknown)}")
        return self

    @property
    def output_dir(self) -> Path:
        return Path(self.output or f"out/{self.name}")

    def curate_settings(self) -> dict[str, Any]:
        """What curate's result depends on: everything but where files come from and what happens after curate."""
        dump = self.model_dump(mode="json")
        sources = {
            name: {key: value for key, value in config.items() if key not in FETCH_ONLY}
            for name, config in dump["sources"].items()
        }
        keys = ("seed", "split", "write_rejects", "curated_shards", "language", "dedup", "decontamination")
        return {key: dump[key] for key in keys} | {"sources": sources}

    def build_settings(self) -> dict[str, Any]:
        """What build's result depends on besides the curated corpus."""
        dump = self.model_dump(mode="json")
        return {key: dump[key] for key in ("seed", "mix", "split", "tokenizer", "shards")} | {
            "sources": self.sources.enabled()
        }


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message names the file and the offending key."""


def _describe(error: ValidationError, path: str) -> str:
    lines = [f"{path}: invalid recipe"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_recipe(data: Any, path: str = "<recipe>") -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise RecipeError(_describe(error, path)) from None


def load_recipe(path: str | Path | None = None) -> tuple[Recipe, str]:
    """Load and validate a recipe; returns it with the sha256 of the file's bytes. None = the sample recipe.

    Benchmark files named by a relative path are found relative to the recipe's own folder."""
    if path is None:
        bundled = resources.files("gap_replay.pipelines").joinpath("recipes/sample.yaml")
        raw, folder = bundled.read_bytes(), Path(str(bundled)).parent
        path = "pipelines/recipes/sample.yaml"
    else:
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise RecipeError(f"{path}: cannot read recipe: {error.strerror}") from None
        folder = Path(path).parent
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from None
    return _with_benchmarks_from(parse_recipe(data, str(path)), folder), hashlib.sha256(raw).hexdigest()


def _with_benchmarks_from(recipe: Recipe, folder: Path) -> Recipe:
    """The recipe with its benchmark paths made absolute against the recipe's folder (URLs and absolute paths kept)."""

    def resolved(value: str | None) -> str | None:
        if value is None or "://" in value or Path(value).is_absolute():
            return value
        return os.path.abspath(folder / value)

    benchmarks = [
        benchmark.model_copy(update={"path": resolved(benchmark.path), "ids": resolved(benchmark.ids)})
        for benchmark in recipe.decontamination.benchmarks
    ]
    decontamination = recipe.decontamination.model_copy(update={"benchmarks": benchmarks})
    return recipe.model_copy(update={"decontamination": decontamination})
