"""Deduplication on Beam: one version per id, exact duplicates by normalised text, near duplicates by MinHash LSH.

Survivors follow `survivor_key` (full text over abstract, newest, most permissive licence, ...), never chance.
Near dedup shuffles only small band keys, links documents that share a band, and resolves connected components on
one worker from the (sparse) duplicate edges, as datatrove does; documents then learn their cluster by an id join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from gap_replay.beam import counters
from gap_replay.beam.rejects import REJECTS, reject_record
from gap_replay.dedup.exact import exact_key
from gap_replay.dedup.minhash import band_keys, connected_components, signature
from gap_replay.dedup.survivor import survivor_key
from gap_replay.documents import Document
from gap_replay.recipe import MinHashConfig

Edge = tuple[str, str]


class _KeepSurvivor(beam.DoFn):
    """(key, documents) -> the survivor; the others are rejected with `reason` (or as exact duplicates when their
    text is the survivor's), naming the survivor."""

    def __init__(self, source_priority: Sequence[str], reason: str) -> None:
        self._priority = tuple(source_priority)
        self._reason = reason

    def process(self, group: tuple[Any, Iterable[Document]]) -> Iterator[Document | TaggedOutput]:
        docs = sorted(group[1], key=lambda doc: survivor_key(doc, self._priority))
        survivor, duplicates = docs[0], docs[1:]
        for duplicate in duplicates:
            reason = "exact_duplicate" if duplicate.text == survivor.text else self._reason
            counters.dropped(duplicate.source, reason)
            yield TaggedOutput(REJECTS, reject_record(reason, f"kept {survivor.id}", document=duplicate))
        yield survivor


class _Collapse(beam.PTransform):
    """Documents that share `key(doc)` collapse to their survivor; the others are rejected with `reason`."""

    def __init__(self, key: Callable[[Document], str], reason: str, source_priority: Sequence[str]) -> None:
        super().__init__()
        self._key = key
        self._reason = reason
        self._priority = tuple(source_priority)

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            docs
            | "Key" >> beam.Map(lambda doc, key: (key(doc), doc), self._key)
            | "Group" >> beam.GroupByKey()
            | "KeepSurvivor"
            >> beam.ParDo(_KeepSurvivor(self._priority, self._reason)).with_outputs(REJECTS, main="documents")
        )


def _document_id(doc: Document) -> str:
    return doc.id


def _text_key(doc: Document) -> str:
    return exact_key(doc.text)


class LatestVersion(_Collapse):
    """One document per id: a revised record (a newer PubMed version, a re-fetched page) replaces the older one."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        super().__init__(_document_id, "superseded_version", source_priority)


class ExactDedup(_Collapse):
    """Documents whose normalised text is identical (digits kept) collapse to one survivor."""

    def __init__(self, source_priority: Sequence[str]) -> None:
        super().__init__(_text_key, "exact_duplicate", source_priority)


class _BandKeys(beam.DoFn):
    """Document -> ((band, digest), (id, survivor key)) for each LSH band of its MinHash signature."""

    def __init__(self, config: MinHashConfig, source_priority: Sequence[str]) -> None:
        self._config = config
        self._priority = tuple(source_priority)

    def process(self, doc: Document) -> Iterator[tuple[tuple[int, bytes], tuple[str, tuple]]]:
        member = (doc.id, survivor_key(doc, self._priority))
        for band in band_keys(signature(doc.text, self._config), self._config.bands, self._config.rows):
            yield band, member


def _bucket_edges(bucket: tuple[Any, Iterable[tuple[str, tuple]]]) -> Iterator[tuple[Edge, dict[str, tuple]]]:
    """Members of one band bucket -> a star of edges from the smallest id (enough for connectivity)."""
    members = sorted(dict(bucket[1]).items())
    for other in members[1:]:
        yield (members[0][0], other[0]), {members[0][0]: members[0][1], other[0]: other[1]}


class _Components(beam.CombineFn):
    """Duplicate edges -> {id: (cluster id, survivor id, cluster size)} for every id in a cluster."""

    def create_accumulator(self) -> tuple[set[Edge], dict[str, tuple]]:
        return set(), {}

    def add_input(self, accumulator, edge_and_keys):
        edges, keys = accumulator
        edge, edge_keys = edge_and_keys
        edges.add(edge)
        keys.update(edge_keys)
        return accumulator

    def merge_accumulators(self, accumulators):
        edges: set[Edge] = set()
        keys: dict[str, tuple] = {}
        for more_edges, more_keys in accumulators:
            edges |= more_edges
            keys.update(more_keys)
        return edges, keys

    def extract_output(self, accumulator) -> dict[str, tuple[str, str, int]]:
        edges, keys = accumulator
        roots = connected_components(sorted(edges))
        members: dict[str, list[str]] = {}
        for node, root in roots.items():
            members.setdefault(root, []).append(node)
        assignment: dict[str, tuple[str, str, int]] = {}
        for root, nodes in members.items():
            survivor = min(nodes, key=lambda node: keys[node])
            for node in nodes:
                assignment[node] = (root, survivor, len(nodes))
        return assignment


class _ApplyClusters(beam.DoFn):
    """Keeps survivors (tagged with their cluster) and rejects the other members of each near-duplicate cluster."""

    def process(self, joined: tuple[str, dict[str, list]]) -> Iterator[Document | TaggedOutput]:
        _, groups = joined
        cluster = groups["cluster"][0] if groups["cluster"] else None
        for doc in groups["document"]:
            if cluster is None:
                yield doc
                continue
            cluster_id, survivor, size = cluster
            if doc.id == survivor:
                counters.count(doc.source, "clusters/near")
                yield doc.replace(meta={**doc.meta, "cluster_id": cluster_id, "cluster_size": size})
            else:
                counters.dropped(doc.source, "near_duplicate")
                yield TaggedOutput(REJECTS, reject_record("near_duplicate", f"kept {survivor}", document=doc))


class NearDedup(beam.PTransform):
    """MinHash + LSH banding as a GroupByKey on band keys, then connected components and a rule-based survivor."""

    def __init__(self, config: MinHashConfig, source_priority: Sequence[str]) -> None:
        super().__init__()
        self._config = config
        self._priority = tuple(source_priority)

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        clusters = (
            docs
            | "BandKeys" >> beam.ParDo(_BandKeys(self._config, self._priority))
            | "GroupByBand" >> beam.GroupByKey()
            | "BucketEdges" >> beam.FlatMap(_bucket_edges)
            | "ConnectedComponents" >> beam.CombineGlobally(_Components())
            | "PerDocument" >> beam.FlatMap(lambda assignment: sorted(assignment.items()))
        )
        keyed = docs | "KeyById" >> beam.Map(lambda doc: (doc.id, doc))
        return (
            {"document": keyed, "cluster": clusters}
            | "JoinClusters" >> beam.CoGroupByKey()
            | "KeepSurvivors" >> beam.ParDo(_ApplyClusters()).with_outputs(REJECTS, main="documents")
        )
