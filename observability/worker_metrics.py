"""The worker's Prometheus figures, on two ports.

- WORKER_METRICS_PORT: the Temporal SDK's own metrics (`temporal_*`: workflow and activity task latencies, poll
  and slot figures), served by the SDK's core.
- WORKER_FIGURES_PORT: the product's figures (`compliance_*`): scans recorded and check results ingested, counted
  where scans are recorded, and agent jobs open and remediations by status, read from the database with one
  query when scraped (at most every FIGURES_MAX_AGE seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from config import Settings
from domain.remediation import REMEDIATION_MOVES

if TYPE_CHECKING:
    from services.scans import RecordedBatch

log = logging.getLogger("observability.worker_metrics")

PRODUCTION_SDK_PORT = 9464
PRODUCTION_FIGURES_PORT = 9465
FIGURES_MAX_AGE = 15.0
FIGURES_QUERY_TIMEOUT = 5.0
OPEN_JOB_STATUSES = ("pending", "delivered")
RESULT_STATUSES = {"passed": "pass", "failed": "fail", "errors": "error", "skipped": "skip", "waived": "waived"}

REGISTRY = CollectorRegistry()
for _collector in (ProcessCollector, PlatformCollector, GCCollector):
    _collector(registry=REGISTRY)
SCANS_RECORDED = Counter("compliance_scans_recorded", "Scans scored and stored by the worker, by scan type",
                         ["scan_type"], registry=REGISTRY)
SCANS_TIMED_OUT = Counter("compliance_scans_timed_out", "Scans ended because their agent never answered",
                          registry=REGISTRY)
CHECK_RESULTS_INGESTED = Counter("compliance_check_results_ingested",
                                 "Check results stored with recorded scans, by status (after waivers)",
                                 ["status"], registry=REGISTRY)


def count_recorded(batch: RecordedBatch) -> None:
    """Count a micro-batch once its transaction has committed (a retried recording skips recorded scans)."""
    for scan in batch.scored:
        SCANS_RECORDED.labels(scan.scan_type).inc()
        for key, status in RESULT_STATUSES.items():
            if scan.counts.get(key):
                CHECK_RESULTS_INGESTED.labels(status).inc(scan.counts[key])
    if batch.timed_out:
        SCANS_TIMED_OUT.inc(batch.timed_out)


FIGURES_SQL = text("""
    SELECT 'agent_jobs' AS figure, status, count(*) FROM agent_jobs
    WHERE status IN ('pending', 'delivered') GROUP BY status
    UNION ALL
    SELECT 'remediations', status, count(*) FROM remediations GROUP BY status
""")


class DatabaseFigures(Collector):
    """Agent jobs open and remediations by status. Prometheus scrapes from the metrics server's thread; the query
    runs on the worker's event loop with its engine, and its answer is reused for FIGURES_MAX_AGE seconds."""

    def __init__(self, sessionmaker: async_sessionmaker, loop: asyncio.AbstractEventLoop,
                 max_age: float = FIGURES_MAX_AGE) -> None:
        self.sessionmaker = sessionmaker
        self.loop = loop
        self.max_age = max_age
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._rows: list[tuple[str, str, int]] | None = None

    async def _query(self) -> list[tuple[str, str, int]]:
        async with self.sessionmaker() as session:
            return [tuple(row) for row in await session.execute(FIGURES_SQL)]

    def _current_rows(self) -> list[tuple[str, str, int]] | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age:
                try:
                    future = asyncio.run_coroutine_threadsafe(self._query(), self.loop)
                    self._rows = future.result(FIGURES_QUERY_TIMEOUT)
                except Exception as exc:  # a scrape must answer; the figures are left out until the next one
                    log.warning("reading the database figures failed: %r", exc)
                    self._rows = None
                self._read_at = time.monotonic()
            return self._rows

    def describe(self):
        # Named without a query, so registering this collector (on the event loop) does not wait for the loop.
        yield from self._families()

    def collect(self):
        rows = self._current_rows()
        if rows is None:
            return
        yield from self._families(rows)

    @staticmethod
    def _families(rows: list[tuple[str, str, int]] | None = None):
        jobs = GaugeMetricFamily("compliance_agent_jobs_open",
                                 "Agent jobs not answered yet, by status (pending, delivered)", labels=["status"])
        remediations = GaugeMetricFamily("compliance_remediations", "Remediations by status", labels=["status"])
        counts = {(figure, status): count for figure, status, count in rows or ()}
        if rows is not None:
            for status in OPEN_JOB_STATUSES:
                jobs.add_metric([status], counts.get(("agent_jobs", status), 0))
            for status in sorted(REMEDIATION_MOVES.keys() | {s for f, s in counts if f == "remediations"}):
                remediations.add_metric([status], counts.get(("remediations", status), 0))
        yield jobs
        yield remediations


def sdk_port(settings: Settings) -> int:
    return _port(settings.worker_metrics_port, PRODUCTION_SDK_PORT, settings)


def figures_port(settings: Settings) -> int:
    return _port(settings.worker_figures_port, PRODUCTION_FIGURES_PORT, settings)


def _port(value: int | None, production_default: int, settings: Settings) -> int:
    """Unset: the standard port in production and off elsewhere (several test or dev workers share a machine)."""
    if value is None:
        return production_default if settings.environment == "production" else 0
    return value


def temporal_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime that serves the SDK's metrics, or None (the default runtime) when they are off."""
    port = sdk_port(settings)
    if not port:
        return None
    log.info("Temporal SDK metrics on http://%s:%d/metrics", settings.worker_metrics_host, port)
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{port}", counters_total_suffix=True,
        durations_as_seconds=True)))


@contextlib.asynccontextmanager
async def serving_figures(settings: Settings, sessionmaker: async_sessionmaker,
                          max_age: float = FIGURES_MAX_AGE) -> AsyncIterator[int | None]:
    """Serve the product's figures while the worker runs; yields the port, or None when they are off."""
    port = figures_port(settings)
    if not port:
        yield None
        return
    figures = DatabaseFigures(sessionmaker, asyncio.get_running_loop(), max_age)
    REGISTRY.register(figures)
    try:
        server, thread = start_http_server(port, settings.worker_metrics_host, registry=REGISTRY)
    except BaseException:
        REGISTRY.unregister(figures)
        raise
    log.info("worker figures on http://%s:%d/metrics", settings.worker_metrics_host, server.server_port)
    try:
        yield server.server_port
    finally:
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        thread.join(timeout=5)
        REGISTRY.unregister(figures)
