"""The built-in content schema (templates, checks, scripts) and the loader for content/*/*.yaml."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.rules import parse_rule, rule_problems

CONTENT_DIR = Path(__file__).resolve().parent
SHELLS_BY_OS = {"linux": {"bash", "sh"}, "bsd": {"sh", "bash"}, "windows": {"powershell"}}


class ContentError(ValueError):
    """A content file does not fit the schema; the message names the file and the check."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptDoc(_Doc):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    shell: Literal["bash", "sh", "powershell"]
    body: str = Field(min_length=1)
    timeout_seconds: int = Field(default=300, gt=0, le=3600)
    description: str = ""


class Frameworks(_Doc):
    cis: str | None = None
    stig: str | None = None
    nist: list[str] = Field(default_factory=list)


class ScriptRemediation(_Doc):
    type: Literal["script"]
    script: str = Field(min_length=1)
    requires_change: bool = False


class ManualRemediation(_Doc):
    type: Literal["manual"]
    instructions: str = Field(min_length=1)


class NoRemediation(_Doc):
    type: Literal["none"]


Remediation = Annotated[ScriptRemediation | ManualRemediation | NoRemediation, Field(discriminator="type")]


class CheckDoc(_Doc):
    rule_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    severity: Literal["critical", "high", "medium", "low"]
    frameworks: Frameworks = Field(default_factory=Frameworks)
    rule: dict[str, Any]
    remediation: Remediation

    @field_validator("rule")
    @classmethod
    def _rule_fits_schema(cls, rule: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_rule(rule)
        except ValidationError as exc:
            raise ValueError(f"{rule.get('type')!r} rule: " + "; ".join(rule_problems(exc))) from None
        return rule


class TemplateDoc(_Doc):
    format: Literal[1]
    key: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    name: str = Field(min_length=1)
    os_type: Literal["windows", "linux", "bsd"]
    framework: Literal["CIS", "STIG"]
    level: int | None = None
    description: str = ""
    scan_interval_hours: int = Field(default=24, ge=24, le=168)
    extends: str | None = None
    checks: list[CheckDoc] = Field(default_factory=list)


@dataclass(frozen=True)
class BuiltinContent:
    templates: list[TemplateDoc]
    scripts: dict[str, ScriptDoc]

    def template(self, key: str) -> TemplateDoc:
        return next(t for t in self.templates if t.key == key)


def load_builtin_content(root: Path = CONTENT_DIR) -> BuiltinContent:
    """Load every template and script under `root`, with `extends` expanded and references checked."""
    scripts = _load_scripts(sorted((root / "scripts").glob("*.yaml")))
    raw_templates: dict[str, tuple[Path, TemplateDoc]] = {}
    for path in sorted((root / "templates").glob("*.yaml")):
        template = _load_template(path)
        if template.key in raw_templates:
            raise ContentError(
                f"{path.name}: template key {template.key!r} is also used by {raw_templates[template.key][0].name}"
            )
        raw_templates[template.key] = (path, template)
    templates = [_expand(key, raw_templates) for key in raw_templates]
    for template in templates:
        path = raw_templates[template.key][0]
        _check_script_bindings(path, template, scripts)
    return BuiltinContent(templates=templates, scripts=scripts)


def load_template_file(path: Path, builtin: BuiltinContent) -> TemplateDoc:
    """One template file outside the content folder (`extends` may name a built-in template), as the offline
    scanner takes it."""
    template = _load_template(path)
    raw = {t.key: (path, t) for t in builtin.templates}
    raw[template.key] = (path, template)
    return _expand(template.key, raw)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: not valid YAML: {exc}") from exc


def _load_scripts(paths: list[Path]) -> dict[str, ScriptDoc]:
    scripts: dict[str, ScriptDoc] = {}
    for path in paths:
        documents = _read_yaml(path)
        if not isinstance(documents, list):
            raise ContentError(f"{path.name}: a scripts file must be a YAML list of scripts")
        for index, document in enumerate(documents):
            label = document.get("key", f"#{index + 1}") if isinstance(document, dict) else f"#{index + 1}"
            try:
                script = ScriptDoc.model_validate(document)
            except ValidationError as exc:
                raise ContentError(f"{path.name}: script {label}: {_errors(exc)}") from exc
            if script.key in scripts:
                raise ContentError(f"{path.name}: script key {script.key!r} is defined twice")
            scripts[script.key] = script
    return scripts


def _load_template(path: Path) -> TemplateDoc:
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise ContentError(f"{path.name}: a template file must be a YAML mapping")
    try:
        template = TemplateDoc.model_validate(document)
    except ValidationError as exc:
        raise ContentError(f"{path.name}: {_errors(exc, document)}") from exc
    seen: set[str] = set()
    for check in template.checks:
        if check.rule_id in seen:
            raise ContentError(f"{path.name}: check {check.rule_id}: rule_id appears twice")
        seen.add(check.rule_id)
    return template


def _errors(exc: ValidationError, document: dict[str, Any] | None = None) -> str:
    """Render pydantic errors as `check <rule_id>: <field>: <message>` lines."""
    lines = []
    for error in exc.errors():
        location = list(error["loc"])
        where = ""
        if document is not None and len(location) >= 2 and location[0] == "checks":
            index = location[1]
            checks = document.get("checks") or []
            raw = checks[index] if isinstance(index, int) and index < len(checks) else None
            rule_id = raw.get("rule_id") if isinstance(raw, dict) else None
            where = f"check {rule_id or f'#{index + 1}'}: " if isinstance(index, int) else ""
            location = location[2:]
        field = ".".join(str(part) for part in location) or "document"
        lines.append(f"{where}{field}: {error['msg']}")
    return "; ".join(lines)


def _expand(key: str, raw: dict[str, tuple[Path, TemplateDoc]], chain: tuple[str, ...] = ()) -> TemplateDoc:
    path, template = raw[key]
    if key in chain:
        raise ContentError(f"{path.name}: templates extend each other in a cycle: {' -> '.join((*chain, key))}")
    if template.extends is None:
        return template
    if template.extends not in raw:
        raise ContentError(f"{path.name}: extends unknown template {template.extends!r}")
    parent = _expand(template.extends, raw, (*chain, key))
    if parent.os_type != template.os_type:
        raise ContentError(f"{path.name}: extends {parent.key!r} which is for {parent.os_type}, not {template.os_type}")
    checks = {check.rule_id: check for check in parent.checks}
    for check in template.checks:
        checks[check.rule_id] = check  # a redefined rule_id replaces the inherited check in place
    return template.model_copy(update={"checks": list(checks.values())})


def _check_script_bindings(path: Path, template: TemplateDoc, scripts: dict[str, ScriptDoc]) -> None:
    for check in template.checks:
        if not isinstance(check.remediation, ScriptRemediation):
            continue
        script = scripts.get(check.remediation.script)
        if script is None:
            raise ContentError(f"{path.name}: check {check.rule_id}: unknown script {check.remediation.script!r}")
        if script.shell not in SHELLS_BY_OS[template.os_type]:
            raise ContentError(
                f"{path.name}: check {check.rule_id}: script {script.key!r} is {script.shell}, "
                f"which does not run on {template.os_type}"
            )
