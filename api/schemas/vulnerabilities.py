"""Vulnerabilities: feed status, CVEs with host counts, host vulnerabilities and packages, patches, and the
agent's inventory result (§7 field names)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import RequestModel, ResponseModel

FeedSource = Literal["nvd", "kev", "osv"]
Severity = Literal["low", "medium", "high", "critical"]
HostVulnerabilityStatus = Literal["open", "resolved"]


class OsReleaseIn(RequestModel):
    id: str | None = Field(None, max_length=64)
    version_id: str | None = Field(None, max_length=64)


class PackageIn(RequestModel):
    name: str = Field(min_length=1, max_length=500)
    version: str = Field(min_length=1, max_length=500)
    source_name: str | None = Field(None, max_length=500)
    source_version: str | None = Field(None, max_length=500)
    arch: str | None = Field(None, max_length=500)


class InventoryResultIn(RequestModel):
    """`{"os": {"id", "version_id"}, "packages": [...]}`, or `{"status": "unsupported"}`."""

    status: Literal["unsupported"] | None = None
    reason: str | None = Field(None, max_length=2000)
    os: OsReleaseIn | None = None
    packages: list[PackageIn] = Field(default_factory=list, max_length=100_000)


class FeedStatusOut(ResponseModel):
    source: FeedSource
    status: str = Field(description="never | ok | not_modified | imported | error")
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    records: int = Field(description="records the last run or import wrote")
    stored: int = 0
    cursor: datetime | None = Field(None, description="NVD: the next sync reads CVEs modified after this")


class FeedImportOut(ResponseModel):
    source: FeedSource
    written: int


class Accepted(ResponseModel):
    status: Literal["accepted"] = "accepted"


class CveOut(ResponseModel):
    cve_id: str
    description: str | None
    published: datetime | None
    last_modified: datetime | None
    cvss_version: str | None
    cvss_score: float | None
    severity: Severity | None
    kev: bool = False
    kev_date_added: date | None = None
    kev_due_date: date | None = None
    known_ransomware: bool = False
    affected_hosts: int = 0
    resolved_hosts: int = 0


class PatchOut(ResponseModel):
    id: uuid.UUID
    ecosystem: str
    package: str
    fixed_version: str
    hosts: int | None = None
    cves: int | None = None


class HostVulnerabilityOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    hostname: str | None = None
    cve_id: str
    package: str
    installed_version: str
    fixed_version: str | None
    patch_id: uuid.UUID | None
    status: HostVulnerabilityStatus
    severity: Severity | None = None
    cvss_score: float | None = None
    kev: bool = False
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


class CveDetailOut(CveOut):
    kev_required_action: str | None = None
    hosts: list[HostVulnerabilityOut] = Field(default_factory=list, description="the caller's affected hosts")
    patches: list[PatchOut] = Field(default_factory=list)


class PackageOut(ResponseModel):
    name: str
    version: str
    source_name: str | None
    source_version: str | None
    arch: str | None
