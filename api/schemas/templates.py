"""Compliance templates, their checks, and the import request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from api.schemas.common import RequestModel, ResponseModel
from api.schemas.hosts import OsType
from domain.rules import parse_rule, rule_problems

Severity = Literal["critical", "high", "medium", "low"]
RemediationType = Literal["none", "manual", "script", "workflow"]
FrameworkRefs = dict[str, str | list[str] | None]


def _valid_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A check's rule must fit the rule schema the agent evaluates (domain.rules)."""
    try:
        parse_rule(rule)
    except ValidationError as exc:
        raise ValueError(f"invalid rule: {'; '.join(rule_problems(exc))}") from None
    return rule


RuleDoc = Annotated[dict[str, Any], AfterValidator(_valid_rule)]


class PartialUpdate(RequestModel):
    """A PATCH body: omitted fields stay as they are; only the fields in `nullable` may be set to null."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self):
        if bad := sorted(f for f in self.model_fields_set if getattr(self, f) is None and f not in self.nullable):
            raise ValueError(f"may not be null: {', '.join(bad)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CheckOut(ResponseModel):
    id: uuid.UUID
    template_id: uuid.UUID
    rule_id: str
    title: str
    description: str | None
    severity: Severity
    enabled: bool
    rule: dict[str, Any]
    frameworks: dict[str, Any]
    remediation_type: RemediationType
    remediation_instructions: str | None
    script_id: uuid.UUID | None
    workflow_id: uuid.UUID | None
    remediation_requires_change: bool
    position: int


class TemplateSummaryOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID | None
    name: str
    description: str | None
    os_type: OsType
    framework: str
    level: int | None
    version: int
    status: Literal["draft", "published"]
    is_system: bool
    scan_interval_hours: int
    lineage_id: uuid.UUID
    source_template_id: uuid.UUID | None
    content_key: str | None
    published_at: datetime | None
    check_count: int = 0
    enabled_check_count: int = 0
    created_at: datetime
    updated_at: datetime


class TemplateOut(TemplateSummaryOut):
    checks: list[CheckOut] = Field(default_factory=list)


class TemplateCopy(RequestModel):
    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)


class TemplateUpdate(PartialUpdate):
    nullable: ClassVar[frozenset[str]] = frozenset({"description"})

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    scan_interval_hours: int | None = Field(None, ge=24, le=168)
    status: Literal["published"] | None = None


class CheckCreate(RequestModel):
    rule_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(None, max_length=10_000)
    severity: Severity
    enabled: bool = True
    rule: RuleDoc
    frameworks: FrameworkRefs = Field(default_factory=dict)
    remediation_type: RemediationType = "none"
    remediation_instructions: str | None = Field(None, max_length=10_000)
    script_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    remediation_requires_change: bool = False


class CheckUpdate(PartialUpdate):
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"description", "remediation_instructions", "script_id", "workflow_id"}
    )

    rule_id: str | None = Field(None, min_length=1, max_length=100)
    title: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, max_length=10_000)
    severity: Severity | None = None
    enabled: bool | None = None
    rule: RuleDoc | None = None
    frameworks: FrameworkRefs | None = None
    remediation_type: RemediationType | None = None
    remediation_instructions: str | None = Field(None, max_length=10_000)
    script_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    remediation_requires_change: bool | None = None


class BulkToggle(RequestModel):
    check_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    enabled: bool


class TemplateImport(RequestModel):
    org_id: uuid.UUID
    document: dict[str, Any]
