"""Runtime settings for the API, the worker and the tools, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Once the default: it is public, so it is refused everywhere but in tests (`make run` generates a secret per
# installation in .data/secrets/).
DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-outside-development"
PLACEHOLDER_SECRETS = {"", DEV_JWT_SECRET, "changeme", "change-me", "secret"}
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str | None = Field(None, description="postgresql+psycopg://… ; empty = embedded server")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "compliance"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    temporal_schedule_enabled: bool = Field(True, description="the worker creates/updates the scan-cycle schedule")
    temporal_search_attributes: bool = Field(True, description="tag workflows with OrgId/PolicyId/ScanType/HostId")

    jwt_secret: str = Field("", description="token signing key; empty = this process signs no tokens")
    jwt_ttl_minutes: int = 60 * 12

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = "http://127.0.0.1:8000"

    admin_password: str | None = Field(None, validation_alias="COMPLIANCE_ADMIN_PASSWORD")
    admin_password_file: Path | None = Field(
        None, validation_alias="COMPLIANCE_ADMIN_PASSWORD_FILE",
        description="a file holding the first admin's password (a Docker/Compose secret), read by the bootstrap")

    database_pool_size: int = Field(10, ge=1, description="pooled database connections of one API process")
    database_pool_overflow: int = Field(10, ge=0, description="extra connections the pool may open under load")
    database_pool_timeout_seconds: float = Field(
        3.0, gt=0, description="a request that waits longer for a pooled connection gets 503 with Retry-After")
    agent_credentials_cache_seconds: float = Field(
        60.0, ge=0, description="an API process trusts an agent token this long without a query (0 = never); a "
                                "revocation through the API reaches every process at once (PostgreSQL notification), "
                                "one made directly in the database within this time")

    host_online_window_seconds: int = 300
    agent_result_timeout_seconds: int = 3600
    enrollment_token_ttl_hours: int = Field(24, ge=1, le=30 * 24)
    max_request_bytes: int = 8 * 1024 * 1024
    scan_cycle_minutes: int = 30
    schedule_seen_within_hours: int = 24
    max_scans_per_batch_workflow: int = 1000
    verify_delay_seconds: int = 15 * 60
    approval_timeout_seconds: int = 7 * 24 * 3600
    webhook_timeout_seconds: float = 10.0
    incomplete_error_share: float = Field(
        0.2, ge=0, le=1, description="a scan whose errored checks exceed this share of its checks is incomplete")
    portability_trusted_keys: str = Field(
        "", description="comma-separated base64 Ed25519 public keys of other installations whose exported "
                        "templates may be imported (this installation's own key is always trusted)")
    webhook_allowed_networks: str = Field(
        "", description="comma-separated addresses or CIDR blocks that webhooks may reach although internal")

    max_checks_per_template: int = Field(2000, ge=1, description="more checks in one template is refused (422)")
    max_import_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="larger template imports get 413")
    login_failure_window_seconds: int = Field(900, ge=1, description="failed logins are counted over this window")
    login_max_failures_per_user: int = Field(10, ge=1, description="per username, then 429 until the window moves")
    login_max_failures_per_address: int = Field(50, ge=1, description="per client address, then 429")

    vuln_nvd_url: str = Field("https://services.nvd.nist.gov/rest/json/cves/2.0",
                              description="NVD CVE API 2.0 endpoint (paged, incremental by lastModified)")
    vuln_kev_url: str = Field(
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
        description="the CISA KEV catalog (JSON)")
    vuln_osv_url: str = Field("https://osv-vulnerabilities.storage.googleapis.com",
                              description="OSV exports: <url>/<ecosystem>/all.zip")
    vuln_osv_ecosystems: str = Field("Debian:11,Debian:12,Ubuntu:22.04:LTS,Ubuntu:24.04:LTS",
                                     description="comma-separated OSV ecosystems to sync")
    nvd_api_key: str | None = Field(None, description="NVD API key: 50 requests per 30 s instead of 5")
    vuln_nvd_initial_days: int = Field(120, ge=1, description="the first NVD sync reads CVEs modified this far back")
    vuln_nvd_requests_per_window: int | None = Field(
        None, ge=1, description="NVD requests per rolling 30 s; unset = NVD's limit (5, or 50 with a key)")
    vuln_fetch_timeout_seconds: float = Field(120.0, gt=0, description="per HTTP request to a feed source")
    vuln_feed_sync_hours: int = Field(24, ge=1, description="the vuln-feed-sync schedule's interval")
    vuln_matching_hours: int = Field(
        6, ge=1, description="the vuln-host-matching schedule's interval; older inventories are refreshed")
    vuln_inventory_timeout_seconds: int = Field(600, ge=1, description="how long matching waits for an inventory")

    log_format: Literal["text", "json"] = Field("text", description="text | json (one object per line)")
    worker_metrics_host: str = Field("127.0.0.1", description="where the worker serves its metrics")
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535,
        description="the Temporal SDK's metrics (temporal_*); unset = 9464 in production, off elsewhere; 0 = off")
    worker_figures_port: int | None = Field(
        None, ge=0, le=65535,
        description="the worker's product figures (compliance_*); unset = 9465 in production, off elsewhere; 0 = off")
    otel_exporter_otlp_endpoint: str = Field(
        "", description="OTLP/HTTP collector (http://host:4318); set = trace API → workflow → activity")
    otel_service_name: str = Field("", description="service.name of the traces; empty = compliance-api / -worker")

    @property
    def vuln_osv_ecosystem_list(self) -> list[str]:
        return [e.strip() for e in self.vuln_osv_ecosystems.split(",") if e.strip()]

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "test":
            return self
        weak = self.jwt_secret in PLACEHOLDER_SECRETS or len(self.jwt_secret) < MIN_SECRET_LENGTH
        # In development an empty secret is allowed for processes that sign nothing (worker, tools); the API
        # refuses to start without one (api.security.require_signing_secret).
        if weak and (self.jwt_secret or self.environment != "development"):
            raise ValueError(
                "JWT_SECRET is missing, a placeholder or shorter than 32 characters; "
                "set a long random JWT_SECRET (make run generates one in .data/secrets/)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
