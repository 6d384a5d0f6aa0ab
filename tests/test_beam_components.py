"""Connected components in Beam: the star steps, exactness against a plain union-find on random graphs (both ways of
resolving them), the `auto` choice on both sides of its bound, the rounds and their counters, and the loud error."""

import itertools
import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from gap_replay.beam.components import (
    BEAM_EDGES,
    DRIVER_EDGES,
    ROUNDS,
    ConnectedComponents,
    counter_totals,
    large_star,
    oriented,
    small_star,
)
from gap_replay.pipelines.options import pipeline_options

# Enough rounds for every graph below (a chain of n nodes needs about log n), far fewer than the 300 a min-label
# propagation would need on the chain; fewer rounds also keep the unrolled pipeline small.
TEST_ROUNDS = 16


def union_find(edges):
    """{node: smallest id of its component} for the nodes of components of two or more nodes: the reference."""
    parent = {}

    def find(node):
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in edges:
        parent.setdefault(left, left)
        parent.setdefault(right, right)
        parent[find(left)] = find(right)
    members = {}
    for node in parent:
        members.setdefault(find(node), []).append(node)
    return {node: min(nodes) for nodes in members.values() if len(nodes) > 1 for node in nodes}


def ids(rng, count):
    """Distinct document-like ids in random order, so a graph's shape says nothing about which id is smallest."""
    return rng.sample([f"pubmed:{number}" for number in range(10 * count)], count)


def sorted_chain(rng):
    """A path whose smallest id is at one end: a label must cross every link (the worst case for propagation)."""
    nodes = sorted(ids(rng, 300))
    return list(itertools.pairwise(nodes))


def shuffled_chain(rng):
    nodes = ids(rng, 300)
    return list(itertools.pairwise(nodes))


def star(rng):
    centre, *leaves = ids(rng, 80)
    return [(centre, leaf) for leaf in leaves]


def many_small_components(rng):
    """Components of two to five nodes, each a random tree."""
    nodes, edges = ids(rng, 400), []
    while len(nodes) >= 2:
        size = min(rng.randint(2, 5), len(nodes))
        members, nodes = nodes[:size], nodes[size:]
        edges += [(rng.choice(members[:index]), members[index]) for index in range(1, size)]
    return edges


def isolated_nodes_among_pairs(rng):
    """Self edges alone link nothing: their nodes are in no component; the pairs beside them are."""
    nodes = ids(rng, 40)
    return [(node, node) for node in nodes[:20]] + list(zip(nodes[20::2], nodes[21::2], strict=True))


def stars_sharing_a_leaf(rng):
    """Two stars around the two smallest ids, sharing one leaf: no node has both smaller and larger neighbours, so
    large-star changes nothing, and only small-star's relinking of the second centre joins the stars."""
    first, second, shared, *leaves = sorted(ids(rng, 10))
    return [(first, shared), (second, shared)] + [(second, leaf) for leaf in leaves]


def clique(rng):
    return list(itertools.combinations(ids(rng, 12), 2))


def duplicate_and_self_edges(rng):
    """A random sparse graph whose edges come twice, both ways round, with self edges mixed in."""
    nodes = ids(rng, 120)
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(90)]
    edges += [(right, left) for left, right in edges] + [(node, node) for node in rng.sample(nodes, 30)]
    rng.shuffle(edges)
    return edges


GRAPHS = [sorted_chain, shuffled_chain, star, many_small_components, isolated_nodes_among_pairs, stars_sharing_a_leaf]
GRAPHS += [clique, duplicate_and_self_edges]


def components(edges, mode, driver_max_edges=0, max_rounds=TEST_ROUNDS, expected=None, beam_args=()):
    """Run ConnectedComponents on the edges, check its labels against union-find's; returns the near-dedup counters."""
    pipeline = beam.Pipeline(options=pipeline_options(beam_args))
    labels = pipeline | beam.Create(edges) | ConnectedComponents(mode, driver_max_edges, max_rounds)
    reference = union_find(edges)
    assert_that(labels, equal_to(sorted(reference.items()) if expected is None else expected))
    result = pipeline.run()
    result.wait_until_finish()
    return counter_totals(result)


def test_an_edge_points_from_the_larger_id_to_the_smaller_and_a_self_edge_is_none():
    assert oriented(("a", "b")) == [("b", "a")]
    assert oriented(("b", "a")) == [("b", "a")]
    assert oriented(("a", "a")) == []


