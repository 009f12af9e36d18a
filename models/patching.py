"""Vulnerability-driven patching: the per-organization vulnerability policy, ring sets, patch deployments, the
patches they carry and one row per host and ring (its `patch_install` job and outcome)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk

SEVERITIES = ("low", "medium", "high", "critical")
DEPLOYMENT_STATUSES = ("pending_approval", "running", "soaking", "completed", "halted", "cancelled",
                       "skipped_paused")
HOST_JOB_STATUSES = ("pending", "dispatched", "succeeded", "failed", "timed_out", "skipped")


def _one_of(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class RingSet(UUIDPk, Timestamps, Base):
    """Ordered rings: `[{name, host_group_id (None: every remaining host), soak_minutes, max_failure_rate}]`."""

    __tablename__ = "ring_sets"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_ring_sets_org_name"),
        UniqueConstraint("id", "org_id", name="uq_ring_sets_id_org"),
        CheckConstraint("jsonb_typeof(rings) = 'array' AND jsonb_array_length(rings) BETWEEN 1 AND 20",
                        name="rings"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    rings: Mapped[list]


class VulnerabilityPolicy(Timestamps, Base):
    """One per organization; an organization without a row has the defaults of domain.patching."""

    __tablename__ = "vulnerability_policies"
    __table_args__ = (
        CheckConstraint(f"min_severity IN {_one_of(SEVERITIES)}", name="min_severity"),
        CheckConstraint(f"auto_approve_min_severity IN {_one_of(SEVERITIES)}", name="auto_approve_min_severity"),
        CheckConstraint("NOT auto_deploy OR ring_set_id IS NOT NULL", name="auto_deploy_ring_set"),
        ForeignKeyConstraint(["ring_set_id", "org_id"], ["ring_sets.id", "ring_sets.org_id"],
                             name="fk_vulnerability_policies_ring_set_org"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    min_severity: Mapped[str] = mapped_column(String(16), server_default="high")
    kev_always: Mapped[bool] = mapped_column(server_default=text("true"))
    auto_deploy: Mapped[bool] = mapped_column(server_default=text("false"))
    auto_approve_min_severity: Mapped[str] = mapped_column(String(16), server_default="critical")
    ring_set_id: Mapped[uuid.UUID | None]


class PatchDeployment(UUIDPk, Timestamps, Base):
    """A rollout of patches through a ring set. `rings` is the ring set as it was when the deployment was made,
    so editing or deleting the set never changes a rollout under way."""

    __tablename__ = "patch_deployments"
    __table_args__ = (
        CheckConstraint(f"status IN {_one_of(DEPLOYMENT_STATUSES)}", name="status"),
        CheckConstraint("current_ring IS NULL OR current_ring >= 0", name="current_ring"),
        CheckConstraint("automatic OR created_by IS NOT NULL OR status <> 'pending_approval'", name="requester"),
        UniqueConstraint("workflow_id", name="uq_patch_deployments_workflow_id"),
        Index("ix_patch_deployments_org_created", "org_id", "created_at"),
        Index("ix_patch_deployments_org_status", "org_id", "status"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    automatic: Mapped[bool]
    ring_set_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ring_sets.id", ondelete="SET NULL"))
    ring_set_name: Mapped[str] = mapped_column(String(200))
    rings: Mapped[list]
    current_ring: Mapped[int | None] = mapped_column(Integer)
    needs_approval: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancel_requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None]
    soak_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class PatchDeploymentPatch(Base):
    __tablename__ = "patch_deployment_patches"
    __table_args__ = (Index("ix_patch_deployment_patches_patch", "patch_id"),)

    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patch_deployments.id", ondelete="CASCADE"),
                                                     primary_key=True)
    patch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patches.id", ondelete="CASCADE"), primary_key=True)


class PatchDeploymentHost(UUIDPk, Timestamps, Base):
    """One host of one ring: the packages it is to install, its `patch_install` job and what came back."""

    __tablename__ = "patch_deployment_hosts"
    __table_args__ = (
        CheckConstraint(f"status IN {_one_of(HOST_JOB_STATUSES)}", name="status"),
        CheckConstraint("ring_index >= 0", name="ring_index"),
        UniqueConstraint("deployment_id", "host_id", name="uq_patch_deployment_hosts_deployment_host"),
        UniqueConstraint("job_id", name="uq_patch_deployment_hosts_job_id"),
        Index("ix_patch_deployment_hosts_deployment_ring", "deployment_id", "ring_index"),
    )

    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patch_deployments.id", ondelete="CASCADE"))
    ring_index: Mapped[int] = mapped_column(Integer)
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_jobs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), server_default="pending", default="pending")
    packages: Mapped[list]
    installed: Mapped[list | None]
    output: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
