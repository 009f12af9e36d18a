"""The check-rule schema: one pydantic model per rule type, discriminated on `type`."""

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from domain.regex_safety import validate_pattern

OsType = Literal["linux", "windows", "bsd"]
Missing = Literal["pass", "fail", "skip"]
Comparison = Literal["eq", "ne", "ge", "le"]
RegistryScalar = str | int


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _int_as_text(value: object) -> object:
    """YAML reads `expected: 1` as an int; a sysctl value is text, so accept the number as its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# Patterns that could backtrack exponentially are refused here, on the API and again on the agent.
RegexPattern = Annotated[str, Field(min_length=1), AfterValidator(validate_pattern)]


class FileRegexRule(_RuleBase):
    type: Literal["file_regex"]
    path: str = Field(min_length=1)
    pattern: RegexPattern
    expect: Literal["match", "no_match"] = "match"
    missing: Missing | None = None

    @property
    def missing_outcome(self) -> Missing:
        if self.missing is not None:
            return self.missing
        return "fail" if self.expect == "match" else "pass"


class FileExistsRule(_RuleBase):
    type: Literal["file_exists"]
    path: str = Field(min_length=1)
    expect: Literal["present", "absent"]
    kind: Literal["file", "dir", "any"] = "any"


class FilePermissionsRule(_RuleBase):
    type: Literal["file_permissions"]
    path: str = Field(min_length=1)
    max_mode: str | None = Field(default=None, pattern=r"^0?[0-7]{3,4}$")
    owner: str | None = None
    group: str | None = None
    missing: Missing = "skip"

    @property
    def max_mode_bits(self) -> int | None:
        return None if self.max_mode is None else int(self.max_mode, 8)

    @model_validator(mode="after")
    def _something_to_check(self) -> "FilePermissionsRule":
        if self.max_mode is None and self.owner is None and self.group is None:
            raise ValueError("file_permissions needs at least one of max_mode, owner, group")
        return self


class CommandOutputRule(_RuleBase):
    type: Literal["command_output"]
    argv: list[str] = Field(min_length=1)
    pattern: RegexPattern
    expect: Literal["match", "no_match"] = "match"
    timeout_seconds: int = Field(default=10, gt=0, le=120)
    requires: str | None = None
    os_types: list[OsType] | None = None


class SysctlRule(_RuleBase):
    type: Literal["sysctl"]
    key: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")
    expected: Annotated[str, BeforeValidator(_int_as_text)]
    op: Comparison = "eq"

    @model_validator(mode="after")
    def _numeric_for_ordering(self) -> "SysctlRule":
        if self.op in ("ge", "le") and not re.fullmatch(r"-?\d+", self.expected.strip()):
            raise ValueError(f"op {self.op} compares integers, got expected={self.expected!r}")
        return self


class PackageRule(_RuleBase):
    type: Literal["package"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_:-]*$")
    expect: Literal["installed", "absent"]


class ServiceRule(_RuleBase):
    type: Literal["service"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9@._:-]*$")
    expect: Literal["enabled", "disabled", "active", "inactive"]


class KernelModuleRule(_RuleBase):
    type: Literal["kernel_module"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    expect: Literal["disabled"] = "disabled"


class MountOptionRule(_RuleBase):
    type: Literal["mount_option"]
    mount_point: str = Field(pattern=r"^/")
    option: str = Field(pattern=r"^[^,\s]+$")
    expect: Literal["present", "absent"] = "present"


class WindowsRegistryRule(_RuleBase):
    type: Literal["windows_registry"]
    hive: Literal["HKLM", "HKCU", "HKU"]
    key: str = Field(min_length=1)
    value_name: str
    expected: RegistryScalar | list[RegistryScalar]
    op: Literal["eq", "ne", "ge", "le", "in"] = "eq"
    missing: Literal["pass", "fail"] = "fail"

    @model_validator(mode="after")
    def _expected_fits_op(self) -> "WindowsRegistryRule":
        _check_expected_shape(self.op, self.expected)
        return self


class WindowsSecurityPolicyRule(_RuleBase):
    type: Literal["windows_security_policy"]
    section: str = Field(min_length=1)
    setting: str = Field(min_length=1)
    expected: RegistryScalar | list[RegistryScalar]
    op: Literal["eq", "ne", "ge", "le", "in"] = "eq"

    @model_validator(mode="after")
    def _expected_fits_op(self) -> "WindowsSecurityPolicyRule":
        _check_expected_shape(self.op, self.expected)
        return self


class BsdRcConfRule(_RuleBase):
    type: Literal["bsd_rc_conf"]
    variable: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expected: str
    op: Literal["eq", "ne"] = "eq"
    default: str | None = None


def _check_expected_shape(op: str, expected: object) -> None:
    if op == "in" and not isinstance(expected, list):
        raise ValueError("op 'in' needs expected to be a list")
    if op != "in" and isinstance(expected, list):
        raise ValueError(f"op {op!r} needs a single expected value, not a list")
    if op in ("ge", "le") and not _is_integer(expected):
        raise ValueError(f"op {op!r} compares integers, got expected={expected!r}")


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()) is not None)


Rule = Annotated[
    FileRegexRule
    | FileExistsRule
    | FilePermissionsRule
    | CommandOutputRule
    | SysctlRule
    | PackageRule
    | ServiceRule
    | KernelModuleRule
    | MountOptionRule
    | WindowsRegistryRule
    | WindowsSecurityPolicyRule
    | BsdRcConfRule,
    Field(discriminator="type"),
]

RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)

RULE_TYPES: frozenset[str] = frozenset(
    {
        "file_regex",
        "file_exists",
        "file_permissions",
        "command_output",
        "sysctl",
        "package",
        "service",
        "kernel_module",
        "mount_option",
        "windows_registry",
        "windows_security_policy",
        "bsd_rc_conf",
    }
)


def parse_rule(raw: object) -> Rule:
    """Validate a rule document; raises pydantic.ValidationError on unknown types or bad fields."""
    return RULE_ADAPTER.validate_python(raw)


def rule_problems(exc: ValidationError) -> list[str]:
    """A rule's validation errors as `field: message` lines, the field relative to the rule itself."""
    return [f"{'.'.join(str(part) for part in error['loc'][1:]) or 'type'}: {error['msg']}" for error in exc.errors()]
