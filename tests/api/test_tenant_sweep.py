"""Tenant isolation sweep, generated from the app's route table (its OpenAPI paths).

Every route with a path id answers 404 to a member of another organization, and nothing changes.
New routes are covered automatically."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from models import (
    Agent,
    AgentJob,
    Alert,
    AutomationWorkflow,
    ChangeRecord,
    ComplianceException,
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    EnrollmentToken,
    HostGroup,
    Incident,
    PatchDeployment,
    PolicyHostOverride,
    Remediation,
    RingSet,
    Script,
    Webhook,
)
from tests.factories import login, make_host, make_org, make_user
from tests.stack import system_template_id

EXEMPT_PREFIXES = ("/api/v1/agent/", "/api/v1/auth/")
# Installation-wide administration (no organization owns a feed): refused with 403 to everyone but platform admins.
PLATFORM_ADMIN_PREFIXES = ("/api/v1/vulnerabilities/feeds/",)
TABLES = (
    "organizations",
    "memberships",
    "hosts",
    "host_groups",
    "host_group_members",
    "compliance_templates",
    "compliance_checks",
    "compliance_policies",
    "policy_host_overrides",
    "compliance_scans",
    "agent_jobs",
    "compliance_exceptions",
    "change_records",
    "remediations",
    "scripts",
    "automation_workflows",
    "webhooks",
    "enrollment_tokens",
    "alerts",
    "incidents",
    "audit_log",
    "vulnerability_policies",
    "ring_sets",
    "patch_deployments",
)


NAMED_VALUES = {
    "rule": {"type": "file_exists", "path": "/etc/passwd", "expect": "present"},
    "url": "https://hooks.example.com/compliance",
    "secret": "sweep-secret-0123456789",
}


def sample_value(name: str, schema: dict, ids: dict[str, str], components: dict):
    if name in NAMED_VALUES:
        return NAMED_VALUES[name]
    if "$ref" in schema:
        return sample_body(components[schema["$ref"].rsplit("/", 1)[1]], ids, components)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return sample_value(name, options[0], ids, components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if schema.get("format") == "uuid":
        return ids.get(name, str(uuid.uuid4()))
    if kind == "array":
        item = sample_value(name.removesuffix("s"), schema.get("items", {}), ids, components)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(schema.get("minimum", 1), 1) if "maximum" not in schema or schema["maximum"] >= 1 else 0
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "object":
        return sample_body(schema, ids, components)
    if schema.get("format") == "date-time":
        return "2099-01-01T00:00:00Z"
    return "sweep-value"


def sample_body(schema: dict, ids: dict[str, str], components: dict) -> dict:
    properties = schema.get("properties", {})
    return {name: sample_value(name, properties[name], ids, components) for name in schema.get("required", [])}


async def counts(db) -> dict[str, int]:
    return {t: await db.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}


async def test_every_id_route_is_404_for_another_org_and_changes_nothing(client, db):
    org_a, org_b = await make_org(db), await make_org(db)
    intruder = await make_user(db, org=org_a, role="admin")
    member_b = await make_user(db, org=org_b, role="operator")
    host_b = await make_host(db, org_b)
    group_b = HostGroup(org_id=org_b.id, name="b-group")
    db.add(group_b)
    template_id = await system_template_id(db)
    source = await db.get(ComplianceTemplate, template_id)
    custom_b = ComplianceTemplate(
        org_id=org_b.id,
        name="b-template",
        os_type="linux",
        framework="CIS",
        version=1,
        status="draft",
        is_system=False,
        scan_interval_hours=24,
        lineage_id=uuid.uuid4(),
    )
    db.add(custom_b)
    policy_b = CompliancePolicy(org_id=org_b.id, os_type="linux", template_id=source.id)
    db.add(policy_b)
    await db.flush()
    scan_b = ComplianceScan(
        org_id=org_b.id,
        host_id=host_b.id,
        policy_id=policy_b.id,
        template_id=source.id,
        template_version=1,
        scan_type="on_demand",
        status="completed",
        completed_at=datetime.now(UTC),
    )
    db.add(scan_b)
    await db.commit()
    check_b = await db.scalar(
        text("SELECT id FROM compliance_checks WHERE template_id = :t LIMIT 1"), {"t": template_id}
    )
    ids = {
        "org_id": str(org_b.id),
        "host_id": str(host_b.id),
        "group_id": str(group_b.id),
        "host_group_id": str(group_b.id),
        "template_id": str(custom_b.id),
        "policy_id": str(policy_b.id),
        "scan_id": str(scan_b.id),
        "check_id": str(check_b),
        "user_id": str(member_b.id),
    }
    ids |= await extra_org_b_ids(db, org_b, host_b, policy_b, scan_b, check_b, group_b, template_id)
    ids |= {"source": "nvd", "cve_id": "CVE-2024-3094"}  # not owned by an organization

    headers = await login(client, intruder.username)
    openapi = client.app.openapi()
    components = openapi.get("components", {}).get("schemas", {})
    before = await counts(db)
    checked = 0
    for route_path, operations in openapi["paths"].items():
        params = re.findall(r"{(\w+)}", route_path)
        if not params or not route_path.startswith("/api/v1/") or route_path.startswith(EXEMPT_PREFIXES):
            continue
        path = route_path
        for name in params:
            path = path.replace(f"{{{name}}}", ids.get(name, str(uuid.uuid4())))
        for method, operation in sorted(operations.items()):
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = sample_value("body", content["application/json"]["schema"], ids, components)
            response = await client.request(method.upper(), path, json=body, headers=headers)
            expected = 403 if route_path.startswith(PLATFORM_ADMIN_PREFIXES) else 404
            assert response.status_code == expected, (method, route_path, response.status_code, response.text)
            checked += 1
    assert checked >= 40
    unresolved = {name for path in openapi["paths"] for name in re.findall(r"{(\w+)}", path)} - set(ids)
    assert not unresolved, unresolved
    assert await counts(db) == before


async def extra_org_b_ids(db, org_b, host_b, policy_b, scan_b, check_id, group_b, template_id) -> dict[str, str]:
    """Org-B rows of every other resource type that a route can address by id."""
    script = Script(org_id=org_b.id, name="b-script", shell="bash", body="true", sha256="0" * 64, timeout_seconds=60)
    workflow = AutomationWorkflow(org_id=org_b.id, name="b-workflow", steps=[])
    exception = ComplianceException(org_id=org_b.id, rule_id="1.1.1.1", reason="b", status="pending_approval")
    webhook = Webhook(org_id=org_b.id, url="https://hooks.example.com/b", secret="b-secret-0123456789")
    incident = Incident(
        org_id=org_b.id,
        host_id=host_b.id,
        policy_id=policy_b.id,
        severity="warning",
        title="b",
        opened_by_scan_id=scan_b.id,
    )
    db.add_all([script, workflow, exception, webhook, incident])
    await db.flush()
    remediation = Remediation(
        org_id=org_b.id,
        host_id=host_b.id,
        policy_id=policy_b.id,
        scan_id=scan_b.id,
        check_id=check_id,
        rule_id="1.1.1.1",
        trigger="manual",
        status="pending_approval",
    )
    db.add(remediation)
    await db.flush()
    change = ChangeRecord(
        org_id=org_b.id,
        host_id=host_b.id,
        scan_id=scan_b.id,
        check_id=check_id,
        remediation_id=remediation.id,
        title="b change",
    )
    override = PolicyHostOverride(policy_id=policy_b.id, host_id=host_b.id, template_id=template_id)
    job = AgentJob(org_id=org_b.id, host_id=host_b.id, kind="compliance_check", payload={})
    agent = Agent(host_id=host_b.id, token_hash="b" * 64)  # waiting for approval: the most tempting target
    token = EnrollmentToken(org_id=org_b.id, token_hash="c" * 64, expires_at=datetime.now(UTC) + timedelta(hours=1))
    alert = Alert(org_id=org_b.id, host_id=host_b.id, policy_id=policy_b.id, scan_id=scan_b.id,
                  alert_type="compliance_score_regression", severity="warning", message="b", incident_id=incident.id)
    ring_set = RingSet(org_id=org_b.id, name="b-rings", rings=[{"name": "all", "host_group_id": None}])
    db.add_all([change, override, job, agent, token, alert, ring_set])
    await db.flush()
    deployment_id = uuid.uuid4()
    deployment = PatchDeployment(id=deployment_id, org_id=org_b.id, status="running", automatic=True,
                                 ring_set_id=ring_set.id, ring_set_name=ring_set.name, rings=ring_set.rings,
                                 workflow_id=f"patch-deployment-{deployment_id}")
    db.add(deployment)
    await db.commit()
    return {
        "script_id": str(script.id),
        "workflow_id": str(workflow.id),
        "exception_id": str(exception.id),
        "webhook_id": str(webhook.id),
        "incident_id": str(incident.id),
        "alert_id": str(alert.id),
        "remediation_id": str(remediation.id),
        "change_id": str(change.id),
        "override_id": str(override.id),
        "job_id": str(job.id),
        "agent_id": str(agent.id),
        "token_id": str(token.id),
        "ring_set_id": str(ring_set.id),
        "deployment_id": str(deployment.id),
    }
