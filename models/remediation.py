"""Remediations of failed checks and the change records that govern them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk


class Remediation(UUIDPk, Timestamps, Base):
    __tablename__ = "remediations"
    __table_args__ = (
        UniqueConstraint("scan_id", "check_id", name="uq_remediations_scan_check"),
        CheckConstraint("trigger IN ('automatic', 'manual')", name="trigger"),
        Index("ix_remediations_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    check_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_checks.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    reason: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[dict | None]
    verify_scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("compliance_scans.id", ondelete="SET NULL"), index=True
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ChangeRecord(UUIDPk, Timestamps, Base):
    __tablename__ = "change_records"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_approval', 'approved', 'rejected', 'expired', 'implementing', 'completed', 'failed')",
            name="status",
        ),
        Index("ix_change_records_org_status", "org_id", "status"),
        # A change governs one remediation (of a scan's check on a host) or one patch deployment (migration 0014).
        CheckConstraint("(remediation_id IS NULL) <> (deployment_id IS NULL) AND (remediation_id IS NULL OR "
                        "(host_id IS NOT NULL AND scan_id IS NOT NULL AND check_id IS NOT NULL))", name="subject"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    check_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_checks.id", ondelete="CASCADE"))
    remediation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("remediations.id", ondelete="CASCADE"), unique=True
    )
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patch_deployments.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending_approval")
    title: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict] = mapped_column(default=dict)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
