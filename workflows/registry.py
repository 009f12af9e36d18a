"""Every workflow the worker runs (the replay tests read the same list)."""

from workflows.automation import AutomationWorkflow
from workflows.exception_expiry import ExceptionExpiryWorkflow
from workflows.patch_deployment import PatchDeploymentWorkflow
from workflows.remediation import RemediationWorkflow
from workflows.scan_batch import ScanBatchWorkflow
from workflows.scan_cycle import ScanCycleWorkflow
from workflows.vuln_feed_sync import VulnFeedSyncWorkflow
from workflows.vuln_matching import VulnMatchingWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

WORKFLOWS = [ScanCycleWorkflow, ScanBatchWorkflow, ExceptionExpiryWorkflow, WebhookDeliveryWorkflow,
             RemediationWorkflow, AutomationWorkflow, VulnFeedSyncWorkflow, VulnMatchingWorkflow,
             PatchDeploymentWorkflow]
