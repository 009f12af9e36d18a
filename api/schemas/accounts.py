"""Users, organizations, memberships, tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.schemas.common import RequestModel, ResponseModel

Role = Literal["viewer", "operator", "admin"]
# Taken exactly as typed (no trimming); the policy itself (domain.passwords) is applied by the routes.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=200)]


class TokenOut(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class MembershipOut(ResponseModel):
    org_id: uuid.UUID
    org_name: str
    role: Role
    permissions: list[str] = Field(description="what the caller may do in this organization: compliance.view, "
                                               "compliance.manage, changes.approve, org.admin")


class UserCreate(RequestModel):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: Password
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    is_admin: bool = False


class PasswordChange(RequestModel):
    current_password: Password
    new_password: Password


class UserOut(ResponseModel):
    id: uuid.UUID
    username: str
    email: str | None
    is_admin: bool
    is_active: bool
    created_at: datetime


class MeOut(UserOut):
    memberships: list[MembershipOut]
    permissions_everywhere: list[str] = Field(
        default_factory=list, description="permissions held in every organization (platform administrators)")


class OrgCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)


class OrgUpdate(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    automation_paused: bool | None = None


class OrgOut(ResponseModel):
    id: uuid.UUID
    name: str
    automation_paused: bool
    created_at: datetime


class MemberAdd(RequestModel):
    user_id: uuid.UUID
    role: Role


class MemberOut(ResponseModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


class EnrollmentTokenCreate(RequestModel):
    expires_in_hours: int | None = Field(None, ge=1, le=30 * 24, description="at most 30 days")
    max_uses: int = Field(1, ge=1, le=100_000, description="how many agents may enroll with it (default one)")


class EnrollmentTokenOut(ResponseModel):
    id: uuid.UUID
    token: str
    expires_at: datetime
    max_uses: int = 1


class EnrollmentTokenSummary(ResponseModel):
    """An enrollment token as listed: never its secret."""

    id: uuid.UUID
    org_id: uuid.UUID
    created_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked_at: datetime | None


class AuditOut(ResponseModel):
    id: int
    org_id: uuid.UUID | None
    actor_type: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    action: str
    target_type: str
    target_id: str | None
    before: dict | None
    after: dict | None
    created_at: datetime
