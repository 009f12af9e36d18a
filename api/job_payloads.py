"""Builds the §5.1 job payload an agent receives. Check jobs store only ids; checks come from the template.

A fleet's jobs share a handful of templates, so each template's checks are encoded to JSON once per process and
every job's answer is spliced from those bytes (a CIS template is ~100 KB of rules: encoding it for each of
thousands of agents was most of the gateway's work)."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.rules import completed
from models import ComplianceCheck

CACHE_SIZE = 256


@dataclass(frozen=True)
class TemplateChecks:
    checks: list[dict]
    encoded: bytes  # `checks` as JSON
    check_ids: frozenset[str]


async def template_checks(app: FastAPI, session: AsyncSession, template_id: uuid.UUID) -> TemplateChecks:
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
    entry = TemplateChecks(checks, orjson.dumps(checks), frozenset(c["check_id"] for c in checks))
    cache[template_id] = entry
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return entry


class JobLike(Protocol):
    id: uuid.UUID
    kind: str
    payload: dict


async def encode_job(app: FastAPI, session: AsyncSession, job: JobLike) -> bytes:
    """The job as the agent receives it (JobOut's JSON): `{"id", "kind", "payload"}`."""
    head = b'{"id":"%s","kind":%s,"payload":' % (str(job.id).encode(), orjson.dumps(job.kind))
    if job.kind != "compliance_check":
        return head + orjson.dumps(job.payload) + b"}"
    checks = await template_checks(app, session, uuid.UUID(job.payload["template_id"]))
    return head + b'{"scan_id":%s,"checks":%s}}' % (orjson.dumps(job.payload["scan_id"]), checks.encoded)


def json_list(encoded: Iterable[bytes]) -> bytes:
    return b"[" + b",".join(encoded) + b"]"
