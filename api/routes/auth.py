"""Login, the caller's own identity and password change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from starlette.exceptions import HTTPException

from api.audit import audit
from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import Unauthorized, Unprocessable
from api.login_throttle import LoginThrottle
from api.routes.users import policy_error
from api.schemas.accounts import MembershipOut, MeOut, PasswordChange, TokenOut, UserOut
from api.security import (
    DUMMY_PASSWORD_HASH,
    hash_password_off_loop,
    issue_access_token,
    verify_password_off_loop,
)
from config import Settings
from domain.passwords import password_problem
from domain.permissions import permissions_of
from models import AuditEntry, Membership, Organization, User

router = APIRouter(prefix="/auth", tags=["auth"])
# Usernames typed at the login form are recorded in the audit log only up to the column's width.
MAX_AUDITED_NAME = 200


def login_throttle(app: FastAPI) -> LoginThrottle:
    throttle = getattr(app.state, "login_throttle", None)
    if throttle is None:
        settings: Settings = app.state.settings
        throttle = app.state.login_throttle = LoginThrottle(
            settings.login_failure_window_seconds, settings.login_max_failures_per_user,
            settings.login_max_failures_per_address)
    return throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def audit_refused_login(request: Request, action: str, username: str, user_id, reason: str) -> None:
    """In its own transaction: the request's own work is rolled back when it answers 401 or 429."""
    async with request.app.state.sessionmaker() as session, session.begin():
        session.add(AuditEntry(actor_type="anonymous", actor_name=username[:MAX_AUDITED_NAME], action=action,
                               target_type="user", target_id=str(user_id) if user_id else None,
                               after={"client_address": client_address(request), "reason": reason}))


def too_many_attempts(retry_after: int, reason: str) -> HTTPException:
    return HTTPException(429, reason, headers={"Retry-After": str(retry_after)})


REFUSALS = {401: {"description": "Incorrect username or password"},
            429: {"description": "Too many failed logins; retry after the `Retry-After` seconds"}}


@router.post("/token", response_model=TokenOut, responses=REFUSALS)
async def login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], settings: SettingsDep
) -> TokenOut:
    throttle = login_throttle(request.app)
    address = client_address(request)
    refusal = throttle.begin(form.username, address)
    if refusal is not None:
        if refusal.first:
            await audit_refused_login(request, "auth.login_throttled", form.username, None, refusal.reason)
        raise too_many_attempts(refusal.retry_after, refusal.reason)
    # A short session of its own: no connection is held while the password is hashed.
    async with request.app.state.sessionmaker() as session:
        user = (await session.execute(
            select(User.id, User.password_hash, User.is_active, User.token_version)
            .where(User.username == form.username)
        )).first()
    matches = await verify_password_off_loop(user.password_hash if user else DUMMY_PASSWORD_HASH, form.password)
    if user is None or not matches or not user.is_active:
        reason = "unknown username" if user is None else "wrong password" if not matches else "user deactivated"
        await audit_refused_login(request, "auth.login_failed", form.username, user.id if user else None, reason)
        raise Unauthorized("incorrect username or password")
    throttle.succeeded(form.username, address)
    return TokenOut(access_token=issue_access_token(user.id, settings.jwt_secret, settings.jwt_ttl_minutes,
                                                    user.token_version))


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentUser, session: SessionDep) -> MeOut:
    rows = await session.execute(
        select(Membership.org_id, Organization.name, Membership.role)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == principal.id)
        .order_by(Organization.name)
    )
    admin = principal.is_admin
    memberships = [MembershipOut(org_id=o, org_name=n, role=r, permissions=permissions_of(r, admin))
                   for o, n, r in rows]
    return MeOut(**UserOut.model_validate(principal.user).model_dump(), memberships=memberships,
                 permissions_everywhere=permissions_of(None, admin))


@router.post("/password", response_model=TokenOut, responses=REFUSALS)
async def change_password(
    body: PasswordChange, principal: CurrentUser, session: SessionDep, settings: SettingsDep, request: Request
) -> TokenOut:
    """Every token issued before stops working; the answer carries a new one for this session."""
    user = principal.user
    throttle = login_throttle(request.app)
    address = client_address(request)
    refusal = throttle.begin(user.username, address)
    if refusal is not None:
        raise too_many_attempts(refusal.retry_after, refusal.reason)
    if not await verify_password_off_loop(user.password_hash, body.current_password):
        await audit_refused_login(request, "auth.password_change_failed", user.username, user.id, "wrong password")
        raise Unauthorized("current password is incorrect")
    throttle.succeeded(user.username, address)
    if problem := password_problem(body.new_password, user.username):
        raise Unprocessable(policy_error("new_password", problem))
    user.password_hash = await hash_password_off_loop(body.new_password)
    user.token_version += 1
    audit(session, principal, "user.password_change", "user", user.id, None, after={"tokens_revoked": True})
    return TokenOut(access_token=issue_access_token(user.id, settings.jwt_secret, settings.jwt_ttl_minutes,
                                                    user.token_version))
