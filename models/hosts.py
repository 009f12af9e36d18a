"""Hosts, host groups, the agents running on hosts and the jobs handed to them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk

OS_TYPES = ("windows", "linux", "bsd")
OS_TYPE_CHECK = "os_type IN ('windows', 'linux', 'bsd')"


class Host(UUIDPk, Timestamps, Base):
    __tablename__ = "hosts"
    __table_args__ = (
        UniqueConstraint("org_id", "hostname", name="uq_hosts_org_hostname"),
        CheckConstraint(OS_TYPE_CHECK, name="os_type"),
        Index("ix_hosts_org_os_type", "org_id", "os_type"),
        Index("ix_hosts_hostname_trgm", func.lower(text("hostname")), postgresql_using="gin",
              postgresql_ops={"lower(hostname)": "gin_trgm_ops"}),
        Index("ix_hosts_ip_trgm", text("ip_address"), postgresql_using="gin",
              postgresql_ops={"ip_address": "gin_trgm_ops"}),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    os_type: Mapped[str] = mapped_column(String(16))
    os_name: Mapped[str | None] = mapped_column(String(200))
    os_version: Mapped[str | None] = mapped_column(String(100))
    last_seen: Mapped[datetime | None]


class HostGroup(UUIDPk, Timestamps, Base):
    __tablename__ = "host_groups"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_host_groups_org_name"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))


class HostGroupMember(Base):
    __tablename__ = "host_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("host_groups.id", ondelete="CASCADE"), primary_key=True
    )
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, index=True)


class Agent(UUIDPk, Timestamps, Base):
    __tablename__ = "agents"

    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    version: Mapped[str | None] = mapped_column(String(50))
    last_seen: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # None while the agent waits for an administrator: it enrolled under a hostname that already had an agent.
    approved_at: Mapped[datetime | None]


class AgentJob(UUIDPk, Timestamps, Base):
    """Work for one host's agent. The waiting Temporal activity's task token rides on the row."""

    __tablename__ = "agent_jobs"
    __table_args__ = (
        CheckConstraint("kind IN ('compliance_check', 'remediation', 'inventory', 'patch_install')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'completed', 'timed_out', 'cancelled')", name="status"
        ),
        Index("ix_agent_jobs_host_open", "host_id", "created_at",
              postgresql_where=text("status IN ('pending', 'delivered')")),
        Index("ix_agent_jobs_completion_pending", "completed_at",
              postgresql_where=text("completion_pending")),
        Index("uq_agent_jobs_one_check_job_per_scan", "scan_id", unique=True,
              postgresql_where=text("kind = 'compliance_check'")),
        Index("uq_agent_jobs_one_open_inventory_per_host", "host_id", unique=True,
              postgresql_where=text("kind = 'inventory' AND status IN ('pending', 'delivered')")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    task_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    result: Mapped[dict | None] = mapped_column(JSON)  # as posted, read back whole once (see migration 0007)
    late: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    completion_pending: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("compliance_scans.id", ondelete="CASCADE"), index=True
    )
    remediation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("remediations.id", ondelete="CASCADE"), index=True
    )
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
