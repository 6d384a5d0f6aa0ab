"""Build's batched steps on their own: slices of the curated Parquet, spill files, the mix plan, shards from pieces."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from gap_replay.documents import Document
from gap_replay.mix import stable_unit
from gap_replay.parquet import write_parquet
from gap_replay.pipelines import build
from gap_replay.pipelines.build import (
    BuildError,
    MixCounts,
    MixPlan,
    TokenizedBatch,
    curated_slices,
    mix_plan,
    read_slice,
    read_spilled,
    shard_pieces,
    write_split_shard,
)
from gap_replay.shards.indexed import IndexedDataset
from gap_replay.shards.tokenizer import train_bpe

U16 = np.dtype(np.uint16)


def spill(path, tokens):
    np.array(tokens, dtype=U16).tofile(path)
    return str(path)


def test_slices_cover_every_row_once_in_file_order(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "READ_ROWS", 3)  # read batches that straddle the slice bounds
    path = tmp_path / "part.parquet"
    docs = [Document(id=f"pubmed:{n}", source="pubmed", subsource="pubmed", text=f"text {n}") for n in range(10)]
    write_parquet(docs, path, batch_size=4)  # row groups of 4, 4 and 2 rows

    slices = curated_slices([str(path)], documents=3)

    assert [(piece.row_group, piece.start, piece.stop) for piece in slices] == [
        (0, 0, 2),
        (0, 2, 4),
        (1, 0, 2),
        (1, 2, 4),
        (2, 0, 2),
    ]
    ids = [doc_id for piece in slices for batch in read_slice(piece) for doc_id in batch.column("id").to_pylist()]
    assert ids == [doc.id for doc in docs]


def test_text_batches_hold_a_few_hundred_texts_or_a_few_long_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "BATCH_DOCUMENTS", 3)
    monkeypatch.setattr(build, "BATCH_CHARACTERS", 100)
    path = tmp_path / "part.parquet"
    lengths = [10, 10, 10, 10, 150, 10, 60, 60, 10]
    write_parquet(
        [Document(id=f"pmc:{n}", source="pmc", subsource="pmc", text="x" * size) for n, size in enumerate(lengths)],
        path,
    )

    [piece] = curated_slices([str(path)])
    batches = list(build._text_batches(piece))

    assert [[len(text) for text in texts] for _, texts in batches] == [[10, 10, 10], [10, 150], [10, 60, 60], [10]]
    assert [doc_id for columns, _ in batches for doc_id in columns.ids] == [f"pmc:{n}" for n in range(len(lengths))]
    assert [columns.characters for columns, _ in batches] == [[10, 10, 10], [10, 150], [10, 60, 60], [10]]
    assert {license for columns, _ in batches for license in columns.licenses} == {"unknown"}, "none was curated"


def test_read_spilled_gathers_documents_in_the_order_asked(tmp_path):
    first = spill(tmp_path / "a.bin", [1, 2, 3, 4, 5])
    second = spill(tmp_path / "b.bin", [9, 8])
    paths = [first, second]

    # (second, from token 1, 1 token), (first, 3, 2), (first, 0, 2)
    tokens = read_spilled(paths, np.array([1, 0, 0]), np.array([1, 3, 0]), np.array([1, 2, 2]), U16)

    assert tokens.tolist() == [8, 4, 5, 1, 2]
    assert read_spilled(paths, np.array([0]), np.array([3]), np.array([2]), U16).tolist() == [4, 5], "to its last token"
    with pytest.raises(BuildError, match=r"a\.bin: spill file ends before token 6"):
        read_spilled(paths, np.array([0]), np.array([4]), np.array([2]), U16)


@pytest.mark.parametrize(
    ("window_bytes", "mapped"), [(2, [2, 2, 1, 3, 2]), (4, [2, 1, 3, 2]), (6, [3, 3, 2]), (12, [6, 2]), (1 << 20, [8])]
)
def test_read_spilled_maps_a_file_a_window_at_a_time_with_the_same_tokens(tmp_path, monkeypatch, window_bytes, mapped):
    monkeypatch.setattr(build, "SPILL_WINDOW", window_bytes)  # 1, 2, 3 or 6 tokens, or the whole file
    lengths = []
    memmap = np.memmap

    def counted(*args, shape, **kwargs):
        lengths.append(shape[0])
        return memmap(*args, shape=shape, **kwargs)

    monkeypatch.setattr(np, "memmap", counted)
    path = spill(tmp_path / "a.bin", [10, 11, 12, 13, 14, 15, 16, 17])
    # asked out of file order, and tokens 0-1 twice (two epochs of a document in one shard)
    files, starts, sizes = np.zeros(5, dtype=np.int64), np.array([6, 0, 3, 0, 2]), np.array([2, 2, 3, 2, 1])

    tokens = read_spilled([path], files, starts, sizes, U16)

    assert tokens.tolist() == [16, 17, 10, 11, 13, 14, 15, 10, 11, 12]
    # In file order the ranges are 0-1, 0-1, 2, 3-5 and 6-7: a window takes them while they end within its size of
    # its first one's start, so it never spans more than that unless one range alone does.
    assert lengths == mapped


def test_windows_take_ranges_while_they_span_at_most_the_token_count_from_the_first_start():
    sizes = np.array([3, 1, 4, 1, 5])  # end to end, as a shard's documents are written
    ends = np.cumsum(sizes)

    assert list(build.windows(ends - sizes, ends, 4)) == [slice(0, 2), slice(2, 3), slice(3, 4), slice(4, 5)], "5 alone"
    assert list(build.windows(ends - sizes, ends, 5)) == [slice(0, 2), slice(2, 4), slice(4, 5)], "3+1, 4+1, 5"
    assert list(build.windows(ends - sizes, ends, 14)) == [slice(0, 5)]
    assert list(build.windows(ends[:0], ends[:0], 4)) == []


def test_replay_is_taken_in_draw_order_up_to_its_token_share_and_sizes_the_shards():
    counts = [
        MixCounts(medical={"train": 600}, replay={"train": [(0.5, 40)]}),
        MixCounts(medical={"train": 300, "valid": 50}, replay={"train": [(0.1, 60), (0.7, 30)], "valid": [(0.2, 10)]}),
    ]

    plan = mix_plan(counts, share=0.1, tokens_per_shard=300)

    # train: 900 medical tokens want 100 of replay, reached by the draws 0.1 and 0.5; 1,000 tokens make 4 shards
    assert plan == MixPlan(replay_limits={"train": 0.5, "valid": 0.2}, shard_counts={"train": 4, "valid": 1})
    assert mix_plan(counts, share=0.0, tokens_per_shard=300).shard_counts == {"train": 3, "valid": 1}


def test_a_shard_holds_its_copies_from_every_batch_in_seeded_shuffle_order(tmp_path):
    seed = 7
    batches = [
        TokenizedBatch(
            path=spill(tmp_path / "a.bin", [11, 0, 12, 13, 0, 14, 0]),
            ids=["pubmed:1", "pmc:2", "pubmed:3"],
            sources=["pubmed", "pmc", "pubmed"],
            licenses=["NLM-PubMed-terms", "CC-BY-4.0", "NLM-PubMed-terms"],
            characters=[30, 40, 20],
            splits=["train", "train", "train"],
            copies=[1, 2, 1],
            offsets=np.array([0, 2, 5, 7]),
        ),
        TokenizedBatch(
            path=spill(tmp_path / "b.bin", [21, 22, 23, 0, 24, 0]),
            ids=["replay:4", "replay:5"],
            sources=["replay", "replay"],
            licenses=["ODC-By-1.0", "CC-BY-SA-4.0"],
            characters=[50, 10],
            splits=["train", "train"],
            copies=[1, 1],
            offsets=np.array([0, 4, 6]),
        ),
    ]
    limit = stable_unit(seed, "replay", "replay:4#0")
    assert stable_unit(seed, "replay", "replay:5#0") > limit  # so replay:5 is left out
    plan = MixPlan(replay_limits={"train": limit}, shard_counts={"train": 1})

    pieces = [piece for batch in batches for piece in shard_pieces(batch, plan, seed)]
    entry, lengths, replay_ids = write_split_shard(str(tmp_path), "train", 0, 1, [piece for _, piece in pieces], U16)

    tokens = {"pubmed:1": [11, 0], "pmc:2": [12, 13, 0], "pubmed:3": [14, 0], "replay:4": [21, 22, 23, 0]}
    keys = ["pubmed:1#0", "pmc:2#0", "pmc:2#1", "pubmed:3#0", "replay:4#0"]
    keys.sort(key=lambda key: (stable_unit(seed, "shuffle", key), key))
    shard = IndexedDataset(tmp_path / entry.path)
    assert [shard[i].tolist() for i in range(len(shard))] == [tokens[key.split("#")[0]] for key in keys]
    assert entry.sources == {"pmc": 6, "pubmed": 4, "replay": 4}
    assert entry.source_documents == {"pmc": 2, "pubmed": 2, "replay": 1}
    # Counted per copy in the shard: pmc:2's two epochs, and only the replay document drawn (replay:4).
    assert entry.license_documents == {
        "pmc": {"CC-BY-4.0": 2},
        "pubmed": {"NLM-PubMed-terms": 2},
        "replay": {"ODC-By-1.0": 1},
    }
    # Per source, (characters, tokens) of each copy, in shard order: pmc:2 twice, replay:4 alone.
    assert sorted(map(tuple, lengths["pmc"].T.tolist())) == [(40, 3), (40, 3)]
    assert sorted(map(tuple, lengths["pubmed"].T.tolist())) == [(20, 2), (30, 2)]
    assert lengths["replay"].T.tolist() == [[50, 4]]
    assert replay_ids == ["replay:4"]


def test_a_tokenizing_worker_reads_each_curated_footer_once_for_its_last_files(tmp_path, monkeypatch):
    texts = {name: [f"{name} abstract number {n} about aspirin" for n in range(6)] for name in ("a", "b")}
    paths = []
    for name, file_texts in texts.items():
        paths.append(str(tmp_path / f"{name}.parquet"))
        docs = [
            Document(id=f"pubmed:{name}{n}", source="pubmed", subsource="pubmed", text=text)
            for n, text in enumerate(file_texts)
        ]
        write_parquet(docs, paths[-1], batch_size=2)  # three row groups, three slices per file
    tokenizer = train_bpe([text for file_texts in texts.values() for text in file_texts], 300, tmp_path / "tok")
    a, b = curated_slices([paths[0]]), curated_slices([paths[1]])  # the driver's reads, before counting
    footers_read = []
    monkeypatch.setattr(build, "read_footer", lambda path: footers_read.append(path) or pq.ParquetFile(path).metadata)
    interleaved = [piece for pair in zip(a, b, strict=True) for piece in pair]

    def tokenize(pieces, run):
        spill_dir = tmp_path / run
        spill_dir.mkdir()
        tokenizer_path = str(tmp_path / "tok" / "tokenizer.json")
        dofn = build.TokenizeSlices(str(spill_dir), tokenizer_path, "<|endoftext|>", 1, 0.0, {})
        dofn.setup()
        dofn.start_bundle()
        batches = [batch for piece in pieces for batch in dofn.process(piece)]
        batches += [value.value for value in dofn.finish_bundle()]
        dofn.teardown()
        return batches

    batches = tokenize(interleaved, "kept")
    assert footers_read == paths, "each file's footer once, though its slices alternate with the other file's"
    assert [doc_id for batch in batches for doc_id in batch.ids] == [
        f"pubmed:{name}{n}" for group in range(3) for name in "ab" for n in (2 * group, 2 * group + 1)
    ]
    spilled = np.fromfile(batches[0].path, dtype=U16)
    first = tokenizer.tokenizer.encode(texts["a"][0], add_special_tokens=False).ids
    assert spilled[: len(first) + 1].tolist() == [*first, tokenizer.eos_id]

    footers_read.clear()
    monkeypatch.setattr(build, "FOOTERS_KEPT", 1)
    tokenize(interleaved, "one kept")
    assert footers_read == [piece.path for piece in interleaved], "one kept: the alternation reads every time"
