"""Compliance policies, one per organization and OS type, and their host-level template overrides."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.schemas.hosts import OsType
from api.schemas.policies import OverrideCreate, OverrideOut, PolicyCreate, PolicyOut, PolicyUpdate
from domain.templates import TemplateVersion, resolve_template
from models import CompliancePolicy, ComplianceTemplate, Host, PolicyHostOverride

router = APIRouter(prefix="/compliance/policies", tags=["policies"])


def _invalid(field: str, msg: str, kind: str) -> Unprocessable:
    return Unprocessable([{"loc": ["body", field], "msg": msg, "type": kind}])


async def usable_template(session, org_id: uuid.UUID, os_type: str, template_id: uuid.UUID) -> ComplianceTemplate:
    """A template an org's policy or override may scan with: visible to the org, for its OS, and published."""
    template = await session.get(ComplianceTemplate, template_id)
    if template is None or not (template.is_system or template.org_id == org_id):
        raise NotFound("template")
    if template.os_type != os_type:
        raise _invalid("template_id", f"the template is for {template.os_type}, not {os_type}", "os_mismatch")
    if not (template.is_system or template.status == "published"):
        raise BadRequest("only a published template can be used; publish the draft first")
    return template


async def check_pin(session, template: ComplianceTemplate, pinned_version: int | None) -> None:
    if pinned_version is None:
        return
    published = (ComplianceTemplate.status == "published") | ComplianceTemplate.is_system
    found = await session.scalar(select(ComplianceTemplate.id).where(
        ComplianceTemplate.lineage_id == template.lineage_id, ComplianceTemplate.version == pinned_version, published,
    ))
    if found is None:
        raise _invalid("pinned_template_version",
                       f"version {pinned_version} of this template does not exist or is not published", "no_version")


def version_of(template: ComplianceTemplate) -> TemplateVersion:
    return TemplateVersion(id=template.id, lineage_id=template.lineage_id, version=template.version,
                           status=template.status, is_system=template.is_system)


async def policies_out(session, policies: Sequence[CompliancePolicy]) -> list[PolicyOut]:
    """Each policy with the template version a host without an override is scanned with right now."""
    lineages = select(ComplianceTemplate.lineage_id).where(
        ComplianceTemplate.id.in_({p.template_id for p in policies}))
    templates = await session.scalars(select(ComplianceTemplate).where(ComplianceTemplate.lineage_id.in_(lineages)))
    versions = {t.id: version_of(t) for t in templates}
    by_lineage: dict[uuid.UUID, list[TemplateVersion]] = defaultdict(list)
    for version in versions.values():
        by_lineage[version.lineage_id].append(version)
    result = []
    for policy in policies:
        out = PolicyOut.model_validate(policy)
        effective = resolve_template(versions[policy.template_id], policy.pinned_template_version, None, by_lineage)
        if effective is not None:
            out.effective_template_id, out.effective_template_version = effective.id, effective.version
        result.append(out)
    return result


async def policy_out(session, policy: CompliancePolicy) -> PolicyOut:
    return (await policies_out(session, [policy]))[0]


@router.get("", response_model=list[PolicyOut])
async def list_policies(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, os_type: OsType | None = None, enabled: bool | None = None,
):
    stmt = select(CompliancePolicy).order_by(CompliancePolicy.org_id, CompliancePolicy.os_type)
    stmt = stmt.where(tenant_scope(principal, CompliancePolicy.org_id, org_id))
    if os_type:
        stmt = stmt.where(CompliancePolicy.os_type == os_type)
    if enabled is not None:
        stmt = stmt.where(CompliancePolicy.enabled == enabled)
    return await policies_out(session, await paginate(session, stmt, page, response))


@router.post("", response_model=PolicyOut, status_code=201)
async def create_policy(body: PolicyCreate, principal: CurrentUser, session: SessionDep):
    principal.require(body.org_id, MANAGE, "organization")
    template = await usable_template(session, body.org_id, body.os_type, body.template_id)
    await check_pin(session, template, body.pinned_template_version)
    if await session.scalar(select(CompliancePolicy.id).where(
        CompliancePolicy.org_id == body.org_id, CompliancePolicy.os_type == body.os_type,
    )):
        raise Conflict(f"the organization already has a {body.os_type} policy")
    # The template's Scan Interval is the default scan frequency of the policies that use it.
    interval = body.scan_interval_hours or template.scan_interval_hours
    policy = CompliancePolicy(**body.model_dump(exclude={"scan_interval_hours"}), scan_interval_hours=interval)
    session.add(policy)
    await session.flush()
    out = await policy_out(session, policy)
    audit(session, principal, "policy.create", "policy", policy.id, policy.org_id, after=out)
    return out


