"""Runtime settings for the API, the worker and the tools, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-outside-development"
PLACEHOLDER_SECRETS = {"", DEV_JWT_SECRET, "changeme", "change-me", "secret"}


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

    jwt_secret: str = DEV_JWT_SECRET
    jwt_ttl_minutes: int = 60 * 12

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = "http://127.0.0.1:8000"

    admin_password: str | None = Field(None, validation_alias="COMPLIANCE_ADMIN_PASSWORD")

    host_online_window_seconds: int = 300
    agent_result_timeout_seconds: int = 3600
    enrollment_token_ttl_hours: int = 24
    max_request_bytes: int = 8 * 1024 * 1024
    scan_cycle_minutes: int = 30
    schedule_seen_within_hours: int = 24
    max_scans_per_batch_workflow: int = 1000
    verify_delay_seconds: int = 15 * 60
    approval_timeout_seconds: int = 7 * 24 * 3600
    webhook_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment not in ("development", "test") and (
            self.jwt_secret in PLACEHOLDER_SECRETS or len(self.jwt_secret) < 32
        ):
            raise ValueError(
                "JWT_SECRET is missing, a placeholder or shorter than 32 characters; "
                "set a long random JWT_SECRET outside development"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
