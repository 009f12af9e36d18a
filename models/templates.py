"""Check templates, their checks, and the remediation scripts and automation workflows checks bind to."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk
from models.hosts import OS_TYPE_CHECK

SEVERITIES = ("critical", "high", "medium", "low")
REMEDIATION_TYPES = ("none", "manual", "script", "workflow")


class Script(UUIDPk, Timestamps, Base):
    __tablename__ = "scripts"
    __table_args__ = (
        CheckConstraint("shell IN ('bash', 'sh', 'powershell')", name="shell"),
        CheckConstraint("timeout_seconds BETWEEN 1 AND 86400", name="timeout"),
        UniqueConstraint("org_id", "name", name="uq_scripts_org_name"),
        Index("uq_scripts_system_key", "content_key", unique=True, postgresql_where=text("org_id IS NULL")),
    )

    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    content_key: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    shell: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=300)


class AutomationWorkflow(UUIDPk, Timestamps, Base):
    """An ordered list of script steps: [{"script_id", "continue_on_failure"}]."""

    __tablename__ = "automation_workflows"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_automation_workflows_org_name"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list] = mapped_column(default=list)


class ComplianceTemplate(UUIDPk, Timestamps, Base):
    __tablename__ = "compliance_templates"
    __table_args__ = (
        UniqueConstraint("lineage_id", "version", name="uq_compliance_templates_lineage_version"),
        CheckConstraint(OS_TYPE_CHECK, name="os_type"),
        CheckConstraint("status IN ('draft', 'published')", name="status"),
        CheckConstraint("scan_interval_hours BETWEEN 24 AND 168", name="scan_interval"),
        CheckConstraint("is_system = (org_id IS NULL)", name="system_has_no_org"),
        Index("uq_compliance_templates_one_draft_per_lineage", "lineage_id", unique=True,
              postgresql_where=text("status = 'draft'")),
        Index("uq_compliance_templates_system_key", "content_key", unique=True,
              postgresql_where=text("is_system")),
    )

    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    content_key: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    os_type: Mapped[str] = mapped_column(String(16))
    framework: Mapped[str] = mapped_column(String(32))
    level: Mapped[int | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    is_system: Mapped[bool] = mapped_column(default=False)
    scan_interval_hours: Mapped[int] = mapped_column(Integer, default=24)
    lineage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    source_template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("compliance_templates.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None]


class ComplianceCheck(UUIDPk, Timestamps, Base):
    __tablename__ = "compliance_checks"
    __table_args__ = (
        UniqueConstraint("template_id", "rule_id", name="uq_compliance_checks_template_rule"),
        CheckConstraint("severity IN ('critical', 'high', 'medium', 'low')", name="severity"),
        CheckConstraint("remediation_type IN ('none', 'manual', 'script', 'workflow')", name="remediation_type"),
        CheckConstraint("remediation_type <> 'script' OR script_id IS NOT NULL", name="script_bound"),
        CheckConstraint("remediation_type <> 'workflow' OR workflow_id IS NOT NULL", name="workflow_bound"),
    )

    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("compliance_templates.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    rule: Mapped[dict]
    enabled: Mapped[bool] = mapped_column(default=True)
    frameworks: Mapped[dict] = mapped_column(default=dict)
    remediation_type: Mapped[str] = mapped_column(String(16), default="none")
    remediation_instructions: Mapped[str | None] = mapped_column(Text)
    script_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scripts.id", ondelete="RESTRICT"), index=True)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("automation_workflows.id", ondelete="RESTRICT"), index=True
    )
    remediation_requires_change: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
