"""Patch deployments (§7): list and read them with their rings and per-host jobs, deploy patches through a ring
set by hand, and cancel a deployment."""

from __future__ import annotations

import uuid
from collections import defaultdict

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    AfterCommitDep,
    CurrentUser,
    GatewayDep,
    Page,
    SessionDep,
    get_or_404,
    paginate,
    tenant_orgs,
)
from api.schemas.patching import (
    DeploymentHostOut,
    DeploymentRingOut,
    DeploymentStatus,
    PatchDeploymentCreate,
    PatchDeploymentDetailOut,
    PatchDeploymentOut,
)
from api.schemas.vulnerabilities import PatchOut
from models import ChangeRecord, Patch, PatchDeployment
from services import patch_deployments

router = APIRouter(prefix="/patch-deployments", tags=["patching"])


def deployment_out(deployment: PatchDeployment, change_id, change_status) -> PatchDeploymentOut:
    out = PatchDeploymentOut.model_validate(deployment)
    out.change_id, out.change_status = change_id, change_status
    return out


async def _detail(session, deployment: PatchDeployment) -> PatchDeploymentDetailOut:
    change = await session.scalar(select(ChangeRecord).where(ChangeRecord.deployment_id == deployment.id))
    summary = deployment_out(deployment, change.id if change else None, change.status if change else None)
    out = PatchDeploymentDetailOut(**summary.model_dump())
    patch_ids = await patch_deployments.deployment_patches(session, deployment.id)
    patches = {p.id: p for p in await session.scalars(select(Patch).where(Patch.id.in_(patch_ids)))}
    out.patches = [PatchOut.model_validate(patches[p]) for p in patch_ids if p in patches]
    by_ring: dict[int, list[DeploymentHostOut]] = defaultdict(list)
    for row in await patch_deployments.deployment_hosts(session, deployment.id):
        by_ring[row["ring_index"]].append(DeploymentHostOut.model_validate(dict(row)))
    out.rings = []
    for index, ring in enumerate(deployment.rings):
        hosts = by_ring.get(index, [])
        out.rings.append(DeploymentRingOut(
            index=index, name=ring["name"], host_group_id=ring.get("host_group_id"),
            soak_minutes=ring.get("soak_minutes", 0), max_failure_rate=ring.get("max_failure_rate", 0.0),
            status=patch_deployments.ring_status(deployment, index), hosts=len(hosts),
            succeeded=sum(h.status == "succeeded" for h in hosts),
            failed=sum(h.status in ("failed", "timed_out") for h in hosts), host_jobs=hosts))
    return out


@router.get("", response_model=list[PatchDeploymentOut])
async def list_patch_deployments(principal: CurrentUser, session: SessionDep, page: Page, response: Response,
                                 org_id: uuid.UUID | None = None, status: DeploymentStatus | None = None):
    stmt = patch_deployments.deployment_list(tenant_orgs(principal, org_id), status)
    return [deployment_out(*row) for row in await paginate(session, stmt, page, response, rows=True)]


@router.get("/{deployment_id}", response_model=PatchDeploymentDetailOut)
async def get_patch_deployment(deployment_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    deployment = await get_or_404(session, principal, PatchDeployment, deployment_id, VIEW, "patch deployment")
    return await _detail(session, deployment)


@router.post("", response_model=PatchDeploymentDetailOut, status_code=201)
async def create_patch_deployment(body: PatchDeploymentCreate, principal: CurrentUser, session: SessionDep,
                                  gateway: GatewayDep, after_commit: AfterCommitDep):
    """A manual deployment: it runs even while automation is paused, and waits for a second person's approval
    of its change record when a patch is below the organization's auto-approve severity."""
    principal.require(body.org_id, MANAGE, "organization")
    deployment = await patch_deployments.request_deployment(session, body.org_id, body.patch_ids,
                                                            body.ring_set_id, principal.id)
    out = await _detail(session, deployment)
    audit(session, principal, "patch_deployment.create", "patch_deployment", deployment.id, deployment.org_id,
          after=out)
    after_commit.add(lambda: gateway.start_patch_deployment(
        str(deployment.id), str(deployment.org_id), f"Patch deployment {deployment.id} ({deployment.ring_set_name})"),
        f"the start of patch deployment {deployment.id}")
    return out


@router.post("/{deployment_id}/cancel", response_model=PatchDeploymentDetailOut, status_code=202)
async def cancel_patch_deployment(deployment_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                                  gateway: GatewayDep, after_commit: AfterCommitDep):
    """The request is stored, then the workflow is told; a ring already installing finishes first."""
    deployment = await get_or_404(session, principal, PatchDeployment, deployment_id, MANAGE, "patch deployment",
                                  lock=True)
    await patch_deployments.request_cancel(session, deployment, principal.id)
    out = await _detail(session, deployment)
    audit(session, principal, "patch_deployment.cancel", "patch_deployment", deployment.id, deployment.org_id,
          after={"cancel_requested_by": str(principal.id)})
    after_commit.add(lambda: gateway.signal_deployment_cancel(str(deployment_id)),
                     f"the cancel of patch deployment {deployment_id}")
    return out
