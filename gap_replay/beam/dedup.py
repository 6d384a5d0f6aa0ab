"""Deduplication on Beam: one version per id, full text over abstract, exact duplicates by normalised text, near
duplicates by MinHash LSH.

Survivors follow `survivor_key` (full text over abstract, newest, most permissive licence, ...), never chance.
Near dedup shuffles only small band keys, links documents that share a band, and resolves connected components on
one worker from the (sparse) duplicate edges, as datatrove does; documents then learn their cluster by an id join.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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
