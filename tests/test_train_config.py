"""Training configs: the shipped ones validate, mistakes are errors naming the file and the dotted key."""

from pathlib import Path

import pytest

pytest.importorskip("torch")

from gap_replay.train.config import Config, ConfigError, load_config, parse_config

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "train"

MINIMAL = """\
name: t
data: {manifests: [corpus/manifest.json]}
model: {hidden_size: 64, intermediate_size: 160, num_layers: 2, num_heads: 4}
train: {steps: 10, global_batch_size: 4, micro_batch_size: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["tiny", "llama2_7b", "1b_single_gpu"])
def test_shipped_configs_are_valid(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert isinstance(config, Config)
    assert config.output_dir == Path("out/train") / name


def test_llama2_7b_config_uses_the_reference_optimisation_settings():
    config = load_config(CONFIGS / "llama2_7b.yaml")
    optim = config.optim
    assert (optim.lr, optim.min_lr, optim.warmup_steps, optim.schedule) == (3e-4, 3e-5, 2000, "cosine")
    assert (optim.weight_decay, optim.clip_grad_norm, config.data.seq_len) == (0.1, 1.0, 2048)
    assert config.init_from is not None and config.model is None


def test_unknown_key_is_an_error_naming_the_file_and_the_dotted_key(tmp_path):
    path = write(tmp_path, MINIMAL + "optim: {lr: 1.0e-3, warmup: 5}\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: optim\.warmup: unknown key"):
        load_config(path)


def test_unknown_model_key_is_named_too(tmp_path):
    path = write(tmp_path, MINIMAL.replace("num_heads: 4", "num_heads: 4, n_layers: 3"))
    with pytest.raises(ConfigError, match=r"model\.n_layers: unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("optim: {schedule: linear}\n", r"optim\.schedule: must be one of cosine, wsd, constant"),
        ("optim: {lr: fast}\n", r"optim\.lr: expected float, got str"),
        ("optim: {min_lr: 1.0}\n", r"optim\.min_lr: must lie between 0 and lr"),
        ("parallel: {compile: 1}\n", r"parallel\.compile: expected bool, got int"),
        ("init_from: some/hf/folder\n", r"model: give exactly one of model or init_from"),
    ],
)
def test_bad_values_are_errors_naming_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, MINIMAL + extra))


def test_global_batch_must_be_a_multiple_of_the_micro_batch(tmp_path):
    path = write(tmp_path, MINIMAL.replace("global_batch_size: 4", "global_batch_size: 5"))
    with pytest.raises(ConfigError, match=r"train\.global_batch_size: must be a positive multiple"):
        load_config(path)


def test_missing_required_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.steps: required key is missing"):
        load_config(write(tmp_path, MINIMAL.replace("steps: 10, ", "")))


def test_overrides_set_nested_values_parsed_as_yaml(tmp_path):
    overrides = ["train.steps=3", "data.manifests=[a.json, b.json]", "eval.samples=8"]
    config = load_config(write(tmp_path, MINIMAL), overrides)
    assert config.train.steps == 3
    assert [m.path for m in config.data.manifests] == ["a.json", "b.json"]
    assert config.eval.samples == 8


def test_override_of_an_unknown_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.stpes: unknown key"):
        load_config(write(tmp_path, MINIMAL), ["train.stpes=3"])


def test_manifests_take_a_path_or_a_path_with_a_weight():
    config = parse_config(
        {
            "name": "t",
            "data": {"manifests": ["a.json", {"path": "b.json", "weight": 3}]},
            "init_from": "hf",
            "train": {"steps": 1, "global_batch_size": 1},
        }
    )
    assert [(m.path, m.weight) for m in config.data.manifests] == [("a.json", 1.0), ("b.json", 3.0)]


def test_model_vocabulary_defaults_to_the_data_unless_given(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.model_args(vocab_size=517).vocab_size == 517
    config = load_config(write(tmp_path, MINIMAL.replace("num_heads: 4", "num_heads: 4, vocab_size: 640")))
    assert config.model_args(vocab_size=517).vocab_size == 640


def test_unreadable_and_malformed_files_are_errors_naming_them(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"run\.yaml: not valid YAML"):
        load_config(write(tmp_path, "name: [unclosed\n"))
