"""Shared bench plumbing: a fresh migrated database, the Temporal dev server, the API app and the worker."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import psycopg
from alembic import command
from alembic.config import Config
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.db import libpq_url, make_engine, make_sessionmaker, with_database
from orchestration.search_attributes import ALL
from stack.ports import free_port
from stack.postgres import EmbeddedPostgres
from stack.seed import seed_system_content
from stack.temporal import binary, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def fresh_database():
    """A new database on DATABASE_URL's server, or on a throw-away embedded server; dropped afterwards."""
    server = root = None
    admin = os.environ.get("DATABASE_URL")
    if not admin:
        root = Path(tempfile.mkdtemp(prefix="cops-bench-pg-"))
        server = EmbeddedPostgres(root / "data")
        server.start()
        admin = server.url
    name = f"cops_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    config = Config(str(ROOT / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    command.upgrade(config, "head")
    engine = make_engine(url, pool_size=20)
    async with make_sessionmaker(engine)() as session, session.begin():
        await seed_system_content(session)
    try:
        yield url, engine
    finally:
        await engine.dispose()
        with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if server is not None:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def dev_server(db_file: Path | None = None):
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary("temporal")), search_attributes=ALL,
        dev_server_database_filename=str(db_file) if db_file else None,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def bench_settings(db_url: str, env, **overrides) -> Settings:
    values = {"database_url": db_url, "environment": "test", "jwt_secret": "bench-" + "x" * 40,
              "temporal_address": env.client.service_client.config.target_host,
              "temporal_task_queue": f"bench-{uuid.uuid4().hex[:6]}"} | overrides
    return Settings(**values)


@asynccontextmanager
async def api_client(settings: Settings, connections: int = 100):
    """The API app in process, reached through an ASGI transport (no sockets, no extra process)."""
    from api.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            yield client


def service_env(settings: Settings) -> dict[str, str]:
    """The environment of an API or worker process started by a benchmark: the settings' database, Temporal
    server, task queue and secret, and no schedule of its own."""
    return dict(os.environ) | {"DATABASE_URL": settings.database_url, "TEMPORAL_ADDRESS": settings.temporal_address,
                               "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue, "ENVIRONMENT": "test",
                               "JWT_SECRET": settings.jwt_secret, "TEMPORAL_SCHEDULE_ENABLED": "false"}


def spawn(argv: list[str], settings: Settings, log_name: str, app_name: str | None = None) -> subprocess.Popen:
    """A service process in the project root; its stderr goes to .data/<log_name>.log. With `app_name`, its
    database connections carry that application name (libpq's PGAPPNAME), so pg_stat_activity tells them apart."""
    (ROOT / ".data").mkdir(exist_ok=True)
    env = service_env(settings) | ({"PGAPPNAME": app_name} if app_name else {})
    with open(ROOT / ".data" / f"{log_name}.log", "wb") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)


@contextmanager
def api_process(settings: Settings, log_name: str, *uvicorn_args: str,
                app_name: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """The API under uvicorn in its own process, as deployed; yields its base URL and the process."""
    port = free_port()
    server = spawn([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port), "--no-access-log",
                    "--log-level", "warning", "--timeout-keep-alive", "75", *uvicorn_args], settings, log_name,
                   app_name)
    try:
        wait_for_port("127.0.0.1", port, 30, server)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(timeout=30)


def sessionmaker_for(engine):
    return make_sessionmaker(engine)


async def seed_bench_org(sessionmaker, batch_size: int) -> str:
    """An organization with a Linux policy on CIS L1 and an enrollment token; returns the token."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from api.security import new_secret, secret_digest
    from models import CompliancePolicy, ComplianceTemplate, EnrollmentToken, Organization

    secret = new_secret("enr")
    async with sessionmaker() as session, session.begin():
        org = Organization(name=f"bench-{uuid.uuid4().hex[:6]}")
        session.add(org)
        await session.flush()
        template_id = await session.scalar(select(ComplianceTemplate.id).where(
            ComplianceTemplate.content_key == "cis-linux-l1"))
        session.add(CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id,
                                     batch_size=min(batch_size, 10000)))
        session.add(EnrollmentToken(org_id=org.id, token_hash=secret_digest(secret), max_uses=100_000,
                                    expires_at=datetime.now(UTC) + timedelta(hours=1)))
    return secret


async def run_one_tick(client, sessionmaker, task_queue: str, tick: str):
    """Run a scan cycle and wait for every batch it started; returns (cycle result, batch ids, seconds)."""
    import time

    from sqlalchemy import text

    from orchestration.types import CycleInput
    from workflows.scan_cycle import ScanCycleWorkflow

    started = time.perf_counter()
    result = await client.execute_workflow(ScanCycleWorkflow.run, CycleInput(tick=tick), id=f"scan-cycle-{tick}",
                                           task_queue=task_queue)
    async with sessionmaker() as session:
        batch_ids = list(await session.scalars(text(
            "SELECT DISTINCT workflow_id FROM compliance_scans WHERE workflow_id LIKE :pattern"),
            {"pattern": f"scan-batch-%-{tick}-%"}))
    for batch_id in batch_ids:
        await client.get_workflow_handle(batch_id).result()
    return result, batch_ids, time.perf_counter() - started
