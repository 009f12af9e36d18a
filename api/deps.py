"""Request dependencies as Annotated aliases: the session, the caller, the Temporal client, paging."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.errors import Forbidden, NotFound, Unauthorized, Unavailable
from api.security import read_access_token
from config import Settings
from models import Membership, User

VIEW = "compliance.view"
MANAGE = "compliance.manage"
ROLE_PERMISSIONS = {"viewer": {VIEW}, "operator": {VIEW, MANAGE}, "admin": {VIEW, MANAGE, "org.admin"}}


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back otherwise."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class TemporalConnector:
    """Connects to Temporal on first use, so the API starts (and says not-ready) while Temporal is down."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(self._settings.temporal_address, namespace=self._settings.temporal_namespace),
                        timeout,
                    )
                except Exception as exc:
                    raise Unavailable(f"Temporal is unreachable: {exc}") from exc
        return self._client


async def get_temporal(request: Request) -> Client:
    return await request.app.state.temporal.get()


TemporalDep = Annotated[Client, Depends(get_temporal)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass
class Principal:
    """The authenticated person and the organizations they may see, with their role in each."""

    user: User
    roles: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin

    def can_see(self, org_id: uuid.UUID) -> bool:
        return self.is_admin or org_id in self.roles

    def has(self, org_id: uuid.UUID, permission: str) -> bool:
        if self.is_admin:
            return True
        return permission in ROLE_PERMISSIONS.get(self.roles.get(org_id, ""), set())

    def require(self, org_id: uuid.UUID | None, permission: str, what: str = "resource") -> None:
        """Another organization's resource is reported as missing, so ids cannot be probed."""
        if org_id is None or not self.can_see(org_id):
            raise NotFound(what)
        if not self.has(org_id, permission):
            raise Forbidden(f"missing permission {permission}")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("administrator only")

    def visible_org_ids(self) -> list[uuid.UUID] | None:
        """None means every organization (administrators)."""
        return None if self.is_admin else list(self.roles)


async def get_principal(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    if not token:
        raise Unauthorized("not authenticated")
    user_id = read_access_token(token, request.app.state.settings.jwt_secret)
    user = await session.get(User, user_id) if user_id else None
    if user is None or not user.is_active:
        raise Unauthorized("invalid or expired token")
    rows = await session.execute(select(Membership.org_id, Membership.role).where(Membership.user_id == user.id))
    return Principal(user=user, roles={org_id: role for org_id, role in rows})


CurrentUser = Annotated[Principal, Depends(get_principal)]


@dataclass
class PageParams:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PageParams:
    return PageParams(page, page_size)


Page = Annotated[PageParams, Depends(page_params)]


async def paginate(session: AsyncSession, stmt, page: PageParams, response: Response, *, rows: bool = False) -> list:
    """Run `stmt` for one page and put the total row count in X-Total-Count (entities, or rows when asked)."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    response.headers["X-Total-Count"] = str(total or 0)
    result = await session.execute(stmt.offset(page.offset).limit(page.page_size))
    return list(result.all() if rows else result.scalars().all())
