"""The remediation script library: system scripts (read-only, visible to all) and each organization's own."""

from __future__ import annotations

import hashlib
import uuid

from fastapi import APIRouter, Response
from sqlalchemy import func, or_, select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    Principal,
    SessionDep,
    paginate,
    tenant_scope,
)
from api.errors import Conflict, NotFound
from api.schemas.remediation import ScriptCreate, ScriptOut, ScriptUpdate
from models import AutomationWorkflow, ComplianceCheck, Script

router = APIRouter(prefix="/scripts", tags=["remediation"])
SYSTEM_READ_ONLY = "system scripts are read-only; create an organization script instead"


def script_out(script: Script) -> ScriptOut:
    return ScriptOut.model_validate({**{c: getattr(script, c) for c in (
        "id", "org_id", "name", "shell", "body", "sha256", "timeout_seconds", "description", "created_at",
        "updated_at")}, "is_system": script.org_id is None})


def digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


async def load_script(session, principal: Principal, script_id: uuid.UUID, permission: str) -> Script:
    script = await session.get(Script, script_id)
    if script is None:
        raise NotFound("script")
    if script.org_id is None:
        if permission == MANAGE:
            raise Conflict(SYSTEM_READ_ONLY)
        return script
    principal.require(script.org_id, permission, "script")
    return script


async def _name_taken(session, org_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> None:
    stmt = select(Script.id).where(Script.org_id == org_id, Script.name == name)
    if exclude is not None:
        stmt = stmt.where(Script.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(f"the organization already has a script named {name!r}")


@router.get("", response_model=list[ScriptOut])
async def list_scripts(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, include_system: bool = True, shell: str | None = None,
):
    stmt = select(Script).order_by(Script.org_id.is_not(None), Script.name, Script.id)
    scope = tenant_scope(principal, Script.org_id, org_id)
    if not include_system:
        stmt = stmt.where(Script.org_id.is_not(None))
    if scope is not None:
        stmt = stmt.where(or_(Script.org_id.is_(None), scope) if include_system else scope)
    if shell:
        stmt = stmt.where(Script.shell == shell)
    return [script_out(s) for s in await paginate(session, stmt, page, response)]


@router.post("", response_model=ScriptOut, status_code=201)
async def create_script(body: ScriptCreate, principal: CurrentUser, session: SessionDep):
    principal.require(body.org_id, MANAGE, "organization")
    await _name_taken(session, body.org_id, body.name)
    script = Script(**body.model_dump(), sha256=digest(body.body))
    session.add(script)
    await session.flush()
    await session.refresh(script)
    out = script_out(script)
    audit(session, principal, "script.create", "script", script.id, script.org_id, after=out)
    return out


@router.get("/{script_id}", response_model=ScriptOut)
async def get_script(script_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return script_out(await load_script(session, principal, script_id, VIEW))


@router.patch("/{script_id}", response_model=ScriptOut)
async def update_script(script_id: uuid.UUID, body: ScriptUpdate, principal: CurrentUser, session: SessionDep):
    """A changed body gets a new SHA-256; agents refuse a body that does not match the hash they were sent."""
    script = await load_script(session, principal, script_id, MANAGE)
    before = script_out(script)
    changes = body.changes()
    if "name" in changes:
        await _name_taken(session, script.org_id, changes["name"], exclude=script.id)
    for key, value in changes.items():
        setattr(script, key, value)
    script.sha256 = digest(script.body)
    await session.flush()
    await session.refresh(script)
    out = script_out(script)
    audit(session, principal, "script.update", "script", script.id, script.org_id, before=before, after=out)
    return out


async def script_in_use(session, script_id: uuid.UUID) -> str | None:
    checks = await session.scalar(select(func.count()).where(ComplianceCheck.script_id == script_id))
    if checks:
        return f"the script is bound to {checks} check(s); unbind them first"
    steps = await session.scalar(select(func.count()).select_from(AutomationWorkflow).where(
        AutomationWorkflow.steps.contains([{"script_id": str(script_id)}])))
    if steps:
        return f"the script is a step of {steps} automation workflow(s); remove it from them first"
    return None


@router.delete("/{script_id}", status_code=204)
async def delete_script(script_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    script = await load_script(session, principal, script_id, MANAGE)
    if (problem := await script_in_use(session, script.id)) is not None:
        raise Conflict(problem)
    before = script_out(script)
    await session.delete(script)
    await session.flush()
    audit(session, principal, "script.delete", "script", script.id, script.org_id, before=before)
