"""Compliance exceptions (waivers): approved by a second person, scoped, optionally expiring."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk


class ComplianceException(UUIDPk, Timestamps, Base):
    __tablename__ = "compliance_exceptions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_approval', 'active', 'rejected', 'expired', 'revoked')", name="status"
        ),
        CheckConstraint("host_id IS NULL OR host_group_id IS NULL", name="one_scope"),
        Index("ix_compliance_exceptions_org_status_rule", "org_id", "status", "rule_id"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(100))
    host_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    host_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("host_groups.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending_approval")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    rejected_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
