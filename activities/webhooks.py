"""Activities of WebhookDeliveryWorkflow: find the webhooks awaiting an event, and deliver one signed POST per
attempt."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config import Settings
from domain.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, encode_body, sign
from models import Webhook, WebhookDelivery
from orchestration.types import WebhookDeliveryInput, WebhookEvent, WebhookTargets
from services.webhooks import TargetRefused, attempts_so_far, event_payload, pending_targets, resolve_target

MAX_ERROR_CHARS = 1000


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
            targets = await pending_targets(session, uuid.UUID(event.org_id), uuid.UUID(event.event_id))
            return WebhookTargets(webhook_ids=[str(i) for i in targets])

    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, params: WebhookDeliveryInput) -> int:
        """POST the signed event once and record the attempt; a failed attempt raises so Temporal retries it."""
        event_id = uuid.UUID(params.event_id)
        async with self.sessionmaker() as session:
            webhook = await session.get(Webhook, uuid.UUID(params.webhook_id))
            if webhook is None or not webhook.enabled:
                return 0
            payload = await event_payload(session, params.event_type, event_id)
            previous = await attempts_so_far(session, webhook.id, event_id)
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
        refused = False
        try:
            await resolve_target(url, self.settings.webhook_allowed_networks)
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds,
                                         follow_redirects=False) as http:
                response = await http.post(url, content=body, headers=headers)
            status_code = response.status_code
            if not response.is_success:
                # The status only: a receiver's body is not ours to store or show.
                error = f"HTTP {status_code}"
        except TargetRefused as exc:
            error, refused = f"refused: {exc}"[:MAX_ERROR_CHARS], True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]

        async with self.sessionmaker() as session, session.begin():
            session.add(WebhookDelivery(
                id=delivery_id, webhook_id=uuid.UUID(params.webhook_id), event_type=params.event_type,
                event_id=event_id, attempt=previous + 1, status_code=status_code, success=error is None,
                error=error,
            ))
        if error is not None:
            raise ApplicationError(error, type="WebhookDeliveryFailed", non_retryable=refused)
        return status_code
