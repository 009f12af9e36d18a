"""incomplete scans: the latest status of a host and policy says whether its scan measured enough to count

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:10:00.000000

A scan whose errored checks exceed a share of its checks keeps its score but is marked incomplete
(compliance_scans.score_reason = 'incomplete'); dashboards and reports read the flag from host_policy_status.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("host_policy_status",
                  sa.Column("incomplete", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.execute("""
        UPDATE host_policy_status SET incomplete = true
        WHERE total > 0 AND errors > 0.2 * total
    """)
    op.execute("""
        UPDATE compliance_scans SET score_reason = 'incomplete'
        WHERE status = 'completed' AND score_reason IS NULL AND total > 0 AND errors > 0.2 * total
    """)


def downgrade() -> None:
    op.execute("UPDATE compliance_scans SET score_reason = NULL WHERE score_reason = 'incomplete'")
    op.drop_column("host_policy_status", "incomplete")
