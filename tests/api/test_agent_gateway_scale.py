"""The agent gateway's cost follows the work: idle long polls hold no database connection and wake only for their
own host's jobs, agent tokens are trusted from a short cache that still honours revocation, a result post can
carry the next poll, and overload answers 503 with Retry-After."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from psycopg import AsyncConnection
from sqlalchemy import event, select, update

from agent.api_client import AgentApi, Backoff, with_retries
from agent.fleet import HttpxHttp
from api.job_payloads import template_checks
from api.schemas.agents import JobOut
from models import Agent, AgentJob, Host
from models.db import libpq_url
from services.scans import notify_jobs
from tests.api.test_agent_gateway import enroll, open_check_job, org_with_token
from tests.factories import login, make_user
from tests.stack import eventually


def bearer(agent: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent['agent_token']}"}


class Checkouts:
    """Counts the pooled connections the app takes, and shows how many it holds."""

    def __init__(self, app):
        self.pool = app.state.engine.sync_engine.pool
        self.count = 0
        event.listen(self.pool, "checkout", self._seen)

    def _seen(self, *_) -> None:
        self.count += 1

    @property
    def held(self) -> int:
        return self.pool.checkedout()


async def waiting_polls(app, count: int) -> None:
    notifier = app.state.job_notifier
    await notifier.listening.wait()
    await eventually(lambda: _true(notifier.waiting >= count), timeout=10, interval=0.02)


async def _true(value: bool) -> bool:
    return value


async def give_job(db, org, host_id: str, like: AgentJob | None = None) -> AgentJob:
    """Open a job for the host (a check job, or another like `like`) and announce it, as opening a scan batch
    does."""
    if like is None:
        job, _ = await open_check_job(db, org, uuid.UUID(host_id))
    else:
        job = AgentJob(org_id=org.id, host_id=like.host_id, kind=like.kind, payload=like.payload)
        db.add(job)
    await notify_jobs(db, {uuid.UUID(host_id)})
    await db.commit()
    return job


async def test_an_idle_long_poll_holds_no_pooled_connection_and_issues_no_query(client, db):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "idle-01")
    checkouts = Checkouts(client.app)
    assert (await client.get("/api/v1/agent/jobs", params={"wait": 1}, headers=bearer(agent))).json() == []
    assert checkouts.count == 1  # the first look; the agent's credentials were cached when it enrolled

    # Nothing was announced for the host since: the next poll waits without a query, and ends without one.
    poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 2}, headers=bearer(agent)))
    await waiting_polls(client.app, 1)
    assert checkouts.held == 0
    assert (await poll).json() == []
    assert checkouts.count == 1

    poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 20}, headers=bearer(agent)))
    await waiting_polls(client.app, 1)
    job = await give_job(db, org, agent["host_id"])
    answer = await asyncio.wait_for(poll, 10)
    assert [j["id"] for j in answer.json()] == [str(job.id)]


async def test_a_job_nobody_announced_is_found_by_the_sweep(client, db, monkeypatch):
    monkeypatch.setattr("api.job_notifier.SWEEP_SECONDS", 0.5)
    await client.app.state.job_notifier.stop()
    client.app.state.job_notifier.start()
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "quiet")
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
    poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 20}, headers=bearer(agent)))
    await waiting_polls(client.app, 1)
    job, _ = await open_check_job(db, org, uuid.UUID(agent["host_id"]))  # written without a notification
    answer = await asyncio.wait_for(poll, 10)
    assert [j["id"] for j in answer.json()] == [str(job.id)]


async def test_only_the_host_that_got_a_job_is_woken(client, db):
    org, token = await org_with_token(client, db)
    busy = await enroll(client, token, "busy")
    idle = await enroll(client, token, "idle")
    busy_poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 20}, headers=bearer(busy)))
    idle_poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 4}, headers=bearer(idle)))
    await waiting_polls(client.app, 2)
    checkouts = Checkouts(client.app)

    job = await give_job(db, org, busy["host_id"])
    started = time.monotonic()
    assert [j["id"] for j in (await asyncio.wait_for(busy_poll, 10)).json()] == [str(job.id)]
    assert time.monotonic() - started < 3
    assert not idle_poll.done() and client.app.state.job_notifier.waiting == 1
    # The busy host's claim took connections; the idle host, never woken, ends its wait without one.
    after_wake = checkouts.count
    assert (await idle_poll).json() == []
    assert checkouts.count == after_wake


async def test_a_revoked_agent_is_refused_at_once_through_the_notification(client, db):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "leaving")
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(agent))).status_code == 200
    admin = await make_user(db, org=org, role="operator")
    await db.commit()
    await client.app.state.job_notifier.listening.wait()
    revoked = await client.post(f"/api/v1/orgs/{org.id}/agents/{agent['agent_id']}/revoke",
                                headers=await login(client, admin.username))
    assert revoked.status_code == 200, revoked.text

    async def refused():
        beat = await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(agent))
        return beat.status_code == 401

    await eventually(refused, timeout=2, interval=0.05)


async def test_a_cached_agent_needs_no_query_and_a_silent_revocation_lasts_at_most_the_ttl(app_factory, db):
    client = await app_factory(agent_credentials_cache_seconds=1.0)
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "cached")
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).status_code == 200
    checkouts = Checkouts(client.app)
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).status_code == 200
    assert checkouts.count == 0  # credentials from the cache, and nothing new announced for the host

    # Revoked behind the API's back (no notification): refused once the entry expires.
    await db.execute(update(Agent).where(Agent.id == uuid.UUID(agent["agent_id"])).values(revoked_at=Agent.created_at))
    await db.commit()
    started = time.monotonic()

    async def refused():
        return (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).status_code == 401

    await eventually(refused, timeout=3, interval=0.05)
    assert time.monotonic() - started < 1.5


async def test_an_exhausted_pool_answers_503_with_retry_after(app_factory, db):
    client = await app_factory(database_pool_size=1, database_pool_overflow=0, database_pool_timeout_seconds=0.2)
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "crowded")
    async with client.app.state.engine.connect() as held:
        await held.exec_driver_sql("SELECT 1")
        answer = await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(agent))
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) >= 1 and "detail" in answer.json()
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(agent))).status_code == 200


async def test_agents_wait_as_long_as_retry_after_says():
    answers = iter([httpx.Response(503, headers={"Retry-After": "0.3"}, json={"detail": "busy"}),
                    httpx.Response(200, json=[])])
    api = AgentApi("http://api", HttpxHttp(httpx.AsyncClient(transport=httpx.MockTransport(lambda _: next(answers)))),
                   "t")
    started = time.monotonic()
    assert await with_retries("poll", lambda: api.jobs(0), Backoff(first=0.01)) == []
    assert time.monotonic() - started >= 0.3


async def test_a_result_post_carries_the_next_poll(client, db):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "steady")
    first = await give_job(db, org, agent["host_id"])
    (delivered,) = (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json()
    result = {"results": [{"check_id": c["check_id"], "status": "pass"} for c in delivered["payload"]["checks"]]}

    posting = asyncio.create_task(client.post(f"/api/v1/agent/jobs/{first.id}/result", params={"wait": 20},
                                              json=result, headers=bearer(agent)))
    await waiting_polls(client.app, 1)
    second = await give_job(db, org, agent["host_id"], like=first)
    answer = await asyncio.wait_for(posting, 10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "accepted" and [j["id"] for j in body["next_jobs"]] == [str(second.id)]
    assert body["next_jobs"][0]["payload"]["checks"]

    # Without ?wait= the answer is as it always was.
    again = await client.post(f"/api/v1/agent/jobs/{first.id}/result", json=result, headers=bearer(agent))
    assert again.json() == {"job_id": str(first.id), "status": "duplicate"}


async def restart_notifier(app, monkeypatch, sweep_seconds: float) -> None:
    monkeypatch.setattr("api.job_notifier.SWEEP_SECONDS", sweep_seconds)
    await app.state.job_notifier.stop()
    app.state.job_notifier.start()
    await app.state.job_notifier.listening.wait()


async def test_polls_alone_keep_a_host_seen_written_for_all_at_once_by_the_sweep(client, db, monkeypatch):
    await restart_notifier(client.app, monkeypatch, 0.3)
    org, token = await org_with_token(client, db)
    agents = [await enroll(client, token, f"alive-{n}") for n in range(3)]
    host_ids = [uuid.UUID(a["host_id"]) for a in agents]
    await db.execute(update(Host).where(Host.id.in_(host_ids)).values(last_seen=None))
    await db.execute(update(Agent).where(Agent.host_id.in_(host_ids)).values(last_seen=None))
    await db.commit()
    checkouts = Checkouts(client.app)
    for agent in agents[:2]:  # two agents poll, find nothing, and send no heartbeat
        assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
    looks = checkouts.count

    async def written():
        db.expire_all()
        hosts = {h.id: h.last_seen for h in await db.scalars(select(Host).where(Host.id.in_(host_ids)))}
        return hosts[host_ids[0]] is not None and hosts[host_ids[1]] is not None

    await eventually(written, timeout=5, interval=0.1)
    seen = {a.host_id: a.last_seen for a in await db.scalars(select(Agent).where(Agent.host_id.in_(host_ids)))}
    assert seen[host_ids[0]] and seen[host_ids[1]] and seen[host_ids[2]] is None  # the silent one was not seen
    assert checkouts.count == looks  # written by the listener's own connection, not per request


async def test_cached_credentials_are_renewed_by_the_sweep_and_a_silent_revocation_ends_within_one(
        app_factory, db, monkeypatch):
    monkeypatch.setattr("api.job_notifier.SWEEP_SECONDS", 0.3)
    client = await app_factory(agent_credentials_cache_seconds=1.0)
    org, token = await org_with_token(client, db)
    staying, leaving = await enroll(client, token, "staying"), await enroll(client, token, "leaving-quietly")
    for agent in (staying, leaving):
        assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).status_code == 200
    await asyncio.sleep(2.0)  # twice the time limit: only the sweep's renewals keep the entries
    checkouts = Checkouts(client.app)
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(staying))).status_code == 200
    assert checkouts.count == 0  # still trusted from the cache, renewed in bulk

    await db.execute(update(Agent).where(Agent.id == uuid.UUID(leaving["agent_id"])).values(
        revoked_at=Agent.created_at))
    await db.commit()

    async def refused():
        return (await client.get("/api/v1/agent/jobs", headers=bearer(leaving))).status_code == 401

    await eventually(refused, timeout=2, interval=0.05)
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(staying))).status_code == 200


async def test_delivered_jobs_are_the_jobout_shape_and_results_with_nul_are_refused(client, db):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "shape")
    job = await give_job(db, org, agent["host_id"])
    answer = await client.get("/api/v1/agent/jobs", headers=bearer(agent))
    assert answer.headers["content-type"] == "application/json"
    (delivered,) = answer.json()
    checks = await template_checks(client.app, db, uuid.UUID(job.payload["template_id"]))
    expected = JobOut(id=job.id, kind=job.kind, payload={"scan_id": job.payload["scan_id"], "checks": checks.checks})
    assert delivered == expected.model_dump(mode="json")

    checks = [c["check_id"] for c in delivered["payload"]["checks"]]
    bad = {"results": [{"check_id": checks[0], "status": "fail", "actual": "a\x00b"}]}
    refused = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=bad, headers=bearer(agent))
    assert refused.status_code == 422 and "NUL" in refused.text
    stored = await db.scalar(select(AgentJob.status).where(AgentJob.id == job.id).execution_options(
        populate_existing=True))
    assert stored == "delivered"
    # The text "\u0000" (a backslash, then u0000) is not a NUL character.
    fine = {"results": [{"check_id": c, "status": "pass", "actual": "\\u0000"} for c in checks]}
    accepted = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=fine, headers=bearer(agent))
    assert accepted.json() == {"job_id": str(job.id), "status": "accepted"}


async def test_a_job_locked_at_the_claim_is_delivered_once_released_not_at_the_sweep(client, db, db_url):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "racing")
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
    poll = asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 20}, headers=bearer(agent)))
    await waiting_polls(client.app, 1)
    # The worker registering its activity's task token holds the job's row when the announcement wakes the poll.
    job, _ = await open_check_job(db, org, uuid.UUID(agent["host_id"]))  # not announced yet
    async with await AsyncConnection.connect(libpq_url(db_url)) as holder:
        await holder.execute("SELECT 1 FROM agent_jobs WHERE id = %s FOR UPDATE", [job.id])
        await notify_jobs(db, {uuid.UUID(agent["host_id"])})
        await db.commit()
        await asyncio.sleep(0.5)
        assert not poll.done()
    answer = await asyncio.wait_for(poll, 5)  # the sweep would take 30 s
    assert [j["id"] for j in answer.json()] == [str(job.id)]


async def test_a_poll_queued_past_its_agents_patience_claims_nothing_and_the_next_poll_gets_the_job(
        client, db, monkeypatch):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "patient")
    job = await give_job(db, org, agent["host_id"])
    # As if this poll had waited behind thousands of others for its turn to look, past what its agent allows.
    monkeypatch.setattr("api.routes.agents.CLAIM_GRACE_SECONDS", -3600)
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
    stored = await db.scalar(select(AgentJob.status).where(AgentJob.id == job.id).execution_options(
        populate_existing=True))
    assert stored == "pending"  # not handed to a request nobody reads
    monkeypatch.undo()
    assert [j["id"] for j in (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json()] == [str(job.id)]


class ClaimStatements:
    """Counts the claim statements the app runs (api.job_claims)."""

    def __init__(self, app):
        self.count = 0
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_) -> None:
        self.count += "WITH wanted AS" in statement


async def test_polls_woken_together_claim_in_one_statement_each_host_its_own_jobs(client, db):
    org, token = await org_with_token(client, db)
    agents = [await enroll(client, token, f"woken-{index:02d}") for index in range(8)]
    _, token = await org_with_token(client, db, org)
    agents += [await enroll(client, token, f"woken-{index:02d}") for index in range(8, 16)]
    _, token = await org_with_token(client, db, org)
    agents += [await enroll(client, token, f"woken-{index:02d}") for index in range(16, 24)]
    for agent in agents:  # the first look of each
        assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
    polls = [asyncio.create_task(client.get("/api/v1/agent/jobs", params={"wait": 20}, headers=bearer(agent)))
             for agent in agents]
    await waiting_polls(client.app, len(agents))
    statements = ClaimStatements(client.app)

    jobs = {agent["host_id"]: AgentJob(org_id=org.id, host_id=uuid.UUID(agent["host_id"]), kind="inventory",
                                       payload={"for": agent["host_id"]}) for agent in agents}
    db.add_all(jobs.values())
    await notify_jobs(db, {uuid.UUID(host_id) for host_id in jobs})
    await db.commit()

    answers = await asyncio.wait_for(asyncio.gather(*polls), 10)
    for agent, answer in zip(agents, answers, strict=True):
        job = jobs[agent["host_id"]]
        assert answer.json() == [{"id": str(job.id), "kind": "inventory", "payload": {"for": agent["host_id"]}}]
    # Woken in one announcement, the 24 polls shared their claims: at most one statement per concurrent batch
    # (and one more for a poll that queued while the first ran), not one per poll.
    assert 1 <= statements.count <= 3
    delivered = await db.scalars(select(AgentJob.status).where(AgentJob.id.in_([j.id for j in jobs.values()]))
                                 .execution_options(populate_existing=True))
    assert set(delivered) == {"delivered"}


async def test_a_claim_hands_out_at_most_its_limit_and_the_next_poll_takes_the_rest(client, db):
    org, token = await org_with_token(client, db)
    agent = await enroll(client, token, "backlog")
    host_id = uuid.UUID(agent["host_id"])
    db.add_all(AgentJob(org_id=org.id, host_id=host_id, kind="patch_install", payload={"n": n}) for n in range(25))
    await db.commit()
    first = (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json()
    second = (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json()
    assert len(first) == 20 and len(second) == 5
    assert sorted(job["payload"]["n"] for job in first + second) == list(range(25))
    assert (await client.get("/api/v1/agent/jobs", headers=bearer(agent))).json() == []
