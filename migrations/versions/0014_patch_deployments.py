"""patch deployments: vulnerability policy, ring sets, deployments and their per-host jobs, vulnerability alerts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09 06:00:00.000000

Per-organization vulnerability policy and ring sets; patch deployments with their patches and one row per host
and ring (the `patch_install` agent job and its outcome). Change records may govern a deployment instead of a
remediation (exactly one of the two). Alerts and incidents get a source: vulnerability alerts name a CVE instead
of a scan and policy, are resolved when the vulnerability is, and a host has at most one open incident per source.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
SEVERITIES = "('low', 'medium', 'high', 'critical')"
DEPLOYMENT_STATUSES = ("('pending_approval', 'running', 'soaking', 'completed', 'halted', 'cancelled', "
                       "'skipped_paused')")
HOST_STATUSES = "('pending', 'dispatched', 'succeeded', 'failed', 'timed_out', 'skipped')"


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", TS, nullable=False, server_default=NOW),
            sa.Column("updated_at", TS, nullable=False, server_default=NOW)]


def upgrade() -> None:
    op.create_table(
        "ring_sets",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("org_id", sa.UUID(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rings", JSONB(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_ring_sets_org_name")),
        sa.UniqueConstraint("id", "org_id", name=op.f("uq_ring_sets_id_org")),
        sa.CheckConstraint("jsonb_typeof(rings) = 'array' AND jsonb_array_length(rings) BETWEEN 1 AND 20",
                           name=op.f("ck_ring_sets_rings")),
    )
    op.create_table(
        "vulnerability_policies",
        sa.Column("org_id", sa.UUID(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("min_severity", sa.String(16), nullable=False, server_default="high"),
        sa.Column("kev_always", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("auto_deploy", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("auto_approve_min_severity", sa.String(16), nullable=False, server_default="critical"),
        sa.Column("ring_set_id", sa.UUID()),
        *_timestamps(),
        sa.CheckConstraint(f"min_severity IN {SEVERITIES}", name=op.f("ck_vulnerability_policies_min_severity")),
        sa.CheckConstraint(f"auto_approve_min_severity IN {SEVERITIES}",
                           name=op.f("ck_vulnerability_policies_auto_approve_min_severity")),
        # Auto-deploy needs somewhere to deploy to; the ring set is one of the organization's own.
        sa.CheckConstraint("NOT auto_deploy OR ring_set_id IS NOT NULL",
                           name=op.f("ck_vulnerability_policies_auto_deploy_ring_set")),
        sa.ForeignKeyConstraint(["ring_set_id", "org_id"], ["ring_sets.id", "ring_sets.org_id"],
                                name=op.f("fk_vulnerability_policies_ring_set_org")),
    )
    op.create_table(
        "patch_deployments",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("org_id", sa.UUID(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("ring_set_id", sa.UUID(), sa.ForeignKey("ring_sets.id", ondelete="SET NULL")),
        sa.Column("ring_set_name", sa.String(200), nullable=False),
        sa.Column("rings", JSONB(), nullable=False),
        sa.Column("current_ring", sa.Integer()),
        sa.Column("needs_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text()),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("created_by", sa.UUID(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("cancel_requested_by", sa.UUID(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("started_at", TS), sa.Column("soak_until", TS), sa.Column("finished_at", TS),
        *_timestamps(),
        sa.CheckConstraint(f"status IN {DEPLOYMENT_STATUSES}", name=op.f("ck_patch_deployments_status")),
        sa.CheckConstraint("current_ring IS NULL OR current_ring >= 0", name=op.f("ck_patch_deployments_current_ring")),
        sa.CheckConstraint("automatic OR created_by IS NOT NULL OR status <> 'pending_approval'",
                           name=op.f("ck_patch_deployments_requester")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_patch_deployments_workflow_id")),
    )
    op.create_index("ix_patch_deployments_org_created", "patch_deployments", ["org_id", "created_at"])
    op.create_index("ix_patch_deployments_org_status", "patch_deployments", ["org_id", "status"])
    op.create_table(
        "patch_deployment_patches",
        sa.Column("deployment_id", sa.UUID(), sa.ForeignKey("patch_deployments.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("patch_id", sa.UUID(), sa.ForeignKey("patches.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_patch_deployment_patches_patch", "patch_deployment_patches", ["patch_id"])
    op.create_table(
        "patch_deployment_hosts",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("deployment_id", sa.UUID(), sa.ForeignKey("patch_deployments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("ring_index", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.UUID(), sa.ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.UUID(), sa.ForeignKey("agent_jobs.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("packages", JSONB(), nullable=False),
        sa.Column("installed", JSONB()),
        sa.Column("output", sa.Text()),
        sa.Column("completed_at", TS),
        *_timestamps(),
        sa.CheckConstraint(f"status IN {HOST_STATUSES}", name=op.f("ck_patch_deployment_hosts_status")),
        sa.CheckConstraint("ring_index >= 0", name=op.f("ck_patch_deployment_hosts_ring_index")),
        # A host is patched once per deployment, by one ring.
        sa.UniqueConstraint("deployment_id", "host_id", name=op.f("uq_patch_deployment_hosts_deployment_host")),
        sa.UniqueConstraint("job_id", name=op.f("uq_patch_deployment_hosts_job_id")),
    )
    op.create_index("ix_patch_deployment_hosts_deployment_ring", "patch_deployment_hosts",
                    ["deployment_id", "ring_index"])

    op.drop_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs", type_="check")
    op.create_check_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs",
                               "kind IN ('compliance_check', 'remediation', 'inventory', 'patch_install')")

    # A change record governs either one remediation or one patch deployment.
    for column in ("host_id", "scan_id", "check_id", "remediation_id"):
        op.alter_column("change_records", column, nullable=True)
    op.add_column("change_records", sa.Column(
        "deployment_id", sa.UUID(), sa.ForeignKey("patch_deployments.id", ondelete="CASCADE",
                                                  name=op.f("fk_change_records_deployment_id_patch_deployments"))))
    op.create_unique_constraint(op.f("uq_change_records_deployment_id"), "change_records", ["deployment_id"])
    op.create_check_constraint(op.f("ck_change_records_subject"), "change_records",
                               "(remediation_id IS NULL) <> (deployment_id IS NULL) AND "
                               "(remediation_id IS NULL OR (host_id IS NOT NULL AND scan_id IS NOT NULL "
                               "AND check_id IS NOT NULL))")

    # Alerts and incidents of vulnerabilities: a CVE, no scan or policy.
    op.add_column("alerts", sa.Column("source", sa.String(16), nullable=False, server_default="compliance"))
    op.add_column("alerts", sa.Column("cve_id", sa.String(32), sa.ForeignKey(
        "cves.cve_id", ondelete="CASCADE", name=op.f("fk_alerts_cve_id_cves"))))
    op.add_column("alerts", sa.Column("resolved_at", TS))
    for column in ("policy_id", "scan_id"):
        op.alter_column("alerts", column, nullable=True)
    op.create_check_constraint(op.f("ck_alerts_source"), "alerts",
                               "(source = 'compliance' AND scan_id IS NOT NULL AND policy_id IS NOT NULL) OR "
                               "(source = 'vulnerabilities' AND cve_id IS NOT NULL)")
    op.create_index("uq_alerts_one_unresolved_vulnerability_per_host_cve", "alerts", ["host_id", "cve_id"],
                    unique=True, postgresql_where=sa.text(
                        "alert_type = 'vulnerability_detected' AND resolved_at IS NULL"))
    op.add_column("incidents", sa.Column("source", sa.String(16), nullable=False, server_default="compliance"))
    for column in ("policy_id", "opened_by_scan_id"):
        op.alter_column("incidents", column, nullable=True)
    op.create_check_constraint(op.f("ck_incidents_source"), "incidents",
                               "(source = 'compliance' AND policy_id IS NOT NULL AND opened_by_scan_id IS NOT NULL)"
                               " OR source = 'vulnerabilities'")
    op.create_index("uq_incidents_one_open_vulnerability_incident_per_host", "incidents", ["host_id"], unique=True,
                    postgresql_where=sa.text("status = 'open' AND source = 'vulnerabilities'"))


def downgrade() -> None:
    op.drop_index("uq_incidents_one_open_vulnerability_incident_per_host", "incidents")
    op.execute("DELETE FROM incidents WHERE source <> 'compliance'")
    op.drop_constraint(op.f("ck_incidents_source"), "incidents", type_="check")
    for column in ("policy_id", "opened_by_scan_id"):
        op.alter_column("incidents", column, nullable=False)
    op.drop_column("incidents", "source")
    op.drop_index("uq_alerts_one_unresolved_vulnerability_per_host_cve", "alerts")
    op.execute("DELETE FROM alerts WHERE source <> 'compliance'")
    op.drop_constraint(op.f("ck_alerts_source"), "alerts", type_="check")
    for column in ("policy_id", "scan_id"):
        op.alter_column("alerts", column, nullable=False)
    for column in ("resolved_at", "cve_id", "source"):
        op.drop_column("alerts", column)

    op.execute("DELETE FROM change_records WHERE deployment_id IS NOT NULL")
    op.drop_constraint(op.f("ck_change_records_subject"), "change_records", type_="check")
    op.drop_constraint(op.f("uq_change_records_deployment_id"), "change_records", type_="unique")
    op.drop_column("change_records", "deployment_id")
    for column in ("host_id", "scan_id", "check_id", "remediation_id"):
        op.alter_column("change_records", column, nullable=False)

    op.execute("DELETE FROM agent_jobs WHERE kind = 'patch_install'")
    op.drop_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs", type_="check")
    op.create_check_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs",
                               "kind IN ('compliance_check', 'remediation', 'inventory')")
    for table in ("patch_deployment_hosts", "patch_deployment_patches", "patch_deployments",
                  "vulnerability_policies", "ring_sets"):
        op.drop_table(table)
