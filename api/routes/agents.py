"""The agent gateway: enrollment, heartbeats, job long-polling and results (which complete Temporal activities)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy import select, text, update

from api.audit import audit
from api.compliance_results import plain_compliance_result
from api.deps import gateway_transaction, short_transaction
from api.errors import NotFound, Unauthorized, Unprocessable
from api.job_notifier import AgentIdentity
from api.job_payloads import json_list, template_checks
from api.schemas.agents import (
    ComplianceResultIn,
    EnrollRequest,
    EnrollResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    JobOut,
    RemediationResultIn,
    ResultAck,
)
from api.schemas.patching import PatchInstallResultIn
from api.schemas.vulnerabilities import InventoryResultIn
from api.security import new_secret, secret_digest
from models import Agent, Host
from observability.http_metrics import note_jobs_handed_out
from services import enrollment

log = logging.getLogger(__name__)
router = APIRouter(prefix="/agent", tags=["agents"])
bearer = HTTPBearer(auto_error=False)
# The longest long poll: a waiting poll costs no connection and no query, only its HTTP request, so an idle fleet
# costs what its request rate does (the reference agent waits 55 s).
MAX_WAIT_SECONDS = 120


async def current_agent(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> AgentIdentity:
    """The agent behind the bearer token: from the process's short-lived cache, else from the database."""
    if credentials is None:
        raise Unauthorized("agent token required")
    token_hash = secret_digest(credentials.credentials)
    notifier = request.app.state.job_notifier
    if (cached := notifier.credentials.get(token_hash)) is not None:
        notifier.liveness.seen(cached)
        return cached
    async with request.app.state.job_notifier.looks, gateway_transaction(request) as session:
        row = (await session.execute(
            select(Agent.id, Agent.host_id, Host.org_id, Agent.approved_at).join(Host, Host.id == Agent.host_id)
            .where(Agent.token_hash == token_hash, Agent.revoked_at.is_(None))
        )).first()
    if row is None:
        raise Unauthorized("invalid agent token")
    if row.approved_at is None:
        raise Unauthorized("this agent waits for an organization administrator to approve it")
    identity = AgentIdentity(row.id, row.host_id, row.org_id)
    notifier.credentials.put(token_hash, identity)
    notifier.liveness.seen(identity)
    return identity


AgentDep = Annotated[AgentIdentity, Depends(current_agent)]


@router.post("/enroll", response_model=EnrollResponse, status_code=201,
             responses={202: {"model": EnrollResponse, "description": "the hostname already has an agent: this one "
                                                                      "waits for an administrator's approval"}})
async def enroll(body: EnrollRequest, request: Request, response: Response) -> EnrollResponse:
    now = datetime.now(UTC)
    secret = new_secret("agt")
    async with short_transaction(request) as session:
        org_id = await enrollment.use_token(session, secret_digest(body.enrollment_token), now)
        if org_id is None:
            raise Unauthorized("invalid, expired or used-up enrollment token")
        facts = {"ip_address": body.ip_address, "os_name": body.os_name, "os_version": body.os_version}
        enrolled = await enrollment.enroll(session, org_id, secret_digest(secret), body.hostname, body.os_type,
                                           facts, body.agent_version, now)
        host, agent = enrolled.host, enrolled.agent
        audit(session, None, "agent.enroll" if enrolled.new_host else "agent.enroll_pending", "host", host.id,
              org_id, actor_type="agent", actor_name=body.hostname,
              after={"hostname": host.hostname, "os_type": host.os_type, "ip_address": body.ip_address,
                     "new_host": enrolled.new_host, "agent_id": str(agent.id), "status": enrolled.status})
    if enrolled.new_host:
        request.app.state.job_notifier.credentials.put(secret_digest(secret), AgentIdentity(agent.id, host.id, org_id))
    else:
        response.status_code = 202
    return EnrollResponse(agent_id=agent.id, host_id=host.id, agent_token=secret, status=enrolled.status)


