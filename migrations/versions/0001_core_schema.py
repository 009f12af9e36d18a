"""core schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 21:23:30.661215
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The audit log is evidence: the database itself refuses to change or delete its rows.
AUDIT_APPEND_ONLY = """
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("row_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_org_id_id", "audit_log", ["org_id", "id"], unique=False)
    op.create_table(
        "organizations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("automation_paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=500), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "automation_workflows",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_automation_workflows_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_workflows")),
        sa.UniqueConstraint("org_id", "name", name="uq_automation_workflows_org_name"),
    )
    op.create_index(op.f("ix_automation_workflows_org_id"), "automation_workflows", ["org_id"], unique=False)
    op.create_table(
        "compliance_templates",
        sa.Column("org_id", sa.UUID(), nullable=True),
        sa.Column("content_key", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("os_type", sa.String(length=16), nullable=False),
        sa.Column("framework", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("scan_interval_hours", sa.Integer(), nullable=False),
        sa.Column("lineage_id", sa.UUID(), nullable=False),
        sa.Column("source_template_id", sa.UUID(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("os_type IN ('windows', 'linux', 'bsd')", name=op.f("ck_compliance_templates_os_type")),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_compliance_templates_status")),
        sa.CheckConstraint("is_system = (org_id IS NULL)", name=op.f("ck_compliance_templates_system_has_no_org")),
        sa.CheckConstraint(
            "scan_interval_hours BETWEEN 24 AND 168", name=op.f("ck_compliance_templates_scan_interval")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_compliance_templates_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_compliance_templates_source_template_id_compliance_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_templates")),
        sa.UniqueConstraint("lineage_id", "version", name="uq_compliance_templates_lineage_version"),
    )
    op.create_index(op.f("ix_compliance_templates_lineage_id"), "compliance_templates", ["lineage_id"], unique=False)
    op.create_index(op.f("ix_compliance_templates_org_id"), "compliance_templates", ["org_id"], unique=False)
    op.create_index(
        "uq_compliance_templates_one_draft_per_lineage",
        "compliance_templates",
        ["lineage_id"],
        unique=True,
        postgresql_where=sa.text("status = 'draft'"),
    )
    op.create_index(
        "uq_compliance_templates_system_key",
        "compliance_templates",
        ["content_key"],
        unique=True,
        postgresql_where=sa.text("is_system"),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_enrollment_tokens_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_enrollment_tokens_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrollment_tokens_token_hash")),
    )
    op.create_index(op.f("ix_enrollment_tokens_org_id"), "enrollment_tokens", ["org_id"], unique=False)
    op.create_table(
        "host_groups",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_host_groups_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_groups")),
        sa.UniqueConstraint("org_id", "name", name="uq_host_groups_org_name"),
    )
    op.create_index(op.f("ix_host_groups_org_id"), "host_groups", ["org_id"], unique=False)
    op.create_table(
        "hosts",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("os_type", sa.String(length=16), nullable=False),
        sa.Column("os_name", sa.String(length=200), nullable=True),
        sa.Column("os_version", sa.String(length=100), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("os_type IN ('windows', 'linux', 'bsd')", name=op.f("ck_hosts_os_type")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_hosts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("org_id", "hostname", name="uq_hosts_org_hostname"),
    )
    op.create_index(
        "ix_hosts_hostname_trgm",
        "hosts",
        [sa.literal_column("lower(hostname)")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"lower(hostname)": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_hosts_ip_trgm",
        "hosts",
        [sa.literal_column("ip_address")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"ip_address": "gin_trgm_ops"},
    )
    op.create_index(op.f("ix_hosts_org_id"), "hosts", ["org_id"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name=op.f("ck_memberships_role")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_memberships_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "org_id", name=op.f("pk_memberships")),
    )
    op.create_index(op.f("ix_memberships_org_id"), "memberships", ["org_id"], unique=False)
    op.create_table(
        "scripts",
        sa.Column("org_id", sa.UUID(), nullable=True),
        sa.Column("content_key", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("shell", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("shell IN ('bash', 'sh', 'powershell')", name=op.f("ck_scripts_shell")),
        sa.CheckConstraint("timeout_seconds BETWEEN 1 AND 86400", name=op.f("ck_scripts_timeout")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_scripts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripts")),
        sa.UniqueConstraint("org_id", "name", name="uq_scripts_org_name"),
    )
    op.create_index(op.f("ix_scripts_org_id"), "scripts", ["org_id"], unique=False)
    op.create_index(
        "uq_scripts_system_key", "scripts", ["content_key"], unique=True, postgresql_where=sa.text("org_id IS NULL")
    )
    op.create_table(
        "webhooks",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_webhooks_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_org_id"), "webhooks", ["org_id"], unique=False)
    op.create_table(
        "agents",
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_agents_host_id_hosts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agents_token_hash")),
    )
    op.create_index(op.f("ix_agents_host_id"), "agents", ["host_id"], unique=False)
    op.create_table(
        "compliance_checks",
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("frameworks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("remediation_type", sa.String(length=16), nullable=False),
        sa.Column("remediation_instructions", sa.Text(), nullable=True),
        sa.Column("script_id", sa.UUID(), nullable=True),
        sa.Column("workflow_id", sa.UUID(), nullable=True),
        sa.Column("remediation_requires_change", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "remediation_type <> 'script' OR script_id IS NOT NULL", name=op.f("ck_compliance_checks_script_bound")
        ),
        sa.CheckConstraint(
            "remediation_type <> 'workflow' OR workflow_id IS NOT NULL",
            name=op.f("ck_compliance_checks_workflow_bound"),
        ),
        sa.CheckConstraint(
            "remediation_type IN ('none', 'manual', 'script', 'workflow')",
            name=op.f("ck_compliance_checks_remediation_type"),
        ),
        sa.CheckConstraint(
            "severity IN ('critical', 'high', 'medium', 'low')", name=op.f("ck_compliance_checks_severity")
        ),
        sa.ForeignKeyConstraint(
            ["script_id"], ["scripts.id"], name=op.f("fk_compliance_checks_script_id_scripts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_compliance_checks_template_id_compliance_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["automation_workflows.id"],
            name=op.f("fk_compliance_checks_workflow_id_automation_workflows"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_checks")),
        sa.UniqueConstraint("template_id", "rule_id", name="uq_compliance_checks_template_rule"),
    )
    op.create_index(op.f("ix_compliance_checks_script_id"), "compliance_checks", ["script_id"], unique=False)
    op.create_index(op.f("ix_compliance_checks_workflow_id"), "compliance_checks", ["workflow_id"], unique=False)
    op.create_table(
        "compliance_exceptions",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=True),
        sa.Column("host_group_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_approval', 'active', 'rejected', 'expired', 'revoked')",
            name=op.f("ck_compliance_exceptions_status"),
        ),
        sa.CheckConstraint("host_id IS NULL OR host_group_id IS NULL", name=op.f("ck_compliance_exceptions_one_scope")),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_compliance_exceptions_approved_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_compliance_exceptions_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["host_group_id"],
            ["host_groups.id"],
            name=op.f("fk_compliance_exceptions_host_group_id_host_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_compliance_exceptions_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_compliance_exceptions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_exceptions")),
    )
    op.create_index(
        op.f("ix_compliance_exceptions_host_group_id"), "compliance_exceptions", ["host_group_id"], unique=False
    )
    op.create_index(op.f("ix_compliance_exceptions_host_id"), "compliance_exceptions", ["host_id"], unique=False)
    op.create_index(
        "ix_compliance_exceptions_org_status_rule",
        "compliance_exceptions",
        ["org_id", "status", "rule_id"],
        unique=False,
    )
    op.create_table(
        "compliance_policies",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("os_type", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("pinned_template_version", sa.Integer(), nullable=True),
        sa.Column("scan_interval_hours", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("approval_mode", sa.String(length=16), nullable=False),
        sa.Column("auto_remediate_critical", sa.Boolean(), nullable=False),
        sa.Column("auto_remediate_high", sa.Boolean(), nullable=False),
        sa.Column("auto_remediate_medium", sa.Boolean(), nullable=False),
        sa.Column("auto_remediate_low", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("approval_mode IN ('auto', 'manual')", name=op.f("ck_compliance_policies_approval_mode")),
        sa.CheckConstraint("os_type IN ('windows', 'linux', 'bsd')", name=op.f("ck_compliance_policies_os_type")),
        sa.CheckConstraint("batch_size BETWEEN 1 AND 10000", name=op.f("ck_compliance_policies_batch_size")),
        sa.CheckConstraint("scan_interval_hours BETWEEN 1 AND 8760", name=op.f("ck_compliance_policies_scan_interval")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_compliance_policies_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_compliance_policies_template_id_compliance_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_policies")),
        sa.UniqueConstraint("org_id", "os_type", name="uq_compliance_policies_org_os_type"),
    )
    op.create_index(op.f("ix_compliance_policies_template_id"), "compliance_policies", ["template_id"], unique=False)
    op.create_table(
        "host_group_members",
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["host_groups.id"],
            name=op.f("fk_host_group_members_group_id_host_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_group_members_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "host_id", name=op.f("pk_host_group_members")),
    )
    op.create_index(op.f("ix_host_group_members_host_id"), "host_group_members", ["host_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("webhook_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_created", "webhook_deliveries", ["webhook_id", "created_at"], unique=False
    )
    op.create_table(
        "compliance_scans",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("scan_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("waived", sa.Integer(), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=True),
        sa.Column("score_reason", sa.String(length=64), nullable=True),
        sa.Column("error_reason", sa.String(length=64), nullable=True),
        sa.Column(
            "result_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("remediation_id", sa.UUID(), nullable=True),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "scan_type IN ('scheduled', 'on_demand', 'verify')", name=op.f("ck_compliance_scans_scan_type")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'error')", name=op.f("ck_compliance_scans_status")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_compliance_scans_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_compliance_scans_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_compliance_scans_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_compliance_scans_requested_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_compliance_scans_template_id_compliance_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_scans")),
    )
    op.create_index(
        "ix_compliance_scans_host_policy_completed",
        "compliance_scans",
        ["host_id", "policy_id", "completed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_index("ix_compliance_scans_org_created", "compliance_scans", ["org_id", "created_at"], unique=False)
    op.create_index("ix_compliance_scans_policy_created", "compliance_scans", ["policy_id", "created_at"], unique=False)
    op.create_index(op.f("ix_compliance_scans_remediation_id"), "compliance_scans", ["remediation_id"], unique=False)
    op.create_index(
        "uq_compliance_scans_one_open_per_host_policy",
        "compliance_scans",
        ["host_id", "policy_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "policy_host_overrides",
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_policy_host_overrides_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_policy_host_overrides_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_policy_host_overrides_template_id_compliance_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_host_overrides")),
        sa.UniqueConstraint("policy_id", "host_id", name="uq_policy_host_overrides_policy_host"),
    )
    op.create_index(op.f("ix_policy_host_overrides_host_id"), "policy_host_overrides", ["host_id"], unique=False)
    op.create_index(
        op.f("ix_policy_host_overrides_template_id"), "policy_host_overrides", ["template_id"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("alert_type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_alerts_host_id_hosts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_alerts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_alerts_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["compliance_scans.id"], name=op.f("fk_alerts_scan_id_compliance_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("scan_id", "alert_type", name="uq_alerts_scan_type"),
    )
    op.create_index("ix_alerts_org_created", "alerts", ["org_id", "created_at"], unique=False)
    op.create_table(
        "check_states",
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("check_id", sa.UUID(), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("exception_id", sa.UUID(), nullable=True),
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pass', 'fail', 'error', 'skip', 'waived')", name=op.f("ck_check_states_status")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_check_states_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_check_states_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_check_states_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_check_states_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("host_id", "policy_id", "check_id", name=op.f("pk_check_states")),
    )
    op.create_index("ix_check_states_org_status", "check_states", ["org_id", "status", "check_id"], unique=False)
    op.create_index(op.f("ix_check_states_scan_id"), "check_states", ["scan_id"], unique=False)
    op.create_table(
        "host_policy_status",
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("waived", sa.Integer(), nullable=False),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_policy_status_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_host_policy_status_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_host_policy_status_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_host_policy_status_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["compliance_templates.id"],
            name=op.f("fk_host_policy_status_template_id_compliance_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("host_id", "policy_id", name=op.f("pk_host_policy_status")),
    )
    op.create_index("ix_host_policy_status_org_score", "host_policy_status", ["org_id", "score"], unique=False)
    op.create_index(
        "ix_host_policy_status_policy_due", "host_policy_status", ["policy_id", "last_completed_at"], unique=False
    )
    op.create_table(
        "incidents",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("timeline", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("opened_by_scan_id", sa.UUID(), nullable=False),
        sa.Column("resolved_by_scan_id", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_incidents_status")),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_incidents_host_id_hosts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["opened_by_scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_incidents_opened_by_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_incidents_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_incidents_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_incidents_resolved_by_scan_id_compliance_scans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_org_status", "incidents", ["org_id", "status"], unique=False)
    op.create_index(
        "uq_incidents_one_open_per_host_policy",
        "incidents",
        ["host_id", "policy_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "notifications",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=True),
        sa.Column("policy_id", sa.UUID(), nullable=True),
        sa.Column("scan_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_notifications_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_notifications_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_notifications_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_notifications_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("scan_id", "kind", name="uq_notifications_scan_kind"),
    )
    op.create_index("ix_notifications_org_created", "notifications", ["org_id", "created_at"], unique=False)
    op.create_table(
        "remediations",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("check_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("verify_scan_id", sa.UUID(), nullable=True),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("trigger IN ('automatic', 'manual')", name=op.f("ck_remediations_trigger")),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["compliance_checks.id"],
            name=op.f("fk_remediations_check_id_compliance_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_remediations_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_remediations_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["compliance_policies.id"],
            name=op.f("fk_remediations_policy_id_compliance_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_remediations_requested_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_remediations_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["verify_scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_remediations_verify_scan_id_compliance_scans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediations")),
        sa.UniqueConstraint("scan_id", "check_id", name="uq_remediations_scan_check"),
    )
    op.create_index(op.f("ix_remediations_host_id"), "remediations", ["host_id"], unique=False)
    op.create_index("ix_remediations_org_created", "remediations", ["org_id", "created_at"], unique=False)
    op.create_index(op.f("ix_remediations_verify_scan_id"), "remediations", ["verify_scan_id"], unique=False)
    op.create_table(
        "scan_check_results",
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("check_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("exception_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pass', 'fail', 'error', 'skip', 'waived')", name=op.f("ck_scan_check_results_status")
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_scan_check_results_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_id", "check_id", name=op.f("pk_scan_check_results")),
    )
    op.create_table(
        "agent_jobs",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("task_token", sa.LargeBinary(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("completion_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("scan_id", sa.UUID(), nullable=True),
        sa.Column("remediation_id", sa.UUID(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('compliance_check', 'remediation')", name=op.f("ck_agent_jobs_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'completed', 'timed_out', 'cancelled')",
            name=op.f("ck_agent_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_agent_jobs_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_agent_jobs_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["remediation_id"],
            ["remediations.id"],
            name=op.f("fk_agent_jobs_remediation_id_remediations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_agent_jobs_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_jobs")),
    )
    op.create_index(
        "ix_agent_jobs_completion_pending",
        "agent_jobs",
        ["completed_at"],
        unique=False,
        postgresql_where=sa.text("completion_pending"),
    )
    op.create_index(
        "ix_agent_jobs_host_open",
        "agent_jobs",
        ["host_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.create_index(op.f("ix_agent_jobs_org_id"), "agent_jobs", ["org_id"], unique=False)
    op.create_index(op.f("ix_agent_jobs_remediation_id"), "agent_jobs", ["remediation_id"], unique=False)
    op.create_index(op.f("ix_agent_jobs_scan_id"), "agent_jobs", ["scan_id"], unique=False)
    op.create_table(
        "change_records",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("host_id", sa.UUID(), nullable=False),
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("check_id", sa.UUID(), nullable=False),
        sa.Column("remediation_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("decided_by", sa.UUID(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_approval', 'approved', 'rejected', 'expired', 'implementing', 'completed', 'failed')",
            name=op.f("ck_change_records_status"),
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["compliance_checks.id"],
            name=op.f("fk_change_records_check_id_compliance_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_change_records_decided_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_change_records_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_change_records_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["remediation_id"],
            ["remediations.id"],
            name=op.f("fk_change_records_remediation_id_remediations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_change_records_requested_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["compliance_scans.id"],
            name=op.f("fk_change_records_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_records")),
        sa.UniqueConstraint("remediation_id", name=op.f("uq_change_records_remediation_id")),
    )
    op.create_index("ix_change_records_org_status", "change_records", ["org_id", "status"], unique=False)
    op.create_foreign_key(
        op.f("fk_compliance_scans_remediation_id_remediations"),
        "compliance_scans",
        "remediations",
        ["remediation_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.execute(AUDIT_APPEND_ONLY)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
    op.drop_constraint(op.f("fk_compliance_scans_remediation_id_remediations"), "compliance_scans", type_="foreignkey")
    op.drop_index("ix_change_records_org_status", table_name="change_records")
    op.drop_table("change_records")
    op.drop_index(op.f("ix_agent_jobs_scan_id"), table_name="agent_jobs")
    op.drop_index(op.f("ix_agent_jobs_remediation_id"), table_name="agent_jobs")
    op.drop_index(op.f("ix_agent_jobs_org_id"), table_name="agent_jobs")
    op.drop_index(
        "ix_agent_jobs_host_open",
        table_name="agent_jobs",
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.drop_index(
        "ix_agent_jobs_completion_pending", table_name="agent_jobs", postgresql_where=sa.text("completion_pending")
    )
    op.drop_table("agent_jobs")
    op.drop_table("scan_check_results")
    op.drop_index(op.f("ix_remediations_verify_scan_id"), table_name="remediations")
    op.drop_index("ix_remediations_org_created", table_name="remediations")
    op.drop_index(op.f("ix_remediations_host_id"), table_name="remediations")
    op.drop_table("remediations")
    op.drop_index("ix_notifications_org_created", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(
        "uq_incidents_one_open_per_host_policy", table_name="incidents", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_index("ix_incidents_org_status", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_host_policy_status_policy_due", table_name="host_policy_status")
    op.drop_index("ix_host_policy_status_org_score", table_name="host_policy_status")
    op.drop_table("host_policy_status")
    op.drop_index(op.f("ix_check_states_scan_id"), table_name="check_states")
    op.drop_index("ix_check_states_org_status", table_name="check_states")
    op.drop_table("check_states")
    op.drop_index("ix_alerts_org_created", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index(op.f("ix_policy_host_overrides_template_id"), table_name="policy_host_overrides")
    op.drop_index(op.f("ix_policy_host_overrides_host_id"), table_name="policy_host_overrides")
    op.drop_table("policy_host_overrides")
    op.drop_index(
        "uq_compliance_scans_one_open_per_host_policy",
        table_name="compliance_scans",
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.drop_index(op.f("ix_compliance_scans_remediation_id"), table_name="compliance_scans")
    op.drop_index("ix_compliance_scans_policy_created", table_name="compliance_scans")
    op.drop_index("ix_compliance_scans_org_created", table_name="compliance_scans")
    op.drop_index(
        "ix_compliance_scans_host_policy_completed",
        table_name="compliance_scans",
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.drop_table("compliance_scans")
    op.drop_index("ix_webhook_deliveries_webhook_created", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_host_group_members_host_id"), table_name="host_group_members")
    op.drop_table("host_group_members")
    op.drop_index(op.f("ix_compliance_policies_template_id"), table_name="compliance_policies")
    op.drop_table("compliance_policies")
    op.drop_index("ix_compliance_exceptions_org_status_rule", table_name="compliance_exceptions")
    op.drop_index(op.f("ix_compliance_exceptions_host_id"), table_name="compliance_exceptions")
    op.drop_index(op.f("ix_compliance_exceptions_host_group_id"), table_name="compliance_exceptions")
    op.drop_table("compliance_exceptions")
    op.drop_index(op.f("ix_compliance_checks_workflow_id"), table_name="compliance_checks")
    op.drop_index(op.f("ix_compliance_checks_script_id"), table_name="compliance_checks")
    op.drop_table("compliance_checks")
    op.drop_index(op.f("ix_agents_host_id"), table_name="agents")
    op.drop_table("agents")
    op.drop_index(op.f("ix_webhooks_org_id"), table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_index("uq_scripts_system_key", table_name="scripts", postgresql_where=sa.text("org_id IS NULL"))
    op.drop_index(op.f("ix_scripts_org_id"), table_name="scripts")
    op.drop_table("scripts")
    op.drop_index(op.f("ix_memberships_org_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_hosts_org_id"), table_name="hosts")
    op.drop_index(
        "ix_hosts_ip_trgm", table_name="hosts", postgresql_using="gin", postgresql_ops={"ip_address": "gin_trgm_ops"}
    )
    op.drop_index(
        "ix_hosts_hostname_trgm",
        table_name="hosts",
        postgresql_using="gin",
        postgresql_ops={"lower(hostname)": "gin_trgm_ops"},
    )
    op.drop_table("hosts")
    op.drop_index(op.f("ix_host_groups_org_id"), table_name="host_groups")
    op.drop_table("host_groups")
    op.drop_index(op.f("ix_enrollment_tokens_org_id"), table_name="enrollment_tokens")
    op.drop_table("enrollment_tokens")
    op.drop_index(
        "uq_compliance_templates_system_key", table_name="compliance_templates", postgresql_where=sa.text("is_system")
    )
    op.drop_index(
        "uq_compliance_templates_one_draft_per_lineage",
        table_name="compliance_templates",
        postgresql_where=sa.text("status = 'draft'"),
    )
    op.drop_index(op.f("ix_compliance_templates_org_id"), table_name="compliance_templates")
    op.drop_index(op.f("ix_compliance_templates_lineage_id"), table_name="compliance_templates")
    op.drop_table("compliance_templates")
    op.drop_index(op.f("ix_automation_workflows_org_id"), table_name="automation_workflows")
    op.drop_table("automation_workflows")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("organizations")
    op.drop_index("ix_audit_log_org_id_id", table_name="audit_log")
    op.drop_table("audit_log")