@router.get("/{policy_id}", response_model=PolicyOut)
async def get_policy(policy_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await policy_out(session, await get_or_404(session, principal, CompliancePolicy, policy_id, VIEW, "policy"))


@router.patch("/{policy_id}", response_model=PolicyOut)
async def update_policy(policy_id: uuid.UUID, body: PolicyUpdate, principal: CurrentUser, session: SessionDep):
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, MANAGE, "policy")
    before = await policy_out(session, policy)
    changes = body.changes()
    if "template_id" in changes or "pinned_template_version" in changes:
        template = await usable_template(session, policy.org_id, policy.os_type,
                                         changes.get("template_id", policy.template_id))
        await check_pin(session, template, changes.get("pinned_template_version", policy.pinned_template_version))
    for key, value in changes.items():
        setattr(policy, key, value)
    await session.flush()
    out = await policy_out(session, policy)
    audit(session, principal, "policy.update", "policy", policy.id, policy.org_id, before=before, after=out)
    return out


@router.delete("/{policy_id}", status_code=204)
async def delete_policy(policy_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    """Deleting a policy also deletes its host overrides (and, through the schema, its scan history)."""
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, MANAGE, "policy")
    before = (await policy_out(session, policy)).model_dump(mode="json")
    overrides = await session.scalar(select(func.count()).where(PolicyHostOverride.policy_id == policy.id))
    await session.delete(policy)
    await session.flush()
    audit(session, principal, "policy.delete", "policy", policy.id, policy.org_id,
          before=before | {"override_count": overrides})
    return Response(status_code=204)


OVERRIDE_ROW = (
    select(PolicyHostOverride, Host.hostname, ComplianceTemplate.name, ComplianceTemplate.version)
    .join(Host, Host.id == PolicyHostOverride.host_id)
    .join(ComplianceTemplate, ComplianceTemplate.id == PolicyHostOverride.template_id)
)


def override_out(override: PolicyHostOverride, hostname: str, template_name: str, version: int) -> OverrideOut:
    out = OverrideOut.model_validate(override)
    out.hostname, out.template_name, out.template_version = hostname, template_name, version
    return out


@router.get("/{policy_id}/overrides", response_model=list[OverrideOut])
async def list_overrides(policy_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                         response: Response):
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, VIEW, "policy")
    stmt = OVERRIDE_ROW.where(PolicyHostOverride.policy_id == policy.id).order_by(Host.hostname, Host.id)
    return [override_out(*row) for row in await paginate(session, stmt, page, response, rows=True)]


@router.post("/{policy_id}/overrides", response_model=OverrideOut, status_code=201)
async def create_override(policy_id: uuid.UUID, body: OverrideCreate, principal: CurrentUser, session: SessionDep):
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, MANAGE, "policy")
    host = await session.get(Host, body.host_id)
    if host is None or host.org_id != policy.org_id:
        raise NotFound("host")
    if host.os_type != policy.os_type:
        raise _invalid("host_id", f"the host runs {host.os_type}, the policy is for {policy.os_type}", "os_mismatch")
    template = await usable_template(session, policy.org_id, policy.os_type, body.template_id)
    if await session.scalar(select(PolicyHostOverride.id).where(
        PolicyHostOverride.policy_id == policy.id, PolicyHostOverride.host_id == host.id,
    )):
        raise Conflict("the host already has an override in this policy")
    override = PolicyHostOverride(policy_id=policy.id, host_id=host.id, template_id=template.id)
    session.add(override)
    await session.flush()
    out = override_out(override, host.hostname, template.name, template.version)
    audit(session, principal, "policy.override.create", "policy", policy.id, policy.org_id, after=out)
    return out


@router.delete("/{policy_id}/overrides/{override_id}", status_code=204)
async def delete_override(policy_id: uuid.UUID, override_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    policy = await get_or_404(session, principal, CompliancePolicy, policy_id, MANAGE, "policy")
    row = (await session.execute(OVERRIDE_ROW.where(PolicyHostOverride.id == override_id,
                                                    PolicyHostOverride.policy_id == policy.id))).first()
    if row is None:
        raise NotFound("override")
    before = override_out(*row)
    await session.delete(row[0])
    audit(session, principal, "policy.override.delete", "policy", policy.id, policy.org_id, before=before)
    return Response(status_code=204)
