import hashlib

import pytest

from gap_replay.mix import epoch_copies, replay_target, replay_threshold, shard_count, split_of, stable_unit


def test_stable_unit_is_fixed_by_seed_purpose_and_key():
    assert stable_unit(1, "split", "pubmed:1") == stable_unit(1, "split", "pubmed:1")
    assert stable_unit(1, "split", "pubmed:1") != stable_unit(2, "split", "pubmed:1")
    assert stable_unit(1, "split", "pubmed:1") != stable_unit(1, "shuffle", "pubmed:1")
    assert 0.0 <= stable_unit(7, "x", "y") < 1.0


@pytest.mark.parametrize(
    ("seed", "purpose", "key"),
    [(1, "split", "pubmed:1"), (0, "", ""), (42, "shuffle", "replay:9#3"), (7, "shard", "guidelines:é#0")],
)
def test_stable_unit_is_blake2b_64_of_seed_purpose_and_key_over_two_to_the_64(seed, purpose, key):
    message = f"{seed}\x00{purpose}\x00{key}".encode()
    expected = int(hashlib.blake2b(message, digest_size=8).hexdigest(), 16) / 2**64

    assert stable_unit(seed, purpose, key) == expected
    assert stable_unit(seed, purpose, key + "x") != expected


def test_valid_split_takes_about_the_requested_fraction_and_never_moves():
    ids = [f"pubmed:{n}" for n in range(20_000)]
    valid = [doc_id for doc_id in ids if split_of(doc_id, 1234, 0.05) == "valid"]
    assert 800 < len(valid) < 1200
    assert valid == [doc_id for doc_id in ids if split_of(doc_id, 1234, 0.05) == "valid"]
    assert all(split_of(doc_id, 1234, 0.0) == "train" for doc_id in ids[:100])


def test_epochs_repeat_whole_and_fractional_parts():
    assert epoch_copies("a", 2.0, 1) == 2
    copies = [epoch_copies(f"doc{n}", 1.5, 1) for n in range(10_000)]
    assert set(copies) == {1, 2}
    assert 4_500 < copies.count(2) < 5_500
    downsampled = [epoch_copies(f"doc{n}", 0.25, 1) for n in range(10_000)]
    assert 2_000 < sum(downsampled) < 3_000


def test_replay_target_is_a_token_share_of_the_whole_mix():
    assert replay_target(99_000, 0.01) == 1_000
    assert replay_target(50_000, 0.5) == 50_000
    assert replay_target(1_000, 0.0) == 0


def test_replay_threshold_takes_draws_in_order_until_the_token_target():
    candidates = [(0.9, 100), (0.1, 40), (0.5, 30), (0.3, 50)]
    assert replay_threshold(candidates, 40) == 0.1
    assert replay_threshold(candidates, 41) == 0.3
    assert replay_threshold(candidates, 10_000) == 0.9
    assert replay_threshold(candidates, 0) == -1.0


def test_shard_count_covers_the_tokens_with_at_least_one_shard():
    assert shard_count(0, 100) == 1
    assert shard_count(100, 100) == 1
    assert shard_count(101, 100) == 2


def test_replay_target_rounds_the_exact_share_up():
    # 10 medical tokens at a quarter of the mix: 10 x 0.25 / 0.75 = 3.33 replay tokens, so 4
    assert replay_target(10, 0.25) == 4
    assert replay_target(30, 0.25) == 10  # exactly 10: no rounding


def test_replay_threshold_takes_nothing_for_no_target_and_the_first_draw_for_one_token():
    candidates = [(0.3, 5), (0.7, 5)]
    assert replay_threshold(candidates, -5) == -1.0
    assert replay_threshold(candidates, 0) == -1.0
    assert replay_threshold(candidates, 1) == 0.3
    assert replay_threshold([], 10) == -1.0  # nothing to draw: nothing taken
