"""Organizations, users, memberships and the tokens people and agents authenticate with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk

ROLES = ("viewer", "operator", "admin")


class Organization(UUIDPk, Timestamps, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    automation_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class User(UUIDPk, Timestamps, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(500))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Carried in every access token; bumped on password change and deactivation, which ends older tokens.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Membership(Timestamps, Base):
    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20))


class ApiToken(UUIDPk, Timestamps, Base):
    """Long-lived personal tokens for scripts and integrations (stored hashed)."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class EnrollmentToken(UUIDPk, Timestamps, Base):
    """A secret an operator hands to agents so they can join an organization: single use unless its creator
    allows more, and never valid for longer than 30 days."""

    __tablename__ = "enrollment_tokens"
    __table_args__ = (CheckConstraint("uses <= max_uses", name="uses"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    max_uses: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
