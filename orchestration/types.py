"""Dataclass inputs and outputs of every workflow, signal and activity: ids only, never documents.

The contract between the API, the workflows and the activities; it imports nothing of theirs."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass
class OpenedBatch:
    """Parallel columns rather than a list of ScanRef: decoding a dataclass per scan cost a batch of 1,000 scans
    ~0.1 s of workflow-task time; two string lists decode in a fraction of that."""

    scan_ids: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)

    def refs(self) -> list[ScanRef]:
        return [ScanRef(scan_id, job_id) for scan_id, job_id in zip(self.scan_ids, self.job_ids, strict=True)]


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
    # Also record up to `answered_limit` running scans of this batch whose agents have answered (RecordOutcome.
    # answered_scan_ids says which): their waits need not be handed out.
    answered_of_batch: str | None = None
    answered_limit: int = 0


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
    answered_scan_ids: list[str] = field(default_factory=list)  # recorded besides completed_scan_ids


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


# Remediation and automation

@dataclass
class RemediationInput:
    """Timings left as None are the worker's settings, resolved once by the first activity (kept in history)."""

    remediation_id: str
    scan_id: str
    check_id: str
    org_id: str
    host_id: str
    policy_id: str
    trigger: str = "automatic"
    approval_timeout_seconds: int | None = None
    verify_delay_seconds: int | None = None
    agent_timeout_seconds: int | None = None
    search_attributes: bool | None = None


@dataclass
class Decision:
    """Payload of the `approve` and `reject` signals. It carries no authority: the workflow reads the decision
    the API stored."""


@dataclass
class StoredDecision:
    decision: str | None  # approved | rejected; None while the change waits for a decision


@dataclass
class RemediationRef:
    remediation_id: str


@dataclass
class AutomationStep:
    script_id: str
    continue_on_failure: bool = False


@dataclass
class PreparedRemediation:
    """What the workflow needs to proceed; `finished` means there is nothing (more) to do."""

    finished: bool
    status: str
    needs_approval: bool = False
    change_id: str | None = None
    decision: str | None = None  # approved | rejected, when the change was decided before this run began
    reason: str | None = None
    binding: str = "script"
    script_id: str | None = None
    steps: list[AutomationStep] = field(default_factory=list)
    approval_timeout_seconds: int = 7 * 24 * 3600
    verify_delay_seconds: int = 900
    agent_timeout_seconds: int = 3600
    search_attributes: bool = False


@dataclass
class CloseInput:
    """Ends a remediation that will not run: rejected, expired or skipped (kill switch)."""

    remediation_id: str
    status: str
    reason: str | None = None


@dataclass
class ClosedRemediation:
    """`status` is what the remediation ended as; an expiry that lost a race to a decision reports the decision."""

    status: str
    reason: str | None = None


@dataclass
class BeginInput:
    remediation_id: str
    trigger: str


@dataclass
class BeginResult:
    proceed: bool
    reason: str | None = None


@dataclass
class DispatchInput:
    job_id: str
    remediation_id: str
    script_id: str
    step: int = 0


@dataclass
class JobOutcomeInput:
    job_id: str
    script_id: str
    answered: bool


@dataclass
class StepOutcome:
    status: str
    exit_code: int | None = None
    output: str = ""
    script_id: str | None = None


@dataclass
class AutomationInput:
    remediation_id: str
    steps: list[AutomationStep]
    agent_timeout_seconds: int = 3600


@dataclass
class AutomationResult:
    status: str
    steps: list[StepOutcome] = field(default_factory=list)


@dataclass
class OutcomeInput:
    remediation_id: str
    status: str
    exit_code: int | None = None
    output: str = ""
    steps: list[StepOutcome] = field(default_factory=list)


@dataclass
class VerifyScan:
    scan_id: str | None
    workflow_id: str | None = None
    org_id: str = ""
    policy_id: str = ""
    host_id: str = ""


@dataclass
class RemediationResult:
    status: str
    reason: str | None = None
    verify_scan_id: str | None = None


@dataclass
class ResignalResult:
    resignaled: int
    restarted: int = 0


# Vulnerabilities


