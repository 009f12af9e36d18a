"""An organization's vulnerability policy and ring sets (§7): `GET/PUT /orgs/{id}/vulnerability-policy`,
`GET/POST /orgs/{id}/ring-sets`, `GET/PATCH/DELETE /orgs/{id}/ring-sets/{ring_set_id}`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import MANAGE, VIEW, CurrentUser, Page, Principal, SessionDep, get_or_404, paginate
from api.errors import NotFound
from api.schemas.patching import (
    RingSetCreate,
    RingSetOut,
    RingSetUpdate,
    VulnerabilityPolicyIn,
    VulnerabilityPolicyOut,
)
from models import Organization, RingSet
from services import vulnerability_policy

router = APIRouter(prefix="/orgs/{org_id}", tags=["patching"])


async def _org(session, principal: Principal, org_id: uuid.UUID, permission: str) -> Organization:
    return await get_or_404(session, principal, Organization, org_id, permission, "organization")


async def _ring_set(session, principal: Principal, org_id: uuid.UUID, ring_set_id: uuid.UUID, permission: str,
                    *, lock: bool = False) -> RingSet:
    await _org(session, principal, org_id, permission)
    stmt = select(RingSet).where(RingSet.id == ring_set_id, RingSet.org_id == org_id)
    ring_set = await session.scalar(stmt.with_for_update() if lock else stmt)
    if ring_set is None:
        raise NotFound("ring set")
    return ring_set


@router.get("/vulnerability-policy", response_model=VulnerabilityPolicyOut)
async def get_vulnerability_policy(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    """The organization's policy; the defaults until it saves one (`updated_at` null)."""
    await _org(session, principal, org_id, VIEW)
    return await vulnerability_policy.read_policy(session, org_id)


@router.put("/vulnerability-policy", response_model=VulnerabilityPolicyOut)
async def put_vulnerability_policy(org_id: uuid.UUID, body: VulnerabilityPolicyIn, principal: CurrentUser,
                                   session: SessionDep):
    await _org(session, principal, org_id, MANAGE)
    before = VulnerabilityPolicyOut.model_validate(await vulnerability_policy.read_policy(session, org_id))
    after = VulnerabilityPolicyOut.model_validate(
        await vulnerability_policy.save_policy(session, org_id, body.model_dump()))
    audit(session, principal, "vulnerability_policy.update", "vulnerability_policy", org_id, org_id,
          before=before, after=after)
    return after


@router.get("/ring-sets", response_model=list[RingSetOut])
async def list_ring_sets(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                         response: Response):
    await _org(session, principal, org_id, VIEW)
    stmt = select(RingSet).where(RingSet.org_id == org_id).order_by(RingSet.name, RingSet.id)
    return await paginate(session, stmt, page, response)


@router.post("/ring-sets", response_model=RingSetOut, status_code=201)
async def create_ring_set(org_id: uuid.UUID, body: RingSetCreate, principal: CurrentUser, session: SessionDep):
    await _org(session, principal, org_id, MANAGE)
    await vulnerability_policy.check_name_free(session, org_id, body.name)
    rings = await vulnerability_policy.check_rings(session, org_id, [r.model_dump() for r in body.rings])
    ring_set = RingSet(org_id=org_id, name=body.name, rings=rings)
    session.add(ring_set)
    await session.flush()
    out = RingSetOut.model_validate(ring_set)
    audit(session, principal, "ring_set.create", "ring_set", ring_set.id, org_id, after=out)
    return out


@router.get("/ring-sets/{ring_set_id}", response_model=RingSetOut)
async def get_ring_set(org_id: uuid.UUID, ring_set_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await _ring_set(session, principal, org_id, ring_set_id, VIEW)


@router.patch("/ring-sets/{ring_set_id}", response_model=RingSetOut)
async def update_ring_set(org_id: uuid.UUID, ring_set_id: uuid.UUID, body: RingSetUpdate, principal: CurrentUser,
                          session: SessionDep):
    """Deployments already made keep the rings they were made with."""
    ring_set = await _ring_set(session, principal, org_id, ring_set_id, MANAGE, lock=True)
    before = RingSetOut.model_validate(ring_set)
    if body.name is not None:
        await vulnerability_policy.check_name_free(session, org_id, body.name, ring_set.id)
        ring_set.name = body.name
    if body.rings is not None:
        ring_set.rings = await vulnerability_policy.check_rings(session, org_id, [r.model_dump() for r in body.rings])
    await session.flush()
    await session.refresh(ring_set)
    out = RingSetOut.model_validate(ring_set)
    audit(session, principal, "ring_set.update", "ring_set", ring_set.id, org_id, before=before, after=out)
    return out


@router.delete("/ring-sets/{ring_set_id}", status_code=204)
async def delete_ring_set(org_id: uuid.UUID, ring_set_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    ring_set = await _ring_set(session, principal, org_id, ring_set_id, MANAGE, lock=True)
    await vulnerability_policy.check_deletable(session, ring_set)
    before = RingSetOut.model_validate(ring_set)
    await session.delete(ring_set)
    audit(session, principal, "ring_set.delete", "ring_set", ring_set_id, org_id, before=before)
    return Response(status_code=204)
