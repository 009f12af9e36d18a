"""WebhookDeliveryWorkflow: push one notification or alert to each of its organization's enabled webhooks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.types import WebhookDeliveryInput, WebhookDeliveryResult, WebhookEvent, WebhookTargets

# The event row is committed by the recording that started this workflow, usually within a second.
PENDING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=30)
MAX_RETRY_INTERVAL = timedelta(minutes=10)


@workflow.defn
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, event: WebhookEvent) -> WebhookDeliveryResult:
        try:
            targets = await workflow.execute_activity(
                "webhook_targets", event, result_type=WebhookTargets,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=PENDING_RETRY,
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
            await workflow.execute_activity(
                "deliver_webhook",
                WebhookDeliveryInput(webhook_id=webhook_id, event_type=event.event_type, event_id=event.event_id),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=event.initial_retry_seconds), backoff_coefficient=2.0,
                    maximum_interval=MAX_RETRY_INTERVAL, maximum_attempts=event.max_attempts,
                    non_retryable_error_types=["EventGone"],
                ),
            )
            return True
        except ActivityError:
            return False
