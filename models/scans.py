"""Scans, their per-check results (history) and the latest state per host, policy and check."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk

SCAN_TYPES = ("scheduled", "on_demand", "verify")
CHECK_STATUSES = ("pass", "fail", "error", "skip", "waived")


class ComplianceScan(UUIDPk, Timestamps, Base):
    __tablename__ = "compliance_scans"
    __table_args__ = (
        CheckConstraint("scan_type IN ('scheduled', 'on_demand', 'verify')", name="scan_type"),
        CheckConstraint("status IN ('queued', 'running', 'completed', 'error')", name="status"),
        Index("uq_compliance_scans_one_open_per_host_policy", "host_id", "policy_id", unique=True,
              postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_compliance_scans_host_policy_completed", "host_id", "policy_id", "completed_at",
              postgresql_where=text("status = 'completed'")),
        Index("ix_compliance_scans_org_created", "org_id", "created_at"),
        Index("ix_compliance_scans_org_completed", "org_id", "completed_at", postgresql_include=["score"],
              postgresql_where=text("status = 'completed'")),
        Index("ix_compliance_scans_org_completed_count", "org_id", postgresql_where=text("status = 'completed'")),
        Index("ix_compliance_scans_workflow_id", "workflow_id"),
        Index("ix_compliance_scans_policy_created", "policy_id", "created_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_templates.id", ondelete="RESTRICT"))
    template_version: Mapped[int] = mapped_column(Integer)
    scan_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    waived: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    score_reason: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(String(64))
    result_data: Mapped[dict] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    remediation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("remediations.id", ondelete="SET NULL", use_alter=True), index=True
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class ScanResults(Base):
    """A scan's outcome per check, one row per scan: parallel arrays in template order. This is the history."""

    __tablename__ = "scan_results"
    __table_args__ = (
        CheckConstraint("statuses <@ ARRAY['pass', 'fail', 'error', 'skip', 'waived']::text[]", name="statuses"),
        CheckConstraint(
            "cardinality(rule_ids) = cardinality(check_ids) AND cardinality(statuses) = cardinality(check_ids)"
            " AND cardinality(actuals) = cardinality(check_ids)"
            " AND cardinality(exception_ids) = cardinality(check_ids)",
            name="parallel_arrays",
        ),
    )

    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_scans.id", ondelete="CASCADE"), primary_key=True
    )
    check_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    rule_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    statuses: Mapped[list[str]] = mapped_column(ARRAY(Text))
    actuals: Mapped[list[str | None]] = mapped_column(ARRAY(Text))
    exception_ids: Mapped[list[uuid.UUID | None]] = mapped_column(ARRAY(Uuid))


class ScanCheckResult(Base):
    """One check's outcome in one scan: a read-only view that unnests `scan_results` (migration 0007)."""

    __tablename__ = "scan_check_results"
    __table_args__ = {"info": {"is_view": True}}

    scan_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    check_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    actual: Mapped[str | None] = mapped_column(Text)
    exception_id: Mapped[uuid.UUID | None]
    position: Mapped[int] = mapped_column(Integer)


class CheckState(Base):
    """Latest outcome of each check for each host under each policy, rewritten only when it changes.

    `scan_id` and `updated_at` name the scan that first observed this outcome; the latest scan of the host and
    policy is in host_policy_status. No foreign keys to organizations or scans: they cost a check per written row,
    and deleting an organization still cascades here through its hosts.
    """

    __tablename__ = "check_states"
    __table_args__ = (
        CheckConstraint("status IN ('pass', 'fail', 'error', 'skip', 'waived')", name="status"),
        Index("ix_check_states_org_status", "org_id", "status", "check_id"),
        Index("ix_check_states_org_failing", "org_id", "check_id", "rule_id", "host_id",
              postgresql_where=text("status = 'fail'")),
        {"postgresql_with": {"fillfactor": 70}},
    )

    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_policies.id", ondelete="CASCADE"), primary_key=True
    )
    check_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    rule_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8))
    actual: Mapped[str | None] = mapped_column(Text)
    exception_id: Mapped[uuid.UUID | None]
    scan_id: Mapped[uuid.UUID]
    updated_at: Mapped[datetime]


class HostPolicyStatus(Base):
    """Latest completed scan per host and policy: what dashboards, reports and due-host planning read."""

    __tablename__ = "host_policy_status"
    __table_args__ = (
        Index("ix_host_policy_status_policy_due", "policy_id", "last_completed_at"),
        Index("ix_host_policy_status_org_score", "org_id", "score"),
    )

    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_policies.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_templates.id", ondelete="RESTRICT"))
    score: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    waived: Mapped[int] = mapped_column(Integer, default=0)
    last_completed_at: Mapped[datetime]
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
