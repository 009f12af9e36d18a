"""monitoring read paths: trend range scans, incident idempotency guard, webhook delivery lookups

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_compliance_scans_org_completed",
        "compliance_scans",
        ["org_id", "completed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_index("ix_incidents_opened_by_scan_id", "incidents", ["opened_by_scan_id"], unique=False)
    op.create_index("ix_incidents_org_created", "incidents", ["org_id", "created_at"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_event_webhook", "webhook_deliveries", ["event_id", "webhook_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_event_webhook", table_name="webhook_deliveries")
    op.drop_index("ix_incidents_org_created", table_name="incidents")
    op.drop_index("ix_incidents_opened_by_scan_id", table_name="incidents")
    op.drop_index(
        "ix_compliance_scans_org_completed",
        table_name="compliance_scans",
        postgresql_where=sa.text("status = 'completed'"),
    )
