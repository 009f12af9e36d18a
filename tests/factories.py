"""Test data builders that write straight to the database, and login helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from models import Host, Membership, Organization, User

PASSWORD = "correct-horse-battery"
# A real argon2id hash, at the lowest cost: a login verifies with the parameters stored in the hash, so the
# hundreds of logins of the suite take milliseconds instead of a fifth of a core-second each. The API's own
# hashes (new users, password changes) keep the production cost; tests that need it set it (test_login_throttle).
_password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def _hash() -> str:
    return _password_hash


async def make_org(db: AsyncSession, name: str | None = None) -> Organization:
    org = Organization(name=name or f"org-{uuid.uuid4().hex[:8]}")
    db.add(org)
    await db.flush()
    return org


async def make_user(db: AsyncSession, *, org: Organization | None = None, role: str = "operator",
                    is_admin: bool = False, username: str | None = None) -> User:
    user = User(username=username or f"user-{uuid.uuid4().hex[:8]}", password_hash=_hash(), is_admin=is_admin)
    db.add(user)
    await db.flush()
    if org is not None:
        db.add(Membership(user_id=user.id, org_id=org.id, role=role))
        await db.flush()
    return user


async def make_host(db: AsyncSession, org: Organization, *, hostname: str | None = None, os_type: str = "linux",
                    ip: str | None = None, online: bool = True) -> Host:
    host = Host(org_id=org.id, hostname=hostname or f"host-{uuid.uuid4().hex[:8]}", os_type=os_type,
                ip_address=ip or "10.0.0.1", last_seen=datetime.now(UTC) if online else None)
    db.add(host)
    await db.flush()
    return host


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
