import hashlib
import re
from pathlib import Path

import pytest

from gap_replay.recipe import RecipeError, load_recipe, parse_recipe

RECIPES = Path(__file__).resolve().parents[1] / "pipelines" / "recipes"


@pytest.mark.parametrize("name", ["sample.yaml", "gap_replay.yaml", "gap_replay_open.yaml"])
def test_bundled_recipes_validate(name):
    recipe, sha256 = load_recipe(RECIPES / name)
    assert recipe.name == name.removesuffix(".yaml")
    assert sha256 == hashlib.sha256((RECIPES / name).read_bytes()).hexdigest()


def test_default_recipe_is_the_sample_recipe():
    recipe, _ = load_recipe(None)
    assert recipe.name == "sample"
    assert recipe.mirror is True
    assert str(recipe.output_dir) == "out/sample"


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nsources:\n  pubmed:\n    limt: 3\n")
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert str(path) in str(error.value)
    assert "sources.pubmed.limt: unknown key" in str(error.value)


def test_bad_values_are_errors_naming_the_key():
    with pytest.raises(RecipeError, match=r"mix.replay_share"):
        parse_recipe({"name": "r", "mix": {"replay_share": 1.5}})
    with pytest.raises(RecipeError, match=r"bands \* rows must equal num_perm"):
        parse_recipe({"name": "r", "dedup": {"minhash": {"num_perm": 128, "bands": 10, "rows": 8}}})
    with pytest.raises(RecipeError, match=r"unknown source\(s\): medline"):
        parse_recipe({"name": "r", "mix": {"epochs": {"medline": 2}}})
    with pytest.raises(RecipeError, match=r"sources.pmc.subsets.0"):
        parse_recipe({"name": "r", "sources": {"pmc": {"subsets": ["oa_everything"]}}})


def test_missing_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(RecipeError, match="a recipe is a YAML mapping"):
        load_recipe(listing)


def test_a_line_pattern_that_does_not_compile_is_refused_on_load():
    with pytest.raises(RecipeError, match=r"sources.guidelines.clean.drop_line_patterns: .*bad regular expression"):
        parse_recipe({"name": "r", "sources": {"guidelines": {"clean": {"drop_line_patterns": ["(unclosed"]}}}})


def nested(dotted: str, value) -> dict:
    """{"a": {"b": value}} for "a.b"."""
    data: dict = value
    for key in reversed(dotted.split(".")):
        data = {key: data}
    return data


def recipe_with(dotted: str, value):
    return parse_recipe({"name": "r", **nested(dotted, value)})


def read_back(recipe, dotted: str):
    value = recipe
    for key in dotted.split("."):
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


# (key, largest value allowed, smallest refused): values that size memory or work have an upper bound.
BOUNDS = [
    ("mix.epochs.pubmed", 100.0, 100.01),
    ("mix.replay_share", 0.9, 0.91),
    ("split.valid_fraction", 0.5, 0.51),
    ("shards.tokens_per_shard", 100_000_000_000, 100_000_000_001),
    ("sources.pubmed.limit", 10_000_000, 10_000_001),
    ("sources.replay.max_documents_per_file", 100_000_000, 100_000_001),
    ("sources.pmc.max_table_cells", 1_000_000, 1_000_001),
    ("tokenizer.train_max_documents", 10_000_000, 10_000_001),
    ("tokenizer.vocab_size", 1_000_000, 1_000_001),
    ("curated_shards", 100_000, 100_001),
    ("language.prefix_chars", 1_000_000, 1_000_001),
    ("dedup.minhash.ngram", 64, 65),
    ("http.retries", 20, 21),
    ("http.delay_seconds", 3600.0, 3600.5),
    ("http.timeout_seconds", 3600.0, 3600.5),
    ("http.max_page_bytes", 1 << 30, (1 << 30) + 1),
    ("http.max_host_failures", 1000, 1001),
    ("sources.guidelines.clean.max_blank_lines", 100, 101),
    ("sources.pubmed.filters.min_words", 1_000_000, 1_000_001),
]


@pytest.mark.parametrize(("key", "largest", "refused"), BOUNDS)
def test_values_that_size_work_have_an_upper_bound(key, largest, refused):
    assert read_back(recipe_with(key, largest), key) == largest
    with pytest.raises(RecipeError, match=rf"{re.escape(key)}: Input should be less than or equal to"):
        recipe_with(key, refused)


# (key, smallest value allowed, largest refused)
LOWER_BOUNDS = [
    ("shards.tokens_per_shard", 100, 99),
    ("mix.replay_share", 0.0, -0.01),
    ("sources.pubmed.limit", 1, 0),
    ("tokenizer.vocab_size", 300, 299),
    ("seed", 0, -1),
]


