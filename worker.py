"""The Temporal worker: every workflow and activity and the scan-cycle schedule, from environment settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

from temporalio.client import Client
from temporalio.worker import Worker

from activities.exceptions import ExceptionActivities
from activities.patch_deployments import PatchDeploymentActivities
from activities.remediation import RemediationActivities
from activities.scan_cycle import ScanCycleActivities
from activities.scans import ScanActivities
from activities.vulnerabilities import VulnerabilityActivities
from activities.webhooks import WebhookActivities
from config import Settings, get_settings
from models.db import make_engine, make_sessionmaker
from observability import tracing, worker_metrics
from observability.logs import configure_logging
from orchestration import ids
from orchestration.gateway import TemporalGateway
from workflows.registry import WORKFLOWS

log = logging.getLogger("worker")


def build_activities(sessionmaker, settings: Settings, gateway: TemporalGateway, scans: ScanActivities) -> list:
    cycle = ScanCycleActivities(sessionmaker, settings, gateway)
    webhooks = WebhookActivities(sessionmaker, settings)
    exceptions = ExceptionActivities(sessionmaker)
    return [
        scans.open_scan_batch, scans.await_agent_result, scans.record_scan_results,
        cycle.plan_scan_cycle, cycle.sweep_stranded_work,
        *RemediationActivities(sessionmaker, settings, gateway).all(),
        webhooks.webhook_targets, webhooks.deliver_webhook,
        exceptions.expire_exception, exceptions.expire_overdue_exceptions,
        *VulnerabilityActivities(sessionmaker, settings).all(),
        *PatchDeploymentActivities(sessionmaker, settings).all(),
    ]


# Workflow activations are Python on one interpreter: run side by side in threads, they only share the GIL. With
# the SDK's default (100 tasks taken at once), the 80 batch workflows of a 100k-host tick had their tasks started
# together and each took up to 2.1 s to complete (bench/scheduler), a time that grows with the load towards the
# task timeout. Taking only as many tasks as can usefully run leaves the rest queued on the server
# (schedule-to-start), where waiting costs nothing and no task timeout runs: the longest task took 1.2-1.3 s.
WORKFLOW_TASKS_AT_ONCE = 8


@contextlib.asynccontextmanager
async def build_worker(client: Client, sessionmaker, settings: Settings, **options) -> AsyncIterator[None]:
    """Run the main worker (workflows and every activity) and the agent-waits worker together; a worker that
    started is shut down again if the other fails to start."""
    gateway = TemporalGateway(settings, client)
    # One ScanActivities for both workers: agent waits of either queue share its task-token registrar.
    scans = ScanActivities(sessionmaker, settings, gateway)
    main = Worker(
        client, task_queue=settings.temporal_task_queue, workflows=WORKFLOWS,
        activities=build_activities(sessionmaker, settings, gateway, scans),
        max_concurrent_activities=200, max_concurrent_workflow_tasks=WORKFLOW_TASKS_AT_ONCE, **options,
    )
    # ScanBatchWorkflow schedules its per-scan await_agent_result activities on this queue (see scan_batch).
    waits = Worker(
        client, task_queue=ids.agent_waits_queue(settings.temporal_task_queue),
        activities=[scans.await_agent_result], max_concurrent_activities=200,
    )
    async with contextlib.AsyncExitStack() as running:
        for worker in (main, waits):
            await running.enter_async_context(worker)
        yield


def tune_garbage_collector() -> None:
    """Recording a micro-batch allocates ~100k short-lived objects (parsed agent results, outcomes); with the
    default thresholds they set off full collections that walk the whole worker heap (SDK, ORM, imports), which
    cost recording a third of its time (bench/ingest). Objects alive after start-up move to the permanent
    generation, and the young generation is collected less often; reference counting frees the rest as usual."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                  runtime=worker_metrics.temporal_runtime(settings),
                                  interceptors=tracing.temporal_interceptors(settings, "compliance-worker"))
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    if settings.temporal_schedule_enabled:
        await TemporalGateway(settings, client).ensure_scan_cycle_schedule()
        await TemporalGateway(settings, client).ensure_vuln_schedules()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker_metrics.serving_figures(settings, sessionmaker), build_worker(client, sessionmaker, settings):
        tune_garbage_collector()  # once the workers exist, so their start-up objects are frozen too
        log.info("worker polling task queue %r on %s", settings.temporal_task_queue, settings.temporal_address)
        await stop.wait()
    await engine.dispose()


def run() -> None:
    """Run until SIGINT/SIGTERM, then end the process without interpreter finalization: the SDK's Rust threads may
    still call into Python while it finalizes, which aborts a cleanly stopped worker now and then ("PyGILState_
    Release … finalizing", temporalio/sdk-python#300). By then the worker has shut down and the engine is closed."""
    asyncio.run(main())
    tracing.flush()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    run()
