"""The Llama module: same logits as transformers, document masking, positions, meta-device init."""

import pytest

torch = pytest.importorskip("torch")

from gap_replay.train.model import (  # noqa: E402
    Llama,
    ModelArgs,
    RopeScaling,
    attention,
    document_ids,
    positions_in_document,
)

EOS = 0


def tiny_args(**overrides) -> ModelArgs:
    fields = dict(vocab_size=300, hidden_size=64, intermediate_size=160, num_layers=2, num_heads=4, num_kv_heads=2)
    return ModelArgs(**{**fields, **overrides})


def seeded_model(args: ModelArgs, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    model = Llama(args)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"tie_embeddings": True, "num_kv_heads": 1},
        {"rope_theta": 500000.0, "rope_scaling": RopeScaling(factor=8.0, original_max_position_embeddings=16)},
    ],
    ids=["gqa-untied", "mqa-tied", "llama3-rope"],
)
def test_logits_equal_transformers_llama_on_the_same_weights(overrides):
    transformers = pytest.importorskip("transformers")
    args = tiny_args(**overrides)
    ours = seeded_model(args)
    rope = {"rope_type": "default", "rope_theta": args.rope_theta}
    if args.rope_scaling is not None:
        rope = {"rope_type": "llama3", "rope_theta": args.rope_theta, **vars(args.rope_scaling)}
    config = transformers.LlamaConfig(
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.num_layers,
        num_attention_heads=args.num_heads,
        num_key_value_heads=args.num_kv_heads,
        rms_norm_eps=args.rms_norm_eps,
        tie_word_embeddings=args.tie_embeddings,
        rope_parameters=rope,
        max_position_embeddings=64,
    )
    reference = transformers.LlamaForCausalLM(config).eval()
    reference.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, args.vocab_size, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(tokens), reference(tokens).logits, rtol=0, atol=1e-5)


def test_document_ids_count_documents_and_keep_eos_in_the_document_it_ends():
    tokens = torch.tensor([[5, 6, EOS, 7, EOS, 8]])
    assert document_ids(tokens, EOS).tolist() == [[0, 0, 0, 1, 1, 2]]


def test_positions_restart_at_each_document():
    documents = torch.tensor([[0, 0, 0, 1, 1, 2], [0, 1, 1, 1, 1, 1]])
    assert positions_in_document(documents).tolist() == [[0, 1, 2, 0, 1, 0], [0, 0, 1, 2, 3, 4]]


def test_document_masking_gives_the_logits_of_running_each_document_alone():
    model = seeded_model(tiny_args())
    pieces = [torch.tensor([11, 12, 13, EOS]), torch.tensor([21, 22, EOS]), torch.tensor([31, 32, 33, 34, 35])]
    packed = torch.cat(pieces)[None]
    with torch.no_grad():
        masked = model(packed, document_ids(packed, EOS))[0]
        alone = torch.cat([model(piece[None])[0] for piece in pieces])
        unmasked = model(packed)[0]
    torch.testing.assert_close(masked, alone, rtol=0, atol=1e-5)
    assert not torch.allclose(unmasked[4:], alone[4:], atol=1e-3)  # without the mask, later documents see earlier


def test_masked_attention_without_boundaries_equals_plain_causal_attention():
    q, k, v = (torch.randn(2, 10, heads, 8) for heads in (4, 2, 2))
    one_document = torch.zeros(2, 10, dtype=torch.long)
    torch.testing.assert_close(attention(q, k, v, one_document), attention(q, k, v, None), rtol=0, atol=1e-6)


def test_meta_device_model_materialises_with_its_head_still_tied():
    with torch.device("meta"):
        model = Llama(tiny_args(tie_embeddings=True))
    model.to_empty(device="cpu")
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert len(list(model.parameters())) == 2 * 9 + 2  # the tied matrix counts once


def test_heads_must_divide_into_key_value_groups():
    with pytest.raises(ValueError, match="multiple of num_kv_heads"):
        tiny_args(num_heads=4, num_kv_heads=3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_logits_on_gpu_stay_close_to_fp32():
    model = seeded_model(tiny_args()).cuda()
    tokens = torch.randint(0, 300, (2, 64), device="cuda")
    with torch.no_grad():
        full = model(tokens)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            half = model(tokens).float()
    assert (half - full).abs().max() < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_flash_attn_kernel_matches_sdpa(monkeypatch):
    pytest.importorskip("flash_attn", reason="pip install flash-attn --no-build-isolation (see README, Training)")
    import gap_replay.train.model as model_module

    q, k, v = (torch.randn(2, 64, heads, 64, device="cuda", dtype=torch.bfloat16) for heads in (8, 2, 2))
    flash = attention(q, k, v, None)
    monkeypatch.setattr(model_module, "flash_attn_func", None)
    torch.testing.assert_close(flash.float(), attention(q, k, v, None).float(), rtol=0, atol=2e-2)
