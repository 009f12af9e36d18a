"""Vulnerabilities: feed status, sync and air-gapped import (platform administrators), matching on demand, and
the reads — CVEs with affected-host counts, one CVE, a host's vulnerabilities and packages, patches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.audit import audit
from api.deps import VIEW, CurrentUser, GatewayDep, Page, SessionDep, get_or_404, paginate, tenant_orgs
from api.schemas.vulnerabilities import (
    Accepted,
    CveDetailOut,
    CveOut,
    FeedImportOut,
    FeedSource,
    FeedStatusOut,
    HostVulnerabilityOut,
    HostVulnerabilityStatus,
    PackageOut,
    PatchOut,
    Severity,
)
from models import Host
from services import vulnerabilities
from services.vuln_feeds import import_document

router = APIRouter(tags=["vulnerabilities"])
CVE_PATTERN = r"^CVE-\d{4}-\d{4,}$"


def cve_out(cve, kev, affected: int = 0, resolved: int = 0, model=CveOut):
    out = model.model_validate(cve)
    out.affected_hosts, out.resolved_hosts = affected or 0, resolved or 0
    if kev is not None:
        out.kev, out.kev_date_added, out.kev_due_date = True, kev.date_added, kev.due_date
        out.known_ransomware = kev.known_ransomware
    return out


def host_vulnerability_out(row) -> HostVulnerabilityOut:
    vulnerability, hostname, severity, score, kev = row
    out = HostVulnerabilityOut.model_validate(vulnerability)
    out.hostname, out.severity, out.cvss_score, out.kev = hostname, severity, score, kev
    return out


@router.get("/vulnerabilities/feeds", response_model=list[FeedStatusOut])
async def list_feeds(principal: CurrentUser, session: SessionDep, response: Response):
    statuses = await vulnerabilities.feed_statuses(session)
    response.headers["X-Total-Count"] = str(len(statuses))
    out = []
    for row, stored in statuses:
        status = FeedStatusOut.model_validate(row)
        status.stored = stored
        out.append(status)
    return out


@router.post("/vulnerabilities/feeds/sync", response_model=Accepted, status_code=202)
async def sync_feeds(principal: CurrentUser, session: SessionDep, gateway: GatewayDep):
    """Run the vuln-feed-sync schedule now; matching follows it."""
    principal.require_admin()
    await gateway.trigger_vuln_feed_sync()
    audit(session, principal, "vulnerability_feeds.sync", "vulnerability_feeds", None, None)
    return Accepted()


@router.post("/vulnerabilities/feeds/{source}/import", response_model=FeedImportOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object"}},
                 "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
async def import_feed(source: FeedSource, request: Request, principal: CurrentUser, session: SessionDep):
    """Air-gapped installs: the body is the document exactly as the source publishes it — an NVD CVE API 2.0
    response page, the KEV catalog JSON, or an OSV ecosystem's all.zip or a JSON array of OSV records."""
    principal.require_admin()
    written = await import_document(session, source, await request.body(), datetime.now(UTC))
    audit(session, principal, "vulnerability_feeds.import", "vulnerability_feed", source, None,
          after={"source": source, "written": written})
    return FeedImportOut(source=source, written=written)


@router.post("/vulnerabilities/match", response_model=Accepted, status_code=202)
async def match_now(principal: CurrentUser, session: SessionDep, gateway: GatewayDep):
    """Run the vuln-host-matching schedule now (fresh inventories first)."""
    principal.require_admin()
    await gateway.trigger_vuln_matching()
    audit(session, principal, "vulnerabilities.match", "vulnerabilities", None, None)
    return Accepted()


@router.get("/vulnerabilities", response_model=list[CveOut])
async def list_vulnerabilities(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, severity: Severity | None = None, kev: bool | None = None,
    status: HostVulnerabilityStatus | None = None, search: Annotated[str | None, Query(max_length=200)] = None,
):
    stmt = vulnerabilities.cve_list(tenant_orgs(principal, org_id), severity=severity, kev=kev, status=status,
                                    search=search)
    return [cve_out(*row) for row in await paginate(session, stmt, page, response, rows=True)]


@router.get("/vulnerabilities/{cve_id}", response_model=CveDetailOut)
async def get_vulnerability(cve_id: Annotated[str, Path(pattern=CVE_PATTERN)], principal: CurrentUser,
                            session: SessionDep, org_id: uuid.UUID | None = None):
    cve, kev = await vulnerabilities.cve_detail(session, cve_id)
    orgs = tenant_orgs(principal, org_id)
    hosts = [host_vulnerability_out(row) for row in
             (await session.execute(vulnerabilities.host_vulnerability_list(org_ids=orgs, cve_id=cve_id))).all()]
    out = cve_out(cve, kev, sum(h.status == "open" for h in hosts), sum(h.status == "resolved" for h in hosts),
                  model=CveDetailOut)
    out.kev_required_action = kev.required_action if kev else None
    out.hosts = hosts
    out.patches = [PatchOut.model_validate(p) for p in await vulnerabilities.cve_patches(session, cve_id)]
    return out


@router.get("/hosts/{host_id}/vulnerabilities", response_model=list[HostVulnerabilityOut])
async def list_host_vulnerabilities(host_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                                    response: Response, status: HostVulnerabilityStatus | None = None):
    await get_or_404(session, principal, Host, host_id, VIEW, "host")
    stmt = vulnerabilities.host_vulnerability_list(host_id=host_id, status=status)
    return [host_vulnerability_out(row) for row in await paginate(session, stmt, page, response, rows=True)]


@router.get("/hosts/{host_id}/packages", response_model=list[PackageOut])
async def list_host_packages(host_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                             response: Response, search: Annotated[str | None, Query(max_length=200)] = None):
    await get_or_404(session, principal, Host, host_id, VIEW, "host")
    return await paginate(session, vulnerabilities.host_packages(host_id, search), page, response)


@router.get("/patches", response_model=list[PatchOut])
async def list_patches(principal: CurrentUser, session: SessionDep, page: Page, response: Response,
                       org_id: uuid.UUID | None = None):
    stmt = vulnerabilities.patch_list(tenant_orgs(principal, org_id))
    out = []
    for patch, hosts, cves in await paginate(session, stmt, page, response, rows=True):
        item = PatchOut.model_validate(patch)
        item.hosts, item.cves = hosts, cves
        out.append(item)
    return out
