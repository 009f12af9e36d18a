"""The FastAPI application: thin HTTP front over PostgreSQL and Temporal."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.console import install_console
from api.docs import install_docs
from api.errors import install_error_handlers
from api.headers import SecurityHeaders
from api.job_claims import JobClaims
from api.job_notifier import JobNotifier
from api.job_payloads import encode_job
from api.limits import BodySizeLimit
from api.routes import (
    agent_download,
    agents,
    audit_log,
    auth,
    automation_workflows,
    changes,
    enrollment,
    exceptions,
    health,
    hosts,
    monitoring,
    orgs,
    patch_deployments,
    policies,
    remediations,
    reports,
    ring_sets,
    scans,
    scripts,
    template_portability,
    templates,
    users,
    vulnerabilities,
)
from api.security import require_signing_secret
from config import Settings, get_settings
from models.db import libpq_url, make_engine, make_sessionmaker
from observability import tracing
from observability.http_metrics import HttpMetrics
from observability.logs import configure_logging
from orchestration.gateway import TemporalGateway

API_PREFIX = "/api/v1"
RESOURCE_ROUTERS = [
    # The agent gateway first: routes are matched in order, and agents send most of the requests.
    agents.router,
    auth.router, users.router, orgs.router, enrollment.router, hosts.router, audit_log.router, templates.router,
    policies.router, scans.router, agent_download.router, exceptions.router, scripts.router,
    automation_workflows.router,
    changes.router, remediations.router, monitoring.router, reports.router, template_portability.keys_router,
    vulnerabilities.router, ring_sets.router, patch_deployments.router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (make run sets it for the embedded server)")
    require_signing_secret(settings)
    tracing.install(settings, "compliance-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.engine = make_engine(settings.database_url, pool_size=settings.database_pool_size,
                                       max_overflow=settings.database_pool_overflow,
                                       pool_timeout=settings.database_pool_timeout_seconds)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        app.state.gateway = TemporalGateway(settings)
        app.state.job_notifier = JobNotifier(libpq_url(settings.database_url),
                                             settings.agent_credentials_cache_seconds)
        app.state.job_notifier.start()
        app.state.job_claims = JobClaims(app.state.engine, lambda connection, job: encode_job(app, connection, job))
        yield
        await app.state.job_claims.stop()
        await app.state.job_notifier.stop()
        await app.state.engine.dispose()

    app = FastAPI(
        title="Compliance Operations",
        version="0.1.0",
        description="CIS and STIG compliance for Windows, Linux and BSD fleets.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes,
                       path_limits={f"{API_PREFIX}/compliance/templates/import": settings.max_import_bytes})
    app.add_middleware(SecurityHeaders)
    HttpMetrics(agent_jobs_route=f"{API_PREFIX}/agent/jobs").install(app)
    install_docs(app)

    v1 = APIRouter(prefix=API_PREFIX)
    for router in RESOURCE_ROUTERS:
        v1.include_router(router)
    v1.include_router(health.router)
    app.include_router(v1)
    app.include_router(health.router)
    install_console(app, API_PREFIX)
    return app


def __getattr__(name: str):
    # `uvicorn api.main:app` builds the app on first access, after the environment is set.
    if name == "app":
        settings = get_settings()
        configure_logging(settings.log_format)
        return create_app(settings)
    raise AttributeError(name)
