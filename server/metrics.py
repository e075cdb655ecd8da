"""Prometheus metrics: the counters the rest of the code calls, and the /metrics exposition
(multiprocess mode across workers; docs/design/platform.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

# Read before prometheus_client picks its value class (it decides once, at import).
_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if _MULTIPROC_DIR:
    os.makedirs(_MULTIPROC_DIR, exist_ok=True)

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

log = logging.getLogger("fenxiao.metrics")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Counts of a table are cheap but not free: one query per worker per this many seconds.
COMMISSION_COUNTS_MAX_AGE_SECONDS = 15.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# `_created` series double the output and mean nothing summed across processes.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "fenxiao_http_requests",
    "HTTP requests served, by method, route pattern and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "fenxiao_http_request_duration_seconds",
    "Time from request headers read to response ready, by method, route pattern and status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
ORDER_EVENTS = Counter(
    "fenxiao_order_events",
    "Order events ingested from stores, by event type and outcome",
    ["type", "outcome"],
)
JOB_RUNS = Counter(
    "fenxiao_job_runs",
    "Background job executions that ended, by job name and status",
    ["name", "status"],
)


# The (counter, histogram) children per (method, route, status): `labels()` takes a lock and
# rebuilds its key on every call, and the label sets are few (route patterns, not paths).
_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


# A client chooses the method it sends: any other verb counts as OTHER, so no request can add
# a series (routes are patterns or the one unmatched label, statuses are HTTP's own).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


def method_label(method: str) -> str:
    """The method as a metric label: one of KNOWN_METHODS, or OTHER."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Count one served request and its latency."""
    key = (method_label(method), route, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        labels = (key[0], route, str(status))
        series = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
        _REQUEST_SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


def count_event(type: str, outcome: str) -> None:
    """Count one ingested order event (`type`: paid, refunded…; `outcome`: applied, replayed…)."""
    ORDER_EVENTS.labels(type, outcome).inc()


def count_job_run(name: str, status: str) -> None:
    """Count one job execution that ended with `status` (succeeded or failed)."""
    JOB_RUNS.labels(name, status).inc()


# Gauges read from the database: (name, help, label, reader in
# server.services.operations.counts giving a count per label value).
_DATABASE_GAUGES = (
    ("fenxiao_commissions", "Commissions by status", "status", "commissions_by_status"),
    (
        "fenxiao_order_event_inbox",
        "Order events accepted with Prefer: respond-async, by status (queued is the backlog)",
        "status",
        "queued_order_events_by_status",
    ),
    (
        "fenxiao_ledger_drift_accounts",
        "Balances whose cache disagrees with the ledger, as the last completed reconcile_ledger"
        " run found them (alert on > 0)",
        "job",
        "ledger_drift_found",
    ),
)


class _DatabaseCounts:
    """The last counts read from the database for each gauge, and when."""

    read_at: float | None = None
    counts: ClassVar[dict[str, dict[str, int]]] = {}


async def observe_database_counts(
    *, max_age_seconds: float = COMMISSION_COUNTS_MAX_AGE_SECONDS
) -> Mapping[str, Mapping[str, int]]:
    """Counts by status per database gauge, re-read when older than `max_age_seconds`."""
    from server.services.operations import counts as operational_counts

    now = time.monotonic()
    cache = _DatabaseCounts
    if cache.read_at is None or now - cache.read_at >= max_age_seconds:
        try:
            _DatabaseCounts.counts = {
                name: await getattr(operational_counts, reader)()
                for name, _help, _label, reader in _DATABASE_GAUGES
            }
            cache.read_at = now
        except Exception:
            log.warning("metrics: could not read the database counts", exc_info=True)
    return _DatabaseCounts.counts


class _DatabaseSnapshot:
    """A collector exposing counts read beforehand (collect() cannot await the database)."""

    def __init__(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        for name, help_text, label, _reader in _DATABASE_GAUGES:
            if name not in self.counts:
                continue
            family = GaugeMetricFamily(
                name,
                f"{help_text} (read at most every {COMMISSION_COUNTS_MAX_AGE_SECONDS:g}s)",
                labels=[label],
            )
            for value, total in sorted(self.counts[name].items()):
                family.add_metric([value], total)
            yield family


async def render_metrics() -> bytes:
    """The text exposition of every metric: all processes' counters plus database gauges."""
    if _MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=_MULTIPROC_DIR)
        output = generate_latest(registry)
    else:
        output = generate_latest(REGISTRY)
    counts = await observe_database_counts()
    if counts:
        snapshot = CollectorRegistry()
        snapshot.register(_DatabaseSnapshot(counts))
        output += generate_latest(snapshot)
    return output


_PROCESS_FILE = re.compile(r"_(\d+)\.db$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead_process_files(directory: str) -> int:
    """Delete the sample files of processes no longer running; how many."""
    # Files of live processes (a Celery worker sharing the directory) are kept, so their
    # counters do not vanish when the web server restarts.
    removed = 0
    for path in Path(directory).glob("*.db"):
        match = _PROCESS_FILE.search(path.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed
