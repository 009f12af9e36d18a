"""WebhookDeliveryWorkflow: push one notification or alert to each of its organization's enabled webhooks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from orchestration import ids
    from orchestration.types import WebhookDeliveryInput, WebhookDeliveryResult, WebhookEvent
    from workflows import retries


@workflow.defn(name=ids.WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, event: WebhookEvent) -> WebhookDeliveryResult:
        try:
            targets = await workflow.execute_activity_method(
                WebhookActivities.webhook_targets, event,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=retries.EVENT_PENDING,
            )
        except ActivityError:
            workflow.logger.warning("%s %s never became visible; nothing delivered", event.event_type, event.event_id)
            return WebhookDeliveryResult(delivered=0, failed=0)
        outcomes = await asyncio.gather(*(self._deliver(event, webhook_id) for webhook_id in targets.webhook_ids))
        delivered = sum(outcomes)
        return WebhookDeliveryResult(delivered=delivered, failed=len(outcomes) - delivered)

    async def _deliver(self, event: WebhookEvent, webhook_id: str) -> bool:
        """Each attempt is one activity execution: Temporal spaces the retries with exponential backoff."""
        try:
            await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                WebhookDeliveryInput(webhook_id=webhook_id, event_type=event.event_type, event_id=event.event_id),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=retries.webhook_attempts(event.initial_retry_seconds, event.max_attempts),
            )
            return True
        except ActivityError:
            return False
