"""Automation workflows: an organization's ordered lists of script steps that a check can bind to."""

from __future__ import annotations

import uuid

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
from api.errors import Conflict, Unprocessable
from api.schemas.remediation import (
    AutomationWorkflowCreate,
    AutomationWorkflowOut,
    AutomationWorkflowUpdate,
    WorkflowStep,
)
from models import AutomationWorkflow, ComplianceCheck, Script

router = APIRouter(prefix="/automation-workflows", tags=["remediation"])


async def checked_steps(session, org_id: uuid.UUID, steps: list[WorkflowStep]) -> list[dict]:
    """Every step's script must be the organization's own or a system script."""
    ids = {s.script_id for s in steps}
    usable = set(await session.scalars(select(Script.id).where(
        Script.id.in_(ids), (Script.org_id == org_id) | Script.org_id.is_(None))))
    problems = [{"loc": ["body", "steps", i, "script_id"], "msg": "no such script in this organization",
                 "type": "unknown_script"} for i, s in enumerate(steps) if s.script_id not in usable]
    if problems:
        raise Unprocessable(problems)
    return [{"script_id": str(s.script_id), "continue_on_failure": s.continue_on_failure} for s in steps]


async def _name_taken(session, org_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> None:
    stmt = select(AutomationWorkflow.id).where(AutomationWorkflow.org_id == org_id, AutomationWorkflow.name == name)
    if exclude is not None:
        stmt = stmt.where(AutomationWorkflow.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(f"the organization already has an automation workflow named {name!r}")


@router.get("", response_model=list[AutomationWorkflowOut])
async def list_workflows(principal: CurrentUser, session: SessionDep, page: Page, response: Response,
                         org_id: uuid.UUID | None = None):
    stmt = select(AutomationWorkflow).order_by(AutomationWorkflow.name, AutomationWorkflow.id)
    stmt = stmt.where(tenant_scope(principal, AutomationWorkflow.org_id, org_id))
    return await paginate(session, stmt, page, response)


@router.post("", response_model=AutomationWorkflowOut, status_code=201)
async def create_workflow(body: AutomationWorkflowCreate, principal: CurrentUser, session: SessionDep):
    principal.require(body.org_id, MANAGE, "organization")
    await _name_taken(session, body.org_id, body.name)
    workflow = AutomationWorkflow(org_id=body.org_id, name=body.name, description=body.description,
                                  steps=await checked_steps(session, body.org_id, body.steps))
    session.add(workflow)
    await session.flush()
    await session.refresh(workflow)
    out = AutomationWorkflowOut.model_validate(workflow)
    audit(session, principal, "automation_workflow.create", "automation_workflow", workflow.id, workflow.org_id,
          after=out)
    return out


@router.get("/{workflow_id}", response_model=AutomationWorkflowOut)
async def get_workflow(workflow_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await get_or_404(session, principal, AutomationWorkflow, workflow_id, VIEW, "automation workflow")


@router.patch("/{workflow_id}", response_model=AutomationWorkflowOut)
async def update_workflow(workflow_id: uuid.UUID, body: AutomationWorkflowUpdate, principal: CurrentUser,
                          session: SessionDep):
    workflow = await get_or_404(session, principal, AutomationWorkflow, workflow_id, MANAGE, "automation workflow")
    before = AutomationWorkflowOut.model_validate(workflow)
    changes = body.changes()
    if "name" in changes:
        await _name_taken(session, workflow.org_id, changes["name"], exclude=workflow.id)
    if "steps" in changes:
        changes["steps"] = await checked_steps(session, workflow.org_id, body.steps)
    for key, value in changes.items():
        setattr(workflow, key, value)
    await session.flush()
    await session.refresh(workflow)
    out = AutomationWorkflowOut.model_validate(workflow)
    audit(session, principal, "automation_workflow.update", "automation_workflow", workflow.id, workflow.org_id,
          before=before, after=out)
    return out


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    workflow = await get_or_404(session, principal, AutomationWorkflow, workflow_id, MANAGE, "automation workflow")
    bound = await session.scalar(select(func.count()).where(ComplianceCheck.workflow_id == workflow.id))
    if bound:
        raise Conflict(f"the workflow is bound to {bound} check(s); unbind them first")
    before = AutomationWorkflowOut.model_validate(workflow)
    await session.delete(workflow)
    await session.flush()
    audit(session, principal, "automation_workflow.delete", "automation_workflow", workflow.id, workflow.org_id,
          before=before)
