"""Deduplication on Beam: one version per id, full text over abstract, exact duplicates by normalised text, near
duplicates by MinHash LSH.

Survivors follow `survivor_key` (full text over abstract, newest, most permissive licence, ...), never chance.
Near dedup shuffles only small band keys, in batches, and links documents that share a band (optionally only those
whose exact Jaccard similarity reaches a threshold) or their exact key (so exact duplicates join the same clusters,
and a text repeated many times is one star, not a crowd of pairs); `ConnectedComponents` resolves the clusters on
one worker when the edges are few, else in Beam rounds; each cluster's survivor is chosen from its members' keys,
and documents then learn their cluster (and, unless they survive it, their drop reason) by an id join, or from a
side input when the clusters were found on one worker.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, TaggedOutput
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from gap_replay.beam import counters
from gap_replay.beam.components import (
    BEAM_EDGES,
    CHANGED_LABELS,
    DRIVER_EDGES,
    NAMESPACE,
    ROUNDS,
    ConnectedComponents,
    counter_totals,
    oriented,
    resolve_on_driver,
)
from gap_replay.beam.rejects import REJECTS, reject_record
from gap_replay.dedup.exact import exact_key, normalized_key, normalized_words
from gap_replay.dedup.minhash import (
    band_keys,
    hashes_signature,
    jaccard,
    shingle_set,
    word_shingle_hashes,
)
from gap_replay.dedup.survivor import choose_survivor, survivor_key
from gap_replay.documents import Document
from gap_replay.recipe import MinHashConfig

Edge = tuple[str, str]
# A candidate: (id, survivor key, exact key).
Member = tuple[str, tuple, str]
# Band entries of one partition: their band keys, (band, digest), and their members, in two parallel lists.
Batch = tuple[list[tuple[int, bytes]], list[Member]]
# A member's cluster: (cluster id, survivor id, cluster size, drop reason: None for the survivor).
Cluster = tuple[str, str, int, str | None]
# Tagged outputs of near dedup: each document's shingle set (for verification), each candidate's survivor key, and
# the edges between exact duplicates (sure: they skip verification).
SHINGLES = "shingles"
KEYS = "keys"
EXACT_EDGES = "exact_edges"
# The bucket of a document's exact key, next to its LSH bands: exact duplicates are one cluster with near ones.
EXACT_BAND = -1
# Band entries are shuffled in batches keyed by one of this many partitions of the band-key space; a partition's
# entries meet on one worker (21 million documents make about 350,000 entries a partition, some tens of MB).
BAND_PARTITIONS = 1024
# A bundle's batches are sent on when they hold this many entries, which bounds a worker's buffer.
FLUSH_ENTRIES = 100_000
# Counters (namespace `gap_replay.near_dedup`) of the candidate pairs checked by exact Jaccard, and those dropped.
CANDIDATE_PAIRS = "jaccard/checked"
DISSIMILAR_PAIRS = "jaccard/dissimilar"


def _reject_duplicates(survivor: Document, duplicates: Iterable[Document], reason: str) -> Iterator[TaggedOutput]:
    """Rejects naming the survivor; one with the survivor's very text is an exact duplicate, whatever the step."""
    for duplicate in duplicates:
        why = "exact_duplicate" if duplicate.text == survivor.text else reason
        counters.dropped(duplicate.source, why)
        yield TaggedOutput(REJECTS, reject_record(why, f"kept {survivor.id}", document=duplicate))


