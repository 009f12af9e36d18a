"""The checks of a draft template: add, edit, remove, and enable or disable many at once."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from api.audit import audit
from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas.templates import BulkToggle, CheckCreate, CheckOut, CheckUpdate, TemplateOut
from api.template_access import check_remediation_binding, load_draft, template_out
from models import ComplianceCheck

router = APIRouter(prefix="/{template_id}/checks")
BINDINGS = {"script": "script_id", "workflow": "workflow_id"}


async def rule_id_taken(session, template_id: uuid.UUID, rule_id: str, other_than: uuid.UUID | None = None) -> bool:
    stmt = select(ComplianceCheck.id).where(ComplianceCheck.template_id == template_id,
                                            ComplianceCheck.rule_id == rule_id)
    if other_than is not None:
        stmt = stmt.where(ComplianceCheck.id != other_than)
    return await session.scalar(stmt) is not None


async def load_check(session, template_id: uuid.UUID, check_id: uuid.UUID) -> ComplianceCheck:
    check = await session.get(ComplianceCheck, check_id)
    if check is None or check.template_id != template_id:
        raise NotFound("check")
    return check


@router.post("", response_model=CheckOut, status_code=201)
async def add_check(template_id: uuid.UUID, body: CheckCreate, principal: CurrentUser, session: SessionDep,
                    settings: SettingsDep):
    template = await load_draft(session, principal, template_id)
    if await session.scalar(select(func.count()).where(ComplianceCheck.template_id == template.id)) \
            >= settings.max_checks_per_template:
        raise Unprocessable([{"loc": ["path", "template_id"], "type": "too_many_checks",
                              "msg": f"a template holds at most {settings.max_checks_per_template} checks"}])
    values = body.model_dump()
    await check_remediation_binding(session, template, values)
    if await rule_id_taken(session, template.id, body.rule_id):
        raise Conflict(f"the template already has a check {body.rule_id}")
    last = await session.scalar(select(func.max(ComplianceCheck.position))
                                .where(ComplianceCheck.template_id == template.id))
    check = ComplianceCheck(template_id=template.id, position=(last + 1) if last is not None else 0, **values)
    session.add(check)
    await session.flush()
    out = CheckOut.model_validate(check)
    audit(session, principal, "template.check.create", "template", template.id, template.org_id, after=out)
    return out


@router.patch("/{check_id}", response_model=CheckOut)
async def update_check(
    template_id: uuid.UUID, check_id: uuid.UUID, body: CheckUpdate, principal: CurrentUser, session: SessionDep
):
    template = await load_draft(session, principal, template_id)
    check = await load_check(session, template.id, check_id)
    before = CheckOut.model_validate(check)
    changes = body.changes()
    if "remediation_type" in changes:
        # Switching the remediation type drops a binding the new type cannot carry, unless the client set it.
        for kind, field in BINDINGS.items():
            if changes["remediation_type"] != kind and field not in changes:
                changes[field] = None
    merged = before.model_dump() | changes
    await check_remediation_binding(session, template, merged)
    if "rule_id" in changes and await rule_id_taken(session, template.id, changes["rule_id"], other_than=check.id):
        raise Conflict(f"the template already has a check {changes['rule_id']}")
    for key, value in changes.items():
        setattr(check, key, value)
    await session.flush()
    out = CheckOut.model_validate(check)
    audit(session, principal, "template.check.update", "template", template.id, template.org_id,
          before=before, after=out)
    return out


@router.delete("/{check_id}", status_code=204)
async def delete_check(template_id: uuid.UUID, check_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    template = await load_draft(session, principal, template_id)
    check = await load_check(session, template.id, check_id)
    before = CheckOut.model_validate(check)
    await session.delete(check)
    audit(session, principal, "template.check.delete", "template", template.id, template.org_id, before=before)
    return Response(status_code=204)


@router.post("/bulk-toggle", response_model=TemplateOut)
async def bulk_toggle(template_id: uuid.UUID, body: BulkToggle, principal: CurrentUser, session: SessionDep):
    """Enables or disables the listed checks of a draft; an id that is not a check of this template is a 422."""
    template = await load_draft(session, principal, template_id)
    wanted = set(body.check_ids)
    checks = list(await session.scalars(
        select(ComplianceCheck).where(ComplianceCheck.template_id == template.id, ComplianceCheck.id.in_(wanted))
    ))
    if missing := sorted(str(c) for c in wanted - {c.id for c in checks}):
        raise Unprocessable([{"loc": ["body", "check_ids"], "msg": f"not a check of this template: {c}",
                              "type": "not_found"} for c in missing])
    changed = sorted((c for c in checks if c.enabled != body.enabled), key=lambda c: c.position)
    for check in changed:
        check.enabled = body.enabled
    await session.flush()
    audit(session, principal, "template.checks.bulk_toggle", "template", template.id, template.org_id,
          before={"enabled": not body.enabled, "rule_ids": [c.rule_id for c in changed]},
          after={"enabled": body.enabled, "rule_ids": [c.rule_id for c in changed]})
    return await template_out(session, template)
