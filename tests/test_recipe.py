from pathlib import Path

import pytest

from gap_replay.recipe import RecipeError, load_recipe, parse_recipe

RECIPES = Path(__file__).resolve().parents[1] / "pipelines" / "recipes"


@pytest.mark.parametrize("name", ["sample.yaml", "gap_replay.yaml"])
def test_bundled_recipes_validate(name):
    recipe, sha256 = load_recipe(RECIPES / name)
    assert recipe.name == name.removesuffix(".yaml")
    assert len(sha256) == 64


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
