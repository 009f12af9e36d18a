"""The baseline workload: one trivial workflow running one activity (a workflow per unit of work)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker


@activity.defn(name="bench_noop")
async def bench_noop(value: int) -> int:
    return value


@workflow.defn(name="BenchTrivialWorkflow")
class BenchTrivialWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return await workflow.execute_activity(bench_noop, value, start_to_close_timeout=timedelta(seconds=30))


# Requests in flight from the bench's client at once. Waiting on thousands of results together (each a long poll
# of the workflow's history) breaks the dev server's limit of concurrent long polls per namespace (it failed at
# 2,000); a window this wide keeps the server as busy as it can be at any size.
IN_FLIGHT = 500


async def trivial_workflows_per_second(client, count: int) -> float:
    queue = f"baseline-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            handle = await client.start_workflow(BenchTrivialWorkflow.run, i, id=f"trivial-{queue}-{i}",
                                                 task_queue=queue)
        async with gate:
            await handle.result()

    async with Worker(client, task_queue=queue, workflows=[BenchTrivialWorkflow], activities=[bench_noop],
                      max_concurrent_activities=200):
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started)
