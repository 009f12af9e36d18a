"""Webhook delivery on the real dev server: signed bodies, retry with backoff, every attempt recorded."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import select

from agent.fleet import Fleet, Outcomes
from domain.webhooks import verify
from models import Notification, Webhook, WebhookDelivery
from orchestration import ids
from orchestration import search_attributes as sa
from orchestration.types import WebhookDeliveryResult, WebhookEvent
from tests.e2e.test_scan_end_to_end import save_history, setup_org
from tests.factories import make_host, make_org
from tests.scan_builders import make_policy, make_template, run_scan
from tests.stack import eventually, running_stack
from workflows.webhook_delivery import WebhookDeliveryWorkflow

SECRET = "receiver-shared-secret"


# The receivers of these tests listen on loopback, which webhooks may reach only when allow-listed.
LOCAL_RECEIVERS = {"webhook_allowed_networks": "127.0.0.1/32"}


class Receiver:
    """A bare HTTP/1.1 endpoint on 127.0.0.1 that answers 500 to the first `failures` requests, then 200."""

    def __init__(self, failures: int = 0, failure_body: bytes = b""):
        self.failures = failures
        self.failure_body = failure_body
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in head[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        failing = len(self.requests) <= self.failures
        status = b"500 Internal Server Error" if failing else b"200 OK"
        body = self.failure_body if failing else b""
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hooks/compliance"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_failed_delivery_is_retried_and_every_attempt_is_signed_and_recorded(dev_env, db_url, app_factory,
                                                                                    db, sessionmaker):
    org, elsewhere = await make_org(db), await make_org(db)
    template = await make_template(db, org)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org, hostname="db-01")
    await db.commit()
    scored = await run_scan(sessionmaker, policy, host.id, template, passed=2, failed=8)
    notification = await db.scalar(select(Notification).where(Notification.scan_id == scored.scan_id))

    async with Receiver(failures=1) as receiver, Receiver() as bystander:
        hook = Webhook(org_id=org.id, url=receiver.url, secret=SECRET)
        db.add_all([hook, Webhook(org_id=org.id, url=bystander.url, secret=SECRET, enabled=False),
                    Webhook(org_id=elsewhere.id, url=bystander.url, secret=SECRET)])
        await db.commit()
        event = WebhookEvent("notification", str(notification.id), str(org.id), initial_retry_seconds=0.5)
        async with running_stack(dev_env, db_url, app_factory, **LOCAL_RECEIVERS) as stack:
            handle = await stack.client.start_workflow(
                WebhookDeliveryWorkflow.run, event, id=ids.webhook_delivery(event.event_type, event.event_id),
                task_queue=stack.settings.temporal_task_queue)
            result = await handle.result()
            await save_history(handle, "webhook_delivery")
        assert result == WebhookDeliveryResult(delivered=1, failed=0)
        assert bystander.requests == []

    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert verify(SECRET, body, headers["x-compliance-signature"])
        assert headers["x-compliance-signature"].startswith("sha256=")
        assert headers["x-compliance-event"] == "compliance_score_critical"
        assert not verify("another-secret", body, headers["x-compliance-signature"])
    document = json.loads(receiver.requests[1][1])
    assert document["id"] == str(notification.id) and document["hostname"] == "db-01"
    assert document["category"] == "notification" and document["details"] == {"score": 20.0, "threshold": 50.0}

    attempts = (await db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.attempt))).all()
    assert [(a.attempt, a.status_code, a.success, a.webhook_id) for a in attempts] == [
        (1, 500, False, hook.id), (2, 200, True, hook.id)]
    assert attempts[0].error.startswith("HTTP 500") and attempts[1].error is None
    assert [str(a.id) for a in attempts] == [h["x-compliance-delivery"] for h, _ in receiver.requests]
    assert {(a.event_type, a.event_id) for a in attempts} == {("notification", notification.id)}


async def test_a_recorded_scan_pushes_its_new_notification_to_the_org_webhook(dev_env, db_url, app_factory, db):
    async with Receiver() as receiver, running_stack(dev_env, db_url, app_factory, **LOCAL_RECEIVERS) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        created = await stack.api.post(f"/api/v1/orgs/{org.id}/webhooks", headers=headers,
                                       json={"url": receiver.url, "secret": SECRET})
        assert created.status_code == 201, created.text
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.9))
        (host,) = await fleet.enroll(1, token, prefix="hook")
        fleet.start(wait=2)
        try:
            scan = (await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                         json={"host_id": host.host_id}, headers=headers)).json()

            async def delivered():
                return [r for r in receiver.requests if json.loads(r[1]).get("scan_id") == scan["id"]]

            (request,) = await eventually(delivered, timeout=30)
            notification_id = json.loads(request[1])["id"]
            delivery = await stack.client.get_workflow_handle(
                ids.webhook_delivery("notification", notification_id)).describe()
            assert delivery.typed_search_attributes.get(sa.ORG_ID) == str(org.id)
        finally:
            await fleet.stop()

    request_headers, body = request
    assert verify(SECRET, body, request_headers["x-compliance-signature"])
    notification = await db.scalar(select(Notification).where(Notification.scan_id == uuid.UUID(scan["id"])))
    assert json.loads(body)["id"] == str(notification.id) and notification.kind == "compliance_score_critical"
    attempt = await db.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == notification.id))
    assert attempt.success and attempt.status_code == 200 and attempt.attempt == 1


async def test_a_webhook_never_reaches_an_internal_target_and_never_keeps_a_response_body(dev_env, db_url,
                                                                                        app_factory, db):
    """Security review row 8: a webhook to loopback, and a receiver's body echoed to viewers."""
    async with Receiver(failures=1, failure_body=b"root:x:0:0 internal secret") as receiver:
        org = await make_org(db)
        template = await make_template(db, org)
        policy = await make_policy(db, org, template)
        host = await make_host(db, org, hostname="db-02")
        # Stored as an earlier release could have stored it: the API refuses such a URL now (see test_webhooks).
        hook = Webhook(org_id=org.id, url=receiver.url, secret=SECRET)
        db.add(hook)
        await db.commit()
        async with running_stack(dev_env, db_url, app_factory) as stack:
            scored = await run_scan(stack.sessionmaker, policy, host.id, template, passed=2, failed=8)
            notification = await db.scalar(select(Notification).where(Notification.scan_id == scored.scan_id))
            event = WebhookEvent("notification", str(notification.id), str(org.id), initial_retry_seconds=0.1)
            result = await stack.client.execute_workflow(
                WebhookDeliveryWorkflow.run, event, id=ids.webhook_delivery(event.event_type, event.event_id),
                task_queue=stack.settings.temporal_task_queue)
        assert result == WebhookDeliveryResult(delivered=0, failed=1)
        assert receiver.requests == []
        (attempt,) = (await db.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))).all()
        assert attempt.error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1") and not attempt.success

        async with running_stack(dev_env, db_url, app_factory, **LOCAL_RECEIVERS) as stack:
            event = WebhookEvent("notification", str(notification.id), str(org.id), initial_retry_seconds=0.1)
            await stack.client.execute_workflow(
                WebhookDeliveryWorkflow.run, event, id=f"again-{event.event_id}",
                task_queue=stack.settings.temporal_task_queue)
        failed = await db.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id,
                                                               WebhookDelivery.status_code == 500))
        assert failed.error == "HTTP 500"
        assert all("secret" not in (a.error or "") for a in
                   (await db.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))).all())
