"""Template export to, and import from, the portability document (domain.portability)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from api.audit import audit
from api.deps import MANAGE, VIEW, CurrentUser, SessionDep, SettingsDep
from api.errors import Conflict, Unprocessable
from api.schemas.templates import TemplateImport, TemplateOut
from api.template_access import load_template, template_checks, template_out
from domain import signing
from domain.portability import CHECK_FIELDS, TEMPLATE_FIELDS, build_document, validate_document
from models import AutomationWorkflow, ComplianceCheck, ComplianceTemplate, Script

router = APIRouter()
keys_router = APIRouter(prefix="/compliance/portability", tags=["templates"])


def trusted_keys(settings) -> list:
    own = signing.installation_key(settings.jwt_secret).public_key()
    return [own, *signing.parse_public_keys(settings.portability_trusted_keys)]


@keys_router.get("/signing-key")
async def signing_key(principal: CurrentUser, settings: SettingsDep) -> dict[str, str]:
    """This installation's public key: what another installation lists in PORTABILITY_TRUSTED_KEYS to accept its
    exported templates."""
    public = signing.installation_key(settings.jwt_secret).public_key()
    return {"alg": signing.ALGORITHM, "key_id": signing.key_id(public), "public_key": signing.encode_public_key(public)}


@router.get("/{template_id}/export")
async def export_template(template_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                          settings: SettingsDep) -> dict[str, Any]:
    """The template's portability document, signed with this installation's key."""
    template = await load_template(session, principal, template_id, VIEW)
    checks = await template_checks(session, template.id)
    script_ids = {c.script_id for c in checks if c.script_id}
    workflow_ids = {c.workflow_id for c in checks if c.workflow_id}
    scripts = {s.id: s for s in await session.scalars(select(Script).where(Script.id.in_(script_ids)))}
    workflows = {w.id: w for w in await session.scalars(
        select(AutomationWorkflow).where(AutomationWorkflow.id.in_(workflow_ids))
    )}

    def plain_check(check: ComplianceCheck) -> dict[str, Any]:
        values = {field: getattr(check, field) for field in CHECK_FIELDS}
        script = scripts.get(check.script_id) if check.remediation_type == "script" else None
        workflow = workflows.get(check.workflow_id) if check.remediation_type == "workflow" else None
        values["script"] = {"name": script.name, "shell": script.shell, "body": script.body,
                            "sha256": script.sha256, "timeout_seconds": script.timeout_seconds} if script else None
        values["workflow"] = {"name": workflow.name} if workflow else None
        return values

    document = build_document({field: getattr(template, field) for field in TEMPLATE_FIELDS},
                              [plain_check(c) for c in checks])
    return signing.sign(document, signing.installation_key(settings.jwt_secret))


async def resolve_script(session, org_id: uuid.UUID, portable: dict[str, Any]) -> Script:
    """The org's own script with this name and content, else a system one, else a new org script; a name already
    used by different content gets the content's short hash appended."""
    name, sha256 = portable["name"], portable["sha256"]
    same = await session.scalar(
        select(Script).where(Script.name == name, Script.sha256 == sha256,
                             (Script.org_id == org_id) | Script.org_id.is_(None))
        .order_by(Script.org_id.is_(None))
    )
    if same is not None:
        return same
    for candidate in (name, f"{name} ({sha256[:8]})"[-200:]):
        clash = await session.scalar(select(Script).where(Script.org_id == org_id, Script.name == candidate))
        if clash is not None and clash.sha256 == sha256:
            return clash
        if clash is None:
            script = Script(org_id=org_id, name=candidate, shell=portable["shell"], body=portable["body"],
                            sha256=sha256, timeout_seconds=portable["timeout_seconds"],
                            description="Imported with a compliance template.")
            session.add(script)
            await session.flush()
            return script
    raise Conflict(f"scripts named {name!r} with different content already exist in the organization")


def document_errors(problems: list[str]) -> list[dict]:
    """`location: message` lines in the same shape as every other 422 (`loc`, `msg`, `type`)."""
    errors = []
    for problem in problems:
        location, _, message = problem.partition(": ")
        errors.append({"loc": ["body", "document", *location.split(".")], "msg": message or location,
                       "type": "invalid_document"})
    return errors


@router.post("/import", response_model=TemplateOut, status_code=201)
async def import_template(body: TemplateImport, principal: CurrentUser, session: SessionDep, settings: SettingsDep):
    """Always a new custom draft (version 1, new lineage) in `org_id`; every problem of the document is a 422."""
    principal.require(body.org_id, MANAGE, "organization")
    document = body.document
    if isinstance(checks := document.get("checks"), list) and len(checks) > settings.max_checks_per_template:
        raise Unprocessable(document_errors([f"checks: at most {settings.max_checks_per_template} checks"]))
    if problems := validate_document(document):
        raise Unprocessable(document_errors(problems))
    if problem := signing.signature_problem(document, trusted_keys(settings)):
        raise Unprocessable(document_errors([f"signature: {problem}"]))
    workflow_names = {c["workflow"]["name"] for c in document["checks"] if c["workflow"]}
    workflows = dict((await session.execute(
        select(AutomationWorkflow.name, AutomationWorkflow.id)
        .where(AutomationWorkflow.org_id == body.org_id, AutomationWorkflow.name.in_(workflow_names))
    )).all())
    if missing := sorted(workflow_names - set(workflows)):
        raise Unprocessable(document_errors(
            [f"checks: no automation workflow named {name!r} in the organization" for name in missing]))

    meta = document["template"]
    template = ComplianceTemplate(
        org_id=body.org_id, name=meta["name"], description=meta["description"], os_type=meta["os_type"],
        framework=meta["framework"], level=meta["level"], version=1, status="draft", is_system=False,
        scan_interval_hours=meta["scan_interval_hours"], lineage_id=uuid.uuid4(),
    )
    session.add(template)
    await session.flush()
    for position, portable in enumerate(document["checks"]):
        script = await resolve_script(session, body.org_id, portable["script"]) if portable["script"] else None
        workflow_id = workflows[portable["workflow"]["name"]] if portable["workflow"] else None
        session.add(ComplianceCheck(
            template_id=template.id, position=position, script_id=script.id if script else None,
            workflow_id=workflow_id, **{field: portable[field] for field in CHECK_FIELDS},
        ))
    await session.flush()
    out = await template_out(session, template)
    audit(session, principal, "template.import", "template", template.id, template.org_id,
          after=out.model_dump(mode="json", exclude={"checks"}) | {"digest": document["digest"]})
    return out
