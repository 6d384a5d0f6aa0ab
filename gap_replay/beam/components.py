"""Connected components of a graph given as edges: on one worker when the edges are few, else in Beam rounds of
large-star and small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", 2014), which need about
log n rounds even on a chain, where min-label propagation needs one round per link.

An edge points from a node to its label, a smaller node. Large-star relabels a node's larger neighbours with the
smallest node in reach; small-star relabels a node's smaller neighbours likewise. A round (one of each) that changes
no label leaves every component a star around its smallest id, which is the answer.

A Beam pipeline cannot loop on data, so `max_rounds` rounds are unrolled: each round's count of changed labels reaches
the next as a side input, and a round after one that changed none passes its edges through, straight to the end:
later rounds run on nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.pvalue import AsIter, AsSingleton, TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from gap_replay.dedup.minhash import connected_components

Edge = tuple[str, str]
Mode = Literal["auto", "beam", "driver"]

# Counters of the near-dedup stage (namespace apart from the per-source counts of `gap_replay.beam.counters`).
NAMESPACE = "gap_replay.near_dedup"
ROUNDS = "near_dedup_rounds"
CHANGED_LABELS = "changed_labels/round_{:02d}"
DRIVER_EDGES = "edges/driver"
BEAM_EDGES = "edges/beam"

_CHANGES = "changes"
_PASSED = "passed"
_DRIVER = "driver"


def counter_totals(result: Any) -> dict[str, int]:
    """The near-dedup counters of a finished pipeline, by name, summed over the steps that count them."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return totals


class NotConverged(RuntimeError):
    """The star rounds ran out before a round changed no label: the components are not known."""


def oriented(edge: Edge) -> list[Edge]:
    """The edge as (larger id, smaller id), its smaller end the larger's label; a self edge links nothing: none."""
    left, right = edge
    if left == right:
        return []
    return [(left, right)] if left > right else [(right, left)]


def large_star(node: str, neighbours: Iterable[str]) -> tuple[list[Edge], int]:
    """Links each neighbour larger than `node` to the smallest of the node and its neighbours; returns the edges and
    the labels changed (every one of them, unless that smallest is the node itself)."""
    neighbours = set(neighbours)
    smallest = min(neighbours | {node})
    larger = [neighbour for neighbour in neighbours if neighbour > node]
    return [(neighbour, smallest) for neighbour in larger], 0 if smallest == node else len(larger)


def small_star(node: str, smaller: Iterable[str]) -> tuple[list[Edge], int]:
    """Links `node` and its smaller neighbours to the smallest of those; returns the edges and the labels changed
    (the node keeps its label, that smallest keeps its own, every other neighbour changes)."""
    smaller = set(smaller)
    smallest = min(smaller)
    return [(node, smallest)] + [(other, smallest) for other in smaller if other != smallest], len(smaller) - 1


class _Star(beam.DoFn):
    """(node, neighbours) -> the edges of one star step of round `number`. The labels it changed are counted, and go
    out as (round, labels changed) once per bundle that changed any: few records, read by the next round's gate."""

    def __init__(self, step: Callable[[str, Iterable[str]], tuple[list[Edge], int]], number: int) -> None:
        self._step = step
        self._number = number

    def setup(self) -> None:
        self._counter = Metrics.counter(NAMESPACE, CHANGED_LABELS.format(self._number))

    def start_bundle(self) -> None:
        self._changed = 0

    def process(self, group: tuple[str, Iterable[str]]) -> Iterator[Edge]:
        edges, changed = self._step(*group)
        self._changed += changed
        yield from edges

    def finish_bundle(self) -> Iterator[TaggedOutput]:
        if self._changed:
            self._counter.inc(self._changed)
            yield TaggedOutput(_CHANGES, GlobalWindows.windowed_value((self._number, self._changed)))


def _gate(edge: Edge, *changed_before: Iterable[tuple[int, int]]) -> Iterator[Edge | TaggedOutput]:
    """Both ways of an edge go to the round's large-star; once the round before changed no label, the edge passes."""
    if any(any(changes) for changes in changed_before):
        yield edge
        yield edge[1], edge[0]
    else:
        yield TaggedOutput(_PASSED, edge)


