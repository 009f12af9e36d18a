"""Idempotent seeding: the demo organization, the admin user and the built-in system content."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import hash_password
from models import AuditEntry, Membership, Organization, User

DEMO_ORG_NAME = "Demo Organization"
ADMIN_USERNAME = "admin"


@dataclass
class SeedReport:
    admin_created: bool = False
    admin_password: str | None = None
    demo_org_id: object = None
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
        password = admin_password or secrets.token_urlsafe(12)
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
