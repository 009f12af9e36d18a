"""A deployment's ring steps on the real database: the kill switch stops automatic deployments only, only a
stored approval releases a gated one, install jobs carry the §7 payload once, and silence counts as failure."""

from __future__ import annotations

from sqlalchemy import select

from models import AgentJob, ChangeRecord, HostVulnerability, PatchDeploymentHost, RingSet
from services import patch_deployments, vuln_matching
from tests.factories import make_host, make_org
from tests.services.test_vuln_matching import NOW, debian_inventory, report
from tests.services.test_vulnerability_feeds import import_all


async def deployment_of(db, *, automatic: bool, paused: bool = False, hosts: int = 2, max_failure_rate=0.0):
    await import_all(db)
    org = await make_org(db)
    org.automation_paused = paused
    machines = [await make_host(db, org) for _ in range(hosts)]
    await report(db, machines, debian_inventory(openssh="1:9.2p1-2+deb12u2"))
    await vuln_matching.match_org(db, org.id, NOW)
    rings = RingSet(org_id=org.id, name="one", rings=[
        {"name": "all", "host_group_id": None, "soak_minutes": 0, "max_failure_rate": max_failure_rate}])
    db.add(rings)
    await db.flush()
    glibc = await db.scalar(select(HostVulnerability.patch_id).where(HostVulnerability.package == "glibc"))
    deployment = await patch_deployments.create_deployment(db, org.id, [glibc], rings, automatic=automatic,
                                                           requester=None)
    await patch_deployments.plan_hosts(db, deployment)
    return deployment, machines


async def test_the_kill_switch_skips_an_automatic_deployment_but_not_a_manual_one(db):
    automatic, _ = await deployment_of(db, automatic=True, paused=True)
    stop, jobs = await patch_deployments.begin_ring(db, automatic, 0, NOW)
    assert (stop, jobs, automatic.status) == ("automation_paused", [], "skipped_paused")
    assert set(await db.scalars(select(PatchDeploymentHost.status).where(
        PatchDeploymentHost.deployment_id == automatic.id))) == {"skipped"}

    manual, hosts = await deployment_of(db, automatic=False, paused=True)
    stop, jobs = await patch_deployments.begin_ring(db, manual, 0, NOW)
    assert stop is None and len(jobs) == 2
    job = await db.get(AgentJob, jobs[0])
    assert job.kind == "patch_install" and job.payload == {"deployment_id": str(manual.id), "packages": [
        {"name": "libc-bin", "version": "2.36-9+deb12u3"}, {"name": "libc6", "version": "2.36-9+deb12u3"}]}
    # A retried step queues nothing twice.
    assert (await patch_deployments.begin_ring(db, manual, 0, NOW))[1] == jobs
    assert len((await db.scalars(select(AgentJob).where(AgentJob.kind == "patch_install",
                                                        AgentJob.org_id == manual.org_id))).all()) == 2


async def test_only_a_stored_approval_releases_a_gated_deployment(db):
    deployment, _ = await deployment_of(db, automatic=False)
    deployment.needs_approval = True
    change = await patch_deployments.ensure_change_record(db, deployment)
    assert change.status == "pending_approval" and change.details["what"]["patches"][0]["package"] == "glibc"
    stop, jobs = await patch_deployments.begin_ring(db, deployment, 0, NOW)  # as a forged approve signal would
    assert (stop, jobs, deployment.status) == ("the change is pending_approval, not approved", [], "cancelled")
    assert (await db.scalar(select(ChangeRecord.status).where(ChangeRecord.id == change.id)
                            .execution_options(populate_existing=True))) == "expired"


async def test_a_silent_host_counts_as_a_failure_and_halts_the_ring(db):
    deployment, hosts = await deployment_of(db, automatic=False, max_failure_rate=0.4)
    _, jobs = await patch_deployments.begin_ring(db, deployment, 0, NOW)
    answered = await db.get(AgentJob, jobs[0])
    answered.status, answered.result = "completed", {
        "status": "success", "installed": [{"name": "libc6", "version": "2.36-9+deb12u3"}], "output": "ok"}
    await db.flush()
    outcome = await patch_deployments.record_ring(db, deployment, 0, [jobs[1]], NOW)
    assert (outcome.total, outcome.failed, outcome.halt) == (2, 1, True)
    assert outcome.host_ids == [answered.host_id]
    assert (await db.get(AgentJob, jobs[1], populate_existing=True)).status == "timed_out"
