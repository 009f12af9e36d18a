"""User administration (platform administrators only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import CurrentUser, Page, SessionDep, paginate
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.schemas.accounts import UserCreate, UserOut
from api.security import hash_password_off_loop
from domain.passwords import password_problem
from models import User

router = APIRouter(prefix="/users", tags=["users"])


def policy_error(field: str, problem: str) -> list[dict]:
    """In the shape of every other 422 (`loc`, `msg`, `type`)."""
    return [{"loc": ["body", field], "msg": problem, "type": "password_policy"}]


@router.get("", response_model=list[UserOut])
async def list_users(principal: CurrentUser, session: SessionDep, page: Page, response: Response) -> list[User]:
    principal.require_admin()
    return await paginate(session, select(User).order_by(User.username), page, response)


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, principal: CurrentUser, session: SessionDep) -> User:
    principal.require_admin()
    if problem := password_problem(body.password, body.username):
        raise Unprocessable(policy_error("password", problem))
    if await session.scalar(select(User.id).where(User.username == body.username)):
        raise Conflict("username already taken")
    user = User(username=body.username, email=body.email, is_admin=body.is_admin,
                password_hash=await hash_password_off_loop(body.password))
    session.add(user)
    await session.flush()
    audit(session, principal, "user.create", "user", user.id, None,
          after={"username": user.username, "email": user.email, "is_admin": user.is_admin})
    return user


async def _load(session, principal, user_id: uuid.UUID) -> User:
    """Accounts are the platform administrators' to manage; to anyone else no account id exists (404, as for
    another organization's resources), so ids cannot be probed."""
    if not principal.is_admin:
        raise NotFound("user")
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("user")
    return user


@router.post("/{user_id}/deactivate", response_model=UserOut)
async def deactivate_user(user_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> User:
    """The user can no longer log in, and every token already issued to them stops working."""
    user = await _load(session, principal, user_id)
    if user.id == principal.id:
        raise BadRequest("you cannot deactivate yourself")
    before = {"is_active": user.is_active}
    user.is_active = False
    user.token_version += 1
    audit(session, principal, "user.deactivate", "user", user.id, None, before=before,
          after={"is_active": False, "tokens_revoked": True})
    return user


@router.post("/{user_id}/reactivate", response_model=UserOut)
async def reactivate_user(user_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> User:
    """Tokens revoked at deactivation stay revoked: the user logs in again."""
    user = await _load(session, principal, user_id)
    before = {"is_active": user.is_active}
    user.is_active = True
    audit(session, principal, "user.reactivate", "user", user.id, None, before=before, after={"is_active": True})
    return user
