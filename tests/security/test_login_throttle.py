"""Row 9: logins are throttled per username and per address with 429 + Retry-After, failures are audited, and a
flood of bad logins no longer stalls other requests (argon2 runs off the event loop)."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
from sqlalchemy import func, select

from api.security import hash_password
from models import AuditEntry
from tests.factories import PASSWORD, make_user

TOKEN_URL = "/api/v1/auth/token"


async def audit_count(db, action: str, name: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    if name is not None:
        query = query.where(AuditEntry.actor_name == name)
    return await db.scalar(query)


async def test_sixty_wrong_passwords_in_ten_seconds_are_throttled_and_audited(client, db):
    user = await make_user(db)
    await db.commit()
    started = time.monotonic()
    answers = [await client.post(TOKEN_URL, data={"username": user.username, "password": f"wrong-{i}"})
               for i in range(60)]
    assert time.monotonic() - started < 10
    statuses = [a.status_code for a in answers]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429] * 50
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/json")
    assert "too many failed logins" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    # While the username is locked even the right password is refused, so guessing gains nothing.
    assert (await client.post(TOKEN_URL, data={"username": user.username, "password": PASSWORD})).status_code == 429
    assert await audit_count(db, "auth.login_failed", user.username) == 10
    assert await audit_count(db, "auth.login_throttled", user.username) == 1
    failed = await db.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login_failed"))
    assert failed.after == {"client_address": "127.0.0.1", "reason": "wrong password"}
    assert failed.target_id == str(user.id) and failed.actor_type == "anonymous"


async def test_guessing_across_many_usernames_is_throttled_per_address(app_factory, db):
    client = await app_factory(login_max_failures_per_address=8)
    statuses = [(await client.post(TOKEN_URL, data={"username": f"nobody-{i}", "password": "x"})).status_code
                for i in range(10)]
    assert statuses == [401] * 8 + [429] * 2
    assert await audit_count(db, "auth.login_failed") == 8


async def test_a_successful_login_clears_the_username_count(app_factory, db):
    client = await app_factory(login_max_failures_per_user=4)
    user = await make_user(db)
    await db.commit()
    for _ in range(3):
        assert (await client.post(TOKEN_URL, data={"username": user.username, "password": "no"})).status_code == 401
    assert (await client.post(TOKEN_URL, data={"username": user.username, "password": PASSWORD})).status_code == 200
    # Without the reset the fifth attempt in the window would already be refused.
    for _ in range(3):
        assert (await client.post(TOKEN_URL, data={"username": user.username, "password": "no"})).status_code == 401


FLOOD = 80  # argon2 hashes, about 0.2 s of a core each: enough to keep both cores busy for many seconds


@pytest.mark.slow
async def test_healthz_stays_fast_while_a_flood_of_bad_logins_runs(app_factory, db):
    # Limits raised so that every one of the logins is really hashed: the event loop must stay free anyway.
    client = await app_factory(login_max_failures_per_user=1000, login_max_failures_per_address=1000)
    user = await make_user(db)
    user.password_hash = hash_password(PASSWORD)  # the production cost: each bad login is a real argon2 hash
    await db.commit()
    latencies: list[float] = []
    flooding = True

    async def probe() -> None:
        while flooding:
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    flood_started = time.perf_counter()
    answers = await asyncio.gather(*[client.post(TOKEN_URL, data={"username": user.username, "password": f"no-{i}"})
                                     for i in range(FLOOD)])
    flood_seconds = time.perf_counter() - flood_started
    flooding = False
    await prober
    assert [a.status_code for a in answers] == [401] * FLOOD
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(f"\n{FLOOD} bad logins in {flood_seconds:.1f}s; /healthz during the flood: {len(latencies)} probes, "
          f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert len(latencies) >= 20
    assert p99 < 0.2