class _KeepNewest(beam.DoFn):
    """(id, {documents, deletions}) -> the newest revision, unless a deletion at least as new withdrew the record."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        self._priority = tuple(source_priority)

    def process(self, group: tuple[str, dict[str, list]]) -> Iterator[Document | TaggedOutput]:
        docs = sorted(group[1]["document"], key=lambda doc: survivor_key(doc, self._priority))
        if not docs:
            return
        newest = docs[0]
        deleted_at = max(group[1]["deletion"], default=None)
        if deleted_at is not None and deleted_at >= newest.meta.get("revision", 0):
            for doc in docs:
                counters.dropped(doc.source, "deleted")
                yield TaggedOutput(REJECTS, reject_record("deleted", f"deleted in revision {deleted_at}", document=doc))
            return
        yield from _reject_duplicates(newest, docs[1:], "superseded_version")
        yield newest


class LatestVersion(beam.PTransform):
    """One document per id: the newest revision of a record wins (an update file's over the baseline's), and a
    later deletion (PubMed's DeleteCitation) removes it. Input: {"documents": ..., "deletions": ...}."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        super().__init__()
        self._priority = tuple(source_priority)

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.pvalue.DoOutputsTuple:
        documents = inputs["documents"] | "KeyById" >> beam.Map(lambda doc: (doc.id, doc))
        deletions = inputs["deletions"] | "KeyDeletion" >> beam.Map(lambda deletion: (deletion.id, deletion.revision))
        return (
            {"document": documents, "deletion": deletions}
            | "GroupById" >> beam.CoGroupByKey()
            | "KeepNewest" >> beam.ParDo(_KeepNewest(self._priority)).with_outputs(REJECTS, main="documents")
        )


class _KeepSurvivor(beam.DoFn):
    """(key, documents) -> the rule survivor; the others are rejected as exact duplicates, naming the survivor."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        self._priority = tuple(source_priority)

    def process(self, group: tuple[str, Iterable[Document]]) -> Iterator[Document | TaggedOutput]:
        docs = sorted(group[1], key=lambda doc: survivor_key(doc, self._priority))
        yield from _reject_duplicates(docs[0], docs[1:], "exact_duplicate")
        yield docs[0]


class ExactDedup(beam.PTransform):
    """Documents whose normalised text is identical (digits kept) collapse to one survivor."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        super().__init__()
        self._priority = tuple(source_priority)

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            docs
            | "KeyByText" >> beam.Map(lambda doc: (exact_key(doc.text), doc))
            | "GroupByText" >> beam.GroupByKey()
            | "KeepSurvivor" >> beam.ParDo(_KeepSurvivor(self._priority)).with_outputs(REJECTS, main="documents")
        )


def article_keys(doc: Document) -> list[str]:
    """The identifiers that name a document's article across PubMed and PMC: `pmid:<n>`, `pmcid:PMC<n>`."""
    keys = []
    if doc.meta.get("pmid"):
        keys.append(f"pmid:{doc.meta['pmid']}")
    if doc.meta.get("pmcid"):
        keys.append(f"pmcid:{str(doc.meta['pmcid']).upper()}")
    return keys


class _DropAbstracts(beam.DoFn):
    """(id, {document, full_text}) -> the document, unless it is an abstract whose full text is in the corpus."""

    def process(self, joined: tuple[str, dict[str, list]]) -> Iterator[Document | TaggedOutput]:
        full_text = min(joined[1]["full_text"], default=None)
        for doc in joined[1]["document"]:
            if full_text is None:
                yield doc
            else:
                counters.dropped(doc.source, "full_text_available")
                yield TaggedOutput(REJECTS, reject_record("full_text_available", f"kept {full_text}", document=doc))


class PreferFullText(beam.PTransform):
    """Drops a PubMed abstract whose article is in the corpus as PMC full text, joined by PMID and PMCID (an id
    join before MinHash: an abstract and its paper are too different in length for near dedup to pair them)."""

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        def keyed(source: str, label: str) -> beam.PCollection:
            return (
                docs
                | f"{label}Only" >> beam.Filter(lambda doc: doc.source == source)
                | f"{label}Keys" >> beam.FlatMap(lambda doc: [(key, doc.id) for key in article_keys(doc)])
            )

        full_text_of = (
            {"abstract": keyed("pubmed", "Abstract"), "full_text": keyed("pmc", "FullText")}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "AbstractToPaper"
            >> beam.FlatMap(
                lambda joined: (
                    [(abstract, min(joined[1]["full_text"])) for abstract in joined[1]["abstract"]]
                    if joined[1]["full_text"]
                    else []
                )
            )
        )
        return (
            {"document": docs | "KeyById" >> beam.Map(lambda doc: (doc.id, doc)), "full_text": full_text_of}
            | "JoinDocuments" >> beam.CoGroupByKey()
            | "DropAbstracts" >> beam.ParDo(_DropAbstracts()).with_outputs(REJECTS, main="documents")
        )


