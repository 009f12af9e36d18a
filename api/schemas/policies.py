"""Compliance policies (one per organization and OS type) and their host-level template overrides."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.hosts import OsType
from api.schemas.templates import PartialUpdate

ApprovalMode = Literal["auto", "manual"]


class PolicyCreate(RequestModel):
    org_id: uuid.UUID
    os_type: OsType
    template_id: uuid.UUID
    name: str | None = Field(None, min_length=1, max_length=200)
    pinned_template_version: int | None = Field(None, ge=1)
    scan_interval_hours: int | None = Field(
        None, ge=1, le=8760, description="hours between scheduled scans; the template's Scan Interval when omitted")
    batch_size: int = Field(100, ge=1, le=10_000)
    approval_mode: ApprovalMode = "auto"
    auto_remediate_critical: bool = False
    auto_remediate_high: bool = False
    auto_remediate_medium: bool = False
    auto_remediate_low: bool = False
    enabled: bool = True


class PolicyUpdate(PartialUpdate):
    """The organization and OS type of a policy are fixed; everything else may change."""

    nullable: ClassVar[frozenset[str]] = frozenset({"name", "pinned_template_version"})

    template_id: uuid.UUID | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    pinned_template_version: int | None = Field(None, ge=1)
    scan_interval_hours: int | None = Field(None, ge=1, le=8760)
    batch_size: int | None = Field(None, ge=1, le=10_000)
    approval_mode: ApprovalMode | None = None
    auto_remediate_critical: bool | None = None
    auto_remediate_high: bool | None = None
    auto_remediate_medium: bool | None = None
    auto_remediate_low: bool | None = None
    enabled: bool | None = None


class PolicyOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str | None
    os_type: OsType
    template_id: uuid.UUID
    pinned_template_version: int | None
    scan_interval_hours: int
    batch_size: int
    approval_mode: ApprovalMode
    auto_remediate_critical: bool
    auto_remediate_high: bool
    auto_remediate_medium: bool
    auto_remediate_low: bool
    enabled: bool
    effective_template_id: uuid.UUID | None = None
    effective_template_version: int | None = None
    created_at: datetime
    updated_at: datetime


class OverrideCreate(RequestModel):
    host_id: uuid.UUID
    template_id: uuid.UUID


class OverrideOut(ResponseModel):
    id: uuid.UUID
    policy_id: uuid.UUID
    host_id: uuid.UUID
    template_id: uuid.UUID
    hostname: str | None = None
    template_name: str | None = None
    template_version: int | None = None
    created_at: datetime
