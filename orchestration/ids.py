"""Every workflow id, workflow type name, schedule id and task-queue name: the only place they are spelled.

Ids come from business keys, so a retried request or activity finds the run it already started.
"""

from __future__ import annotations

import uuid

SCAN_CYCLE_SCHEDULE = "compliance-scan-cycle"
SCAN_CYCLE = "scan-cycle"  # the Schedule appends its own timestamp

SCAN_CYCLE_WORKFLOW = "ScanCycleWorkflow"
SCAN_BATCH_WORKFLOW = "ScanBatchWorkflow"
REMEDIATION_WORKFLOW = "RemediationWorkflow"
AUTOMATION_WORKFLOW = "AutomationWorkflow"
EXCEPTION_EXPIRY_WORKFLOW = "ExceptionExpiryWorkflow"
WEBHOOK_DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
VULN_FEED_SYNC_WORKFLOW = "VulnFeedSyncWorkflow"
VULN_MATCHING_WORKFLOW = "VulnMatchingWorkflow"
PATCH_DEPLOYMENT_WORKFLOW = "PatchDeploymentWorkflow"

VULN_FEED_SYNC_SCHEDULE = "vuln-feed-sync"
VULN_MATCHING_SCHEDULE = "vuln-host-matching"
VULN_FEED_SYNC = "vuln-feed-sync"  # the Schedule appends its own timestamp
VULN_MATCHING = "vuln-host-matching"

AGENT_WAITS_QUEUE_SUFFIX = "-agent-waits"

Key = uuid.UUID | str


def agent_waits_queue(task_queue: str) -> str:
    """Per-scan agent waits have a queue of their own, so tens of thousands of them never queue ahead of the
    activities that open and record batches."""
    return task_queue + AGENT_WAITS_QUEUE_SUFFIX


def scan_batch(policy_id: Key, tick: str, chunk: int) -> str:
    return f"scan-batch-{policy_id}-{tick}-{chunk}"


def scan_batches_of_tick(tick: str) -> str:
    """A LIKE pattern matching every batch workflow id of one scan-cycle tick."""
    return f"scan-batch-%-{tick}-%"


def single_scan(scan_id: Key) -> str:
    """One on-demand or verify scan."""
    return f"scan-{scan_id}"


def remediation(scan_id: Key, check_id: Key) -> str:
    return f"remediation-{scan_id}-{check_id}"


def automation(remediation_id: Key) -> str:
    return f"automation-{remediation_id}"


def exception_expiry(exception_id: Key) -> str:
    return f"exception-expiry-{exception_id}"


def webhook_delivery(event_type: str, event_id: Key) -> str:
    return f"webhook-{event_type}-{event_id}"

def patch_deployment(deployment_id: Key) -> str:
    return f"patch-deployment-{deployment_id}"


def vuln_matching_after_sync(tick: str) -> str:
    """The matching a feed sync starts when it is done, keyed by the sync's start time: one per sync run."""
    return f"vuln-matching-after-sync-{tick}"


# Signals
APPROVE = "approve"
REJECT = "reject"
RESCHEDULE = "reschedule"
REVOKE = "revoke"
CANCEL = "cancel"
