"""Dataclass inputs and outputs of every workflow, signal and activity: ids only, never documents."""

from __future__ import annotations

from dataclasses import dataclass, field

TASK_QUEUE = "compliance"


@dataclass
class CycleInput:
    tick: str | None = None
    pending_batches: list[BatchSpec] = field(default_factory=list)
    agent_timeout_seconds: int = 3600
    search_attributes: bool = True


@dataclass
class PlanInput:
    tick: str


@dataclass
class BatchSpec:
    workflow_id: str
    policy_id: str
    org_id: str
    scan_count: int


@dataclass
class CyclePlan:
    batches: list[BatchSpec]
    agent_timeout_seconds: int = 3600
    search_attributes: bool = True
    due_hosts: int = 0
    expired_exceptions: int = 0
    resignaled_changes: int = 0


@dataclass
class CycleResult:
    tick: str
    batches_started: int
    scans_planned: int


@dataclass
class ScanBatchInput:
    batch_id: str
    org_id: str
    policy_id: str
    scan_type: str
    host_id: str | None = None
    agent_timeout_seconds: int = 3600


@dataclass
class OpenBatchInput:
    batch_id: str


@dataclass
class ScanRef:
    scan_id: str
    job_id: str
    host_id: str


@dataclass
class OpenedBatch:
    scans: list[ScanRef]


AGENT_WAITS_QUEUE_SUFFIX = "-agent-waits"  # task queue of await_agent_result: the main queue's name + this


@dataclass
class AwaitJobInput:
    job_id: str


@dataclass
class JobDone:
    job_id: str
    status: str


@dataclass
class RecordInput:
    completed_scan_ids: list[str] = field(default_factory=list)
    timed_out_scan_ids: list[str] = field(default_factory=list)


@dataclass
class RemediationStart:
    remediation_id: str
    scan_id: str
    check_id: str
    org_id: str
    host_id: str
    policy_id: str


@dataclass
class RecordOutcome:
    recorded: int
    timed_out: int
    remediations: list[RemediationStart] = field(default_factory=list)


@dataclass
class ScanBatchResult:
    scans: int
    completed: int
    timed_out: int
    remediations_started: int


@dataclass
class SweepResult:
    completions_retried: int
    scans_restarted: int = 0


@dataclass
class ExpiryInput:
    exception_id: str
    expires_at: str  # ISO 8601 with a timezone


@dataclass
class ExpiryReschedule:
    expires_at: str | None  # None: the exception no longer expires


@dataclass
class ExpiryRevoke:
    revoked_by: str | None = None


@dataclass
class ExpiryResult:
    exception_id: str
    outcome: str  # expired | revoked | cleared | no_longer_active


@dataclass
class ExpireExceptionInput:
    exception_id: str
    as_of: str  # the workflow's clock when its timer fired, ISO 8601


@dataclass
class ExpireExceptionOutcome:
    expired: bool
    status: str | None  # None: the exception no longer exists
    expires_at: str | None


@dataclass
class OverdueExceptionsExpired:
    expired: int


@dataclass
class WebhookEvent:
    """A new notification or alert to push to its organization's webhooks."""

    event_type: str
    event_id: str
    org_id: str
    initial_retry_seconds: float = 2.0
    max_attempts: int = 12


@dataclass
class WebhookTargets:
    webhook_ids: list[str] = field(default_factory=list)


@dataclass
class WebhookDeliveryInput:
    webhook_id: str
    event_type: str
    event_id: str


@dataclass
class WebhookDeliveryResult:
    delivered: int
    failed: int