@pytest.mark.parametrize(("key", "smallest", "refused"), LOWER_BOUNDS)
def test_values_have_a_lower_bound(key, smallest, refused):
    assert read_back(recipe_with(key, smallest), key) == smallest
    with pytest.raises(RecipeError, match=re.escape(key)):
        recipe_with(key, refused)


def test_epochs_must_be_more_than_zero():
    assert recipe_with("mix.epochs.pmc", 0.001).mix.epochs["pmc"] == 0.001
    with pytest.raises(RecipeError, match=r"mix.epochs.pmc: Input should be greater than 0"):
        recipe_with("mix.epochs.pmc", 0)


@pytest.mark.parametrize("name", ["sample", "gap_replay", "a.b-c_1", "X", "9lives", "n" * 100])
def test_names_that_make_one_safe_path_segment_are_accepted(name):
    assert parse_recipe({"name": name}).name == name


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "-rf", "a/b", "a\\b", "", "n" * 101, "a b", "é"])
def test_names_that_could_escape_or_hide_in_their_folder_are_refused(name):
    with pytest.raises(RecipeError, match=r"name: String should match pattern"):
        parse_recipe({"name": name})


@pytest.mark.parametrize(
    ("key", "value"),
    [("sources.guidelines.organisations", {"../etc": {}}), ("sources.replay.subsets", ["../../x"])],
)
def test_organisation_keys_and_replay_subsets_become_folders_so_they_must_be_safe_names(key, value):
    with pytest.raises(RecipeError, match=re.escape(key)):
        recipe_with(key, value)


def test_the_output_folder_defaults_inside_out():
    assert str(parse_recipe({"name": "full"}).output_dir) == "out/full"


def test_mirror_is_a_switch_or_the_base_url_of_a_mirror_already_served():
    assert recipe_with("mirror", "http://127.0.0.1:8123").mirror == "http://127.0.0.1:8123"
    assert recipe_with("mirror", True).mirror is True
    with pytest.raises(RecipeError, match="mirror"):
        recipe_with("mirror", "ftp://127.0.0.1/pub")


def test_curate_settings_leave_out_what_only_fetch_and_build_use():
    base = parse_recipe({"name": "r"})
    fetch_only = parse_recipe({"name": "r", "sources": {"pubmed": {"limit": 3, "baseline_url": "https://x.org/"}}})
    build_only = parse_recipe({"name": "r", "mix": {"replay_share": 0.2}, "shards": {"tokens_per_shard": 1000}})
    curate_change = parse_recipe({"name": "r", "sources": {"pubmed": {"filters": {"min_words": 10}}}})
    assert base.curate_settings() == fetch_only.curate_settings() == build_only.curate_settings()
    assert base.curate_settings() != curate_change.curate_settings()
    assert base.build_settings() == curate_change.build_settings() != build_only.build_settings()


def test_the_full_recipe_lists_all_sixteen_organisations_and_enables_exactly_the_collectable_ones():
    from gap_replay.sources.guidelines import ORGANISATIONS

    recipe, _ = load_recipe(RECIPES / "gap_replay.yaml")
    organisations = recipe.sources.guidelines.organisations
    assert sorted(organisations) == sorted(ORGANISATIONS) and len(organisations) == 16
    assert {key for key, config in organisations.items() if config.enabled} == {
        key for key, module in ORGANISATIONS.items() if module.COLLECTABLE
    }


def test_the_sample_recipe_collects_all_sixteen_from_the_mirror():
    from gap_replay.sources.guidelines import ORGANISATIONS

    recipe, _ = load_recipe(None)
    assert sorted(recipe.sources.guidelines.organisations) == sorted(ORGANISATIONS)
    assert all(config.enabled for config in recipe.sources.guidelines.organisations.values())


def test_the_open_recipe_keeps_only_what_may_be_redistributed():
    from gap_replay.sources.guidelines import ORGANISATIONS

    recipe, _ = load_recipe(RECIPES / "gap_replay_open.yaml")
    enabled = {key for key, config in recipe.sources.guidelines.organisations.items() if config.enabled}
    assert enabled == {key for key, module in ORGANISATIONS.items() if module.REDISTRIBUTABLE and module.COLLECTABLE}
    assert recipe.sources.guidelines.filters.redistributable_only
    assert recipe.sources.pmc.filters.allowed_licenses == "biomistral"
    assert not recipe.sources.pubmed.enabled, "abstracts stay their publishers'"