class _BandKeys(beam.DoFn):
    """Documents -> batches of (band key, member) entries, a band key being (band, digest) and a member (id, survivor
    key, exact key): one entry for each LSH band of a document's MinHash signature and one for its exact key (band
    EXACT_BAND), keyed by a partition of the band-key space; when pairs are verified, also (id, shingle set). The
    text is normalised once for the exact key and the shingles, and hashed once for the signature and the set.

    Entries travel in batches, two parallel lists (band keys, members) per partition per bundle, flushed every
    FLUSH_ENTRIES entries, rather than one shuffled element each: seventeen elements per document cost more in the
    runner than the MinHash itself, and a tuple per entry costs the garbage collector more than the lists.
    """

    def __init__(self, config: MinHashConfig, source_priority: Sequence[str]) -> None:
        self._config = config
        self._priority = tuple(source_priority)

    def start_bundle(self) -> None:
        self._batches: dict[int, Batch] = {}
        self._buffered = 0

    def _flush(self) -> list[tuple[int, Batch]]:
        batches, self._batches, self._buffered = sorted(self._batches.items()), {}, 0
        return batches

    def process(self, doc: Document) -> Iterator[tuple[int, Batch] | TaggedOutput]:
        words = normalized_words(doc.text)
        exact = normalized_key(" ".join(words))
        hashes = word_shingle_hashes(words, self._config.ngram)
        member = (doc.id, survivor_key(doc, self._priority), exact)
        keys = [(EXACT_BAND, bytes.fromhex(exact))]
        keys += band_keys(hashes_signature(hashes, self._config), self._config.bands, self._config.rows)
        batches = self._batches
        for key in keys:
            partition = band_partition(key)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = ([], [])
            batch[0].append(key)
            batch[1].append(member)
        self._buffered += len(keys)
        if self._config.verify_jaccard is not None:
            yield TaggedOutput(SHINGLES, (doc.id, shingle_set(hashes)))
        if self._buffered >= FLUSH_ENTRIES:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for batch in self._flush():
            yield GlobalWindows.windowed_value(batch)


def band_partition(key: tuple[int, bytes]) -> int:
    """The partition of a band key (its digest is uniform already): all entries of one bucket meet in it."""
    band, digest = key
    return (int.from_bytes(digest[:4], "little") + band) % BAND_PARTITIONS


def _buckets(partition: tuple[int, Iterable[Batch]]) -> Iterator[tuple[tuple[int, bytes], list[Member]]]:
    """(partition, batches) -> (band key, members) for every bucket of two entries or more."""
    buckets: dict[tuple[int, bytes], list[Member]] = defaultdict(list)
    for keys, members in partition[1]:
        for key, member in zip(keys, members, strict=True):
            buckets[key].append(member)
    for key, members in buckets.items():
        if len(members) > 1:
            yield key, members


def _bucket_pairs(
    bucket: tuple[tuple[int, bytes], Iterable[Member]], every_pair: bool
) -> Iterator[Edge | TaggedOutput]:
    """Members of one bucket -> candidate pairs, and the survivor key of each member in one.

    An exact-key bucket links its members in a star from the smallest id, as sure edges (EXACT_EDGES: equal texts
    need no verification). An LSH bucket takes one member per exact key (the copies are linked by their own bucket)
    and links those: unverified, in a star from the smallest id; verified, every pair, as a star's centre may match
    no one. So a text repeated a thousand times costs a star, not half a million pairs to verify.
    """
    (band, _), members = bucket
    if band == EXACT_BAND:
        ids = sorted({member[0]: member for member in members}.items())
        for member, entry in ids:
            yield TaggedOutput(KEYS, (member, entry[1:]))
        for other, _ in ids[1:]:
            yield TaggedOutput(EXACT_EDGES, (ids[0][0], other))
        return
    by_text: dict[str, Member] = {}
    for member in members:
        kept = by_text.get(member[2])
        if kept is None or member[0] < kept[0]:
            by_text[member[2]] = member
    if len(by_text) < 2:
        return
    chosen = sorted(by_text.values())
    for member in chosen:
        yield TaggedOutput(KEYS, (member[0], member[1:]))
    ids = [member[0] for member in chosen]
    yield from itertools.combinations(ids, 2) if every_pair else ((ids[0], other) for other in ids[1:])


def _pair_shingles(joined: tuple[str, dict[str, list]]) -> Iterator[tuple[Edge, np.ndarray]]:
    """(id, {pair, shingles}) -> (pair, the id's shingle set) for each candidate pair the document is in."""
    _, groups = joined
    for pair in groups["pair"]:
        yield pair, groups["shingles"][0]


def _similar(pair_sets: tuple[Edge, Iterable[np.ndarray]], threshold: float) -> Iterator[Edge]:
    """The pair, when the exact Jaccard similarity of its two shingle sets reaches the threshold; pairs checked and
    pairs found dissimilar are counted."""
    pair, sets = pair_sets
    first, second = sets
    Metrics.counter(NAMESPACE, CANDIDATE_PAIRS).inc()
    if jaccard(first, second) >= threshold:
        yield pair
    else:
        Metrics.counter(NAMESPACE, DISSIMILAR_PAIRS).inc()


