"""After matching, on the real database: one vulnerability_detected alert per qualifying host+CVE, one open
vulnerability incident per host, automatic deployments only for what is new, and the lifecycle sync that
resolves vulnerabilities, alerts and incidents once the fixed version is installed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import (
    Alert,
    HostGroup,
    HostGroupMember,
    HostVulnerability,
    Incident,
    PatchDeployment,
    PatchDeploymentHost,
    RingSet,
    VulnerabilityPolicy,
)
from services import patch_deployments, vuln_matching
from tests.factories import make_host, make_org
from tests.services.test_vuln_matching import NOW, debian_inventory, report
from tests.services.test_vulnerability_feeds import import_all


async def alerts_of(db, org_id) -> list[tuple]:
    rows = await db.execute(select(Alert.host_id, Alert.cve_id, Alert.severity, Alert.resolved_at.is_(None))
                            .where(Alert.org_id == org_id).order_by(Alert.cve_id))
    return rows.all()


async def test_qualifying_vulnerabilities_raise_one_alert_per_host_and_cve_and_one_incident_per_host(db):
    await import_all(db)
    org = await make_org(db)
    host = await make_host(db, org)
    await report(db, [host], debian_inventory(openssh="1:9.2p1-2+deb12u2"))  # glibc (KEV, high) and openssh (high)
    db.add(VulnerabilityPolicy(org_id=org.id, min_severity="critical", kev_always=True, auto_deploy=False,
                               auto_approve_min_severity="critical"))
    await db.flush()

    first = await vuln_matching.match_org(db, org.id, NOW)
    assert first.alerts_raised == 1  # openssh is high, below the policy's minimum; glibc counts as KEV
    assert await alerts_of(db, org.id) == [(host.id, "CVE-2023-4911", "critical", True)]
    (incident,) = (await db.scalars(select(Incident).where(Incident.org_id == org.id))).all()
    assert (incident.source, incident.status, incident.severity, incident.policy_id) == (
        "vulnerabilities", "open", "critical", None)
    assert [e["cve_id"] for e in incident.timeline] == ["CVE-2023-4911"]

    # The policy lowers its minimum: openssh now qualifies, joins the same incident; glibc is not alerted again.
    policy = await db.get(VulnerabilityPolicy, org.id)
    policy.min_severity = "high"
    await db.flush()
    second = await vuln_matching.match_org(db, org.id, NOW + timedelta(hours=6))
    assert second.alerts_raised == 1
    assert [(cve, severity) for _, cve, severity, _ in await alerts_of(db, org.id)] == [
        ("CVE-2023-4911", "critical"), ("CVE-2024-6387", "warning")]
    assert await db.scalar(select(func.count()).select_from(Incident).where(Incident.org_id == org.id)) == 1
    assert await db.scalar(select(func.count()).select_from(Alert).where(
        Alert.org_id == org.id, Alert.incident_id == incident.id)) == 2
    assert await vuln_matching.match_org(db, org.id, NOW + timedelta(hours=12)) is not None
    assert len(await alerts_of(db, org.id)) == 2


async def test_auto_deploy_makes_one_deployment_per_run_and_none_when_nothing_is_new(db):
    await import_all(db)
    org = await make_org(db)
    canary, other = await make_host(db, org), await make_host(db, org)
    await report(db, [canary, other], debian_inventory())
    group = HostGroup(org_id=org.id, name="canary")
    db.add(group)
    await db.flush()
    db.add(HostGroupMember(group_id=group.id, host_id=canary.id))
    rings = RingSet(org_id=org.id, name="two", rings=[
        {"name": "canary", "host_group_id": str(group.id), "soak_minutes": 60, "max_failure_rate": 0},
        {"name": "rest", "host_group_id": None, "soak_minutes": 0, "max_failure_rate": 0.2}])
    db.add(rings)
    await db.flush()
    db.add(VulnerabilityPolicy(org_id=org.id, min_severity="high", kev_always=True, auto_deploy=True,
                               auto_approve_min_severity="critical", ring_set_id=rings.id))
    await db.flush()

    first = await vuln_matching.match_org(db, org.id, NOW)
    (deployment_id,) = first.deployment_ids
    deployment = await db.get(PatchDeployment, deployment_id)
    assert (deployment.automatic, deployment.status, deployment.needs_approval) == (True, "running", False)
    # Not started yet: a retried matching returns it again, and makes no second one.
    again = await vuln_matching.match_org(db, org.id, NOW + timedelta(minutes=1))
    assert again.deployment_ids == [deployment_id]

    assert await patch_deployments.plan_hosts(db, deployment) == 2
    hosts = (await db.execute(select(PatchDeploymentHost.host_id, PatchDeploymentHost.ring_index,
                                     PatchDeploymentHost.packages)
                              .where(PatchDeploymentHost.deployment_id == deployment_id))).all()
    assert {(h, ring) for h, ring, _ in hosts} == {(canary.id, 0), (other.id, 1)}
    assert hosts[0].packages == [{"name": "libc-bin", "version": "2.36-9+deb12u3"},
                                 {"name": "libc6", "version": "2.36-9+deb12u3"}]
    deployment.started_at = NOW
    await db.flush()
    later = await vuln_matching.match_org(db, org.id, NOW + timedelta(hours=6))
    assert later.deployment_ids == []
    assert await db.scalar(select(func.count()).select_from(PatchDeployment)
                           .where(PatchDeployment.org_id == org.id)) == 1


async def test_lifecycle_sync_resolves_vulnerability_alert_and_then_the_incident(db):
    await import_all(db)
    org = await make_org(db)
    host = await make_host(db, org)
    await report(db, [host], debian_inventory())
    await vuln_matching.match_org(db, org.id, NOW)
    assert len(await alerts_of(db, org.id)) == 1

    # Only one of the two binary packages of glibc is upgraded: still vulnerable.
    half = debian_inventory()
    half["packages"][0] |= {"version": "2.36-9+deb12u3", "source_version": "2.36-9+deb12u3"}
    await report(db, [host], half, at=NOW + timedelta(minutes=5))
    assert await patch_deployments.resolve_patched(db, org.id, [host.id], NOW + timedelta(minutes=5)) == 0

    await report(db, [host], debian_inventory(glibc="2.36-9+deb12u4"), at=NOW + timedelta(minutes=10))
    assert await patch_deployments.resolve_patched(db, org.id, [host.id], NOW + timedelta(minutes=10)) == 1
    vuln = await db.scalar(select(HostVulnerability).where(HostVulnerability.host_id == host.id))
    assert (vuln.status, vuln.installed_version) == ("resolved", "2.36-9+deb12u4")
    assert [resolved_open for *_, resolved_open in await alerts_of(db, org.id)] == [False]
    (incident,) = (await db.scalars(select(Incident).where(Incident.org_id == org.id)
                                    .execution_options(populate_existing=True))).all()
    assert incident.status == "resolved" and incident.timeline[-1]["event"] == "resolved"


async def test_a_manual_deployment_that_never_started_is_started_by_the_next_matching(db):
    await import_all(db)
    org = await make_org(db)
    host = await make_host(db, org)
    await report(db, [host], debian_inventory())
    await vuln_matching.match_org(db, org.id, NOW)
    rings = RingSet(org_id=org.id, name="one", rings=[{"name": "all", "host_group_id": None}])
    db.add(rings)
    await db.flush()
    patch_id = await db.scalar(select(HostVulnerability.patch_id).where(HostVulnerability.host_id == host.id))
    manual = await patch_deployments.create_deployment(db, org.id, [patch_id], rings, automatic=False,
                                                       requester=None)
    manual.created_at = NOW
    await db.flush()
    assert (await vuln_matching.match_org(db, org.id, NOW + timedelta(minutes=1))).deployment_ids == []
    assert (await vuln_matching.match_org(db, org.id, NOW + timedelta(hours=6))).deployment_ids == [manual.id]

