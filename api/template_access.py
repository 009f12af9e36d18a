"""What the template routes share: permission-checked loading, rendering, cloning, and remediation-binding rules."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import MANAGE, Principal
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas.templates import CheckOut, TemplateOut, TemplateSummaryOut
from domain.portability import SHELLS_BY_OS
from models import AutomationWorkflow, ComplianceCheck, ComplianceTemplate, Script

SYSTEM_READ_ONLY = "system templates are read-only"
PUBLISHED_IMMUTABLE = "published templates are immutable; create a new version to change it"
CHECK_COPY_FIELDS = (
    "rule_id", "title", "description", "severity", "rule", "enabled", "frameworks", "remediation_type",
    "remediation_instructions", "script_id", "workflow_id", "remediation_requires_change", "position",
)

check_count = (
    select(func.count()).where(ComplianceCheck.template_id == ComplianceTemplate.id)
    .correlate(ComplianceTemplate).scalar_subquery()
)
enabled_check_count = (
    select(func.count()).where(ComplianceCheck.template_id == ComplianceTemplate.id, ComplianceCheck.enabled)
    .correlate(ComplianceTemplate).scalar_subquery()
)


async def load_template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, permission: str, *, lock: bool = False
) -> ComplianceTemplate:
    """System templates are visible to everyone and writable by no one; others belong to one organization."""
    stmt = select(ComplianceTemplate).where(ComplianceTemplate.id == template_id)
    template = await session.scalar(stmt.with_for_update() if lock else stmt)
    if template is None:
        raise NotFound("template")
    if template.is_system:
        if permission == MANAGE:
            raise Conflict(SYSTEM_READ_ONLY)
        return template
    principal.require(template.org_id, permission, "template")
    return template


async def load_draft(session: AsyncSession, principal: Principal, template_id: uuid.UUID) -> ComplianceTemplate:
    """A template the caller may edit right now: custom, in an org they manage, and still a draft."""
    template = await load_template(session, principal, template_id, MANAGE, lock=True)
    if template.status != "draft":
        raise Conflict(PUBLISHED_IMMUTABLE)
    return template


async def template_checks(session: AsyncSession, template_id: uuid.UUID) -> list[ComplianceCheck]:
    return list(await session.scalars(
        select(ComplianceCheck).where(ComplianceCheck.template_id == template_id)
        .order_by(ComplianceCheck.position, ComplianceCheck.rule_id)
    ))


def template_summary(template: ComplianceTemplate, checks: int, enabled: int) -> TemplateSummaryOut:
    out = TemplateSummaryOut.model_validate(template)
    out.check_count, out.enabled_check_count = checks, enabled
    return out


async def template_out(session: AsyncSession, template: ComplianceTemplate) -> TemplateOut:
    checks = await template_checks(session, template.id)
    summary = template_summary(template, len(checks), sum(1 for c in checks if c.enabled))
    return TemplateOut(**summary.model_dump(), checks=[CheckOut.model_validate(c) for c in checks])


async def clone_checks(session: AsyncSession, source_id: uuid.UUID, target_id: uuid.UUID) -> None:
    for check in await template_checks(session, source_id):
        session.add(ComplianceCheck(template_id=target_id, **{f: getattr(check, f) for f in CHECK_COPY_FIELDS}))
    await session.flush()


async def foreign_bindings(session: AsyncSession, source_id: uuid.UUID, org_id: uuid.UUID) -> list[dict]:
    """Checks of `source_id` bound to a script or workflow that organization `org_id` cannot use."""
    scripts = await session.execute(
        select(ComplianceCheck.rule_id).join(Script, Script.id == ComplianceCheck.script_id)
        .where(ComplianceCheck.template_id == source_id, Script.org_id.is_not(None), Script.org_id != org_id)
    )
    workflows = await session.execute(
        select(ComplianceCheck.rule_id).join(AutomationWorkflow, AutomationWorkflow.id == ComplianceCheck.workflow_id)
        .where(ComplianceCheck.template_id == source_id, AutomationWorkflow.org_id != org_id)
    )
    return [
        {"loc": ["body", "org_id"], "msg": f"check {rule_id} is bound to a {kind} of another organization",
         "type": "foreign_binding"}
        for kind, rows in (("script", scripts), ("workflow", workflows)) for (rule_id,) in rows
    ]


async def check_remediation_binding(session: AsyncSession, template: ComplianceTemplate, check: dict[str, Any]) -> None:
    """A script binding needs a script the org may use (its own or a system one) whose shell runs on the
    template's OS; a workflow binding needs a workflow of the same org; other types carry no binding."""
    problems: list[tuple[str, str]] = []
    kind = check["remediation_type"]
    script_id, workflow_id = check.get("script_id"), check.get("workflow_id")
    if kind == "script" and script_id is None:
        problems.append(("script_id", "required when remediation_type is 'script'"))
    if kind != "script" and script_id is not None:
        problems.append(("script_id", "only allowed when remediation_type is 'script'"))
    if kind == "workflow" and workflow_id is None:
        problems.append(("workflow_id", "required when remediation_type is 'workflow'"))
    if kind != "workflow" and workflow_id is not None:
        problems.append(("workflow_id", "only allowed when remediation_type is 'workflow'"))
    if kind == "script" and script_id is not None:
        script = await session.get(Script, script_id)
        if script is None or script.org_id not in (None, template.org_id):
            problems.append(("script_id", "no such script in this organization"))
        elif script.shell not in SHELLS_BY_OS[template.os_type]:
            problems.append(("script_id", f"a {script.shell} script does not run on {template.os_type}"))
    if kind == "workflow" and workflow_id is not None:
        workflow = await session.get(AutomationWorkflow, workflow_id)
        if workflow is None or workflow.org_id != template.org_id:
            problems.append(("workflow_id", "no such automation workflow in this organization"))
    if problems:
        raise Unprocessable([{"loc": ["body", field], "msg": msg, "type": "invalid_binding"}
                             for field, msg in problems])
