"""Agent enrollment, heartbeats, jobs and results (§5.1 field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.hosts import OsType

MAX_ACTUAL = 4000
MAX_RESULTS = 5000  # answers in one compliance result
CheckStatus = Literal["pass", "fail", "error", "skip"]


class EnrollRequest(RequestModel):
    enrollment_token: str = Field(min_length=10, max_length=200)
    hostname: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    os_type: OsType
    ip_address: str = Field(min_length=2, max_length=64)
    os_name: str | None = Field(None, max_length=200)
    os_version: str | None = Field(None, max_length=100)
    agent_version: str | None = Field(None, max_length=50)


class EnrollResponse(ResponseModel):
    agent_id: uuid.UUID
    host_id: uuid.UUID
    agent_token: str
    status: Literal["active", "pending_approval"] = Field(
        "active", description="pending_approval: the hostname already had an agent; this token works once an "
                              "organization administrator approves the handover")


class AgentOut(ResponseModel):
    id: uuid.UUID
    host_id: uuid.UUID
    hostname: str
    status: Literal["active", "pending_approval", "revoked"]
    version: str | None
    created_at: datetime
    last_seen: datetime | None
    approved_at: datetime | None
    revoked_at: datetime | None


class HeartbeatRequest(RequestModel):
    ip_address: str | None = Field(None, max_length=64)
    os_version: str | None = Field(None, max_length=100)
    agent_version: str | None = Field(None, max_length=50)


class HeartbeatResponse(ResponseModel):
    host_id: uuid.UUID
    last_seen: Any


class JobOut(ResponseModel):
    id: uuid.UUID
    kind: Literal["compliance_check", "remediation", "inventory", "patch_install"]
    payload: dict


class CheckResultIn(RequestModel):
    check_id: uuid.UUID
    status: CheckStatus
    actual: str | None = Field(None, max_length=MAX_ACTUAL)


class ComplianceResultIn(RequestModel):
    results: list[CheckResultIn] = Field(max_length=MAX_RESULTS)


class RemediationResultIn(RequestModel):
    status: Literal["success", "failed"]
    exit_code: int | None = None
    output: str | None = Field(None, max_length=70_000)


class ResultAck(ResponseModel):
    job_id: uuid.UUID
    status: Literal["accepted", "duplicate", "late"]
    next_jobs: list[JobOut] | None = Field(
        None, description="the agent's next jobs, when the result was posted with ?wait= (absent otherwise)")