class _VerifyPairs(beam.PTransform):
    """{"pairs": candidate pairs, "shingles": (id, shingle set)} -> the distinct pairs whose exact Jaccard similarity
    reaches `threshold`: pairs meet their documents' shingle sets by an id join, then each other by a pair join."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self._threshold = threshold

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        by_member = (
            inputs["pairs"]
            | "Distinct" >> beam.Distinct()
            | "ByMember" >> beam.FlatMap(lambda pair: ((pair[0], pair), (pair[1], pair)))
        )
        return (
            {"pair": by_member, "shingles": inputs["shingles"]}
            | "JoinShingles" >> beam.CoGroupByKey()
            | "PairShingles" >> beam.FlatMap(_pair_shingles)
            | "ByPair" >> beam.GroupByKey()
            | "Similar" >> beam.FlatMap(_similar, self._threshold)
        )


def _member_of_cluster(joined: tuple[str, dict[str, list]]) -> Iterator[tuple[str, tuple[str, tuple, str]]]:
    """(id, {root, key}) -> (root, (id, survivor key, exact key)) for a document in a cluster."""
    member, groups = joined
    if groups["root"]:
        yield groups["root"][0], (member, *groups["key"][0])


def _assign_cluster(cluster: tuple[str, Iterable[tuple[str, tuple, str]]]) -> Iterator[tuple[str, Cluster]]:
    """(root, members) -> (id, (cluster id, survivor id, cluster size, drop reason)) for every member: the survivor
    has no reason; another member is an exact duplicate when its exact key is the survivor's, else a near one."""
    root, members = cluster
    entries = {member: (key, exact) for member, key, exact in members}
    survivor = choose_survivor({member: key for member, (key, _) in entries.items()})
    survivor_exact = entries[survivor][1]
    for member, (_, exact) in entries.items():
        reason = None if member == survivor else "exact_duplicate" if exact == survivor_exact else "near_duplicate"
        yield member, (root, survivor, len(entries), reason)


class _ClustersOnDriver(beam.CombineFn):
    """("edge", edge) and ("key", (id, (survivor key, exact key))) -> [(id, cluster)] for every member of a cluster,
    on one worker: the components by union-find over the distinct edges, then `_assign_cluster` per component. For
    `components: driver`, where the duplicate graph fits one worker; it spares the shuffles of `_Clusters`."""

    def create_accumulator(self) -> tuple[set[Edge], dict[str, tuple]]:
        return set(), {}

    def add_input(self, accumulator: tuple[set[Edge], dict[str, tuple]], item: tuple[str, Any]) -> tuple:
        edges, keys = accumulator
        kind, value = item
        if kind == "edge":
            edges.update(oriented(value))
        else:
            keys[value[0]] = value[1]
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[tuple[set[Edge], dict[str, tuple]]]) -> tuple:
        edges: set[Edge] = set()
        keys: dict[str, tuple] = {}
        for more_edges, more_keys in accumulators:
            edges |= more_edges
            keys.update(more_keys)
        return edges, keys

    def extract_output(self, accumulator: tuple[set[Edge], dict[str, tuple]]) -> list[tuple[str, Cluster]]:
        edges, keys = accumulator
        members: dict[str, list[tuple[str, tuple, str]]] = defaultdict(list)
        for node, root in resolve_on_driver(edges).items():
            members[root].append((node, *keys[node]))
        return [assigned for cluster in members.items() for assigned in _assign_cluster(cluster)]


class _Clusters(beam.PTransform):
    """{"root": (id, root), "key": (id, (survivor key, exact key))} -> (id, (cluster id, survivor id, size, survivor's
    exact key)), whichever way the components were resolved: the survivor is the member with the smallest key."""

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        return (
            inputs
            | "JoinKeys" >> beam.CoGroupByKey()
            | "ByRoot" >> beam.FlatMap(_member_of_cluster)
            | "GroupByRoot" >> beam.GroupByKey()
            | "Assign" >> beam.FlatMap(_assign_cluster)
        )


def _apply_cluster(doc: Document, cluster: Cluster | None) -> Document | TaggedOutput:
    """A document outside every cluster as it is; a survivor tagged with its cluster and its size; another member
    rejected with the reason its cluster gives it."""
    if cluster is None:
        return doc
    cluster_id, survivor, size, reason = cluster
    if reason is None:
        counters.count(doc.source, "clusters/near")
        return doc.replace(meta={**doc.meta, "cluster_id": cluster_id, "cluster_size": size})
    counters.dropped(doc.source, reason)
    return TaggedOutput(REJECTS, reject_record(reason, f"kept {survivor}", document=doc))


