"""Runs the real API app and worker against one test database and a Temporal test environment."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import Client

from config import Settings
from models import ComplianceTemplate
from models.db import make_engine, make_sessionmaker
from tests.conftest import make_settings
from worker import build_worker


@dataclass
class Stack:
    api: httpx.AsyncClient
    client: Client
    settings: Settings
    sessionmaker: async_sessionmaker


@asynccontextmanager
async def running_stack(env, db_url: str, app_factory, **overrides):
    target = env.client.service_client.config.target_host
    values = {"temporal_address": target, "temporal_task_queue": f"tq-{uuid.uuid4().hex[:8]}"} | overrides
    settings = make_settings(db_url, **values)
    api = await app_factory(**values)
    engine = make_engine(db_url, pool_size=10)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with build_worker(env.client, sessionmaker, settings):
            yield Stack(api=api, client=env.client, settings=settings, sessionmaker=sessionmaker)
    finally:
        await engine.dispose()


async def system_template_id(session, key: str = "cis-linux-l1") -> uuid.UUID:
    return await session.scalar(select(ComplianceTemplate.id).where(
        ComplianceTemplate.content_key == key, ComplianceTemplate.is_system))


async def eventually(probe, timeout: float = 30.0, interval: float = 0.2):
    """Await `probe()` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)
