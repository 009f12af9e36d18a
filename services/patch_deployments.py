"""Patch deployments: making one (by hand or after matching), planning its hosts into rings, each ring's
`patch_install` jobs and outcome, the kill switch, its change record, cancellation, and the lifecycle sync that
resolves what a ring fixed. Shared by the API and the patch-deployment activities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import patching as rules
from domain.errors import BadRequest, Conflict, NotFound
from domain.vuln_versions import compare
from models import AgentJob, ChangeRecord, Organization, PatchDeployment, PatchDeploymentHost, RingSet
from orchestration import ids
from services import vuln_alerts
from services.scans import notify_jobs

JOB_NAMESPACE = uuid.UUID("8f1d3c2a-6b7e-4d0f-9c5a-2e4b6a8d0f13")
PAUSED_REASON = "automation_paused"
OUTPUT_LIMIT = 4096
MANUAL_START_GRACE = timedelta(minutes=2)


def install_job_id(host_row_id: uuid.UUID) -> uuid.UUID:
    """Derived from the host's row, so a retried dispatch cannot queue a second install."""
    return uuid.uuid5(JOB_NAMESPACE, f"{host_row_id}:patch_install")


async def patch_severities(session: AsyncSession, patch_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """What each patch fixes at worst (domain.patching.patch_severity)."""
    rows = (await session.execute(text("""
        SELECT pc.patch_id, array_agg(c.severity), bool_or(k.cve_id IS NOT NULL)
        FROM patch_cves pc JOIN cves c ON c.cve_id = pc.cve_id LEFT JOIN kev_entries k ON k.cve_id = pc.cve_id
        WHERE pc.patch_id = ANY(CAST(:ids AS uuid[]))
        GROUP BY pc.patch_id
    """), {"ids": patch_ids})).all()
    found = {patch_id: rules.patch_severity(severities, kev) for patch_id, severities, kev in rows}
    return {patch_id: found.get(patch_id) for patch_id in patch_ids}


async def policy_of(session: AsyncSession, org_id: uuid.UUID) -> rules.Policy:
    row = (await session.execute(text("""
        SELECT min_severity, kev_always, auto_deploy, auto_approve_min_severity, ring_set_id
        FROM vulnerability_policies WHERE org_id = :org
    """), {"org": org_id})).first()
    return rules.Policy(*row) if row else rules.DEFAULT_POLICY


async def create_deployment(session: AsyncSession, org_id: uuid.UUID, patch_ids: list[uuid.UUID],
                            ring_set: RingSet, *, automatic: bool, requester: uuid.UUID | None) -> PatchDeployment:
    """A deployment of these patches through this ring set (copied, so later edits of the set change nothing),
    `pending_approval` when a patch is below the organization's auto-approve threshold."""
    policy = await policy_of(session, org_id)
    severities = await patch_severities(session, patch_ids)
    needs_approval = rules.needs_approval(severities.values(), policy.auto_approve_min_severity)
    deployment_id = uuid.uuid4()
    deployment = PatchDeployment(
        id=deployment_id, org_id=org_id, status="pending_approval" if needs_approval else "running",
        automatic=automatic, ring_set_id=ring_set.id, ring_set_name=ring_set.name, rings=ring_set.rings,
        needs_approval=needs_approval, workflow_id=ids.patch_deployment(deployment_id), created_by=requester)
    session.add(deployment)
    await session.flush()
    await session.execute(text("""
        INSERT INTO patch_deployment_patches (deployment_id, patch_id)
        SELECT :deployment, unnest(CAST(:patches AS uuid[])) ON CONFLICT DO NOTHING
    """), {"deployment": deployment_id, "patches": patch_ids})
    return deployment


async def request_deployment(session: AsyncSession, org_id: uuid.UUID, patch_ids: list[uuid.UUID],
                             ring_set_id: uuid.UUID, requester: uuid.UUID) -> PatchDeployment:
    """A manual deployment (the kill switch does not stop it). Every patch must exist and fix something open on
    a host of the organization."""
    ring_set = await session.scalar(select(RingSet).where(RingSet.id == ring_set_id, RingSet.org_id == org_id))
    if ring_set is None:
        raise NotFound("ring set")
    wanted = sorted(set(patch_ids))
    needed = set(await session.scalars(text("""
        SELECT DISTINCT patch_id FROM host_vulnerabilities
        WHERE org_id = :org AND status = 'open' AND patch_id = ANY(CAST(:ids AS uuid[]))
    """), {"org": org_id, "ids": wanted}))
    missing = [str(p) for p in wanted if p not in needed]
    if missing:
        raise BadRequest(f"no host of the organization needs patch(es) {', '.join(missing)}")
    return await create_deployment(session, org_id, wanted, ring_set, automatic=False, requester=requester)


async def create_automatic(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    """After matching, with auto-deploy on: one deployment grouping the patches of the organization's qualifying
    open vulnerabilities that no deployment covers yet (none when nothing is new). Returns the deployments of the
    organization whose workflow has not started: the automatic ones (so a retried matching still starts them)
    and, as a safety net, manual ones whose start after the API's commit never reached Temporal."""
    policy = await policy_of(session, org_id)
    if policy.auto_deploy and policy.ring_set_id is not None:
        # Covered: a deployment of the patch still going, or one made after the vulnerability was first seen
        # (a skipped one covers nothing, so the next run after the kill switch is lifted deploys it).
        patch_ids = list(await session.scalars(text("""
            SELECT DISTINCT hv.patch_id
            FROM host_vulnerabilities hv
            JOIN cves c ON c.cve_id = hv.cve_id
            LEFT JOIN kev_entries k ON k.cve_id = hv.cve_id
            WHERE hv.org_id = :org AND hv.status = 'open' AND hv.patch_id IS NOT NULL
              AND (coalesce(array_position(CAST(:severities AS text[]), c.severity), 0) >= :min_rank
                   OR (k.cve_id IS NOT NULL AND :kev_always))
              AND NOT EXISTS (
                  SELECT 1 FROM patch_deployment_patches dp JOIN patch_deployments d ON d.id = dp.deployment_id
                  WHERE dp.patch_id = hv.patch_id AND d.org_id = hv.org_id AND d.status <> 'skipped_paused'
                    AND (d.status IN ('pending_approval', 'running', 'soaking') OR d.created_at >= hv.first_seen))
            ORDER BY hv.patch_id
        """), {"org": org_id, "severities": list(rules.SEVERITIES),
               "min_rank": rules.severity_rank(policy.min_severity), "kev_always": policy.kev_always}))
        ring_set = await session.get(RingSet, policy.ring_set_id)
        if patch_ids and ring_set is not None:
            await create_deployment(session, org_id, patch_ids, ring_set, automatic=True, requester=None)
    return list(await session.scalars(select(PatchDeployment.id).where(
        PatchDeployment.org_id == org_id, PatchDeployment.started_at.is_(None),
        PatchDeployment.automatic | (PatchDeployment.created_at < now - MANUAL_START_GRACE),
        PatchDeployment.status.in_(("pending_approval", "running"))).order_by(PatchDeployment.created_at)))


# The workflow's steps


async def locked(session: AsyncSession, deployment_id: uuid.UUID) -> PatchDeployment:
    deployment = await session.get(PatchDeployment, deployment_id, with_for_update=True, populate_existing=True)
    if deployment is None:
        raise NotFound("patch deployment")
    return deployment


async def change_of(session: AsyncSession, deployment_id: uuid.UUID) -> ChangeRecord | None:
    return await session.scalar(select(ChangeRecord).where(ChangeRecord.deployment_id == deployment_id)
                                .execution_options(populate_existing=True).with_for_update())


async def plan_hosts(session: AsyncSession, deployment: PatchDeployment) -> int:
    """Put every host that has an open vulnerability one of the deployment's patches fixes into its ring, with
    the packages to install (the host's binary packages built from each patched source package, at the fixed
    version). Planned once; returns how many hosts the deployment covers."""
    existing = await session.scalar(select(PatchDeploymentHost.id).where(
        PatchDeploymentHost.deployment_id == deployment.id).limit(1))
    if existing is None:
        rows = (await session.execute(text("""
            SELECT hv.host_id,
                   jsonb_agg(DISTINCT jsonb_build_object('name', coalesce(i.name, p.package),
                                                         'version', p.fixed_version)) AS packages
            FROM host_vulnerabilities hv
            JOIN patch_deployment_patches dp ON dp.patch_id = hv.patch_id AND dp.deployment_id = :deployment
            JOIN patches p ON p.id = hv.patch_id
            LEFT JOIN host_inventories inv ON inv.host_id = hv.host_id
            LEFT JOIN package_set_items i ON i.package_set_id = inv.package_set_id AND i.match_name = p.package
            WHERE hv.org_id = :org AND hv.status = 'open'
            GROUP BY hv.host_id ORDER BY hv.host_id
        """), {"deployment": deployment.id, "org": deployment.org_id})).all()
        rings = [rules.Ring.of(r) for r in deployment.rings]
        groups = [r.host_group_id for r in rings if r.host_group_id is not None]
        members: dict[uuid.UUID, set[uuid.UUID]] = {}
        for group_id, host_id in (await session.execute(text(
                "SELECT group_id, host_id FROM host_group_members WHERE group_id = ANY(CAST(:groups AS uuid[]))"),
                {"groups": groups})).all():
            members.setdefault(group_id, set()).add(host_id)
        assigned = rules.assign_rings(rings, [host for host, _ in rows], members)
        planned = [(host, packages) for host, packages in rows if host in assigned]
        if planned:
            await session.execute(insert(PatchDeploymentHost).values([
                {"id": uuid.uuid4(), "deployment_id": deployment.id, "ring_index": assigned[host], "host_id": host,
                 "status": "pending", "packages": sorted(packages, key=lambda p: p["name"])}
                for host, packages in planned]).on_conflict_do_nothing())
    return await session.scalar(text("SELECT count(*) FROM patch_deployment_hosts WHERE deployment_id = :d"),
                                {"d": deployment.id}) or 0


async def ensure_change_record(session: AsyncSession, deployment: PatchDeployment) -> ChangeRecord:
    """The deployment's change record, created `pending_approval` once: what would be installed where."""
    patches = (await session.execute(text("""
        SELECT p.id, p.ecosystem, p.package, p.fixed_version,
               array(SELECT cve_id FROM patch_cves pc WHERE pc.patch_id = p.id ORDER BY cve_id) AS cves
        FROM patch_deployment_patches dp JOIN patches p ON p.id = dp.patch_id
        WHERE dp.deployment_id = :d ORDER BY p.package, p.fixed_version
    """), {"d": deployment.id})).all()
    hosts = await session.scalar(text("SELECT count(*) FROM patch_deployment_hosts WHERE deployment_id = :d"),
                                 {"d": deployment.id})
    policy = await policy_of(session, deployment.org_id)
    details = {
        "what": {"patches": [{"patch_id": str(p.id), "ecosystem": p.ecosystem, "package": p.package,
                              "fixed_version": p.fixed_version, "cves": list(p.cves)} for p in patches]},
        "where": {"hosts": hosts, "ring_set": deployment.ring_set_name,
                  "rings": [r["name"] for r in deployment.rings]},
        "why": {"deployment_id": str(deployment.id), "automatic": deployment.automatic,
                "approval_required_because": "a patch fixes nothing at or above the auto-approve severity "
                                             f"({policy.auto_approve_min_severity})"},
    }
    names = ", ".join(sorted({p.package for p in patches}))
    await session.execute(insert(ChangeRecord).values(
        id=uuid.uuid4(), org_id=deployment.org_id, deployment_id=deployment.id, status="pending_approval",
        requested_by=deployment.created_by, title=f"Deploy patches for {names} to {hosts} host(s)"[:500],
        details=details,
    ).on_conflict_do_nothing(index_elements=["deployment_id"]))
    return await change_of(session, deployment.id)


async def finish(session: AsyncSession, deployment: PatchDeployment, status: str, reason: str | None,
                 now: datetime) -> None:
    """End the deployment; hosts that never got their job are skipped, and its change record follows."""
    if deployment.status in rules.FINISHED:
        return
    deployment.status, deployment.reason, deployment.finished_at, deployment.soak_until = status, reason, now, None
    await session.execute(update(PatchDeploymentHost).where(
        PatchDeploymentHost.deployment_id == deployment.id, PatchDeploymentHost.status == "pending",
    ).values(status="skipped", updated_at=now))
    change = await change_of(session, deployment.id)
    if change is None or change.status in ("rejected", "expired", "completed", "failed"):
        return
    if status == "completed":
        change.status = "completed"
    elif change.status == "pending_approval" and status == "cancelled":
        change.status, change.reason = "expired", reason
    else:
        change.status, change.reason = "failed", reason


async def begin_ring(session: AsyncSession, deployment: PatchDeployment, ring: int, now: datetime
                     ) -> tuple[str | None, list[uuid.UUID]]:
    """Read the kill switch and the cancel request right before the ring; then open the ring's install jobs
    (once). Returns why the deployment stops here (None: it goes on) and the ring's job ids."""
    if deployment.status in rules.FINISHED:
        return deployment.reason or deployment.status, []
    if deployment.cancel_requested_by is not None:
        await finish(session, deployment, "cancelled", "cancelled by request", now)
        return "cancelled", []
    paused = await session.scalar(select(Organization.automation_paused)
                                  .where(Organization.id == deployment.org_id))
    if paused and deployment.automatic:
        await finish(session, deployment, "skipped_paused", PAUSED_REASON, now)
        return PAUSED_REASON, []
    change = await change_of(session, deployment.id)
    if change is not None and change.status not in ("approved", "implementing"):
        # Only an approval the API stored releases a deployment; nothing a signal says can stand in for it.
        reason = f"the change is {change.status}, not approved"
        await finish(session, deployment, "cancelled", reason, now)
        return reason, []
    if change is not None:
        change.status = "implementing"
    deployment.status, deployment.current_ring, deployment.soak_until = "running", ring, None
    hosts = list(await session.scalars(select(PatchDeploymentHost).where(
        PatchDeploymentHost.deployment_id == deployment.id, PatchDeploymentHost.ring_index == ring)
        .order_by(PatchDeploymentHost.host_id)))
    pending = [h for h in hosts if h.status == "pending"]
    if pending:
        await session.execute(insert(AgentJob).values([
            {"id": install_job_id(h.id), "org_id": deployment.org_id, "host_id": h.host_id, "kind": "patch_install",
             "payload": {"deployment_id": str(deployment.id), "packages": h.packages}, "status": "pending",
             "late": False, "completion_pending": False} for h in pending]).on_conflict_do_nothing(
            index_elements=["id"]))
        for h in pending:
            h.job_id, h.status = install_job_id(h.id), "dispatched"
        await notify_jobs(session, {h.host_id for h in pending})
    return None, [h.job_id for h in hosts if h.job_id is not None and h.status == "dispatched"]


@dataclass
class RingOutcome:
    total: int
    failed: int
    halt: bool
    host_ids: list[uuid.UUID] = field(default_factory=list)


async def record_ring(session: AsyncSession, deployment: PatchDeployment, ring: int, silent: list[uuid.UUID],
                      now: datetime) -> RingOutcome:
    """Each host's answer (a job never answered closes as timed out, which counts as a failure); the ring halts
    the rollout when its failure rate is above the ring's limit."""
    if silent:
        await session.execute(update(AgentJob).where(
            AgentJob.id.in_(silent), AgentJob.status.in_(("pending", "delivered"))).values(status="timed_out"))
    rows = (await session.execute(
        select(PatchDeploymentHost, AgentJob.status, AgentJob.result)
        .outerjoin(AgentJob, AgentJob.id == PatchDeploymentHost.job_id)
        .where(PatchDeploymentHost.deployment_id == deployment.id, PatchDeploymentHost.ring_index == ring)
        .execution_options(populate_existing=True))).all()
    for host, job_status, result in rows:
        if host.status != "dispatched":
            continue
        if job_status == "completed" and result:
            host.status = "succeeded" if result.get("status") == "success" else "failed"
            host.installed = result.get("installed") or []
            host.output = (result.get("output") or "").encode()[:OUTPUT_LIMIT].decode("utf-8", "ignore")
        else:
            host.status, host.output = "timed_out", "the agent did not answer in time"
        host.completed_at = now
    ran = [host for host, *_ in rows if host.status in ("succeeded", "failed", "timed_out")]
    failed = sum(host.status != "succeeded" for host in ran)
    ring_spec = rules.Ring.of(deployment.rings[ring])
    return RingOutcome(total=len(ran), failed=failed,
                       halt=rules.ring_halts(failed, len(ran), ring_spec.max_failure_rate),
                       host_ids=[host.host_id for host in ran if host.status == "succeeded"])


async def request_inventories(session: AsyncSession, host_ids: list[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    """A fresh inventory of each patched host (joining an inventory job already open for it)."""
    if not host_ids:
        return []
    await session.execute(text("""
        INSERT INTO agent_jobs (id, org_id, host_id, kind, payload, status, late, completion_pending,
                                created_at, updated_at)
        SELECT gen_random_uuid(), h.org_id, h.id, 'inventory', '{}'::jsonb, 'pending', false, false, :now, :now
        FROM hosts h WHERE h.id = ANY(CAST(:hosts AS uuid[]))
        ON CONFLICT DO NOTHING
    """), {"hosts": host_ids, "now": now})
    await notify_jobs(session, set(host_ids))
    return list(await session.scalars(text("""
        SELECT id FROM agent_jobs WHERE kind = 'inventory' AND status IN ('pending', 'delivered')
          AND host_id = ANY(CAST(:hosts AS uuid[])) ORDER BY id
    """), {"hosts": host_ids}))


async def resolve_patched(session: AsyncSession, org_id: uuid.UUID, host_ids: list[uuid.UUID], now: datetime
                          ) -> int:
    """Lifecycle sync: an open vulnerability of these hosts whose package is now installed at or above the
    fixed version (in the ecosystem's own order) is resolved, then its alert, then an incident left empty."""
    rows = (await session.execute(text("""
        SELECT hv.id, inv.ecosystem, i.match_version, hv.fixed_version
        FROM host_vulnerabilities hv
        JOIN host_inventories inv ON inv.host_id = hv.host_id
        JOIN package_set_items i ON i.package_set_id = inv.package_set_id AND i.match_name = hv.package
        WHERE hv.host_id = ANY(CAST(:hosts AS uuid[])) AND hv.status = 'open' AND hv.fixed_version IS NOT NULL
    """), {"hosts": host_ids})).all()
    # Every binary package built from the vulnerable source must be at the fixed version or later.
    lowest: dict[uuid.UUID, str | None] = {}
    for vuln_id, ecosystem, installed, fixed_version in rows:
        try:
            ok = compare(ecosystem, installed, fixed_version) >= 0
        except ValueError:
            ok = False
        if not ok:
            lowest[vuln_id] = None
        elif vuln_id not in lowest or (lowest[vuln_id] is not None
                                       and compare(ecosystem, installed, lowest[vuln_id]) < 0):
            lowest[vuln_id] = installed
    fixed = [(vuln_id, installed) for vuln_id, installed in lowest.items() if installed is not None]
    if fixed:
        await session.execute(text("""
            UPDATE host_vulnerabilities hv SET status = 'resolved', resolved_at = :now, updated_at = :now,
                   installed_version = f.installed
            FROM unnest(CAST(:ids AS uuid[]), CAST(:installed AS text[])) AS f(id, installed)
            WHERE hv.id = f.id AND hv.status = 'open'
        """), {"ids": [v for v, _ in fixed], "installed": [i for _, i in fixed], "now": now})
    await vuln_alerts.resolve_fixed(session, org_id, now, host_ids)
    return len(fixed)


# Reads and the cancel request


def deployment_list(org_ids: list[uuid.UUID] | None, status: str | None):
    """Deployments newest first, each with its change record's id and status."""
    stmt = (select(PatchDeployment, ChangeRecord.id, ChangeRecord.status)
            .outerjoin(ChangeRecord, ChangeRecord.deployment_id == PatchDeployment.id)
            .order_by(PatchDeployment.created_at.desc(), PatchDeployment.id))
    if org_ids is not None:
        stmt = stmt.where(PatchDeployment.org_id.in_(org_ids))
    if status is not None:
        stmt = stmt.where(PatchDeployment.status == status)
    return stmt


async def deployment_hosts(session: AsyncSession, deployment_id: uuid.UUID) -> list:
    return (await session.execute(text("""
        SELECT d.*, h.hostname FROM patch_deployment_hosts d JOIN hosts h ON h.id = d.host_id
        WHERE d.deployment_id = :d ORDER BY d.ring_index, h.hostname, d.host_id
    """), {"d": deployment_id})).mappings().all()


async def deployment_patches(session: AsyncSession, deployment_id: uuid.UUID) -> list:
    return list(await session.scalars(text("""
        SELECT p.id FROM patch_deployment_patches dp JOIN patches p ON p.id = dp.patch_id
        WHERE dp.deployment_id = :d ORDER BY p.package, p.fixed_version
    """), {"d": deployment_id}))


def ring_status(deployment: PatchDeployment, index: int) -> str:
    """Where one ring stands, from the deployment's status and current ring."""
    current = deployment.current_ring
    if current is None or index > current:
        return "skipped" if deployment.status in rules.FINISHED and deployment.status != "completed" else "pending"
    if index < current or deployment.status == "completed":
        return "done"
    return {"running": "running", "soaking": "soaking", "halted": "halted"}.get(deployment.status, "skipped")


async def request_cancel(session: AsyncSession, deployment: PatchDeployment, requester: uuid.UUID) -> None:
    """Store the request; the workflow reads it (before the next ring, during an approval wait or a soak)."""
    if deployment.status in rules.FINISHED:
        raise Conflict(f"the deployment is already {deployment.status}")
    deployment.cancel_requested_by = requester
    await session.flush()
