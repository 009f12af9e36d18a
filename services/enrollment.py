"""Enrollment: tokens that let agents join an organization, and the agent credentials they lead to.

A token is single use unless its creator allows more, and lives at most 30 days. An agent that enrolls under a
hostname that already has an agent does not take that host over: it waits, unable to authenticate, until an
organization administrator approves the handover (which revokes the host's other agents) or revokes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Conflict
from models import Agent, EnrollmentToken, Host

MAX_TOKEN_HOURS = 30 * 24
ACTIVE, PENDING, REVOKED = "active", "pending_approval", "revoked"


def agent_status(agent: Agent) -> str:
    if agent.revoked_at is not None:
        return REVOKED
    return ACTIVE if agent.approved_at is not None else PENDING


def issue_token(org_id: uuid.UUID, token_hash: str, created_by: uuid.UUID, now: datetime, hours: int,
                max_uses: int) -> EnrollmentToken:
    return EnrollmentToken(org_id=org_id, token_hash=token_hash, created_by=created_by, max_uses=max_uses,
                           expires_at=now + timedelta(hours=min(hours, MAX_TOKEN_HOURS)))


async def use_token(session: AsyncSession, token_hash: str, now: datetime) -> uuid.UUID | None:
    """Spend one use of a valid token, atomically (two agents racing for the last use cannot both win); returns
    its organization, or None for an unknown, revoked, expired or used-up token."""
    return await session.scalar(
        update(EnrollmentToken)
        .where(EnrollmentToken.token_hash == token_hash, EnrollmentToken.revoked_at.is_(None),
               EnrollmentToken.expires_at > now, EnrollmentToken.uses < EnrollmentToken.max_uses)
        .values(uses=EnrollmentToken.uses + 1)
        .returning(EnrollmentToken.org_id))


@dataclass
class Enrolled:
    host: Host
    agent: Agent
    new_host: bool

    @property
    def status(self) -> str:
        return agent_status(self.agent)


async def enroll(session: AsyncSession, org_id: uuid.UUID, token_hash: str, hostname: str, os_type: str,
                 facts: dict, version: str | None, now: datetime) -> Enrolled:
    """A new hostname becomes a host with an active agent; a known one gets an agent that waits for approval and
    changes nothing about the host (an unapproved agent may not even report its address)."""
    host = await session.scalar(select(Host).where(Host.org_id == org_id, Host.hostname == hostname)
                                .with_for_update())
    new_host = host is None
    if new_host:
        host = Host(org_id=org_id, hostname=hostname, os_type=os_type, last_seen=now, **facts)
        session.add(host)
        await session.flush()
    elif host.os_type != os_type:
        raise Conflict(f"host {hostname} is enrolled as {host.os_type}")
    agent = Agent(host_id=host.id, token_hash=token_hash, version=version, last_seen=now,
                  approved_at=now if new_host else None)
    session.add(agent)
    await session.flush()
    return Enrolled(host, agent, new_host)


async def approve(session: AsyncSession, agent: Agent, now: datetime) -> list[uuid.UUID]:
    """Hand the host over to a waiting agent; the host's other agents are revoked. Returns their ids."""
    if agent_status(agent) != PENDING:
        raise Conflict(f"the agent is {agent_status(agent)}; only an agent waiting for approval can be approved")
    revoked = list(await session.scalars(
        update(Agent).where(Agent.host_id == agent.host_id, Agent.id != agent.id, Agent.revoked_at.is_(None))
        .values(revoked_at=now).returning(Agent.id)))
    agent.approved_at = now
    await session.flush()
    return revoked


async def revoke(session: AsyncSession, agent: Agent, now: datetime) -> None:
    if agent.revoked_at is not None:
        raise Conflict("the agent is already revoked")
    agent.revoked_at = now
    await session.flush()


async def revoke_token(session: AsyncSession, token: EnrollmentToken, now: datetime) -> None:
    if token.revoked_at is not None:
        raise Conflict("the enrollment token is already revoked")
    token.revoked_at = now
    await session.flush()
