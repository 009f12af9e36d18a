"""Organizations, their members and agent enrollment tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    MANAGE,
    ORG_ADMIN,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    get_or_404,
    paginate,
)
from api.errors import Conflict, Forbidden, NotFound
from api.schemas.accounts import (
    MemberAdd,
    MemberOut,
    OrgCreate,
    OrgOut,
    OrgUpdate,
)
from models import Membership, Organization, User

router = APIRouter(prefix="/orgs", tags=["organizations"])


def require_org_admin(principal, org_id: uuid.UUID) -> None:
    principal.require(org_id, VIEW, "organization")
    if not principal.has(org_id, ORG_ADMIN):
        raise Forbidden("organization administrators only")


async def within_reach(session, principal, user_id: uuid.UUID) -> bool:
    """Platform administrators may add any account; an organization administrator only people already in an
    organization they administer. Anyone else is reported as missing, so account ids cannot be probed."""
    if principal.is_admin:
        return await session.get(User, user_id) is not None
    administered = [org for org, role in principal.roles.items() if role == "admin"]
    return await session.scalar(select(Membership.user_id).where(
        Membership.user_id == user_id, Membership.org_id.in_(administered)).limit(1)) is not None


@router.get("", response_model=list[OrgOut])
async def list_orgs(principal: CurrentUser, session: SessionDep, page: Page, response: Response):
    stmt = select(Organization).order_by(Organization.name)
    visible = principal.visible_org_ids()
    if visible is not None:
        stmt = stmt.where(Organization.id.in_(visible))
    return await paginate(session, stmt, page, response)


@router.post("", response_model=OrgOut, status_code=201)
async def create_org(body: OrgCreate, principal: CurrentUser, session: SessionDep) -> Organization:
    principal.require_admin()
    if await session.scalar(select(Organization.id).where(Organization.name == body.name)):
        raise Conflict("an organization with this name exists")
    org = Organization(name=body.name)
    session.add(org)
    await session.flush()
    audit(session, principal, "org.create", "organization", org.id, org.id, after=OrgOut.model_validate(org))
    return org


@router.get("/{org_id}", response_model=OrgOut)
async def get_org(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> Organization:
    return await get_or_404(session, principal, Organization, org_id, VIEW, "organization")


@router.patch("/{org_id}", response_model=OrgOut)
async def update_org(org_id: uuid.UUID, body: OrgUpdate, principal: CurrentUser, session: SessionDep):
    org = await get_or_404(session, principal, Organization, org_id, MANAGE, "organization")
    before = OrgOut.model_validate(org)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes and changes["name"] != org.name:
        if not principal.has(org_id, ORG_ADMIN):
            raise Forbidden("only an organization administrator may rename it")
        if await session.scalar(select(Organization.id).where(Organization.name == changes["name"])):
            raise Conflict("an organization with this name exists")
    for key, value in changes.items():
        setattr(org, key, value)
    await session.flush()
    after = OrgOut.model_validate(org)
    action = "org.update"
    if before.automation_paused != after.automation_paused:
        action = "org.automation_paused" if after.automation_paused else "org.automation_resumed"
    audit(session, principal, action, "organization", org.id, org.id, before=before, after=after)
    return org


@router.post("/{org_id}/members", response_model=MemberOut, status_code=201)
async def add_member(org_id: uuid.UUID, body: MemberAdd, principal: CurrentUser, session: SessionDep):
    await get_or_404(session, principal, Organization, org_id, VIEW, "organization")
    require_org_admin(principal, org_id)
    if not await within_reach(session, principal, body.user_id):
        raise NotFound("user")
    membership = await session.get(Membership, (body.user_id, org_id))
    before = MemberOut.model_validate(membership) if membership else None
    if membership is None:
        membership = Membership(user_id=body.user_id, org_id=org_id, role=body.role)
        session.add(membership)
    else:
        membership.role = body.role
    await session.flush()
    after = MemberOut.model_validate(membership)
    audit(session, principal, "org.member.set", "membership", body.user_id, org_id, before=before, after=after)
    return membership


@router.delete("/{org_id}/members/{user_id}", status_code=204)
async def remove_member(org_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    await get_or_404(session, principal, Organization, org_id, VIEW, "organization")
    require_org_admin(principal, org_id)
    membership = await session.get(Membership, (user_id, org_id))
    if membership is None:
        raise NotFound("membership")
    before = MemberOut.model_validate(membership)
    await session.delete(membership)
    audit(session, principal, "org.member.remove", "membership", user_id, org_id, before=before)
    return Response(status_code=204)
