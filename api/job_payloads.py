"""Builds the §5.1 job payload an agent receives. Check jobs store only ids; checks come from the template."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.rules import completed
from models import ComplianceCheck

CACHE_SIZE = 256


async def template_checks(app: FastAPI, session: AsyncSession, template_id: uuid.UUID) -> list[dict]:
    """Scans only use published or system templates, which never change, so their checks can be cached."""
    cache: OrderedDict = app.state.__dict__.setdefault("template_checks", OrderedDict())
    if template_id in cache:
        cache.move_to_end(template_id)
        return cache[template_id]
    rows = await session.execute(
        select(ComplianceCheck.id, ComplianceCheck.rule_id, ComplianceCheck.title, ComplianceCheck.severity,
               ComplianceCheck.rule)
        .where(ComplianceCheck.template_id == template_id, ComplianceCheck.enabled)
        .order_by(ComplianceCheck.position, ComplianceCheck.rule_id)
    )
    checks = [{"check_id": str(i), "rule_id": r, "title": t, "severity": s, "rule": completed(rule)}
              for i, r, t, s, rule in rows]
    cache[template_id] = checks
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return checks


class JobLike(Protocol):
    kind: str
    payload: dict


async def expand_payload(app: FastAPI, session: AsyncSession, job: JobLike) -> dict:
    """An AgentJob or any row with its kind and stored payload."""
    if job.kind != "compliance_check":
        return job.payload
    template_id = uuid.UUID(job.payload["template_id"])
    return {"scan_id": job.payload["scan_id"], "checks": await template_checks(app, session, template_id)}
