"""Idempotent seeding: the demo organization, the admin user and the built-in system content."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import hash_password, new_secret, secret_digest
from domain.passwords import password_problem
from models import (
    AuditEntry,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceTemplate,
    EnrollmentToken,
    Membership,
    Organization,
    Script,
    User,
)

DEMO_ORG_NAME = "Demo Organization"
ADMIN_USERNAME = "admin"
DEMO_TEMPLATE_KEY = "cis-linux-l1"


@dataclass
class SeedReport:
    admin_created: bool = False
    admin_password: str | None = None
    demo_org_id: uuid.UUID | None = None
    templates_created: int = 0


async def seed_accounts(session: AsyncSession, admin_password: str | None) -> SeedReport:
    report = SeedReport()
    org = await session.scalar(select(Organization).where(Organization.name == DEMO_ORG_NAME))
    if org is None:
        org = Organization(name=DEMO_ORG_NAME)
        session.add(org)
        await session.flush()
        session.add(AuditEntry(org_id=org.id, actor_type="system", action="org.create",
                               target_type="organization", target_id=str(org.id), after={"name": org.name}))
    report.demo_org_id = org.id

    admin = await session.scalar(select(User).where(User.username == ADMIN_USERNAME))
    if admin is None:
        if admin_password and (problem := password_problem(admin_password, ADMIN_USERNAME)):
            raise ValueError(f"COMPLIANCE_ADMIN_PASSWORD: {problem}")
        password = admin_password or secrets.token_urlsafe(18)
        admin = User(username=ADMIN_USERNAME, is_admin=True, password_hash=hash_password(password))
        session.add(admin)
        await session.flush()
        session.add(AuditEntry(actor_type="system", action="user.create", target_type="user",
                               target_id=str(admin.id), after={"username": ADMIN_USERNAME, "is_admin": True}))
        report.admin_created = True
        report.admin_password = None if admin_password else password
    if await session.get(Membership, (admin.id, org.id)) is None:
        session.add(Membership(user_id=admin.id, org_id=org.id, role="admin"))
    return report


@dataclass
class ContentSeeded:
    templates_created: int = 0
    templates_updated: int = 0  # a new published version of a system template whose content changed
    scripts_updated: int = 0


async def seed_system_content(session: AsyncSession) -> ContentSeeded:
    """Bring the built-in scripts and system templates in the database up to the content shipped in `content/`.

    A new template is inserted as version 1. A template whose shipped checks differ from its latest version gets a
    new published version in the same lineage (policies on the latest version move to it; pinned ones stay); the
    older version keeps its checks but gives up the content key. A built-in script whose body changed is updated in
    place: a change approved earlier keeps the script it approved (by hash) in its change record.
    """
    from content.loader import load_builtin_content

    content = load_builtin_content()
    seeded = ContentSeeded()
    scripts = {s.content_key: s for s in await session.scalars(select(Script).where(Script.org_id.is_(None)))}
    for key, doc in content.scripts.items():
        digest = hashlib.sha256(doc.body.encode()).hexdigest()
        script = scripts.get(key)
        if script is None:
            script = Script(org_id=None, content_key=key, name=doc.name, description=doc.description or None,
                            shell=doc.shell, body=doc.body, sha256=digest, timeout_seconds=doc.timeout_seconds)
            session.add(script)
            scripts[key] = script
        elif (script.sha256, script.name, script.shell, script.timeout_seconds) != (
                digest, doc.name, doc.shell, doc.timeout_seconds):
            script.name, script.shell, script.body, script.sha256 = doc.name, doc.shell, doc.body, digest
            script.description, script.timeout_seconds = doc.description or None, doc.timeout_seconds
            seeded.scripts_updated += 1
    await session.flush()
    script_ids = {key: script.id for key, script in scripts.items()}

    current = {t.content_key: t for t in await session.scalars(
        select(ComplianceTemplate).where(ComplianceTemplate.is_system, ComplianceTemplate.content_key.is_not(None)))}
    for doc in content.templates:
        shipped = [check_from_doc(None, position, check, script_ids) for position, check in enumerate(doc.checks)]
        previous = current.get(doc.key)
        if previous is not None:
            stored = (await session.scalars(select(ComplianceCheck).where(
                ComplianceCheck.template_id == previous.id).order_by(ComplianceCheck.position))).all()
            if [check_fields(c) for c in stored] == [check_fields(c) for c in shipped]:
                continue
            previous.content_key = None
            await session.flush()
        template = ComplianceTemplate(
            org_id=None, content_key=doc.key, name=doc.name, description=doc.description or None,
            os_type=doc.os_type, framework=doc.framework, level=doc.level,
            version=previous.version + 1 if previous else 1, status="published", is_system=True,
            scan_interval_hours=doc.scan_interval_hours,
            lineage_id=previous.lineage_id if previous else uuid.uuid4(), published_at=datetime.now(UTC),
        )
        session.add(template)
        await session.flush()
        for check in shipped:
            check.template_id = template.id
        session.add_all(shipped)
        if previous is None:
            seeded.templates_created += 1
        else:
            seeded.templates_updated += 1
    await session.flush()
    return seeded


CHECK_FIELDS = ("rule_id", "title", "description", "severity", "rule", "enabled", "frameworks", "remediation_type",
                "remediation_instructions", "script_id", "remediation_requires_change", "position")


def check_fields(check: ComplianceCheck) -> tuple:
    return tuple(getattr(check, name) for name in CHECK_FIELDS)


def check_from_doc(template_id: uuid.UUID | None, position: int, doc, script_ids: dict[str, uuid.UUID],
                   ) -> ComplianceCheck:
    remediation = doc.remediation
    return ComplianceCheck(
        template_id=template_id, rule_id=doc.rule_id, title=doc.title, description=doc.rationale,
        severity=doc.severity, rule=doc.rule, enabled=True,
        frameworks=doc.frameworks.model_dump(), remediation_type=remediation.type,
        remediation_instructions=getattr(remediation, "instructions", None),
        script_id=script_ids[remediation.script] if remediation.type == "script" else None,
        remediation_requires_change=getattr(remediation, "requires_change", False), position=position,
    )


async def seed_demo(session: AsyncSession, org_id: uuid.UUID, data_dir: Path | None) -> None:
    """A Linux policy on CIS Level 1 Linux, and an enrollment token for the local agent of `make run`."""
    policy = await session.scalar(
        select(CompliancePolicy).where(CompliancePolicy.org_id == org_id, CompliancePolicy.os_type == "linux")
    )
    if policy is None:
        template_id = await session.scalar(
            select(ComplianceTemplate.id).where(ComplianceTemplate.content_key == DEMO_TEMPLATE_KEY,
                                                ComplianceTemplate.is_system)
        )
        if template_id is not None:
            session.add(CompliancePolicy(org_id=org_id, name="Linux baseline", os_type="linux",
                                         template_id=template_id))
    if data_dir is None or (data_dir / "agent" / "agent.json").exists():
        return
    secret = new_secret("enr")
    session.add(EnrollmentToken(org_id=org_id, token_hash=secret_digest(secret),
                                expires_at=datetime.now(UTC) + timedelta(days=1)))
    token_file = data_dir / "local-agent-enrollment.token"
    token_file.write_text(secret)
    token_file.chmod(0o600)


async def seed_all(session: AsyncSession, admin_password: str | None, data_dir: Path | None = None) -> SeedReport:
    report = await seed_accounts(session, admin_password)
    report.templates_created = (await seed_system_content(session)).templates_created
    await seed_demo(session, report.demo_org_id, data_dir)
    return report
