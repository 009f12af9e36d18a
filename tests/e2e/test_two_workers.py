"""Scaling out: two worker processes on the same task queues (what `docker compose up --scale worker=2` runs)
share the work; every scan completes exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from agent.fleet import Fleet, Outcomes
from orchestration import ids
from tests.e2e.test_scan_end_to_end import setup_org
from tests.stack import eventually

ROOT = Path(__file__).resolve().parents[2]
HOSTS = 8


async def pollers(client, queue: str, kind: TaskQueueType) -> set[str]:
    described = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind))
    return {poller.identity for poller in described.pollers}


async def test_two_worker_processes_share_the_queues_and_every_scan_completes_once(
        dev_env, db_url, app_factory, db, tmp_path):
    queue = f"two-{uuid.uuid4().hex[:6]}"
    target = dev_env.client.service_client.config.target_host
    env = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=target, TEMPORAL_TASK_QUEUE=queue,
               ENVIRONMENT="test", JWT_SECRET="two-workers-secret-0123456789abcdef",
               TEMPORAL_SCHEDULE_ENABLED="false")
    logs = [(tmp_path / f"worker-{n}.log").open("w") for n in (1, 2)]
    workers = [subprocess.Popen([sys.executable, "-m", "stack.cli", "worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT) for log in logs]
    api = await app_factory(temporal_address=target, temporal_task_queue=queue)
    try:
        async def both_polling():
            main = await pollers(dev_env.client, queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
            waits = await pollers(dev_env.client, ids.agent_waits_queue(queue),
                                  TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
            return len(main) == 2 and len(waits) == 2

        await eventually(both_polling, timeout=60)

        org, headers, token, policy = await setup_org(SimpleNamespace(api=api), db)
        fleet = Fleet(api, "http://test", Outcomes(fail_rate=0.3))
        hosts = await fleet.enroll(HOSTS, token, prefix="pair")
        fleet.start(wait=2)
        try:
            scans = []
            for host in hosts:
                response = await api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                          json={"host_id": host.host_id}, headers=headers)
                assert response.status_code == 202, response.text
                scans.append(response.json()["id"])

            async def all_completed():
                listed = (await api.get("/api/v1/compliance/scans", headers=headers,
                                        params={"policy_id": policy["id"], "page_size": 100})).json()
                return len(listed) == HOSTS and all(s["status"] == "completed" for s in listed)

            await eventually(all_completed, timeout=120)
        finally:
            await fleet.stop()
        for scan_id in scans:
            result = await dev_env.client.get_workflow_handle(f"scan-{scan_id}").result()
            assert result is not None
        history = (await api.get("/api/v1/compliance/scans", headers=headers,
                                 params={"policy_id": policy["id"], "page_size": 100})).json()
        assert sorted(s["id"] for s in history) == sorted(scans)  # no scan recorded twice or duplicated
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        for log in logs:
            log.close()
    for worker in workers:
        assert worker.returncode == 0, (tmp_path / "worker-1.log").read_text()[-2000:]
