"""Compliance exceptions (waivers): requests and the enriched record every read answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.templates import PartialUpdate

ExceptionStatus = Literal["pending_approval", "active", "rejected", "expired", "revoked"]


def future_expiry(value: datetime | None) -> datetime | None:
    """An expiry is a moment to come; a time without a zone is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value <= datetime.now(UTC):
        raise ValueError("expires_at must be in the future")
    return value


Expiry = Annotated[datetime | None, AfterValidator(future_expiry)]


class ExceptionCreate(RequestModel):
    """Scoped to one host, one host group, or (neither given) the whole organization."""

    org_id: uuid.UUID
    rule_id: str = Field(min_length=1, max_length=100)
    host_id: uuid.UUID | None = None
    host_group_id: uuid.UUID | None = None
    reason: str = Field(min_length=1, max_length=4000)
    expires_at: Expiry = None

    @model_validator(mode="after")
    def _one_scope(self) -> ExceptionCreate:
        if self.host_id is not None and self.host_group_id is not None:
            raise ValueError("give host_id or host_group_id, not both")
        return self


class ExceptionUpdate(PartialUpdate):
    """Only an active exception changes; a null expires_at makes it permanent."""

    nullable: ClassVar[frozenset[str]] = frozenset({"expires_at"})

    reason: str | None = Field(None, min_length=1, max_length=4000)
    expires_at: Expiry = None


class ExceptionDecision(RequestModel):
    reason: str | None = Field(None, min_length=1, max_length=4000)


class ExceptionOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    rule_id: str
    host_id: uuid.UUID | None
    host_group_id: uuid.UUID | None
    reason: str
    expires_at: datetime | None
    status: ExceptionStatus
    created_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    rejected_by: uuid.UUID | None = None
    decided_at: datetime | None = Field(None, description="when the exception was approved or rejected")
    decision_reason: str | None
    hostname: str | None = None
    host_group_name: str | None = None
    created_by_name: str | None = None
    approved_by_name: str | None = None
    rejected_by_name: str | None = None
    created_at: datetime
    updated_at: datetime
