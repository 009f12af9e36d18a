"""On-demand scans and scan reads: history, per-check results, a host's latest compliance per policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
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
    SettingsDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.errors import BadRequest, NotFound
from api.schemas.scans import (
    CheckResultOut,
    CurrentCompliance,
    HostDiffOut,
    HostPolicyComplianceOut,
    ScanDetailOut,
    ScanOut,
    ScanRef,
    ScanRequest,
    ScanStatus,
    ScanType,
)
from models import ComplianceCheck, CompliancePolicy, ComplianceScan, Host, HostPolicyStatus, ScanCheckResult
from orchestration.gateway import SingleScan
from services.remediation import scan_remediations
from services.scans import changed_checks, host_template, open_single_scan, scans_to_compare

router = APIRouter(prefix="/compliance", tags=["scans"])


@router.post("/policies/{policy_id}/scan", response_model=ScanOut, status_code=202)
async def request_scan(policy_id: uuid.UUID, body: ScanRequest, principal: CurrentUser, session: SessionDep,
                       settings: SettingsDep, gateway: GatewayDep, after_commit: AfterCommitDep):
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, MANAGE, "policy")
    host = await session.get(Host, body.host_id)
    if host is None or host.org_id != policy.org_id:
        raise NotFound("host")
    if host.os_type != policy.os_type:
        raise BadRequest(f"host runs {host.os_type}; this policy covers {policy.os_type}")
    window = timedelta(seconds=settings.host_online_window_seconds)
    if host.last_seen is None or datetime.now(UTC) - host.last_seen > window:
        raise BadRequest("host is offline: its agent has not been seen recently")
    template = await host_template(session, policy, host.id)
    if template is None:
        raise BadRequest("the policy has no published template version to scan with")
    scan, created = await open_single_scan(session, policy, host.id, template, "on_demand",
                                           requested_by=principal.id)
    if created:
        audit(session, principal, "scan.request", "scan", scan.id, policy.org_id,
              after={"host_id": str(host.id), "policy_id": str(policy.id), "scan_type": "on_demand"})
        start = SingleScan(str(scan.id), str(scan.org_id), str(scan.policy_id), str(host.id), scan.scan_type,
                           host.hostname)
        after_commit.add(lambda: gateway.start_single_scan(start), f"scan {scan.id}")
    return ScanOut.model_validate(scan)


@router.get("/scans", response_model=list[ScanOut])
async def list_scans(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    status: ScanStatus | None = None, scan_type: ScanType | None = None, host_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None, org_id: uuid.UUID | None = None,
):
    stmt = select(ComplianceScan).order_by(ComplianceScan.created_at.desc(), ComplianceScan.id)
    stmt = stmt.where(tenant_scope(principal, ComplianceScan.org_id, org_id))
    for column, value in ((ComplianceScan.status, status), (ComplianceScan.scan_type, scan_type),
                          (ComplianceScan.host_id, host_id), (ComplianceScan.policy_id, policy_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, page, response)


async def scan_results(session, scan: ComplianceScan) -> list[CheckResultOut]:
    rows = await session.execute(
        select(ScanCheckResult, ComplianceCheck.title, ComplianceCheck.severity, ComplianceCheck.remediation_type,
               ComplianceCheck.remediation_instructions)
        .join(ComplianceCheck, ComplianceCheck.id == ScanCheckResult.check_id)
        .where(ScanCheckResult.scan_id == scan.id)
        .order_by(ComplianceCheck.position, ScanCheckResult.rule_id)
    )
    remediations = await scan_remediations(session, scan.id)
    return [
        CheckResultOut(check_id=r.check_id, rule_id=r.rule_id, title=title, severity=severity, status=r.status,
                       actual=r.actual, remediation_type=rtype, exception_id=r.exception_id,
                       remediation=remediations.get(str(r.check_id)),
                       remediation_instructions=instructions if rtype == "manual" else None)
        for r, title, severity, rtype, instructions in rows
    ]


@router.get("/scans/{scan_id}", response_model=ScanDetailOut)
async def get_scan(scan_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    scan = await get_or_404(session, principal, ComplianceScan, scan_id, VIEW, "scan")
    return ScanDetailOut(**ScanOut.model_validate(scan).model_dump(), results=await scan_results(session, scan))


@router.get("/hosts/{host_id}", response_model=list[HostPolicyComplianceOut])
async def host_compliance(host_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    host = await get_or_404(session, principal, Host, host_id, VIEW, "host")
    policies = await session.scalars(select(CompliancePolicy).where(
        CompliancePolicy.org_id == host.org_id, CompliancePolicy.os_type == host.os_type))
    latest = {status.policy_id: (status, scan) for status, scan in (await session.execute(
        select(HostPolicyStatus, ComplianceScan)
        .join(ComplianceScan, ComplianceScan.id == HostPolicyStatus.scan_id)
        .where(HostPolicyStatus.host_id == host.id)
    )).all()}
    out = []
    for policy in policies:
        status, scan = latest.get(policy.id, (None, None))
        out.append(HostPolicyComplianceOut(
            policy_id=policy.id, os_type=policy.os_type, scan=ScanOut.model_validate(scan) if scan else None,
            current=CurrentCompliance.model_validate(status) if status else None))
    return out


@router.get("/hosts/{host_id}/diff", response_model=HostDiffOut)
async def host_diff(
    host_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
    from_scan: Annotated[uuid.UUID | None, Query(description="default: the scan before to_scan")] = None,
    to_scan: Annotated[uuid.UUID | None, Query(description="default: the host's latest completed scan")] = None,
):
    """What changed on the host between two completed scans: the checks whose status differs."""
    host = await get_or_404(session, principal, Host, host_id, VIEW, "host")
    pair = await scans_to_compare(session, host.id, from_scan, to_scan)
    return HostDiffOut(host_id=host.id, from_scan=ScanRef.model_validate(pair.before),
                       to_scan=ScanRef.model_validate(pair.after), changes=await changed_checks(session, pair))


@router.get("/hosts/{host_id}/history", response_model=list[ScanOut])
async def host_history(
    host_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    policy_id: Annotated[uuid.UUID | None, Query()] = None,
):
    host = await get_or_404(session, principal, Host, host_id, VIEW, "host")
    stmt = select(ComplianceScan).where(ComplianceScan.host_id == host.id).order_by(
        ComplianceScan.created_at.desc(), ComplianceScan.id)
    if policy_id is not None:
        stmt = stmt.where(ComplianceScan.policy_id == policy_id)
    return await paginate(session, stmt, page, response)
