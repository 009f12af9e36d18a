"""Dataclass inputs and outputs of RemediationWorkflow, AutomationWorkflow, their signals and activities."""

from __future__ import annotations

from dataclasses import dataclass, field

OUTPUT_LIMIT = 4096


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
    """Payload of the `approve` and `reject` signals."""

    decided_by: str | None = None
    reason: str | None = None


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
    decision: str | None = None
    decided_by: str | None = None
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
    decided_by: str | None = None


@dataclass
class ClosedRemediation:
    """`status` is what the remediation ended as; an expiry that lost a race to a decision reports the decision."""

    status: str
    decided_by: str | None = None
    reason: str | None = None


@dataclass
class BeginInput:
    remediation_id: str
    trigger: str
    decided_by: str | None = None


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
