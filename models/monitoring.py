"""Alerts, incidents, notifications and outbound webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk


class Alert(UUIDPk, Timestamps, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("scan_id", "alert_type", name="uq_alerts_scan_type"),
        Index("ix_alerts_org_created", "org_id", "created_at"),
        # Compliance alerts come from a scan under a policy; vulnerability alerts name a CVE (migration 0014).
        CheckConstraint("(source = 'compliance' AND scan_id IS NOT NULL AND policy_id IS NOT NULL) OR "
                        "(source = 'vulnerabilities' AND cve_id IS NOT NULL)", name="source"),
        Index("uq_alerts_one_unresolved_vulnerability_per_host_cve", "host_id", "cve_id", unique=True,
              postgresql_where=text("alert_type = 'vulnerability_detected' AND resolved_at IS NULL")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default="compliance", server_default="compliance")
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    cve_id: Mapped[str | None] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"))
    alert_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column("metadata", default=dict)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]


class Incident(UUIDPk, Timestamps, Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        Index("uq_incidents_one_open_per_host_policy", "host_id", "policy_id", unique=True,
              postgresql_where=text("status = 'open'")),
        Index("ix_incidents_org_status", "org_id", "status"),
        Index("ix_incidents_org_created", "org_id", "created_at"),
        Index("ix_incidents_opened_by_scan_id", "opened_by_scan_id"),
        Index("ix_incidents_host_policy", "host_id", "policy_id"),
        CheckConstraint("(source = 'compliance' AND policy_id IS NOT NULL AND opened_by_scan_id IS NOT NULL) OR "
                        "source = 'vulnerabilities'", name="source"),
        Index("uq_incidents_one_open_vulnerability_incident_per_host", "host_id", unique=True,
              postgresql_where=text("status = 'open' AND source = 'vulnerabilities'")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default="compliance", server_default="compliance")
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    timeline: Mapped[list] = mapped_column(default=list)
    opened_by_scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    resolved_by_scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("compliance_scans.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Notification(UUIDPk, Timestamps, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("scan_id", "kind", name="uq_notifications_scan_kind"),
        Index("ix_notifications_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_policies.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(default=dict)


class Webhook(UUIDPk, Timestamps, Base):
    __tablename__ = "webhooks"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)


class WebhookDelivery(UUIDPk, Timestamps, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_event_webhook", "event_id", "webhook_id"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID]
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
