"""Hugging Face folders: export loads in transformers, HF -> ours -> HF is bit-exact, bad folders are named."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from gap_replay.train.hf import (  # noqa: E402
    CheckpointFormatError,
    args_from_hf_config,
    hf_config,
    load_hf,
    read_hf_state_dict,
    save_hf,
)
from gap_replay.train.model import Llama, ModelArgs, RopeScaling  # noqa: E402


def seeded_model(**overrides) -> Llama:
    fields = dict(vocab_size=300, hidden_size=64, intermediate_size=160, num_layers=2, num_heads=4, num_kv_heads=2)
    torch.manual_seed(0)
    model = Llama(ModelArgs(**{**fields, **overrides}))
    model.init_weights()
    return model.eval()


def tokens() -> torch.Tensor:
    return torch.randint(0, 300, (2, 24), generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("tied", [False, True])
def test_exported_folder_loads_in_transformers_with_the_same_logits(tmp_path, tied):
    transformers = pytest.importorskip("transformers")
    model = seeded_model(tie_embeddings=tied)
    save_hf(model, tmp_path / "hf", eos_token_id=0)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert loaded.config.eos_token_id == 0
    with torch.no_grad():
        assert torch.equal(loaded(tokens()).logits, model(tokens()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_transformers_to_ours_to_transformers_round_trip_is_bit_exact(tmp_path, dtype):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).to(dtype).save_pretrained(tmp_path / "original")
    model = load_hf(tmp_path / "original")
    save_hf(model, tmp_path / "exported", dtype=dtype)
    original, exported = read_hf_state_dict(tmp_path / "original"), read_hf_state_dict(tmp_path / "exported")
    assert sorted(original) == sorted(exported)
    for name, tensor in original.items():
        assert exported[name].dtype == dtype
        assert torch.equal(exported[name], tensor), name


def test_large_exports_are_sharded_with_an_index_and_load_back(tmp_path):
    model = seeded_model()
    save_hf(model, tmp_path / "hf", max_shard_bytes=200_000)
    index = json.loads((tmp_path / "hf" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    with torch.no_grad():
        assert torch.equal(load_hf(tmp_path / "hf")(tokens()), model(tokens()))


def test_export_replaces_an_older_folder_of_the_same_name(tmp_path):
    save_hf(seeded_model(), tmp_path / "hf")
    (tmp_path / "hf" / "stale.txt").write_text("from an earlier export")
    save_hf(seeded_model(), tmp_path / "hf")
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == ["config.json", "model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
        {"rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
    ],
    ids=["legacy-keys", "rope-parameters"],
)  # fmt: skip
def test_llama3_rope_is_read_from_either_config_layout(rope):
    config = {"vocab_size": 300, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
              "num_attention_heads": 4, **rope}  # fmt: skip
    args = args_from_hf_config(config)
    assert args.rope_theta == 500000.0
    assert args.rope_scaling == RopeScaling(factor=32.0, original_max_position_embeddings=8192)
    assert args_from_hf_config(hf_config(args, torch.bfloat16)) == args


def test_unsupported_rope_type_is_an_error_naming_the_file(tmp_path):
    config = {"vocab_size": 300, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
              "num_attention_heads": 4, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointFormatError, match=r"config\.json: rope type 'yarn' is not supported"):
        load_hf(tmp_path)


def test_weights_that_do_not_fit_the_config_are_listed(tmp_path):
    save_hf(seeded_model(), tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointFormatError, match=r"hf: weights do not fit the config \(missing: model\.layers\.2"):
        load_hf(tmp_path / "hf")


def test_folder_without_safetensors_is_an_error(tmp_path):
    save_hf(seeded_model(), tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    with pytest.raises(CheckpointFormatError, match=r"no model\.safetensors"):
        load_hf(tmp_path / "hf")


def test_rotary_buffers_saved_by_old_transformers_versions_are_ignored(tmp_path):
    from safetensors.torch import load_file, save_file

    save_hf(seeded_model(), tmp_path / "hf")
    weights = load_file(tmp_path / "hf" / "model.safetensors")
    weights["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    save_file(weights, tmp_path / "hf" / "model.safetensors")
    with torch.no_grad():
        assert torch.equal(load_hf(tmp_path / "hf")(tokens()), seeded_model()(tokens()))
