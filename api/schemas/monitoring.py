"""Alerts, incidents, notifications, webhooks, and the dashboard / trend / report documents."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from api.schemas.common import RequestModel, ResponseModel

IncidentStatus = Literal["open", "resolved"]
AlertState = Literal["open", "acknowledged"]
Severity = Literal["critical", "warning"]


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an absolute http(s) URL")
    return value


class WebhookCreate(RequestModel):
    url: str = Field(max_length=2000)
    secret: str = Field(min_length=16, max_length=200, description="HMAC key; never returned")
    enabled: bool = True

    _check_url = field_validator("url")(_http_url)


class WebhookUpdate(RequestModel):
    url: str | None = Field(None, max_length=2000)
    secret: str | None = Field(None, min_length=16, max_length=200)
    enabled: bool | None = None

    _check_url = field_validator("url")(_http_url)


class WebhookOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    url: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryOut(ResponseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_type: str
    event_id: uuid.UUID
    attempt: int
    status_code: int | None
    success: bool
    error: str | None
    created_at: datetime


class AlertOut(ResponseModel):
    """A compliance alert comes from a scan under a policy; a vulnerability alert names a CVE instead."""

    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    source: Literal["compliance", "vulnerabilities"] = "compliance"
    policy_id: uuid.UUID | None
    scan_id: uuid.UUID | None
    cve_id: str | None = None
    alert_type: str
    severity: str
    message: str
    metadata: dict = Field(validation_alias="details")
    incident_id: uuid.UUID | None = Field(None, description="the incident this alert was correlated into")
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    resolved_at: datetime | None = Field(None, description="vulnerability alerts: when the vulnerability was fixed")
    created_at: datetime


class IncidentOut(ResponseModel):
    """One open incident per host and source: per policy for compliance, one for the host's vulnerabilities."""

    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    source: Literal["compliance", "vulnerabilities"] = "compliance"
    policy_id: uuid.UUID | None
    status: IncidentStatus
    severity: str
    title: str
    timeline: list[dict]
    opened_by_scan_id: uuid.UUID | None
    resolved_by_scan_id: uuid.UUID | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None = Field(None, description="the person who resolved it, when not a clean scan")
    resolution_note: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    assigned_to: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class IncidentDetailOut(IncidentOut):
    alerts: list[AlertOut] = Field(description="the alerts correlated into this incident, newest first")


class IncidentAssign(RequestModel):
    user_id: uuid.UUID | None = Field(description="a member of the incident's organization; null unassigns")


class IncidentComment(RequestModel):
    comment: str = Field(min_length=1, max_length=4000)


class IncidentResolve(RequestModel):
    note: str = Field(min_length=1, max_length=4000, description="what was done, for the incident's record")


class NotificationOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID | None
    policy_id: uuid.UUID | None
    scan_id: uuid.UUID | None
    kind: str
    severity: str
    message: str
    details: dict
    created_at: datetime


class FrameworkScore(ResponseModel):
    framework: str
    average_score: float | None
    hosts: int


class HostScore(ResponseModel):
    host_id: uuid.UUID
    hostname: str
    policy_id: uuid.UUID
    score: float | None
    incomplete: bool = Field(False, description="the latest scan errored on too many checks to count as healthy")
    last_scan_at: datetime


class FailingCheck(ResponseModel):
    check_id: uuid.UUID
    rule_id: str
    title: str
    severity: str
    failing_hosts: int


class DashboardOut(ResponseModel):
    total_policies: int
    total_scans: int
    average_score: float | None = Field(description="over hosts whose latest scan is complete")
    hosts_scanned: int
    incomplete_hosts: int = Field(0, description="hosts whose latest scan errored on too many checks")
    frameworks: list[FrameworkScore]
    worst_hosts: list[HostScore]
    top_failing_checks: list[FailingCheck]


class TrendPoint(ResponseModel):
    date: date
    average_score: float | None
    min_score: float | None
    max_score: float | None
    scans: int


class TrendSummary(ResponseModel):
    average_score: float | None
    min_score: float | None
    max_score: float | None
    scans: int


class TrendsOut(ResponseModel):
    days: int
    start: date
    end: date
    points: list[TrendPoint]
    summary: TrendSummary


class ReportSummary(ResponseModel):
    total_hosts: int
    avg_score: float | None = Field(description="over hosts whose latest scan is complete")
    hosts_above_80: int = Field(description="hosts whose latest complete scan scores 80 or more")
    hosts_below_50: int = Field(description="hosts whose latest score is under 50")
    incomplete_hosts: int = Field(0, description="hosts whose latest scan errored on too many checks")


class ReportHost(ResponseModel):
    host_id: uuid.UUID
    hostname: str
    ip_address: str | None
    policy_id: uuid.UUID
    policy_name: str | None
    framework: str
    template_name: str
    template_version: int
    scan_id: uuid.UUID
    score: float | None
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int
    waived: int
    incomplete: bool = False
    coverage: float | None = None
    last_scan_at: datetime


class ReportOut(ResponseModel):
    summary: ReportSummary
    by_framework: list[FrameworkScore]
    hosts: list[ReportHost]
    failing_checks: list[FailingCheck] | None = None
