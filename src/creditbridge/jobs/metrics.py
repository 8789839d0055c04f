"""The worker's and the outbox's figures in the Prometheus text format, read from the database at
scrape time by a custom collector: every web worker and every worker process share one truth
(the tables), so nothing is counted in process memory and lost on restart, and a scrape of any
web worker says the same.

Served at ``/metrics`` (see :mod:`creditbridge.jobs.pages` for who may scrape)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy.orm import Session

from creditbridge.core.clock import utc_now
from creditbridge.delivery import service as delivery_service
from creditbridge.jobs import service as jobs_service

LATENCY_WINDOW: Final = timedelta(hours=1)
LATENCY_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
"""Seconds. The issue's goal is a median under one second with the worker idle; the upper
buckets separate a slow relay (seconds) from a stopped one (minutes)."""
DEPTH_STATUSES: Final = ("pending", "sending", "failed", "dead")
"""What is still in the outbox: delivered messages are not depth."""


@dataclass(frozen=True)
class Figures:
    attempts: dict[tuple[str, str], int]
    failed_runs: int
    depth: dict[str, int]
    oldest_pending_age_seconds: float
    latencies: list[float]


def read_figures(session: Session, *, now: datetime) -> Figures:
    stats = delivery_service.delivery_stats(session)
    return Figures(
        attempts=jobs_service.run_counts(session),
        failed_runs=jobs_service.count_runs(session, status="failed"),
        depth={status: stats.counts.get(status, 0) for status in DEPTH_STATUSES},
        # Zero when nothing waits: an alert on "older than N seconds" then stays quiet.
        oldest_pending_age_seconds=stats.oldest_pending_age_seconds or 0.0,
        latencies=delivery_service.first_attempt_latencies(session, since=now - LATENCY_WINDOW),
    )


def _buckets(values: list[float]) -> list[tuple[str, float]]:
    ordered = sorted(values)
    counts: list[tuple[str, float]] = []
    seen = 0
    for bound in LATENCY_BUCKETS:
        while seen < len(ordered) and ordered[seen] <= bound:
            seen += 1
        counts.append((str(bound), float(seen)))
    counts.append(("+Inf", float(len(ordered))))
    return counts


def families(figures: Figures) -> list[Metric]:
    attempts = CounterMetricFamily(
        "creditbridge_jobs_attempts",
        "Attempts at job runs, by job and outcome (succeeded, failed, lost: the worker died).",
        labels=["job", "outcome"],
    )
    for (job, outcome), count in sorted(figures.attempts.items()):
        attempts.add_metric([job, outcome], float(count))
    depth = GaugeMetricFamily(
        "creditbridge_outbox_depth",
        "Deliveries of outbox messages not yet delivered, by status.",
        labels=["status"],
    )
    for status, count in figures.depth.items():
        depth.add_metric([status], float(count))
    latency = HistogramMetricFamily(
        "creditbridge_delivery_first_attempt_latency_seconds",
        "Seconds from a message's commit to its first delivery attempt, for the first attempts "
        f"started in the last {int(LATENCY_WINDOW.total_seconds())} seconds (a sliding window, "
        "not a running total).",
        buckets=_buckets(figures.latencies),
        sum_value=sum(figures.latencies),
    )
    return [
        attempts,
        GaugeMetricFamily(
            "creditbridge_jobs_failed_runs",
            "Job runs that failed after their last try.",
            value=float(figures.failed_runs),
        ),
        depth,
        GaugeMetricFamily(
            "creditbridge_outbox_oldest_pending_age_seconds",
            "How long the longest-waiting due delivery has waited (0 when none is due).",
            value=figures.oldest_pending_age_seconds,
        ),
        latency,
    ]


class DatabaseCollector:
    """A Prometheus collector whose every ``collect`` reads the figures from ``session``."""

    def __init__(self, session: Session, *, now: Callable[[], datetime] = utc_now) -> None:
        self._session = session
        self._now = now

    def collect(self) -> Iterator[Metric]:
        yield from families(read_figures(self._session, now=self._now()))


def exposition(session: Session) -> bytes:
    """The figures in the Prometheus text exposition format."""
    # A registry of its own: the process-wide default one would add this process's own
    # figures, which differ from one web worker to the next.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session))
    return generate_latest(registry)
