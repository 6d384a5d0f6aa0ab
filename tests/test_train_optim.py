"""Optimisation: learning-rate schedules at their boundary steps, and which parameters get weight decay."""

import pytest

torch = pytest.importorskip("torch")

from gap_replay.train.config import OptimConfig  # noqa: E402
from gap_replay.train.model import Llama, ModelArgs  # noqa: E402
from gap_replay.train.optim import build_optimizer, build_scheduler, lr_at, param_groups  # noqa: E402

PEAK, FLOOR = 3e-4, 3e-5


def schedule(kind: str, warmup: int = 10, **extra) -> OptimConfig:
    return OptimConfig(lr=PEAK, min_lr=FLOOR, schedule=kind, warmup_steps=warmup, **extra)


def test_warmup_rises_linearly_and_reaches_the_peak_on_its_last_step():
    config = schedule("cosine")
    assert lr_at(0, config, 110) == pytest.approx(PEAK / 10)
    assert lr_at(4, config, 110) == pytest.approx(PEAK / 2)
    assert lr_at(9, config, 110) == pytest.approx(PEAK)


def test_cosine_starts_at_the_peak_halves_midway_and_ends_at_min_lr():
    config = schedule("cosine")
    assert lr_at(10, config, 110) == pytest.approx(PEAK)
    assert lr_at(60, config, 110) == pytest.approx((PEAK + FLOOR) / 2)
    assert lr_at(110, config, 110) == pytest.approx(FLOOR)
    assert lr_at(500, config, 110) == pytest.approx(FLOOR)


def test_reference_7b_schedule_decays_to_ten_percent_after_2000_warmup_steps():
    config = OptimConfig()
    assert lr_at(1999, config, 10_000) == pytest.approx(3e-4)
    assert lr_at(10_000, config, 10_000) == pytest.approx(3e-5)


def test_wsd_holds_the_peak_then_decays_linearly_over_the_last_fraction():
    config = schedule("wsd", decay_fraction=0.2)
    assert lr_at(10, config, 100) == pytest.approx(PEAK)
    assert lr_at(79, config, 100) == pytest.approx(PEAK)
    assert lr_at(80, config, 100) == pytest.approx(PEAK)
    assert lr_at(90, config, 100) == pytest.approx((PEAK + FLOOR) / 2)
    assert lr_at(100, config, 100) == pytest.approx(FLOOR)


def test_constant_schedule_stays_at_the_peak_after_warmup():
    config = schedule("constant", warmup=0)
    assert {lr_at(step, config, 50) for step in (0, 25, 50)} == {PEAK}


def test_scheduler_sets_each_step_s_learning_rate_on_the_optimizer():
    model = torch.nn.Linear(2, 2)
    config = schedule("cosine", warmup=4)
    optimizer = build_optimizer(model, config, torch.device("cpu"))
    scheduler = build_scheduler(optimizer, config, total_steps=20)
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([lr_at(step, config, 20) for step in range(6)])


def tiny(tied: bool) -> Llama:
    return Llama(ModelArgs(vocab_size=50, hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2,
                           tie_embeddings=tied))  # fmt: skip


def test_norms_and_a_tied_embedding_get_no_weight_decay():
    model = tiny(tied=True)
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert any(p is model.model.embed_tokens.weight for p in no_decay["params"])
    assert all(p.ndim == 2 for p in decay["params"])
    assert {id(p) for p in no_decay["params"]} >= {id(model.model.norm.weight)}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_an_untied_embedding_is_decayed_like_other_matrices():
    model = tiny(tied=False)
    decay, no_decay = param_groups(model, 0.1)
    assert any(p is model.model.embed_tokens.weight for p in decay["params"])
    assert all(p.ndim == 1 for p in no_decay["params"])
