"""enrollment limits: a use count per enrollment token, and agents that wait for approval

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:30:00.000000

Enrollment tokens are single use unless their creator allows more; an agent that enrolls under a hostname that
already has one waits for an organization administrator's approval instead of taking the host over. Agents
enrolled before this revision count as approved.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollment_tokens", sa.Column("max_uses", sa.Integer(), server_default=sa.text("1"),
                                                 nullable=False))
    op.add_column("enrollment_tokens", sa.Column("uses", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.execute("ALTER TABLE enrollment_tokens ADD CONSTRAINT ck_enrollment_tokens_uses CHECK (uses <= max_uses)")
    op.add_column("agents", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE agents SET approved_at = created_at")


def downgrade() -> None:
    op.drop_column("agents", "approved_at")
    op.execute("ALTER TABLE enrollment_tokens DROP CONSTRAINT ck_enrollment_tokens_uses")
    op.drop_column("enrollment_tokens", "uses")
    op.drop_column("enrollment_tokens", "max_uses")
