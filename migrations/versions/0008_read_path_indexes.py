"""read path indexes: failing checks per organization, completed-scan counts, trend scores without the table

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:00:00.000000

The dashboard ranks checks by failing hosts and counts completed scans; the trends route averages scores per day.
Each of these read every matching row through the table (600,000 failing states, 900,000 scans for 10,000 hosts
over 90 days). With these indexes each is an index-only scan: failing states carry check, rule and host; a narrow
index over completed scans per organization (deduplicated, a few MB) serves the count; and the (org_id,
completed_at) index of completed scans carries the score, so trends never visit the table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COMPLETED = sa.text("status = 'completed'")


def upgrade() -> None:
    op.create_index("ix_check_states_org_failing", "check_states", ["org_id", "check_id", "rule_id", "host_id"],
                    unique=False, postgresql_where=sa.text("status = 'fail'"))
    op.create_index("ix_compliance_scans_org_completed_count", "compliance_scans", ["org_id"], unique=False,
                    postgresql_where=COMPLETED)
    op.drop_index("ix_compliance_scans_org_completed", table_name="compliance_scans", postgresql_where=COMPLETED)
    op.create_index("ix_compliance_scans_org_completed", "compliance_scans", ["org_id", "completed_at"], unique=False,
                    postgresql_include=["score"], postgresql_where=COMPLETED)


def downgrade() -> None:
    op.drop_index("ix_compliance_scans_org_completed", table_name="compliance_scans", postgresql_where=COMPLETED)
    op.create_index("ix_compliance_scans_org_completed", "compliance_scans", ["org_id", "completed_at"], unique=False,
                    postgresql_where=COMPLETED)
    op.drop_index("ix_compliance_scans_org_completed_count", table_name="compliance_scans",
                  postgresql_where=COMPLETED)
    op.drop_index("ix_check_states_org_failing", table_name="check_states", postgresql_where=sa.text("status = 'fail'"))