def test_large_star_links_larger_neighbours_to_the_smallest_in_reach_and_counts_them_changed():
    edges, changed = large_star("c", ["d", "a", "e", "a"])
    assert sorted(edges) == [("d", "a"), ("e", "a")]
    assert changed == 2


def test_large_star_at_the_smallest_node_keeps_its_neighbours_labels():
    edges, changed = large_star("b", ["d", "c"])
    assert sorted(edges) == [("c", "b"), ("d", "b")]
    assert changed == 0


def test_small_star_links_the_node_and_its_smaller_neighbours_to_the_smallest_of_them():
    edges, changed = small_star("e", ["c", "b", "d"])
    assert sorted(edges) == [("c", "b"), ("d", "b"), ("e", "b")]
    assert changed == 2


def test_small_star_with_one_smaller_neighbour_changes_nothing():
    assert small_star("e", ["c"]) == ([("e", "c")], 0)


@pytest.mark.parametrize("mode", ["beam", "driver"])
@pytest.mark.parametrize("graph", GRAPHS, ids=[graph.__name__ for graph in GRAPHS])
def test_components_equal_union_find(graph, mode):
    edges = graph(random.Random(7))
    totals = components(edges, mode)
    distinct = {tuple(sorted(edge)) for edge in edges if edge[0] != edge[1]}
    assert totals.get(BEAM_EDGES if mode == "beam" else DRIVER_EDGES) == len(distinct)


def test_random_graphs_of_every_seed_equal_union_find_in_beam():
    rng = random.Random(11)
    edges = []
    for seed in range(5):
        nodes = [f"{seed}/{node}" for node in ids(random.Random(seed), 60)]
        edges += [tuple(rng.sample(nodes, 2)) for _ in range(rng.randint(20, 70))]
    components(edges, "beam")


def test_auto_resolves_on_the_driver_up_to_the_bound_in_distinct_edges():
    edges = [("b", "a"), ("a", "b"), ("c", "b"), ("c", "c")]
    totals = components(edges, "auto", driver_max_edges=2)
    assert totals.get(DRIVER_EDGES) == 2
    assert totals.get(ROUNDS, 0) == 0


def test_auto_resolves_in_beam_rounds_past_the_bound():
    edges = [("b", "a"), ("a", "b"), ("c", "b"), ("c", "c")]
    totals = components(edges, "auto", driver_max_edges=1)
    assert totals.get(BEAM_EDGES) == 2
    assert totals.get(DRIVER_EDGES, 0) == 0
    assert totals[ROUNDS] >= 1


def test_a_single_edge_is_already_a_star_and_takes_one_round_the_rest_pass_through():
    totals = components([("b", "a")], "beam", max_rounds=5)
    assert totals[ROUNDS] == 1
    assert totals.get("changed_labels/round_01", 0) == 0


def test_a_star_around_its_largest_id_is_recentred_in_one_round_and_confirmed_in_the_next():
    edges = [("z", leaf) for leaf in "abcdef"]
    totals = components(edges, "beam", max_rounds=2)
    assert totals[ROUNDS] == 2
    # Round 1: small-star at z moves the five leaves other than `a` onto `a`; round 2 changes nothing.
    assert totals["changed_labels/round_01"] == 5
    assert totals.get("changed_labels/round_02", 0) == 0


def test_running_out_of_rounds_is_an_error_that_names_the_setting():
    edges = [("z", leaf) for leaf in "abcdef"]
    with pytest.raises(Exception, match=r"dedup\.minhash\.max_rounds=1 rounds .*raise dedup\.minhash\.max_rounds"):
        components(edges, "beam", max_rounds=1)


@pytest.mark.parametrize("mode", ["beam", "driver"])
def test_no_edges_give_no_labels_and_no_rounds(mode):
    totals = components([], mode, expected=[])
    assert totals.get(ROUNDS, 0) == 0


@pytest.mark.slow
def test_star_rounds_run_unchanged_on_the_portable_runner():
    """Side inputs between rounds, counts sent from finish_bundle and the rounds counter all cross the Job API."""
    edges = sorted_chain(random.Random(3))[:50]
    in_process = components(edges, "beam")
    portable = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]
    assert components(edges, "beam", beam_args=portable) == in_process
