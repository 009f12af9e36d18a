"""Vulnerability policy, ring sets, patch deployments and the agent's `patch_install` result (§7 field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.vulnerabilities import PatchOut, Severity
from domain.patching import DEFAULT_POLICY

DeploymentStatus = Literal["pending_approval", "running", "soaking", "completed", "halted", "cancelled",
                           "skipped_paused"]
HostJobStatus = Literal["pending", "dispatched", "succeeded", "failed", "timed_out", "skipped"]
RingStatus = Literal["pending", "running", "soaking", "done", "halted", "skipped"]


class VulnerabilityPolicyIn(RequestModel):
    min_severity: Severity = DEFAULT_POLICY.min_severity
    kev_always: bool = DEFAULT_POLICY.kev_always
    auto_deploy: bool = DEFAULT_POLICY.auto_deploy
    auto_approve_min_severity: Severity = DEFAULT_POLICY.auto_approve_min_severity
    ring_set_id: uuid.UUID | None = None


class VulnerabilityPolicyOut(ResponseModel):
    org_id: uuid.UUID
    min_severity: Severity
    kev_always: bool
    auto_deploy: bool
    auto_approve_min_severity: Severity
    ring_set_id: uuid.UUID | None
    updated_at: datetime | None = Field(None, description="null while the organization has the defaults")


class RingIn(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    host_group_id: uuid.UUID | None = Field(None, description="null: every host not in an earlier ring")
    soak_minutes: int = Field(60, ge=0, le=30 * 24 * 60)
    max_failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="the ring halts the rollout above this share")


class RingOut(ResponseModel):
    name: str
    host_group_id: uuid.UUID | None
    soak_minutes: int
    max_failure_rate: float


class RingSetCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    rings: list[RingIn] = Field(min_length=1, max_length=20)


class RingSetUpdate(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    rings: list[RingIn] | None = Field(None, min_length=1, max_length=20)


class RingSetOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    rings: list[RingOut]
    created_at: datetime
    updated_at: datetime


class PatchDeploymentCreate(RequestModel):
    org_id: uuid.UUID
    patch_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    ring_set_id: uuid.UUID


class PatchDeploymentOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    status: DeploymentStatus
    automatic: bool
    ring_set_id: uuid.UUID | None
    ring_set_name: str
    current_ring: int | None = Field(None, description="index of the ring running or soaking (0-based)")
    needs_approval: bool
    change_id: uuid.UUID | None = None
    change_status: str | None = None
    reason: str | None
    workflow_id: str
    created_by: uuid.UUID | None
    started_at: datetime | None
    soak_until: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeploymentHostOut(ResponseModel):
    host_id: uuid.UUID
    hostname: str | None = None
    ring_index: int
    job_id: uuid.UUID | None
    status: HostJobStatus
    packages: list[dict]
    installed: list[dict] | None
    output: str | None
    completed_at: datetime | None


class DeploymentRingOut(RingOut):
    index: int
    status: RingStatus
    hosts: int = 0
    succeeded: int = 0
    failed: int = 0
    host_jobs: list[DeploymentHostOut] = Field(default_factory=list)


class PatchDeploymentDetailOut(PatchDeploymentOut):
    patches: list[PatchOut] = Field(default_factory=list)
    rings: list[DeploymentRingOut] = Field(default_factory=list)


class InstalledPackage(RequestModel):
    name: str = Field(min_length=1, max_length=500)
    version: str = Field(min_length=1, max_length=500)


class PatchInstallResultIn(RequestModel):
    status: Literal["success", "failed"]
    installed: list[InstalledPackage] = Field(default_factory=list, max_length=1000)
    output: str | None = Field(None, max_length=70_000)
