"""Scans and their per-check results (§5.1 field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import computed_field

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


class HostPolicyComplianceOut(ResponseModel):
    policy_id: uuid.UUID
    os_type: str
    scan: ScanOut | None
