"""Training data: Megatron sample windows, seeded shuffles, blending, rank slices and resume without replay."""

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gap_replay.train.data import (  # noqa: E402
    Blend,
    DataError,
    GPTSamples,
    TrainLoader,
    apportion,
    open_split,
    rank_slice,
    validation_batches,
)
from gap_replay.train.synthetic import write_corpus  # noqa: E402

EOS = 0
SEQ = 8


def unique_documents(count: int, length: int, first: int = 1) -> list[list[int]]:
    """Documents whose tokens are all distinct, so every token identifies its place in the corpus."""
    ids = iter(range(first, first + count * length))
    return [[next(ids) for _ in range(length - 1)] + [EOS] for _ in range(count)]


@pytest.fixture
def corpus(tmp_path):
    """Train split: 30 documents of 10 tokens over 2 shards (300 tokens); valid: 5 documents."""
    splits = {"train": unique_documents(30, 10), "valid": unique_documents(5, 10, first=1000)}
    return write_corpus(tmp_path / "corpus", splits, vocab_size=2000, eos_id=EOS, shards_per_split=2)


def test_split_opens_every_shard_with_the_tokenizer_facts(corpus):
    split = open_split(corpus, "train")
    assert len(split.shards) == 2
    assert sum(len(shard) for shard in split.shards) == 30
    assert (split.vocab_size, split.eos_id) == (2000, EOS)


def test_windows_hold_seq_len_plus_one_tokens_and_overlap_by_exactly_one(corpus):
    samples = GPTSamples(open_split(corpus, "train"), SEQ, seed=1)
    assert len(samples) == (300 - 1) // SEQ
    windows = [samples[i] for i in range(len(samples))]
    assert all(w.shape == (SEQ + 1,) and w.dtype == np.int64 for w in windows)
    targets = Counter(int(t) for w in windows for t in w[1:] if t != EOS)
    assert max(targets.values()) == 1  # no token is ever a target twice
    starts = [int(w[0]) for w in windows]
    # Every window but the one at the head of the stream starts on the last target of another window.
    assert sum(start == EOS or start in targets for start in starts) == len(windows) - 1


def test_documents_are_concatenated_in_a_seeded_shuffled_order(corpus):
    split = open_split(corpus, "train")
    first = [GPTSamples(split, SEQ, seed=1)[i].tolist() for i in range(10)]
    again = [GPTSamples(split, SEQ, seed=1)[i].tolist() for i in range(10)]
    other = [GPTSamples(split, SEQ, seed=2)[i].tolist() for i in range(10)]
    assert first == again
    assert first != other
    window = np.array(first[0])
    assert not np.all(np.diff(window[window != EOS]) == 1)  # windows do not simply follow the files


def test_the_stream_is_endless_and_each_epoch_is_reshuffled(corpus):
    samples = GPTSamples(open_split(corpus, "train"), SEQ, seed=1)
    epoch0 = [samples[i].tolist() for i in range(len(samples))]
    epoch1 = [samples[len(samples) + i].tolist() for i in range(len(samples))]
    assert epoch0 != epoch1
    tokens0 = {t for w in epoch0 for t in w}
    tokens1 = {t for w in epoch1 for t in w}
    assert len(tokens0 & tokens1) > 0.8 * len(tokens0)  # the same documents, in another order


def test_a_split_too_small_for_one_sample_is_an_error_naming_the_manifest(tmp_path):
    path = write_corpus(tmp_path / "c", {"train": [[5, 6, EOS]], "valid": [[7, EOS]]}, vocab_size=10, eos_id=EOS)
    with pytest.raises(DataError, match=r"c/manifest\.json: the 'train' split has 3 tokens"):
        GPTSamples(open_split(path, "train"), SEQ, seed=1)


def test_a_missing_split_or_manifest_is_an_error(corpus, tmp_path):
    only_train = write_corpus(tmp_path / "t", {"train": unique_documents(3, 10)}, vocab_size=100, eos_id=EOS)
    with pytest.raises(DataError, match="no 'valid' shards"):
        open_split(only_train, "valid")
    with pytest.raises(DataError, match="no such manifest"):
        open_split(tmp_path / "nowhere" / "manifest.json", "train")
    with pytest.raises(DataError, match="gap-replay download"):
        open_split("https://example.org/tokens/manifest.json", "train")


