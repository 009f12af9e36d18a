"""Row 13: password changes and deactivation end existing tokens; a deactivation API; NIST 800-63B passwords."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from models import AuditEntry, User
from tests.factories import PASSWORD, login, make_user

ROOT = Path(__file__).resolve().parents[2]
ME = "/api/v1/auth/me"


async def test_cli_set_password_ends_the_old_token(client, db, db_url):
    user = await make_user(db)
    await db.commit()
    old = await login(client, user.username)
    assert (await client.get(ME, headers=old)).status_code == 200

    env = {**os.environ, "DATABASE_URL": db_url, "COMPLIANCE_NEW_PASSWORD": "  a new, long passphrase "}
    done = subprocess.run([sys.executable, "-m", "api.cli", "set-password", user.username], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    assert (await client.get(ME, headers=old)).status_code == 401
    # Taken as typed: the surrounding spaces are part of the new password.
    assert (await client.post("/api/v1/auth/token", data={"username": user.username,
                                                          "password": "a new, long passphrase"})).status_code == 401
    fresh = await login(client, user.username, "  a new, long passphrase ")
    assert (await client.get(ME, headers=fresh)).status_code == 200


async def test_cli_set_password_refuses_a_common_password(db, db_url):
    user = await make_user(db)
    await db.commit()
    env = {**os.environ, "DATABASE_URL": db_url, "COMPLIANCE_NEW_PASSWORD": "Password1234"}
    done = subprocess.run([sys.executable, "-m", "api.cli", "set-password", user.username], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "commonly used" in done.stderr


async def test_changing_ones_own_password_ends_older_tokens_and_returns_a_new_one(client, db):
    user = await make_user(db)
    await db.commit()
    old = await login(client, user.username)
    changed = await client.post("/api/v1/auth/password", headers=old,
                                json={"current_password": PASSWORD, "new_password": "violet otter on a bicycle"})
    assert changed.status_code == 200, changed.text
    assert (await client.get(ME, headers=old)).status_code == 401
    new = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await client.get(ME, headers=new)).status_code == 200
    assert await db.scalar(select(AuditEntry.action).where(AuditEntry.target_id == str(user.id))) == \
        "user.password_change"


async def test_a_password_change_needs_the_current_password_and_a_policy_conformant_new_one(client, db):
    user = await make_user(db)
    await db.commit()
    headers = await login(client, user.username)
    wrong = await client.post("/api/v1/auth/password", headers=headers,
                              json={"current_password": "not-it-at-all", "new_password": "violet otter on a bicycle"})
    assert wrong.status_code == 401
    weak = await client.post("/api/v1/auth/password", headers=headers,
                             json={"current_password": PASSWORD, "new_password": "qwertyuiop123"})
    assert weak.status_code == 422 and "commonly used" in weak.json()["detail"][0]["msg"]
    assert (await client.get(ME, headers=headers)).status_code == 200


async def test_deactivating_a_user_ends_their_tokens_and_logins_and_is_audited(client, db):
    admin = await make_user(db, is_admin=True)
    user = await make_user(db)
    await db.commit()
    admin_headers = await login(client, admin.username)
    user_headers = await login(client, user.username)

    deactivated = await client.post(f"/api/v1/users/{user.id}/deactivate", headers=admin_headers)
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    assert (await client.get(ME, headers=user_headers)).status_code == 401
    refused = await client.post("/api/v1/auth/token", data={"username": user.username, "password": PASSWORD})
    assert refused.status_code == 401
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivate"))
    assert entry.actor_id == admin.id and entry.target_id == str(user.id)

    reactivated = await client.post(f"/api/v1/users/{user.id}/reactivate", headers=admin_headers)
    assert reactivated.status_code == 200 and reactivated.json()["is_active"] is True
    assert (await client.get(ME, headers=user_headers)).status_code == 401  # revoked tokens stay revoked
    assert (await client.get(ME, headers=await login(client, user.username))).status_code == 200


async def test_only_platform_admins_deactivate_and_never_themselves(client, db):
    admin = await make_user(db, is_admin=True)
    user = await make_user(db)
    await db.commit()
    user_headers = await login(client, user.username)
    assert (await client.post(f"/api/v1/users/{admin.id}/deactivate", headers=user_headers)).status_code == 404
    admin_headers = await login(client, admin.username)
    selfish = await client.post(f"/api/v1/users/{admin.id}/deactivate", headers=admin_headers)
    assert selfish.status_code == 400 and "yourself" in selfish.json()["detail"]
    missing = await client.post("/api/v1/users/00000000-0000-0000-0000-000000000000/deactivate", headers=admin_headers)
    assert missing.status_code == 404
    await db.refresh(admin)
    assert admin.is_active


async def test_new_users_get_the_nist_password_policy_without_trimming(client, db):
    admin = await make_user(db, is_admin=True)
    await db.commit()
    headers = await login(client, admin.username)
    for password, problem in [("short-pass", "at least 12"), ("iloveyou2024!", "commonly used"),
                              ("newcomer.one", "not be the username")]:
        answer = await client.post("/api/v1/users", headers=headers,
                                   json={"username": "newcomer.one", "password": password})
        assert answer.status_code == 422 and problem in str(answer.json()["detail"])
    created = await client.post("/api/v1/users", headers=headers,
                                json={"username": "newcomer.one", "password": " tangerine skyline "})
    assert created.status_code == 201, created.text
    assert (await db.scalar(select(User.id).where(User.username == "newcomer.one"))) is not None
    await login(client, "newcomer.one", " tangerine skyline ")


async def test_cli_deactivate_ends_tokens_and_logins(client, db, db_url):
    user = await make_user(db)
    await db.commit()
    headers = await login(client, user.username)
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "api.cli", "deactivate", user.username], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (await client.get(ME, headers=headers)).status_code == 401
    assert (await client.post("/api/v1/auth/token", data={"username": user.username,
                                                          "password": PASSWORD})).status_code == 401
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivate"))
    assert entry.actor_type == "cli" and entry.target_id == str(user.id)
