"""scan engine indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:30:53.577185
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_agent_jobs_one_check_job_per_scan",
        "agent_jobs",
        ["scan_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'compliance_check'"),
    )
    op.create_index("ix_compliance_scans_workflow_id", "compliance_scans", ["workflow_id"], unique=False)
    op.create_index("ix_hosts_org_os_type", "hosts", ["org_id", "os_type"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hosts_org_os_type", table_name="hosts")
    op.drop_index("ix_compliance_scans_workflow_id", table_name="compliance_scans")
    op.drop_index(
        "uq_agent_jobs_one_check_job_per_scan",
        table_name="agent_jobs",
        postgresql_where=sa.text("kind = 'compliance_check'"),
    )
