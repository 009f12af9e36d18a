"""Inventories are stored once per distinct package set and matched incrementally on the real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from domain.vuln_osv import parse_document
from models import AgentJob, HostInventory, HostVulnerability, PackageSet, PackageSetItem
from services import vuln_matching, vulnerabilities
from tests.factories import make_host, make_org
from tests.services.test_vulnerability_feeds import import_all
from tests.unit.test_vuln_feeds import fixture

NOW = datetime(2024, 7, 20, tzinfo=UTC)


def debian_inventory(glibc: str = "2.36-9+deb12u1", openssh: str = "1:9.2p1-2+deb12u3") -> dict:
    return {"os": {"id": "debian", "version_id": "12"}, "packages": [
        {"name": "libc6", "version": glibc, "source_name": "glibc", "source_version": glibc, "arch": "amd64"},
        {"name": "libc-bin", "version": glibc, "source_name": "glibc", "source_version": glibc, "arch": "amd64"},
        {"name": "openssh-server", "version": openssh, "source_name": "openssh", "source_version": openssh,
         "arch": "amd64"},
        {"name": "bash", "version": "5.2.15-2+b2", "source_name": "bash", "source_version": "5.2.15-2",
         "arch": "amd64"},
    ]}


async def report(db, hosts, inventory: dict, at: datetime = NOW):
    """Hosts answer inventory jobs as the API stores an agent's result."""
    jobs = [AgentJob(org_id=h.org_id, host_id=h.id, kind="inventory", payload={}, status="completed",
                     result=inventory, completed_at=at) for h in hosts]
    db.add_all(jobs)
    await db.flush()
    return await vuln_matching.store_inventories(db, [j.id for j in jobs], [])


async def open_rows(db, org_id) -> set[tuple]:
    rows = await db.execute(select(HostVulnerability.host_id, HostVulnerability.cve_id, HostVulnerability.package)
                            .where(HostVulnerability.org_id == org_id, HostVulnerability.status == "open"))
    return set(rows.all())


async def test_hosts_with_the_same_packages_share_one_stored_set(db):
    org = await make_org(db)
    hosts = [await make_host(db, org) for _ in range(3)]
    stored = await report(db, hosts, debian_inventory())
    assert (stored.stored, stored.new_package_sets) == (3, 1)
    again = await report(db, hosts[:1], debian_inventory())
    assert again.new_package_sets == 0
    assert await db.scalar(select(func.count()).select_from(PackageSet)) == 1
    assert await db.scalar(select(func.count()).select_from(PackageSetItem)) == 4
    inventory = await db.get(HostInventory, hosts[0].id)
    assert (inventory.status, inventory.ecosystem) == ("ok", "Debian:12")


async def test_matching_opens_refreshes_and_resolves_host_vulnerabilities(db):
    await import_all(db)
    org = await make_org(db)
    vulnerable, patched = await make_host(db, org), await make_host(db, org)
    await report(db, [vulnerable], debian_inventory(openssh="1:9.2p1-2+deb12u2"))
    await report(db, [patched], debian_inventory(glibc="2.36-9+deb12u3"))

    first = await vuln_matching.match_org(db, org.id, NOW)
    assert (first.package_sets_matched, first.opened) == (2, 2)
    assert await open_rows(db, org.id) == {(vulnerable.id, "CVE-2023-4911", "glibc"),
                                           (vulnerable.id, "CVE-2024-6387", "openssh")}
    glibc = await db.scalar(select(HostVulnerability).where(HostVulnerability.cve_id == "CVE-2023-4911"))
    assert (glibc.installed_version, glibc.fixed_version) == ("2.36-9+deb12u1", "2.36-9+deb12u3")
    assert glibc.patch_id is not None

    # Nothing changed: no package set is matched again, the rows are only seen again.
    later = NOW + timedelta(hours=6)
    second = await vuln_matching.match_org(db, org.id, later)
    assert (second.package_sets_matched, second.opened, second.open, second.resolved) == (0, 0, 2, 0)
    await db.refresh(glibc)
    assert (glibc.first_seen, glibc.last_seen) == (NOW, later)

    # The host upgrades glibc: its new set is matched, and the glibc vulnerability resolves.
    await report(db, [vulnerable], debian_inventory(glibc="2.36-9+deb12u3", openssh="1:9.2p1-2+deb12u2"),
                 at=later)
    third = await vuln_matching.match_org(db, org.id, later + timedelta(minutes=1))
    assert third.resolved == 1
    assert await open_rows(db, org.id) == {(vulnerable.id, "CVE-2024-6387", "openssh")}
    await db.refresh(glibc)
    assert glibc.status == "resolved" and glibc.resolved_at == later + timedelta(minutes=1)


async def test_a_feed_change_rematches_only_the_changed_rows(db):
    await import_all(db)
    org = await make_org(db)
    host = await make_host(db, org)
    await report(db, [host], debian_inventory(glibc="2.36-9+deb12u3"))
    assert (await vuln_matching.match_org(db, org.id, NOW)).opened == 0

    # The advisory is revised: deb12u3 turned out incomplete, the fix is deb12u4.
    record = json.loads(fixture("osv_debian.json"))[0]
    record["modified"] = "2024-10-01T00:00:00Z"
    record["affected"][0]["ranges"][0]["events"][1]["fixed"] = "2.36-9+deb12u4"
    await vulnerabilities.import_osv(db, parse_document(json.dumps(record).encode()))
    candidates = await db.scalar(text("""
        SELECT count(*) FROM affected_packages a JOIN package_sets s ON a.ecosystem = s.ecosystem
        WHERE a.change_seq > s.matched_seq"""))
    assert candidates == 1
    rematch = await vuln_matching.match_org(db, org.id, NOW + timedelta(hours=1))
    assert (rematch.package_sets_matched, rematch.opened) == (1, 1)
    assert await open_rows(db, org.id) == {(host.id, "CVE-2023-4911", "glibc")}


async def test_online_hosts_without_a_fresh_inventory_are_asked_once(db):
    org = await make_org(db)
    fresh, stale, new = [await make_host(db, org) for _ in range(3)]
    offline = await make_host(db, org, online=False)
    now = datetime.now(UTC)
    await report(db, [fresh], debian_inventory(), at=now)
    await report(db, [stale], debian_inventory(), at=now - timedelta(hours=7))
    ask = await vuln_matching.request_inventories(db, now, timedelta(minutes=5), timedelta(hours=6))
    asked_hosts = set(await db.scalars(select(AgentJob.host_id).where(AgentJob.kind == "inventory",
                                                                       AgentJob.status == "pending")))
    assert asked_hosts == {stale.id, new.id} and ask.asked == 2 and ask.orgs == [org.id]
    assert offline.id not in asked_hosts
    again = await vuln_matching.request_inventories(db, now, timedelta(minutes=5), timedelta(hours=6))
    assert again.asked == 0 and len(again.jobs[org.id]) == 2
