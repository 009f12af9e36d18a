"""incidents and alerts people work, and who decided an exception

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 03:30:00.000000

Incidents can be acknowledged, assigned to a member of their organization and resolved by a person with a note;
alerts can be acknowledged and name the incident they were correlated into. Exceptions record who rejected them
and when any decision was taken.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

USER_FK = {"ondelete": "SET NULL"}


def _user(table: str, column: str) -> None:
    op.add_column(table, sa.Column(column, sa.Uuid(), nullable=True))
    op.create_foreign_key(f"fk_{table}_{column}_users", table, "users", [column], ["id"], **USER_FK)


def upgrade() -> None:
    op.add_column("incidents", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    _user("incidents", "acknowledged_by")
    _user("incidents", "assigned_to")
    _user("incidents", "resolved_by")
    op.add_column("incidents", sa.Column("resolution_note", sa.Text(), nullable=True))
    op.create_index("ix_incidents_host_policy", "incidents", ["host_id", "policy_id"])

    op.add_column("alerts", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    _user("alerts", "acknowledged_by")
    op.add_column("alerts", sa.Column("incident_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("fk_alerts_incident_id_incidents", "alerts", "incidents", ["incident_id"], ["id"],
                          ondelete="SET NULL")
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    # Alerts raised before this revision: the incident whose timeline holds the alert's scan.
    op.execute("""
        UPDATE alerts a SET incident_id = i.id
        FROM incidents i
        WHERE i.host_id = a.host_id AND i.policy_id = a.policy_id
          AND i.timeline @> jsonb_build_array(jsonb_build_object('scan_id', CAST(a.scan_id AS text)))
    """)

    _user("compliance_exceptions", "rejected_by")
    op.add_column("compliance_exceptions", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE compliance_exceptions SET decided_at = approved_at WHERE approved_at IS NOT NULL")


def downgrade() -> None:
    op.drop_column("compliance_exceptions", "decided_at")
    op.drop_column("compliance_exceptions", "rejected_by")
    op.drop_index("ix_alerts_incident_id", "alerts")
    op.drop_column("alerts", "incident_id")
    op.drop_column("alerts", "acknowledged_by")
    op.drop_column("alerts", "acknowledged_at")
    op.drop_index("ix_incidents_host_policy", "incidents")
    for column in ("resolution_note", "resolved_by", "assigned_to", "acknowledged_by", "acknowledged_at"):
        op.drop_column("incidents", column)