@router.post("/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(agent: AgentDep, request: Request, body: HeartbeatRequest | None = None) -> HeartbeatResponse:
    now = datetime.now(UTC)
    facts = body.model_dump(exclude_none=True) if body else {}
    version = {"version": facts.pop("agent_version")} if "agent_version" in facts else {}
    async with request.app.state.job_notifier.stores, gateway_transaction(request) as session:
        await session.execute(update(Host).where(Host.id == agent.host_id).values(last_seen=now, **facts))
        await session.execute(update(Agent).where(Agent.id == agent.agent_id).values(last_seen=now, **version))
    return HeartbeatResponse(host_id=agent.host_id, last_seen=now)


RELOOK_SECONDS = 0.05
# Agents allow a long poll `wait` + 30 s (agent.api_client); a claim starting later than this may not be read.
CLAIM_GRACE_SECONDS = 10


async def _next_jobs(request: Request, host_id: uuid.UUID, wait: int, started: float) -> list[bytes]:
    """The long poll: claim this host's jobs, unless the listener vouches nothing is new since the host's last
    empty look; then wait without a database connection until about `wait` seconds after the request `started`
    (time.monotonic()), and look again only when the listener says this host got a job. Counting from the
    request's start keeps a result post that queued behind others within the time its agent allows it."""
    notifier = request.app.state.job_notifier
    # A little jitter keeps a fleet that started together (a restart) from polling in one burst forever after.
    deadline = started + wait * random.uniform(0.9, 1.0)
    with notifier.news_for(host_id) as news:
        look = notifier.must_look(host_id)
        while True:
            if look:
                news.clear()
                looked_at = time.monotonic()
                # Polls woken together claim together (api.job_claims). One whose turn comes after its agent may
                # have given up on the request claims nothing: jobs claimed for it would sit "delivered" to
                # nobody until redelivered minutes later; left pending, the agent's next poll takes them.
                claimed = await request.app.state.job_claims.claim(host_id, started + wait + CLAIM_GRACE_SECONDS)
                if claimed is None:
                    return []
                if claimed.busy:
                    # Held by another transaction (the worker registering its activity's task token) for a
                    # moment: look again shortly rather than wait for an announcement that already came.
                    await asyncio.sleep(RELOOK_SECONDS)
                    if time.monotonic() < deadline:
                        continue
                    return []
                if claimed.complete:
                    # Everything claimable when the look began is in hand: like an empty look, the host need not
                    # look again until an announcement names it (a result post's next poll then costs no query).
                    notifier.found_nothing(host_id, looked_at)
                if claimed.jobs:
                    note_jobs_handed_out(request, len(claimed.jobs))
                    return claimed.jobs
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(remaining):
                    await news.wait()
            except TimeoutError:
                return []  # nothing announced
            look = True


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@router.get("/jobs", response_model=list[JobOut])
async def poll_jobs(
    agent: AgentDep, request: Request, wait: Annotated[int, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0
) -> Response:
    # Answered as ready JSON (JobOut's shape): the checks of a template are encoded once per process.
    return _json(json_list(await _next_jobs(request, agent.host_id, wait, time.monotonic())))


RESULT_MODELS = {"compliance_check": ComplianceResultIn, "inventory": InventoryResultIn,
                 "patch_install": PatchInstallResultIn}


def _parse_result(kind: str, raw: dict) -> dict:
    model = RESULT_MODELS.get(kind, RemediationResultIn)
    try:
        return model.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        raise Unprocessable([{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                             for err in exc.errors()]) from exc


def _check_ids_match(expected: frozenset[str], result: dict) -> None:
    seen: set[str] = set()
    problems = []
    for index, item in enumerate(result["results"]):
        if item["check_id"] not in expected:
            problems.append({"loc": ["body", "results", index, "check_id"], "msg": "not a check of this job",
                             "type": "unknown_check"})
        elif item["check_id"] in seen:
            problems.append({"loc": ["body", "results", index, "check_id"], "msg": "duplicate result",
                             "type": "duplicate"})
        seen.add(item["check_id"])
    if problems:
        raise Unprocessable(problems)


@router.post("/jobs/{job_id}/result", response_model=ResultAck, response_model_exclude_none=True)
async def post_result(
    job_id: uuid.UUID, agent: AgentDep, request: Request, body: Annotated[dict, Body()],
    wait: Annotated[int | None, Query(ge=0, le=MAX_WAIT_SECONDS, description=(
        "also poll for the next jobs, as GET /agent/jobs?wait= does: they come back in `next_jobs`, so a busy "
        "agent needs one request per job"))] = None,
) -> Response:
    started = time.monotonic()
    status = await _store_result(job_id, agent, request, body)
    ack = b'{"job_id":"%s","status":"%s"' % (str(job_id).encode(), status.encode())
    if wait is not None:
        ack += b',"next_jobs":' + json_list(await _next_jobs(request, agent.host_id, wait, started))
    return _json(ack + b"}")


_LOCK_JOB = text("SELECT host_id, kind, status, payload, task_token FROM agent_jobs WHERE id = :id FOR UPDATE")
_LATE = text("""UPDATE agent_jobs SET result = CAST(:result AS json), late = true, completed_at = :now,
                updated_at = :now WHERE id = :id""")
_COMPLETED = text("""UPDATE agent_jobs SET result = CAST(:result AS json), status = 'completed', completed_at = :now,
                     completion_pending = :pending, updated_at = :now WHERE id = :id""")


async def _store_result(job_id: uuid.UUID, agent: AgentIdentity, request: Request, body: dict) -> str:
    """Store an agent's result on its job: `accepted`, `duplicate` (already completed) or `late` (the wait for
    it ended first; kept, marked late). An accepted result completes the waiting Temporal activity."""
    now = datetime.now(UTC)
    async with request.app.state.job_notifier.stores, gateway_transaction(request) as session:
        job = (await session.execute(_LOCK_JOB, {"id": job_id})).first()
        if job is None or job.host_id != agent.host_id:
            raise NotFound("job")
        if job.kind == "compliance_check":
            checks = await template_checks(request.app, session, uuid.UUID(job.payload["template_id"]))
            result = plain_compliance_result(body, checks.check_ids)
            if result is None:  # not plainly valid: the model says what is wrong, or normalizes it
                result = _parse_result(job.kind, body)
                _check_ids_match(checks.check_ids, result)
        else:
            result = _parse_result(job.kind, body)
        if job.status == "completed":
            return "duplicate"
        values = {"id": job_id, "now": now, "result": orjson.dumps(result).decode()}
        if job.status in ("timed_out", "cancelled"):
            await session.execute(_LATE, values)
            return "late"
        await session.execute(_COMPLETED, values | {"pending": job.task_token is not None})
    if job.task_token is not None:
        await _complete_activity(request, job_id, job.task_token)
    return "accepted"


async def _complete_activity(request: Request, job_id: uuid.UUID, token: bytes) -> None:
    """The result is already stored; if Temporal cannot be told now, the scan cycle's sweep tells it later."""
    try:
        completed = await request.app.state.gateway.complete_agent_job(token, str(job_id))
    except Exception as exc:
        log.warning("completing job %s failed (%s); left for the sweep", job_id, exc)
        return
    late = not completed  # the activity already timed out: the result is kept, marked late
    async with request.app.state.job_notifier.stores, gateway_transaction(request) as session:
        await session.execute(text(
            "UPDATE agent_jobs SET completion_pending = false, late = late OR :late WHERE id = :id"
        ), {"id": job_id, "late": late})