def test_apportion_gives_integer_shares_that_sum_to_the_total():
    assert apportion([0.7, 0.2, 0.1], 10) == [7, 2, 1]
    assert apportion([1, 1, 1], 100) == [34, 33, 33]
    assert sum(apportion([0.013, 0.5, 0.487], 10_000)) == 10_000


def test_blend_interleaves_streams_by_weight(tmp_path):
    first = write_corpus(tmp_path / "a", {"train": unique_documents(30, 10)}, vocab_size=5000, eos_id=EOS)
    second = write_corpus(tmp_path / "b", {"train": unique_documents(30, 10, first=3000)}, vocab_size=5000, eos_id=EOS)
    streams = [GPTSamples(open_split(path, "train"), SEQ, seed=1) for path in (first, second)]
    blend = Blend(streams, [3.0, 1.0], cycle=100)
    sources = [blend.source(i) for i in range(100)]
    assert sources.count(0) == 75
    assert all(sources[i : i + 4].count(1) == 1 for i in range(0, 100, 4))  # spread evenly, not in runs
    from_second = [blend[i] for i in range(100) if blend.source(i) == 1]
    assert [w.tolist() for w in from_second[:5]] == [streams[1][i].tolist() for i in range(5)]
    assert all(w.min() >= 3000 or w.min() == EOS for w in from_second)


def test_blend_weight_too_small_for_the_cycle_is_an_error(corpus):
    stream = GPTSamples(open_split(corpus, "train"), SEQ, seed=1)
    with pytest.raises(DataError, match="below 1/100 of the blend"):
        Blend([stream, stream], [1.0, 0.001], cycle=100)


def test_ranks_read_disjoint_consecutive_blocks_of_each_global_batch():
    world, micro = 4, 2
    taken = [list(rank_slice(consumed, micro, rank)) for consumed in (0, 8, 16) for rank in range(world)]
    flat = [i for block in taken for i in block]
    assert sorted(flat) == list(range(24))


def test_loaders_of_different_ranks_never_return_the_same_sample(corpus):
    blend = Blend([GPTSamples(open_split(corpus, "train"), SEQ, seed=1)], [1.0])
    loaders = [TrainLoader(blend, micro_batch_size=2, rank=rank, world_size=2, seed=1) for rank in range(2)]
    seen = [{tuple(row) for _ in range(5) for row in loader.next_batch().tolist()} for loader in loaders]
    assert len(seen[0]) == len(seen[1]) == 10
    assert not seen[0] & seen[1]


def test_loader_state_resumes_exactly_where_it_stopped(corpus):
    blend = Blend([GPTSamples(open_split(corpus, "train"), SEQ, seed=1)], [1.0])
    straight = TrainLoader(blend, micro_batch_size=3, rank=0, world_size=1, seed=1)
    batches = [straight.next_batch() for _ in range(6)]
    first = TrainLoader(blend, micro_batch_size=3, rank=0, world_size=1, seed=1)
    for _ in range(3):
        first.next_batch()
    resumed = TrainLoader(blend, micro_batch_size=3, rank=0, world_size=1, seed=1)
    resumed.load_state_dict(first.state_dict())
    assert first.state_dict() == {"seed": 1, "consumed_samples": 9}
    assert all(torch.equal(resumed.next_batch(), batch) for batch in batches[3:])


def test_loader_refuses_the_state_of_another_seed(corpus):
    blend = Blend([GPTSamples(open_split(corpus, "train"), SEQ, seed=1)], [1.0])
    with pytest.raises(DataError, match="seed 7 differs"):
        TrainLoader(blend, 1, 0, 1, seed=1).load_state_dict({"seed": 7, "consumed_samples": 4})


def test_validation_batches_split_the_same_samples_evenly_over_ranks(corpus):
    samples = GPTSamples(open_split(corpus, "valid"), SEQ, seed=1)
    alone = torch.cat(validation_batches(samples, 5, micro_batch_size=2, rank=0, world_size=1))
    shares = [torch.cat(validation_batches(samples, 5, 2, rank, world_size=2)) for rank in range(2)]
    assert len(samples) == 6 and alone.shape == (5, SEQ + 1)
    assert shares[0].shape == shares[1].shape == (2, SEQ + 1)  # 5 samples: 2 per rank, batches stay equal
    rows = {tuple(r) for r in alone.tolist()}
    assert {tuple(r) for share in shares for r in share.tolist()} <= rows
