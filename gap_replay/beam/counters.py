"""Beam Metrics counters under one naming scheme, and their collection into the nested dict of `stats.json`.

Counter names are `<source>/<event>` in namespace `gap_replay`; events are `files`, `parsed`, `kept`,
`dropped/<reason>`, `clusters/<kind>`. Every drop is counted by reason, so the data card can explain every loss.
"""

from __future__ import annotations

import functools
from typing import Any

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

NAMESPACE = "gap_replay"


@functools.cache
def _counter(name: str) -> Any:
    """A counter object per name, made once per process: it finds the running step's container when incremented."""
    return Metrics.counter(NAMESPACE, name)


def count(source: str, event: str, value: int = 1) -> None:
    _counter(f"{source}/{event}").inc(value)


def dropped(source: str, reason: str, value: int = 1) -> None:
    count(source, f"dropped/{reason}", value)


def collect(result: Any) -> dict[str, dict[str, Any]]:
    """Committed counter values of a finished pipeline, as {source: {event: n, "dropped": {reason: n}}}."""
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    totals: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    stats: dict[str, dict[str, Any]] = {}
    for name, value in sorted(totals.items()):
        source, _, event = name.partition("/")
        entry = stats.setdefault(source, {})
        kind, _, detail = event.partition("/")
        if detail:
            entry.setdefault(kind, {})[detail] = value
        else:
            entry[kind] = value
    return stats
