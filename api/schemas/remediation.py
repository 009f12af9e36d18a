"""Scripts, automation workflows, change records and one-click fixes (§5.1 field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.templates import PartialUpdate

Shell = Literal["bash", "sh", "powershell"]
# A script body is kept byte for byte: its SHA-256 is what the agent checks before running it.
ScriptBody = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1_000_000)]
ChangeStatus = Literal["pending_approval", "approved", "rejected", "expired", "implementing", "completed", "failed"]


class ScriptCreate(RequestModel):
    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    shell: Shell
    body: ScriptBody
    timeout_seconds: int = Field(300, ge=1, le=86_400)
    description: str | None = Field(None, max_length=10_000)


class ScriptUpdate(PartialUpdate):
    nullable: ClassVar[frozenset[str]] = frozenset({"description"})

    name: str | None = Field(None, min_length=1, max_length=200)
    shell: Shell | None = None
    body: ScriptBody | None = None
    timeout_seconds: int | None = Field(None, ge=1, le=86_400)
    description: str | None = Field(None, max_length=10_000)


class ScriptOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID | None
    name: str
    shell: Shell
    body: str
    sha256: str
    timeout_seconds: int
    description: str | None
    is_system: bool
    created_at: datetime
    updated_at: datetime


class WorkflowStep(RequestModel):
    script_id: uuid.UUID
    continue_on_failure: bool = False


class AutomationWorkflowCreate(RequestModel):
    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    steps: list[WorkflowStep] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=10_000)


class AutomationWorkflowUpdate(PartialUpdate):
    nullable: ClassVar[frozenset[str]] = frozenset({"description"})

    name: str | None = Field(None, min_length=1, max_length=200)
    steps: list[WorkflowStep] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=10_000)


class WorkflowStepOut(ResponseModel):
    script_id: uuid.UUID
    continue_on_failure: bool


class AutomationWorkflowOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str | None
    steps: list[WorkflowStepOut]
    created_at: datetime
    updated_at: datetime


class ChangeOut(ResponseModel):
    """A change governs a remediation (host, scan, check and remediation ids) or a patch deployment."""

    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID | None
    scan_id: uuid.UUID | None
    check_id: uuid.UUID | None
    remediation_id: uuid.UUID | None
    deployment_id: uuid.UUID | None = None
    status: ChangeStatus
    title: str
    details: dict
    requested_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class ChangeDecision(RequestModel):
    reason: str | None = Field(None, max_length=10_000)


class RejectDecision(RequestModel):
    reason: str = Field(min_length=1, max_length=10_000)


class RemediationOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    policy_id: uuid.UUID
    scan_id: uuid.UUID
    check_id: uuid.UUID
    rule_id: str
    trigger: Literal["automatic", "manual"]
    status: str
    reason: str | None
    workflow_id: str | None
    outcome: dict | None
    verify_scan_id: uuid.UUID | None
    requested_by: uuid.UUID | None
    created_at: datetime


class FixOut(ResponseModel):
    remediation: RemediationOut
    change: ChangeOut | None = None
