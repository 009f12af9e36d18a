"""Per-organization scan policies (one per OS type) and host-level template overrides."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk
from models.hosts import OS_TYPE_CHECK


class CompliancePolicy(UUIDPk, Timestamps, Base):
    __tablename__ = "compliance_policies"
    __table_args__ = (
        UniqueConstraint("org_id", "os_type", name="uq_compliance_policies_org_os_type"),
        CheckConstraint(OS_TYPE_CHECK, name="os_type"),
        CheckConstraint("approval_mode IN ('auto', 'manual')", name="approval_mode"),
        CheckConstraint("batch_size BETWEEN 1 AND 10000", name="batch_size"),
        CheckConstraint("scan_interval_hours BETWEEN 1 AND 8760", name="scan_interval"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    os_type: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_templates.id", ondelete="RESTRICT"), index=True
    )
    pinned_template_version: Mapped[int | None] = mapped_column(Integer)
    scan_interval_hours: Mapped[int] = mapped_column(Integer, default=24)
    batch_size: Mapped[int] = mapped_column(Integer, default=100)
    approval_mode: Mapped[str] = mapped_column(String(16), default="auto")
    auto_remediate_critical: Mapped[bool] = mapped_column(default=False)
    auto_remediate_high: Mapped[bool] = mapped_column(default=False)
    auto_remediate_medium: Mapped[bool] = mapped_column(default=False)
    auto_remediate_low: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)


class PolicyHostOverride(UUIDPk, Timestamps, Base):
    __tablename__ = "policy_host_overrides"
    __table_args__ = (UniqueConstraint("policy_id", "host_id", name="uq_policy_host_overrides_policy_host"),)

    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_templates.id", ondelete="RESTRICT"), index=True
    )
