"""Login and the caller's own identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import Unauthorized
from api.schemas.accounts import MembershipOut, MeOut, TokenOut, UserOut
from api.security import DUMMY_PASSWORD_HASH, issue_access_token, verify_password
from models import Membership, Organization, User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenOut:
    user = await session.scalar(select(User).where(User.username == form.username))
    if user is None:
        verify_password(DUMMY_PASSWORD_HASH, form.password)
        raise Unauthorized("incorrect username or password")
    if not verify_password(user.password_hash, form.password) or not user.is_active:
        raise Unauthorized("incorrect username or password")
    return TokenOut(access_token=issue_access_token(user.id, settings.jwt_secret, settings.jwt_ttl_minutes))


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentUser, session: SessionDep) -> MeOut:
    rows = await session.execute(
        select(Membership.org_id, Organization.name, Membership.role)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == principal.id)
        .order_by(Organization.name)
    )
    memberships = [MembershipOut(org_id=o, org_name=n, role=r) for o, n, r in rows]
    return MeOut(**UserOut.model_validate(principal.user).model_dump(), memberships=memberships)