class _StarRound(beam.PTransform):
    """(edges, labels the round before changed...) -> (edges after large-star then small-star, edges that passed the
    round because the one before changed no label (they go straight to the end, past every later round), labels
    large-star changed, labels small-star changed). The changes stay apart, each read as its own side input: a
    Flatten would cost a stage per round."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self._number = number

    def expand(self, inputs: tuple[beam.PCollection, ...]) -> tuple[beam.PCollection, ...]:
        edges, *changed_before = inputs
        before = [AsIter(changes) for changes in changed_before]
        gated = edges | "Gate" >> beam.FlatMap(_gate, *before).with_outputs(_PASSED, main="both_ways")
        large = (
            gated.both_ways
            | "ByNode" >> beam.GroupByKey()
            | "LargeStar" >> beam.ParDo(_Star(large_star, self._number)).with_outputs(_CHANGES, main="edges")
        )
        small = (
            large.edges
            | "ByLargerEnd" >> beam.GroupByKey()
            | "SmallStar" >> beam.ParDo(_Star(small_star, self._number)).with_outputs(_CHANGES, main="edges")
        )
        return small.edges, gated[_PASSED], large[_CHANGES], small[_CHANGES]


def _star_labels(edge: Edge, max_rounds: int, *changed_last: Iterable[tuple[int, int]]) -> Iterator[Edge]:
    """(node, root) for both ends of a converged star edge; an error naming the setting when the rounds ran out."""
    changed = sum(count for changes in changed_last for _, count in changes)
    if changed:
        raise NotConverged(
            f"near dedup: connected components did not converge in dedup.minhash.max_rounds={max_rounds} rounds "
            f"({changed} labels changed in the last one): raise dedup.minhash.max_rounds"
        )
    yield edge
    yield edge[1], edge[1]


def _count_rounds(_: bytes, changed: Iterable[tuple[int, int]], max_rounds: int) -> None:
    """Counts the rounds run: with edges (round 0 in `changed`), each round that changed labels and the one after,
    which changed none (rounds that change labels come first: a round runs only after one that did)."""
    rounds = {number for number, _ in changed}
    if 0 in rounds:
        Metrics.counter(NAMESPACE, ROUNDS).inc(min(max_rounds, len(rounds)))


class _StarComponents(beam.PTransform):
    """(oriented distinct edges, their count) -> (node, root) by up to `max_rounds` star rounds."""

    def __init__(self, max_rounds: int) -> None:
        super().__init__()
        self._max_rounds = max_rounds

    def expand(self, inputs: tuple[beam.PCollection, beam.PCollection]) -> beam.PCollection:
        edges, count = inputs
        changed = [count | "AnyEdges" >> beam.FlatMap(lambda edges: [(0, edges)] if edges else [])]
        every_change, passed = list(changed), []
        for number in range(1, self._max_rounds + 1):
            edges, passed_round, *changed = (edges, *changed) | f"Round{number:02d}" >> _StarRound(number)
            every_change += changed
            passed.append(passed_round)
        (
            edges.pipeline
            | "Start" >> beam.Impulse()
            | "CountRounds"
            >> beam.Map(_count_rounds, AsIter(every_change | "EveryChange" >> beam.Flatten()), self._max_rounds)
        )
        return (
            [edges, *passed]
            | "Stars" >> beam.Flatten()
            | "Labels" >> beam.FlatMap(_star_labels, self._max_rounds, *[AsIter(changes) for changes in changed])
            | "OncePerNode" >> beam.Distinct()
        )


def resolve_on_driver(edges: set[Edge]) -> dict[str, str]:
    """Node -> root of the distinct edges by union-find, in this worker; the edges are counted (`edges/driver`)."""
    Metrics.counter(NAMESPACE, DRIVER_EDGES).inc(len(edges))
    return connected_components(edges)


class _EdgeSet(beam.CombineFn):
    """Every edge in one set, on one worker; out: (node, root) pairs by union-find."""

    def create_accumulator(self) -> set[Edge]:
        return set()

    def add_input(self, edges: set[Edge], edge: Edge) -> set[Edge]:
        edges.add(edge)
        return edges

    def merge_accumulators(self, accumulators: Iterable[set[Edge]]) -> set[Edge]:
        merged: set[Edge] = set()
        for edges in accumulators:
            merged |= edges
        return merged

    def extract_output(self, edges: set[Edge]) -> list[tuple[str, str]]:
        return list(resolve_on_driver(edges).items())


def _on_driver(edges: int, mode: Mode, driver_max_edges: int) -> bool:
    """Whether `edges` distinct edges are resolved on the driver; counts them when they go to the rounds (the
    driver's edge set counts its own)."""
    on_driver = mode == "auto" and edges <= driver_max_edges
    if not on_driver:
        Metrics.counter(NAMESPACE, BEAM_EDGES).inc(edges)
    return on_driver


def _route(edge: Edge, on_driver: bool) -> Iterator[Edge | TaggedOutput]:
    yield TaggedOutput(_DRIVER, edge) if on_driver else edge


class ConnectedComponents(beam.PTransform):
    """Edges (either orientation; duplicate and self edges allowed) -> (node, smallest id of its component) once for
    every node of a component of two nodes or more.

    `driver` resolves them by union-find on one worker (the edges go straight there), `beam` in star rounds, and
    `auto` on the driver when there are at most `driver_max_edges` distinct edges: a global count of the edges is
    read by the routing step as a side input, so both ways are in the graph and the edges take one. The edges each
    way are counted (`edges/driver`, `edges/beam`), as are the rounds (`near_dedup_rounds`) and the labels changed
    in each.
    """

    def __init__(self, mode: Mode = "auto", driver_max_edges: int = 1_000_000, max_rounds: int = 64) -> None:
        super().__init__()
        self._mode = mode
        self._driver_max_edges = driver_max_edges
        self._max_rounds = max_rounds

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        oriented_edges = edges | "Orient" >> beam.FlatMap(oriented)
        if self._mode == "driver":  # nothing to count or route: the edge set is made distinct where it is resolved
            return oriented_edges | "OnDriver" >> _DriverComponents()
        distinct = oriented_edges | "Distinct" >> beam.Distinct()
        count = distinct | "Count" >> beam.combiners.Count.Globally()
        on_driver = count | "Decide" >> beam.Map(_on_driver, self._mode, self._driver_max_edges)
        in_rounds = count | "InRounds" >> beam.Map(lambda n, driver: 0 if driver else n, AsSingleton(on_driver))
        routed = distinct | "Route" >> beam.FlatMap(_route, AsSingleton(on_driver)).with_outputs(_DRIVER, main="beam")
        labels = [(routed.beam, in_rounds) | "StarRounds" >> _StarComponents(self._max_rounds)]
        if self._mode == "auto":
            labels.append(routed[_DRIVER] | "OnDriver" >> _DriverComponents())
        return labels | "AllLabels" >> beam.Flatten()


class _DriverComponents(beam.PTransform):
    """Edges -> (node, root) by union-find over the distinct edges, on one worker."""

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        return (
            edges | "EdgeSet" >> beam.CombineGlobally(_EdgeSet()) | "DriverLabels" >> beam.FlatMap(lambda pairs: pairs)
        )
