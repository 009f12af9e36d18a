"""Scans and their per-check results (§5.1 field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, computed_field

from api.schemas.common import RequestModel, ResponseModel
from domain.scoring import INCOMPLETE, coverage

ScanType = Literal["scheduled", "on_demand", "verify"]
ScanStatus = Literal["queued", "running", "completed", "error"]


class ScanRequest(RequestModel):
    host_id: uuid.UUID


class CheckResultOut(ResponseModel):
    check_id: uuid.UUID
    rule_id: str
    title: str
    severity: str
    status: Literal["pass", "fail", "error", "skip", "waived"]
    actual: str | None
    remediation_type: str
    exception_id: uuid.UUID | None
    remediation: dict | None = None
    remediation_instructions: str | None = Field(
        None, description="what a person does to fix the check, for checks with remediation_type manual")


class ScanOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    policy_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    scan_type: ScanType
    status: ScanStatus
    score: float | None
    score_reason: str | None
    error_reason: str | None
    passed: int
    failed: int
    errors: int
    skipped: int
    waived: int
    total: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    workflow_id: str | None

    @computed_field(description="share of the scan's checks the agent could evaluate, in percent")
    @property
    def coverage(self) -> float | None:
        return coverage(self.total, self.errors) if self.status == "completed" else None

    @computed_field(description="too many checks errored for the score to count as a measurement of the host")
    @property
    def incomplete(self) -> bool:
        return self.score_reason == INCOMPLETE


class ScanDetailOut(ScanOut):
    results: list[CheckResultOut] = []


class CurrentCompliance(ResponseModel):
    """The host's state under the policy now: its latest scan's outcomes with today's exceptions applied."""

    score: float | None
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int
    waived: int
    incomplete: bool


class HostPolicyComplianceOut(ResponseModel):
    policy_id: uuid.UUID
    os_type: str
    scan: ScanOut | None = Field(description="the latest completed scan, with the results it had then")
    current: CurrentCompliance | None = None


class ScanRef(ResponseModel):
    id: uuid.UUID
    policy_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    score: float | None
    completed_at: datetime | None


class ChangedCheck(ResponseModel):
    check_id: uuid.UUID
    rule_id: str
    title: str | None
    severity: str | None
    from_status: str | None = Field(description="null: the check was not in the earlier scan")
    to_status: str | None = Field(description="null: the check is no longer in the later scan")
    from_actual: str | None
    to_actual: str | None


class HostDiffOut(ResponseModel):
    host_id: uuid.UUID
    from_scan: ScanRef
    to_scan: ScanRef
    changes: list[ChangedCheck]
