"""user token revocation: a token version per user, carried in access tokens

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:40:00.000000

Every access token carries the user's token version; a password change or a deactivation bumps it, so tokens
issued before stop working at once instead of living out their lifetime.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    op.drop_column("users", "token_version")
