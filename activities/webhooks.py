"""Outbound webhooks: start one delivery workflow per event, and deliver one signed POST per attempt."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from config import Settings
from domain.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, encode_body, sign
from models import Alert, Host, Notification, Webhook, WebhookDelivery
from workflows.types import WebhookDeliveryInput, WebhookEvent, WebhookTargets
from workflows.webhook_delivery import WebhookDeliveryWorkflow

MAX_ERROR_CHARS = 1000


async def orgs_with_webhooks(session: AsyncSession, org_ids: set[str]) -> set[str]:
    rows = await session.scalars(text("""
        SELECT DISTINCT org_id FROM webhooks WHERE enabled AND org_id = ANY(CAST(:orgs AS uuid[]))
    """), {"orgs": list(org_ids)})
    return {str(org) for org in rows}


def delivery_workflow_id(event: WebhookEvent) -> str:
    return f"webhook-{event.event_type}-{event.event_id}"


async def start_deliveries(client: Client, task_queue: str, events: list[WebhookEvent]) -> None:
    """One workflow per event; a second start for the same event (running or finished) is a no-op."""

    async def start(event: WebhookEvent) -> None:
        try:
            await client.start_workflow(
                WebhookDeliveryWorkflow.run, event, id=delivery_workflow_id(event), task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"deliver {event.event_type} {event.event_id} to org {event.org_id} webhooks",
            )
        except WorkflowAlreadyStartedError:
            pass

    await asyncio.gather(*(start(e) for e in events))


async def event_payload(session: AsyncSession, event_type: str, event_id: uuid.UUID) -> dict[str, Any] | None:
    """The JSON document receivers get for a notification or an alert, or None while it is not committed."""
    model = Notification if event_type == "notification" else Alert
    row = (await session.execute(
        select(model, Host.hostname).join(Host, Host.id == model.host_id).where(model.id == event_id)
    )).first()
    if row is None:
        return None
    event, hostname = row
    kind = event.kind if event_type == "notification" else event.alert_type
    return {
        "id": str(event.id), "category": event_type, "type": kind, "severity": event.severity,
        "message": event.message, "org_id": str(event.org_id), "host_id": str(event.host_id), "hostname": hostname,
        "policy_id": str(event.policy_id), "scan_id": str(event.scan_id), "details": event.details,
        "created_at": event.created_at.isoformat(),
    }


class WebhookActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker = sessionmaker
        self.settings = settings

    @activity.defn(name="webhook_targets")
    async def webhook_targets(self, event: WebhookEvent) -> WebhookTargets:
        """Enabled webhooks of the event's org that have not yet accepted it."""
        async with self.sessionmaker() as session:
            if await event_payload(session, event.event_type, uuid.UUID(event.event_id)) is None:
                # The recording that started us has not committed yet (or rolled back and is being retried).
                raise ApplicationError(f"{event.event_type} {event.event_id} is not committed yet", type="EventPending")
            delivered = select(WebhookDelivery.webhook_id).where(
                WebhookDelivery.event_id == uuid.UUID(event.event_id), WebhookDelivery.success)
            ids = await session.scalars(select(Webhook.id).where(
                Webhook.org_id == uuid.UUID(event.org_id), Webhook.enabled, Webhook.id.not_in(delivered),
            ).order_by(Webhook.created_at, Webhook.id))
            return WebhookTargets(webhook_ids=[str(i) for i in ids])

    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, params: WebhookDeliveryInput) -> int:
        """POST the signed event once and record the attempt; a failed attempt raises so Temporal retries it."""
        event_id = uuid.UUID(params.event_id)
        async with self.sessionmaker() as session:
            webhook = await session.get(Webhook, uuid.UUID(params.webhook_id))
            if webhook is None or not webhook.enabled:
                return 0
            payload = await event_payload(session, params.event_type, event_id)
            previous = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.event_id == event_id))
            url, secret = webhook.url, webhook.secret
        if payload is None:
            raise ApplicationError(f"{params.event_type} {params.event_id} no longer exists", type="EventGone",
                                   non_retryable=True)

        delivery_id = uuid.uuid4()
        body = encode_body(payload)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body),
                   EVENT_HEADER: payload["type"], DELIVERY_HEADER: str(delivery_id),
                   "User-Agent": "compliance-operations-webhooks/1"}
        status_code: int | None = None
        error: str | None = None
        try:
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds,
                                         follow_redirects=False) as http:
                response = await http.post(url, content=body, headers=headers)
            status_code = response.status_code
            if not response.is_success:
                error = f"HTTP {status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]

        async with self.sessionmaker() as session, session.begin():
            session.add(WebhookDelivery(
                id=delivery_id, webhook_id=uuid.UUID(params.webhook_id), event_type=params.event_type,
                event_id=event_id, attempt=(previous or 0) + 1, status_code=status_code, success=error is None,
                error=error,
            ))
        if error is not None:
            raise ApplicationError(error, type="WebhookDeliveryFailed")
        return status_code
