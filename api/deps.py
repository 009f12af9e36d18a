"""Request dependencies as Annotated aliases: the session and what follows its commit, the caller, the Temporal
gateway, paging; and the tenant-scoped loaders every route uses."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.errors import Forbidden, NotFound, Unauthorized
from api.security import read_access_token, token_is_current
from config import Settings
from domain.permissions import APPROVE_CHANGES, MANAGE, ORG_ADMIN, ROLE_PERMISSIONS, VIEW  # noqa: F401 (re-exported)
from models import Membership, User
from orchestration.gateway import TemporalGateway

log = logging.getLogger(__name__)



def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


class AfterCommit:
    """Work that must follow the request's commit, such as starting or signalling a workflow, so that the
    workflow's first activity always finds what the request wrote. It runs once the transaction has committed,
    before the response is sent. Best effort: a failure is logged, and the scan cycle's safety nets hand the work
    to Temporal later."""

    def __init__(self) -> None:
        self._calls: list[tuple[Callable[[], Awaitable[object]], str]] = []

    def add(self, call: Callable[[], Awaitable[object]], what: str) -> None:
        self._calls.append((call, what))

    async def run(self) -> None:
        for call, what in self._calls:
            try:
                await call()
            except Exception as exc:
                log.warning("%s did not reach Temporal (%s); the scan cycle's safety net will retry it", what, exc)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back otherwise; then the work
    queued on AfterCommit runs."""
    after_commit = request.state.after_commit = AfterCommit()
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    await after_commit.run()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_after_commit(request: Request, _: SessionDep) -> AfterCommit:
    return request.state.after_commit


AfterCommitDep = Annotated[AfterCommit, Depends(get_after_commit, scope="function")]


def get_gateway(request: Request) -> TemporalGateway:
    return request.app.state.gateway


GatewayDep = Annotated[TemporalGateway, Depends(get_gateway)]

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
        return permission in ROLE_PERMISSIONS.get(self.roles.get(org_id, ""), frozenset())

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
    claims = read_access_token(token, request.app.state.settings.jwt_secret)
    user = await session.get(User, claims.user_id) if claims else None
    if user is None or not token_is_current(user, claims):
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


def tenant_orgs(principal: Principal, org_id: uuid.UUID | None, *, strict: bool = False) -> list[uuid.UUID] | None:
    """The organizations a query may cover: the one asked for, or every one the caller can see (None: all, for
    administrators). Asked for an organization the caller cannot see, a list is empty; `strict` (aggregates such
    as the dashboard) answers 404 instead."""
    if org_id is not None:
        if principal.can_see(org_id):
            return [org_id]
        if strict:
            raise NotFound("organization")
        return []
    return principal.visible_org_ids()


def tenant_scope(principal: Principal, column, org_id: uuid.UUID | None, *, strict: bool = False
                 ) -> ColumnElement[bool]:
    """`tenant_orgs` as a filter on `column`."""
    orgs = tenant_orgs(principal, org_id, strict=strict)
    return true() if orgs is None else column.in_(orgs)


async def get_or_404(session: AsyncSession, principal: Principal, model, object_id: uuid.UUID, permission: str,
                     what: str, *, lock: bool = False):
    """The row of `model` with this id, if the caller holds `permission` in its organization. Missing and
    another organization's rows are both reported as missing, so ids cannot be probed."""
    stmt = select(model).where(model.id == object_id)
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(what)
    principal.require(found.id if model.__tablename__ == "organizations" else found.org_id, permission, what)
    return found


@asynccontextmanager
async def gateway_transaction(request: Request) -> AsyncIterator[AsyncConnection]:
    """A transaction on a pooled connection without an ORM session, for the agent gateway's few hot statements
    (every agent request runs one): Core statements only. Commits on success, rolls back on error."""
    async with request.app.state.engine.begin() as connection:
        yield connection


@asynccontextmanager
async def short_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction of its own, outside the request's session, for the two places that must not hold one for
    the whole request: the agent long poll (it waits for minutes) and streamed exports (they outlive the handler).
    Commits on success, rolls back on error."""
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session
