"""Compliance templates: list and read, copy, edit, publish, version and delete (checks and portability are
in their own modules, mounted on this router)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response
from sqlalchemy import exists, func, or_, select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    paginate,
    tenant_scope,
)
from api.errors import BadRequest, Conflict, Unprocessable
from api.routes import template_checks, template_portability
from api.schemas.hosts import OsType
from api.schemas.templates import TemplateCopy, TemplateOut, TemplateSummaryOut, TemplateUpdate
from api.template_access import (
    SYSTEM_READ_ONLY,
    check_count,
    clone_checks,
    enabled_check_count,
    foreign_bindings,
    load_draft,
    load_template,
    template_out,
    template_summary,
)
from models import (
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    HostPolicyStatus,
    PolicyHostOverride,
)

router = APIRouter(prefix="/compliance/templates", tags=["templates"])


@router.get("", response_model=list[TemplateSummaryOut])
async def list_templates(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    os_type: OsType | None = None,
    framework: str | None = None,
    status: Literal["draft", "published"] | None = None,
    org_id: uuid.UUID | None = None,
    is_system: bool | None = None,
):
    """System templates and the templates of the caller's organizations; `org_id` narrows to one org's own."""
    stmt = select(ComplianceTemplate, check_count, enabled_check_count).order_by(
        ComplianceTemplate.is_system.desc(), ComplianceTemplate.name, ComplianceTemplate.version, ComplianceTemplate.id
    )
    scope = tenant_scope(principal, ComplianceTemplate.org_id, org_id)
    if org_id is not None:
        stmt = stmt.where(scope)
    elif scope is not None:
        stmt = stmt.where(or_(ComplianceTemplate.is_system, scope))
    if os_type:
        stmt = stmt.where(ComplianceTemplate.os_type == os_type)
    if framework:
        stmt = stmt.where(func.lower(ComplianceTemplate.framework) == framework.lower())
    if status:
        stmt = stmt.where(ComplianceTemplate.status == status)
    if is_system is not None:
        stmt = stmt.where(ComplianceTemplate.is_system == is_system)
    rows = await paginate(session, stmt, page, response, rows=True)
    return [template_summary(template, count, enabled) for template, count, enabled in rows]


@router.get("/{template_id}", response_model=TemplateOut)
async def get_template(template_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    template = await load_template(session, principal, template_id, VIEW)
    return await template_out(session, template)


@router.post("/{template_id}/copy", response_model=TemplateOut, status_code=201)
async def copy_template(template_id: uuid.UUID, body: TemplateCopy, principal: CurrentUser, session: SessionDep):
    """A new draft (version 1 of a new lineage) in `org_id` with every check of the source and the same bindings."""
    source = await load_template(session, principal, template_id, VIEW)
    principal.require(body.org_id, MANAGE, "organization")
    if problems := await foreign_bindings(session, source.id, body.org_id):
        raise Unprocessable(problems)
    template = ComplianceTemplate(
        org_id=body.org_id, name=body.name, description=source.description, os_type=source.os_type,
        framework=source.framework, level=source.level, version=1, status="draft", is_system=False,
        scan_interval_hours=source.scan_interval_hours, lineage_id=uuid.uuid4(), source_template_id=source.id,
    )
    session.add(template)
    await session.flush()
    await clone_checks(session, source.id, template.id)
    out = await template_out(session, template)
    audit(session, principal, "template.copy", "template", template.id, template.org_id,
          after=out.model_dump(mode="json", exclude={"checks"}) | {"copied_from": str(source.id)})
    return out


@router.patch("/{template_id}", response_model=TemplateOut)
async def update_template(template_id: uuid.UUID, body: TemplateUpdate, principal: CurrentUser, session: SessionDep):
    """Edits a draft; `status: "published"` publishes it after applying the other edits in the same request."""
    template = await load_draft(session, principal, template_id)
    before = await template_out(session, template)
    changes = body.changes()
    publish = changes.pop("status", None) == "published"
    for key, value in changes.items():
        setattr(template, key, value)
    if publish:
        if before.enabled_check_count == 0:
            raise BadRequest("a template needs at least one enabled check to be published")
        template.status, template.published_at = "published", datetime.now(UTC)
    await session.flush()
    out = await template_out(session, template)
    audit(session, principal, "template.publish" if publish else "template.update", "template", template.id,
          template.org_id, before=before.model_dump(mode="json", exclude={"checks"}),
          after=out.model_dump(mode="json", exclude={"checks"}))
    return out


@router.post("/{template_id}/versions", response_model=TemplateOut, status_code=201)
async def create_version(template_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    """The next draft version of a published custom template, in the same lineage."""
    try:
        source = await load_template(session, principal, template_id, MANAGE, lock=True)
    except Conflict as exc:
        raise Conflict(f"{SYSTEM_READ_ONLY}: copy it into an organization instead") from exc
    if source.status != "published":
        raise Conflict("only a published template can get a new version; edit the draft instead")
    lineage = ComplianceTemplate.lineage_id == source.lineage_id
    if await session.scalar(select(ComplianceTemplate.id).where(lineage, ComplianceTemplate.status == "draft")):
        raise Conflict("a draft version of this template already exists")
    newest = await session.scalar(select(func.max(ComplianceTemplate.version)).where(lineage))
    template = ComplianceTemplate(
        org_id=source.org_id, name=source.name, description=source.description, os_type=source.os_type,
        framework=source.framework, level=source.level, version=newest + 1, status="draft", is_system=False,
        scan_interval_hours=source.scan_interval_hours, lineage_id=source.lineage_id, source_template_id=source.id,
    )
    session.add(template)
    await session.flush()
    await clone_checks(session, source.id, template.id)
    out = await template_out(session, template)
    audit(session, principal, "template.version.create", "template", template.id, template.org_id,
          after=out.model_dump(mode="json", exclude={"checks"}))
    return out


async def template_references(session, template: ComplianceTemplate) -> list[str]:
    """What still uses a template: policies (directly, or through their lineage pin/auto-latest), overrides, scans."""
    lineage = ComplianceTemplate.lineage_id == template.lineage_id
    pins = [CompliancePolicy.pinned_template_version == template.version]
    newest_published = await session.scalar(
        select(func.max(ComplianceTemplate.version)).where(lineage, ComplianceTemplate.status == "published")
    )
    if template.status == "published" and template.version == newest_published:
        pins.append(CompliancePolicy.pinned_template_version.is_(None))
    policy_uses = or_(
        CompliancePolicy.template_id == template.id,
        CompliancePolicy.template_id.in_(select(ComplianceTemplate.id).where(lineage)) & or_(*pins),
    )
    probes = {
        "a policy": select(CompliancePolicy.id).where(policy_uses),
        "a host override": select(PolicyHostOverride.id).where(PolicyHostOverride.template_id == template.id),
        "a scan": select(ComplianceScan.id).where(ComplianceScan.template_id == template.id),
        "a host's compliance status": select(HostPolicyStatus.host_id).where(
            HostPolicyStatus.template_id == template.id),
    }
    return [name for name, probe in probes.items() if await session.scalar(select(exists(probe)))]


@router.delete("/{template_id}", status_code=204)
async def delete_template(template_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    template = await load_template(session, principal, template_id, MANAGE, lock=True)
    if used_by := await template_references(session, template):
        raise Conflict(f"template is in use by {', '.join(used_by)}")
    before = await template_out(session, template)
    await session.delete(template)
    audit(session, principal, "template.delete", "template", template.id, template.org_id,
          before=before.model_dump(mode="json", exclude={"checks"}) | {"rule_ids": [c.rule_id for c in before.checks]})
    return Response(status_code=204)

router.include_router(template_checks.router)
router.include_router(template_portability.router)
