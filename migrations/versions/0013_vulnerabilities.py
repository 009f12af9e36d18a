"""vulnerabilities: CVE feeds, package inventories, host matching

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:00:00.000000

CVEs (NVD), KEV entries, affected package ranges (OSV) with a change sequence for incremental matching, patches
linked to the CVEs they fix, one status row per feed source; content-addressed package sets shared by hosts, each
host's pointer to its set, the per-set matches and the host vulnerabilities. Agents get `inventory` jobs, at most
one open per host.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE vuln_change_seq")
    op.create_table(
        "cves",
        sa.Column("cve_id", sa.String(32), primary_key=True),
        sa.Column("published", TS), sa.Column("last_modified", TS), sa.Column("description", sa.Text()),
        sa.Column("cvss_version", sa.String(8)), sa.Column("cvss_score", sa.Float()),
        sa.Column("severity", sa.String(16)),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("severity IS NULL OR severity IN ('low', 'medium', 'high', 'critical')",
                           name=op.f("ck_cves_severity")),
    )
    op.create_index("ix_cves_severity", "cves", ["severity"])
    op.create_table(
        "kev_entries",
        sa.Column("cve_id", sa.String(32), sa.ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("vendor", sa.String(200)), sa.Column("product", sa.String(200)), sa.Column("name", sa.Text()),
        sa.Column("date_added", sa.Date()), sa.Column("due_date", sa.Date()),
        sa.Column("known_ransomware", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("required_action", sa.Text()),
    )
    op.create_table(
        "affected_packages",
        sa.Column("cve_id", sa.String(32), sa.ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ecosystem", sa.String(64), primary_key=True),
        sa.Column("package", sa.String(200), primary_key=True),
        sa.Column("ranges", JSONB(), nullable=False),
        sa.Column("fixed_version", sa.String(200)), sa.Column("advisory_id", sa.String(100)),
        sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default=sa.text("nextval('vuln_change_seq')")),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    )
    op.create_index("ix_affected_packages_ecosystem_package", "affected_packages", ["ecosystem", "package"])
    op.create_index("ix_affected_packages_change_seq", "affected_packages", ["change_seq"])
    op.create_table(
        "patches",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("ecosystem", sa.String(64), nullable=False), sa.Column("package", sa.String(200), nullable=False),
        sa.Column("fixed_version", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_index("uq_patches_ecosystem_package_version", "patches", ["ecosystem", "package", "fixed_version"],
                    unique=True)
    op.create_table(
        "patch_cves",
        sa.Column("patch_id", sa.Uuid(), sa.ForeignKey("patches.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("cve_id", sa.String(32), sa.ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_patch_cves_cve_id", "patch_cves", ["cve_id"])
    op.create_table(
        "vuln_feed_status",
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="never"),
        sa.Column("last_attempt_at", TS), sa.Column("last_success_at", TS), sa.Column("last_error_at", TS),
        sa.Column("last_error", sa.Text()),
        sa.Column("records", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cursor", TS),
        sa.Column("validators", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("source IN ('nvd', 'kev', 'osv')", name=op.f("ck_vuln_feed_status_source")),
    )
    op.execute("INSERT INTO vuln_feed_status (source) VALUES ('nvd'), ('kev'), ('osv')")
    op.create_table(
        "package_sets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("ecosystem", sa.String(64)),
        sa.Column("package_count", sa.Integer(), nullable=False),
        sa.Column("matched_seq", sa.BigInteger()),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "package_set_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("package_set_id", sa.Uuid(), sa.ForeignKey("package_sets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(500), nullable=False), sa.Column("version", sa.String(500), nullable=False),
        sa.Column("source_name", sa.String(500)), sa.Column("source_version", sa.String(500)),
        sa.Column("arch", sa.String(500)),
        sa.Column("match_name", sa.String(500), nullable=False),
        sa.Column("match_version", sa.String(500), nullable=False),
    )
    op.create_index("ix_package_set_items_set_match", "package_set_items", ["package_set_id", "match_name"])
    op.create_table(
        "host_inventories",
        sa.Column("host_id", sa.Uuid(), sa.ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("package_set_id", sa.Uuid(), sa.ForeignKey("package_sets.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("os_id", sa.String(64)), sa.Column("os_version_id", sa.String(64)),
        sa.Column("ecosystem", sa.String(64)),
        sa.Column("collected_at", TS, nullable=False),
    )
    op.create_index("ix_host_inventories_org", "host_inventories", ["org_id"])
    op.create_index("ix_host_inventories_package_set", "host_inventories", ["package_set_id"])
    op.create_table(
        "package_set_vulnerabilities",
        sa.Column("package_set_id", sa.Uuid(), sa.ForeignKey("package_sets.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("cve_id", sa.String(32), sa.ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("package", sa.String(200), primary_key=True),
        sa.Column("installed_version", sa.String(500), nullable=False),
        sa.Column("fixed_version", sa.String(200)),
    )
    op.create_table(
        "host_vulnerabilities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("host_id", sa.Uuid(), sa.ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cve_id", sa.String(32), sa.ForeignKey("cves.cve_id", ondelete="CASCADE"), nullable=False),
        sa.Column("package", sa.String(200), nullable=False),
        sa.Column("installed_version", sa.String(500), nullable=False),
        sa.Column("fixed_version", sa.String(200)),
        sa.Column("patch_id", sa.Uuid(), sa.ForeignKey("patches.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", TS, nullable=False), sa.Column("last_seen", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_host_vulnerabilities_status")),
    )
    op.create_index("uq_host_vulnerabilities_host_cve_package", "host_vulnerabilities",
                    ["host_id", "cve_id", "package"], unique=True)
    op.create_index("ix_host_vulnerabilities_org_status", "host_vulnerabilities", ["org_id", "status"])
    op.create_index("ix_host_vulnerabilities_cve_status", "host_vulnerabilities", ["cve_id", "status"])

    op.drop_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs", type_="check")
    op.create_check_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs",
                               "kind IN ('compliance_check', 'remediation', 'inventory')")
    op.create_index("uq_agent_jobs_one_open_inventory_per_host", "agent_jobs", ["host_id"], unique=True,
                    postgresql_where=sa.text("kind = 'inventory' AND status IN ('pending', 'delivered')"))


def downgrade() -> None:
    op.drop_index("uq_agent_jobs_one_open_inventory_per_host", "agent_jobs")
    op.execute("DELETE FROM agent_jobs WHERE kind = 'inventory'")
    op.drop_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs", type_="check")
    op.create_check_constraint(op.f("ck_agent_jobs_kind"), "agent_jobs", "kind IN ('compliance_check', 'remediation')")
    for table in ("host_vulnerabilities", "package_set_vulnerabilities", "host_inventories", "package_set_items",
                  "package_sets", "vuln_feed_status", "patch_cves", "patches", "affected_packages", "kev_entries",
                  "cves"):
        op.drop_table(table)
    op.execute("DROP SEQUENCE vuln_change_seq")
