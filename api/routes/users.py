"""User administration (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import CurrentUser, Page, SessionDep, paginate
from api.errors import Conflict
from api.schemas.accounts import UserCreate, UserOut
from api.security import hash_password
from models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut])
async def list_users(principal: CurrentUser, session: SessionDep, page: Page, response: Response) -> list[User]:
    principal.require_admin()
    return await paginate(session, select(User).order_by(User.username), page, response)


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, principal: CurrentUser, session: SessionDep) -> User:
    principal.require_admin()
    if await session.scalar(select(User.id).where(User.username == body.username)):
        raise Conflict("username already taken")
    user = User(username=body.username, email=body.email, is_admin=body.is_admin,
                password_hash=hash_password(body.password))
    session.add(user)
    await session.flush()
    audit(session, principal, "user.create", "user", user.id, None,
          after={"username": user.username, "email": user.email, "is_admin": user.is_admin})
    return user
