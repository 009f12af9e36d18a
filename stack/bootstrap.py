"""One idempotent bootstrap, run by `make run` and by compose's one-shot service: migrate the database, register
the Temporal search attributes, seed the system content and the first administrator, create or update the
schedules. Running it again changes nothing that is already in place."""

from __future__ import annotations

import asyncio
from argparse import Namespace
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client

from config import Settings
from models.db import make_engine, make_sessionmaker
from orchestration.gateway import TemporalGateway
from orchestration.search_attributes import ALL as SEARCH_ATTRIBUTES
from stack.sample_feed import import_sample_feed
from stack.seed import seed_accounts, seed_demo, seed_system_content

ROOT = Path(__file__).resolve().parent.parent


class BootstrapError(Exception):
    """Something the operator must fix before the product can start (said in plain words)."""


@dataclass
class BootstrapReport:
    search_attributes_added: list[str] = field(default_factory=list)
    templates_created: int = 0
    templates_updated: int = 0
    scripts_updated: int = 0
    admin_created: bool = False
    admin_password: str | None = None  # generated (development only): shown once
    schedule: str = "skipped"
    sample_feed: str | None = None  # make run: what the bundled sample vulnerability feed did

    def lines(self) -> list[str]:
        attributes = ", ".join(self.search_attributes_added) or "already registered"
        return [f"  database migrated; search attributes: {attributes}",
                f"  system templates added: {self.templates_created}, new versions: {self.templates_updated}, "
                f"scripts updated: {self.scripts_updated}; schedules {self.schedule}",
                "  first administrator 'admin' created" if self.admin_created else "  administrator exists",
                *([self.sample_feed] if self.sample_feed else [])]


def migrate(database_url: str) -> None:
    """`alembic upgrade head` on this database (migrations/env.py reads `-x url=…` before the environment)."""
    config = Config(str(ROOT / "alembic.ini"), cmd_opts=Namespace(x=[f"url={database_url}"]))
    command.upgrade(config, "head")


def admin_password(settings: Settings) -> str | None:
    if settings.admin_password:
        return settings.admin_password
    if settings.admin_password_file is not None:
        try:
            return settings.admin_password_file.read_text().rstrip("\n")
        except OSError as exc:
            raise BootstrapError(f"COMPLIANCE_ADMIN_PASSWORD_FILE: cannot read {settings.admin_password_file}: "
                                 f"{exc.strerror}") from exc
    return None


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the Keyword attributes the workflows are tagged with, through the operator API; returns the added."""
    known = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = [key.name for key in SEARCH_ATTRIBUTES
               if key.name not in known.custom_attributes and key.name not in known.system_attributes]
    if missing:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing}))
    return missing


async def seed(settings: Settings, password: str | None, demo_dir: Path | None,
               report: BootstrapReport) -> None:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            accounts = await seed_accounts(session, password)
            content = await seed_system_content(session)
            if demo_dir is not None:
                await seed_demo(session, accounts.demo_org_id, demo_dir)
                if settings.environment != "production":
                    report.sample_feed = (await import_sample_feed(session, datetime.now(UTC))).line()
    finally:
        await engine.dispose()
    report.templates_created, report.templates_updated = content.templates_created, content.templates_updated
    report.scripts_updated = content.scripts_updated
    report.admin_created, report.admin_password = accounts.admin_created, accounts.admin_password


async def bootstrap(settings: Settings, *, demo_dir: Path | None = None, client: Client | None = None,
                    ) -> BootstrapReport:
    """Everything the product needs before its worker and API start. `demo_dir`: also the demo policy and the
    local agent's enrollment token (make run)."""
    if not settings.database_url:
        raise BootstrapError("DATABASE_URL is not set")
    password = admin_password(settings)
    if password is None and settings.environment == "production":
        raise BootstrapError("set COMPLIANCE_ADMIN_PASSWORD or COMPLIANCE_ADMIN_PASSWORD_FILE: the first "
                             "administrator's password (used only when that account does not exist yet)")
    report = BootstrapReport()
    await asyncio.to_thread(migrate, settings.database_url)

    if client is None:
        try:
            client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
        except RuntimeError as exc:
            raise BootstrapError(f"Temporal at {settings.temporal_address} is not reachable: {exc}") from exc
    if settings.temporal_search_attributes:
        report.search_attributes_added = await register_search_attributes(client, settings.temporal_namespace)

    try:
        await seed(settings, password, demo_dir, report)
    except ValueError as exc:  # a password the policy refuses
        raise BootstrapError(str(exc)) from exc

    if settings.temporal_schedule_enabled:
        gateway = TemporalGateway(settings, client)
        await gateway.ensure_scan_cycle_schedule()
        await gateway.ensure_vuln_schedules()
        report.schedule = "created or updated"
    return report