def _apply_joined(joined: tuple[str, dict[str, list]]) -> Iterator[Document | TaggedOutput]:
    """(id, {document, cluster}) joined by id -> `_apply_cluster` of each document."""
    _, groups = joined
    cluster = groups["cluster"][0] if groups["cluster"] else None
    for doc in groups["document"]:
        yield _apply_cluster(doc, cluster)


def _apply_looked_up(doc: Document, clusters: dict[str, Cluster]) -> Iterator[Document | TaggedOutput]:
    """`_apply_cluster` of a document, its cluster looked up by id in the clusters of every member."""
    yield _apply_cluster(doc, clusters.get(doc.id))


class NearDedup(beam.PTransform):
    """MinHash + LSH banding as a GroupByKey on band keys, optional exact Jaccard verification of the candidate
    pairs, connected components (`ConnectedComponents`) and a rule-based survivor per cluster."""

    def __init__(self, config: MinHashConfig, source_priority: Sequence[str]) -> None:
        super().__init__()
        self._config = config
        self._priority = tuple(source_priority)

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        config, verify = self._config, self._config.verify_jaccard
        bands = docs | "BandKeys" >> beam.ParDo(_BandKeys(config, self._priority)).with_outputs(SHINGLES, main="bands")
        candidates = (
            bands.bands
            | "GroupByPartition" >> beam.GroupByKey()
            | "Buckets" >> beam.FlatMap(_buckets)
            | "BucketPairs"
            >> beam.FlatMap(_bucket_pairs, verify is not None).with_outputs(KEYS, EXACT_EDGES, main="pairs")
        )
        edges = candidates.pairs
        if verify is not None:
            edges = {"pairs": edges, "shingles": bands[SHINGLES]} | "VerifyJaccard" >> _VerifyPairs(verify)
        edges = (edges, candidates[EXACT_EDGES]) | "WithExactEdges" >> beam.Flatten()
        if config.components == "driver":
            # The duplicate graph fits one worker (that is what `driver` says): its clusters are found there, and
            # fit every worker's memory as a side input, which spares the documents a shuffle.
            clusters = (
                (
                    edges | "TagEdges" >> beam.Map(lambda edge: ("edge", edge)),
                    candidates[KEYS] | "TagKeys" >> beam.Map(lambda key: ("key", key)),
                )
                | "EdgesAndKeys" >> beam.Flatten()
                | "ClustersOnDriver" >> beam.CombineGlobally(_ClustersOnDriver())
                | "EveryMember" >> beam.FlatMap(lambda assigned: assigned)
            )
            return docs | "KeepSurvivors" >> beam.FlatMap(_apply_looked_up, AsDict(clusters)).with_outputs(
                REJECTS, main="documents"
            )
        roots = edges | "ConnectedComponents" >> ConnectedComponents(
            config.components, config.driver_max_edges, config.max_rounds
        )
        clusters = {"root": roots, "key": candidates[KEYS]} | "Clusters" >> _Clusters()
        keyed = docs | "KeyById" >> beam.Map(lambda doc: (doc.id, doc))
        return (
            {"document": keyed, "cluster": clusters}
            | "JoinClusters" >> beam.CoGroupByKey()
            | "KeepSurvivors" >> beam.FlatMap(_apply_joined).with_outputs(REJECTS, main="documents")
        )


def near_dedup_stats(result: Any) -> dict[str, Any]:
    """The near-dedup counters of a finished pipeline: the distinct edges resolved on the driver and in Beam, the
    star rounds run (`near_dedup_rounds`; 0 when the driver resolved them all), the labels each round changed, and
    the candidate pairs checked and found dissimilar by exact Jaccard."""
    totals = counter_totals(result)
    rounds = totals.get(ROUNDS, 0)
    return {
        "edges": {"driver": totals.get(DRIVER_EDGES, 0), "beam": totals.get(BEAM_EDGES, 0)},
        "rounds": rounds,
        "changed_labels": [totals.get(CHANGED_LABELS.format(number), 0) for number in range(1, rounds + 1)],
        "jaccard": {"checked": totals.get(CANDIDATE_PAIRS, 0), "dissimilar": totals.get(DISSIMILAR_PAIRS, 0)},
    }
