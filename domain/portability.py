"""The template portability document: build it from plain dicts, digest it canonically, and validate it."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.rules import parse_rule, rule_problems

FORMAT = "compliance-template"
FORMAT_VERSION = 1
SHELLS_BY_OS = {"linux": {"bash", "sh"}, "bsd": {"sh", "bash"}, "windows": {"powershell"}}
TEMPLATE_FIELDS = ("name", "description", "os_type", "framework", "level", "scan_interval_hours", "version")
CHECK_FIELDS = ("rule_id", "title", "description", "severity", "enabled", "rule", "frameworks", "remediation_type",
                "remediation_instructions", "remediation_requires_change")
SCRIPT_FIELDS = ("name", "shell", "body", "sha256", "timeout_seconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document_digest(document: dict[str, Any]) -> str:
    """`sha256:<hex>` over the canonical form of everything in the document except the digest and the signature
    (which covers the digest)."""
    body = {key: value for key, value in document.items() if key not in ("digest", "signature")}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def script_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def build_document(template: dict[str, Any], checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The export document of a template. `checks` are in order; each may carry `script` and `workflow` dicts."""
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "template": {key: template.get(key) for key in TEMPLATE_FIELDS},
        "checks": [_portable_check(check) for check in checks],
    }
    document["digest"] = document_digest(document)
    return document


def _portable_check(check: dict[str, Any]) -> dict[str, Any]:
    portable = {key: check.get(key) for key in CHECK_FIELDS}
    script = check.get("script")
    portable["script"] = {key: script[key] for key in SCRIPT_FIELDS} if script else None
    workflow = check.get("workflow")
    portable["workflow"] = {"name": workflow["name"]} if workflow else None
    return portable


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PortableScript(_Strict):
    name: str = Field(min_length=1, max_length=200)
    shell: Literal["bash", "sh", "powershell"]
    body: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    timeout_seconds: int = Field(ge=1, le=86400)


class PortableWorkflow(_Strict):
    name: str = Field(min_length=1, max_length=200)


class PortableCheck(_Strict):
    rule_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    description: str | None
    severity: Literal["critical", "high", "medium", "low"]
    enabled: bool
    rule: dict[str, Any]
    frameworks: dict[str, Any]
    remediation_type: Literal["none", "manual", "script", "workflow"]
    remediation_instructions: str | None
    remediation_requires_change: bool
    script: PortableScript | None
    workflow: PortableWorkflow | None

    @field_validator("rule")
    @classmethod
    def _rule_fits_schema(cls, rule: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_rule(rule)
        except ValidationError as exc:
            raise ValueError("; ".join(rule_problems(exc))) from None
        return rule


class PortableTemplate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None
    os_type: Literal["windows", "linux", "bsd"]
    framework: str = Field(min_length=1, max_length=32)
    level: int | None
    scan_interval_hours: int = Field(ge=24, le=168)
    version: int = Field(ge=1)


class PortableSignature(_Strict):
    alg: Literal["Ed25519"]
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    value: str = Field(min_length=1, max_length=200)


class PortableDocument(_Strict):
    format: Literal["compliance-template"]
    format_version: Literal[1]
    template: PortableTemplate
    checks: list[PortableCheck]
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    signature: PortableSignature | None = None


def validate_document(document: Any) -> list[str]:
    """Every problem with an import document, as `location: message` lines; an empty list means it is usable."""
    if not isinstance(document, dict):
        return ["document: must be a JSON object"]
    problems: list[str] = []
    try:
        parsed = PortableDocument.model_validate(document)
    except ValidationError as exc:
        parsed = None
        problems.extend(_render(error) for error in exc.errors())
    if isinstance(document.get("digest"), str) and document["digest"] != document_digest(document):
        problems.append("digest: does not match the document's content")
    if parsed is not None:
        problems.extend(_semantic_problems(parsed))
    return problems


def _render(error: dict[str, Any]) -> str:
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    return f"{location or 'document'}: {error['msg']}"


def _semantic_problems(document: PortableDocument) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    shells = SHELLS_BY_OS[document.template.os_type]
    for index, check in enumerate(document.checks):
        where = f"checks[{index}]"
        if check.rule_id in seen:
            problems.append(f"{where}.rule_id: {check.rule_id!r} appears more than once")
        seen.add(check.rule_id)
        needs_script = check.remediation_type == "script"
        if needs_script != (check.script is not None):
            problems.append(f"{where}.script: required exactly when remediation_type is 'script'")
        needs_workflow = check.remediation_type == "workflow"
        if needs_workflow != (check.workflow is not None):
            problems.append(f"{where}.workflow: required exactly when remediation_type is 'workflow'")
        if check.script is not None:
            if check.script.sha256 != script_sha256(check.script.body):
                problems.append(f"{where}.script.sha256: does not match the script body")
            if check.script.shell not in shells:
                problems.append(f"{where}.script.shell: {check.script.shell} does not run on "
                                f"{document.template.os_type}")
    return problems
