"""Hosts (created by agent enrollment) and host groups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    SettingsDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas.hosts import GroupMembersAdd, GroupMembersOut, HostGroupCreate, HostGroupOut, HostOut, OsType
from domain.search import escape_like
from models import Host, HostGroup, HostGroupMember

router = APIRouter(tags=["hosts"])


def host_out(host: Host, window_seconds: int, now: datetime) -> HostOut:
    out = HostOut.model_validate(host)
    out.online = host.last_seen is not None and now - host.last_seen <= timedelta(seconds=window_seconds)
    return out


@router.get("/hosts", response_model=list[HostOut])
async def list_hosts(
    principal: CurrentUser, session: SessionDep, settings: SettingsDep, page: Page, response: Response,
    search: Annotated[str | None, Query(max_length=255)] = None,
    org_id: uuid.UUID | None = None,
    os_type: OsType | None = None,
    host_group_id: uuid.UUID | None = None,
) -> list[HostOut]:
    stmt = select(Host).order_by(Host.hostname, Host.id)
    stmt = stmt.where(tenant_scope(principal, Host.org_id, org_id))
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        stmt = stmt.where(or_(func.lower(Host.hostname).like(pattern), Host.ip_address.like(pattern)))
    if os_type:
        stmt = stmt.where(Host.os_type == os_type)
    if host_group_id:
        stmt = stmt.where(Host.id.in_(select(HostGroupMember.host_id).where(HostGroupMember.group_id == host_group_id)))
    hosts = await paginate(session, stmt, page, response)
    now = datetime.now(UTC)
    return [host_out(h, settings.host_online_window_seconds, now) for h in hosts]


@router.get("/hosts/{host_id}", response_model=HostOut)
async def get_host(host_id: uuid.UUID, principal: CurrentUser, session: SessionDep, settings: SettingsDep):
    host = await get_or_404(session, principal, Host, host_id, VIEW, "host")
    return host_out(host, settings.host_online_window_seconds, datetime.now(UTC))


member_count = (
    select(func.count()).where(HostGroupMember.group_id == HostGroup.id).correlate(HostGroup).scalar_subquery()
)


def group_out(group: HostGroup, count: int) -> HostGroupOut:
    out = HostGroupOut.model_validate(group)
    out.member_count = count
    return out


@router.get("/host-groups", response_model=list[HostGroupOut])
async def list_groups(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response, org_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(max_length=255, description="part of the group's name")] = None,
):
    stmt = select(HostGroup, member_count).order_by(HostGroup.name, HostGroup.id)
    stmt = stmt.where(tenant_scope(principal, HostGroup.org_id, org_id))
    if search:
        stmt = stmt.where(func.lower(HostGroup.name).like(f"%{escape_like(search.lower())}%"))
    rows = await paginate(session, stmt, page, response, rows=True)
    return [group_out(g, c) for g, c in rows]


@router.get("/host-groups/{group_id}", response_model=HostGroupOut)
async def get_group(group_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    group = await get_or_404(session, principal, HostGroup, group_id, VIEW, "host group")
    count = await session.scalar(select(func.count()).where(HostGroupMember.group_id == group.id))
    return group_out(group, count or 0)


@router.post("/host-groups", response_model=HostGroupOut, status_code=201)
async def create_group(body: HostGroupCreate, principal: CurrentUser, session: SessionDep):
    principal.require(body.org_id, MANAGE, "organization")
    exists = await session.scalar(
        select(HostGroup.id).where(HostGroup.org_id == body.org_id, HostGroup.name == body.name)
    )
    if exists:
        raise Conflict("a host group with this name exists in the organization")
    group = HostGroup(org_id=body.org_id, name=body.name, description=body.description)
    session.add(group)
    await session.flush()
    out = group_out(group, 0)
    audit(session, principal, "host_group.create", "host_group", group.id, group.org_id, after=out)
    return out


@router.post("/host-groups/{group_id}/members", response_model=GroupMembersOut)
async def add_group_members(group_id: uuid.UUID, body: GroupMembersAdd, principal: CurrentUser, session: SessionDep):
    group = await get_or_404(session, principal, HostGroup, group_id, MANAGE, "host group")
    wanted = set(body.host_ids)
    found = set(
        await session.scalars(select(Host.id).where(Host.id.in_(wanted), Host.org_id == group.org_id))
    )
    if missing := sorted(str(h) for h in wanted - found):
        raise Unprocessable([{"loc": ["body", "host_ids"], "msg": f"unknown host {h}", "type": "not_found"}
                             for h in missing])
    await session.execute(
        insert(HostGroupMember).values([{"group_id": group.id, "host_id": h} for h in wanted]).on_conflict_do_nothing()
    )
    members = list(await session.scalars(
        select(HostGroupMember.host_id).where(HostGroupMember.group_id == group.id).order_by(HostGroupMember.host_id)
    ))
    audit(session, principal, "host_group.members.add", "host_group", group.id, group.org_id,
          after={"added": sorted(str(h) for h in wanted)})
    return GroupMembersOut(group_id=group.id, host_ids=members)


@router.delete("/host-groups/{group_id}/members/{host_id}", status_code=204)
async def remove_group_member(group_id: uuid.UUID, host_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    group = await get_or_404(session, principal, HostGroup, group_id, MANAGE, "host group")
    member = await session.get(HostGroupMember, (group.id, host_id))
    if member is None:
        raise NotFound("group member")
    await session.delete(member)
    audit(session, principal, "host_group.members.remove", "host_group", group.id, group.org_id,
          before={"host_id": str(host_id)})
    return Response(status_code=204)
