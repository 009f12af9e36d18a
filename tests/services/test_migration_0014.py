"""Migration 0014 downgrades with patching data in place (vulnerability alerts, incidents, deployment change
records and patch_install jobs go with it) and upgrades again."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from models import Alert, ChangeRecord, Incident, RingSet
from models.db import make_engine
from services import patch_deployments, vuln_matching
from tests.conftest import ROOT
from tests.factories import make_host, make_org
from tests.services.test_vuln_matching import NOW, debian_inventory, report
from tests.services.test_vulnerability_feeds import import_all


@contextlib.asynccontextmanager
async def _connect(url: str):
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


def migrate(url: str, revision: str, down: bool = False) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_migration_0014_downgrades_with_patching_data_and_upgrades_again(db, db_url):
    await import_all(db)
    org = await make_org(db)
    host = await make_host(db, org)
    await report(db, [host], debian_inventory())
    await vuln_matching.match_org(db, org.id, NOW)
    rings = RingSet(org_id=org.id, name="one", rings=[{"name": "all", "host_group_id": None}])
    db.add(rings)
    await db.flush()
    patch_id = await db.scalar(text("SELECT patch_id FROM host_vulnerabilities LIMIT 1"))
    deployment = await patch_deployments.create_deployment(db, org.id, [patch_id], rings, automatic=True,
                                                           requester=None)
    await patch_deployments.plan_hosts(db, deployment)
    await patch_deployments.ensure_change_record(db, deployment)
    await patch_deployments.begin_ring(db, deployment, 0, NOW)
    await db.commit()
    assert await db.scalar(select(func.count()).select_from(Alert)) == 1
    await db.close()

    await asyncio.to_thread(migrate, db_url, "0013", down=True)
    async with _connect(db_url) as conn:
        tables = set(await conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'patch_deployment%'")))
        assert tables == set()
        assert await conn.scalar(text("SELECT count(*) FROM agent_jobs WHERE kind = 'patch_install'")) == 0
    await asyncio.to_thread(migrate, db_url, "head")
    async with _connect(db_url) as conn:
        assert await conn.scalar(select(func.count()).select_from(ChangeRecord)) == 0
        assert await conn.scalar(select(func.count()).select_from(Incident)) == 0
