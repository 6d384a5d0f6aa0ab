"""Wrapping for scale: activation checkpointing and compile change neither the numbers nor the parameter names."""

import copy

import pytest

torch = pytest.importorskip("torch")

from torch.nn.functional import cross_entropy  # noqa: E402

from gap_replay.train.model import Llama, ModelArgs  # noqa: E402
from gap_replay.train.parallel import World, apply_activation_checkpointing, apply_compile, autocast  # noqa: E402


def seeded_model() -> Llama:
    torch.manual_seed(0)
    model = Llama(ModelArgs(vocab_size=300, hidden_size=64, intermediate_size=160, num_layers=4, num_heads=4,
                            num_kv_heads=2))  # fmt: skip
    model.init_weights()
    return model


def loss_and_gradients(model: Llama) -> tuple[float, list]:
    batch = torch.randint(0, 300, (2, 33), generator=torch.Generator().manual_seed(1))
    loss = cross_entropy(model(batch[:, :-1]).flatten(0, 1), batch[:, 1:].flatten())
    loss.backward()
    return float(loss.detach()), [p.grad for p in model.parameters()]


@pytest.mark.parametrize(("mode", "wrapped"), [("full", 4), ("selective", 2), ("none", 0)])
def test_activation_checkpointing_wraps_blocks_and_keeps_gradients_exact(mode, wrapped):
    plain = seeded_model()
    checkpointed = copy.deepcopy(plain)
    apply_activation_checkpointing(checkpointed, mode, every=2)
    kinds = [type(block).__name__ for block in checkpointed.model.layers]
    assert kinds.count("CheckpointWrapper") == wrapped
    assert list(checkpointed.state_dict()) == list(plain.state_dict())
    expected_loss, expected = loss_and_gradients(plain)
    loss, gradients = loss_and_gradients(checkpointed)
    assert loss == expected_loss
    assert all(torch.equal(a, b) for a, b in zip(gradients, expected, strict=True))


def test_compiled_blocks_give_the_same_loss_and_gradients():
    plain = seeded_model()
    compiled = copy.deepcopy(plain)
    apply_activation_checkpointing(compiled, "full", every=1)
    apply_compile(compiled, backend="aot_eager")  # traces each block whole (fullgraph) without C++ codegen
    assert list(compiled.state_dict()) == list(plain.state_dict())
    expected_loss, expected = loss_and_gradients(plain)
    loss, gradients = loss_and_gradients(compiled)
    assert loss == pytest.approx(expected_loss, abs=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(gradients, expected, strict=True))


def test_bf16_autocast_applies_to_a_single_rank_only():
    one = World(rank=0, world_size=1, device=torch.device("cpu"))
    many = World(rank=0, world_size=2, device=torch.device("cpu"))
    assert isinstance(autocast(one, "bf16"), torch.autocast)
    assert not isinstance(autocast(one, "fp32"), torch.autocast)
    assert not isinstance(autocast(many, "bf16"), torch.autocast)  # FSDP's policy casts the weights instead


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_inductor_compiled_blocks_match_eager_on_gpu():
    plain = seeded_model().cuda()
    compiled = copy.deepcopy(plain)
    apply_compile(compiled)
    batch = torch.randint(0, 300, (2, 64), device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(compiled(batch), plain(batch), rtol=1e-4, atol=1e-4)
