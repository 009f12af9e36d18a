"""Enrollment tokens and agent credentials of an organization: issue, list and revoke tokens; list agents,
approve a host handover to a waiting agent, revoke an agent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit
from api.deps import (
    MANAGE,
    ORG_ADMIN,
    VIEW,
    AfterCommit,
    AfterCommitDep,
    CurrentUser,
    Page,
    Principal,
    SessionDep,
    SettingsDep,
    get_or_404,
    paginate,
)
from api.errors import Forbidden, NotFound
from api.job_notifier import announce_credentials_changed
from api.schemas.accounts import EnrollmentTokenCreate, EnrollmentTokenOut, EnrollmentTokenSummary
from api.schemas.agents import AgentOut
from api.security import new_secret, secret_digest
from models import Agent, EnrollmentToken, Host, Organization
from services import enrollment

router = APIRouter(prefix="/orgs/{org_id}", tags=["enrollment"])


def agent_out(agent: Agent, hostname: str) -> AgentOut:
    return AgentOut(id=agent.id, host_id=agent.host_id, hostname=hostname, status=enrollment.agent_status(agent),
                    version=agent.version, created_at=agent.created_at, last_seen=agent.last_seen,
                    approved_at=agent.approved_at, revoked_at=agent.revoked_at)


async def org_agent(session, principal: Principal, org_id: uuid.UUID, agent_id: uuid.UUID,
                    permission: str) -> tuple[Agent, str]:
    await get_or_404(session, principal, Organization, org_id, permission, "organization")
    row = (await session.execute(
        select(Agent, Host.hostname).join(Host, Host.id == Agent.host_id)
        .where(Agent.id == agent_id, Host.org_id == org_id).with_for_update(of=Agent))).first()
    if row is None:
        raise NotFound("agent")
    return row[0], row[1]


@router.post("/enrollment-tokens", response_model=EnrollmentTokenOut, status_code=201)
async def create_enrollment_token(
    org_id: uuid.UUID, body: EnrollmentTokenCreate, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> EnrollmentTokenOut:
    await get_or_404(session, principal, Organization, org_id, MANAGE, "organization")
    secret = new_secret("enr")
    token = enrollment.issue_token(org_id, secret_digest(secret), principal.id, datetime.now(UTC),
                                   body.expires_in_hours or settings.enrollment_token_ttl_hours, body.max_uses)
    session.add(token)
    await session.flush()
    audit(session, principal, "enrollment_token.create", "enrollment_token", token.id, org_id,
          after={"expires_at": token.expires_at.isoformat(), "max_uses": token.max_uses})
    return EnrollmentTokenOut(id=token.id, token=secret, expires_at=token.expires_at, max_uses=token.max_uses)


@router.get("/enrollment-tokens", response_model=list[EnrollmentTokenSummary])
async def list_enrollment_tokens(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                                 response: Response):
    await get_or_404(session, principal, Organization, org_id, MANAGE, "organization")
    stmt = select(EnrollmentToken).where(EnrollmentToken.org_id == org_id).order_by(
        EnrollmentToken.created_at.desc(), EnrollmentToken.id)
    return await paginate(session, stmt, page, response)


@router.delete("/enrollment-tokens/{token_id}", response_model=EnrollmentTokenSummary)
async def revoke_enrollment_token(org_id: uuid.UUID, token_id: uuid.UUID, principal: CurrentUser,
                                  session: SessionDep):
    await get_or_404(session, principal, Organization, org_id, MANAGE, "organization")
    token = await session.scalar(select(EnrollmentToken).where(
        EnrollmentToken.id == token_id, EnrollmentToken.org_id == org_id).with_for_update())
    if token is None:
        raise NotFound("enrollment token")
    await enrollment.revoke_token(session, token, datetime.now(UTC))
    out = EnrollmentTokenSummary.model_validate(token)
    audit(session, principal, "enrollment_token.revoke", "enrollment_token", token.id, org_id, after=out)
    return out


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                      response: Response, status: Literal["active", "pending_approval", "revoked"] | None = None,
                      host_id: uuid.UUID | None = None):
    await get_or_404(session, principal, Organization, org_id, VIEW, "organization")
    stmt = (select(Agent, Host.hostname).join(Host, Host.id == Agent.host_id).where(Host.org_id == org_id)
            .order_by(Agent.created_at.desc(), Agent.id))
    if status == "revoked":
        stmt = stmt.where(Agent.revoked_at.is_not(None))
    elif status is not None:
        stmt = stmt.where(Agent.revoked_at.is_(None),
                          Agent.approved_at.is_not(None) if status == "active" else Agent.approved_at.is_(None))
    if host_id is not None:
        stmt = stmt.where(Agent.host_id == host_id)
    return [agent_out(agent, hostname) for agent, hostname in await paginate(session, stmt, page, response,
                                                                             rows=True)]


async def credentials_changed(session: AsyncSession, request: Request, after_commit: AfterCommit,
                              host_id: uuid.UUID) -> None:
    """The host's agents changed (revoked or approved): at commit, this process forgets their cached credentials
    before it answers, and every other one learns it from the announcement a moment later."""
    async def forget() -> None:
        request.app.state.job_notifier.credentials.forget_hosts({host_id})

    await announce_credentials_changed(session, host_id)
    after_commit.add(forget, f"credentials of host {host_id}")


@router.post("/agents/{agent_id}/approve", response_model=AgentOut)
async def approve_agent(org_id: uuid.UUID, agent_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                        request: Request, after_commit: AfterCommitDep):
    """Hand the host over to this agent: its other agents are revoked. Organization administrators only."""
    agent, hostname = await org_agent(session, principal, org_id, agent_id, VIEW)
    if not principal.has(org_id, ORG_ADMIN):
        raise Forbidden("only an organization administrator may hand a host over to a new agent")
    revoked = await enrollment.approve(session, agent, datetime.now(UTC))
    await credentials_changed(session, request, after_commit, agent.host_id)
    out = agent_out(agent, hostname)
    audit(session, principal, "agent.approve", "agent", agent.id, org_id,
          after=out.model_dump(mode="json") | {"revoked_agents": [str(a) for a in revoked]})
    return out


@router.post("/agents/{agent_id}/revoke", response_model=AgentOut)
async def revoke_agent(org_id: uuid.UUID, agent_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                       request: Request, after_commit: AfterCommitDep):
    agent, hostname = await org_agent(session, principal, org_id, agent_id, MANAGE)
    await enrollment.revoke(session, agent, datetime.now(UTC))
    await credentials_changed(session, request, after_commit, agent.host_id)
    out = agent_out(agent, hostname)
    audit(session, principal, "agent.revoke", "agent", agent.id, org_id, after=out)
    return out