@dataclass
class FeedSyncInput:
    """Input of VulnFeedSyncWorkflow: the sources to sync, and whether matching follows."""

    sources: list[str] = field(default_factory=lambda: ["nvd", "kev", "osv"])
    match_after: bool = True
    inventory_timeout_seconds: int = 600
    inventory_max_age_hours: int = 6
    search_attributes: bool = False


@dataclass
class SyncFeedInput:
    source: str


@dataclass
class FeedOutcome:
    source: str
    status: str
    records: int = 0
    error: str | None = None


@dataclass
class FeedSyncResult:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    matching_workflow_id: str | None = None


@dataclass
class MatchingInput:
    inventory_timeout_seconds: int = 600
    inventory_max_age_hours: int = 6
    search_attributes: bool = False  # tag the patch deployments it starts (the server has OrgId registered)


@dataclass
class InventoryRequestInput:
    max_age_hours: int = 6


@dataclass
class OrgInventoryJobs:
    org_id: str
    job_ids: list[str] = field(default_factory=list)


@dataclass
class InventoryRequests:
    orgs: list[OrgInventoryJobs] = field(default_factory=list)
    asked: int = 0


@dataclass
class StoreInventoriesInput:
    completed_job_ids: list[str] = field(default_factory=list)
    timed_out_job_ids: list[str] = field(default_factory=list)


@dataclass
class StoredInventories:
    stored: int = 0
    new_package_sets: int = 0
    timed_out: int = 0


@dataclass
class MatchOrgInput:
    org_id: str


@dataclass
class OrgMatchResult:
    org_id: str
    package_sets_matched: int = 0
    opened: int = 0
    open: int = 0
    resolved: int = 0
    alerts_raised: int = 0
    deployment_ids: list[str] = field(default_factory=list)  # automatic deployments to start


@dataclass
class MatchingResult:
    orgs: list[OrgMatchResult] = field(default_factory=list)
    hosts_asked: int = 0
    inventories_stored: int = 0
    inventories_timed_out: int = 0


# Patch deployments


@dataclass
class DeploymentInput:
    """Timings left as None are the worker's settings, resolved once by the first activity (kept in history)."""

    deployment_id: str
    org_id: str
    approval_timeout_seconds: int | None = None
    agent_timeout_seconds: int | None = None
    inventory_timeout_seconds: int | None = None


@dataclass
class DeploymentRef:
    deployment_id: str


@dataclass
class PreparedDeployment:
    """What the workflow needs to run the deployment; `finished` means there is nothing (more) to do."""

    finished: bool
    status: str
    reason: str | None = None
    needs_approval: bool = False
    decision: str | None = None  # approved | rejected, when the change was decided before this run began
    soak_minutes: list[int] = field(default_factory=list)  # one per ring
    next_ring: int = 0
    approval_timeout_seconds: int = 7 * 24 * 3600
    agent_timeout_seconds: int = 3600
    inventory_timeout_seconds: int = 600


@dataclass
class RingInput:
    deployment_id: str
    ring: int


@dataclass
class RingStart:
    proceed: bool
    status: str
    reason: str | None = None
    job_ids: list[str] = field(default_factory=list)


@dataclass
class RingResultInput:
    deployment_id: str
    ring: int
    silent_job_ids: list[str] = field(default_factory=list)


@dataclass
class RingOutcome:
    total: int
    failed: int
    halt: bool
    patched_host_ids: list[str] = field(default_factory=list)


@dataclass
class SoakInput:
    deployment_id: str
    ring: int
    seconds: int


@dataclass
class InventoryRefresh:
    job_ids: list[str] = field(default_factory=list)


@dataclass
class PatchedInventoryInput:
    deployment_id: str
    host_ids: list[str] = field(default_factory=list)


@dataclass
class LifecycleInput:
    deployment_id: str
    host_ids: list[str] = field(default_factory=list)
    completed_job_ids: list[str] = field(default_factory=list)
    timed_out_job_ids: list[str] = field(default_factory=list)


@dataclass
class LifecycleResult:
    resolved: int = 0


@dataclass
class FinishInput:
    deployment_id: str
    status: str
    reason: str | None = None
    only_if_cancel_requested: bool = False


@dataclass
class FinishedDeployment:
    status: str
    finished: bool
    reason: str | None = None


@dataclass
class DeploymentResult:
    status: str
    reason: str | None = None
    rings_run: int = 0
