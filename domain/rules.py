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
# How a setting's value is judged: `between` takes [low, high] (both included); `in` one of a list; `subset` and
# `disjoint` treat the value as a comma-separated list (every item allowed / no item forbidden).
SettingOp = Literal["eq", "ne", "ge", "le", "between", "in", "subset", "disjoint"]
SysctlKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_*-]+)+$")]


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
    """A pattern searched in one file (`path`) or several (`paths`, where a `*` in the last part expands to the
    matching files, as for sudoers.d): `match` passes when some file has a matching line, `no_match` when none
    has; `missing` applies when none of the files exists."""

    type: Literal["file_regex"]
    path: str | None = Field(default=None, min_length=1)
    paths: list[str] | None = Field(default=None, min_length=1)
    pattern: RegexPattern
    expect: Literal["match", "no_match"] = "match"
    missing: Missing | None = None

    @model_validator(mode="after")
    def _one_way_to_name_files(self) -> "FileRegexRule":
        if (self.path is None) == (self.paths is None):
            raise ValueError("give either path or paths")
        return self

    @property
    def all_paths(self) -> list[str]:
        return [self.path] if self.path is not None else list(self.paths or [])

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
    # A list accepts any of its names: distributions differ (Ubuntu's /var/log is group syslog, Debian's root).
    owner: str | list[str] | None = None
    group: str | list[str] | None = None
    missing: Missing = "skip"

    @property
    def max_mode_bits(self) -> int | None:
        return None if self.max_mode is None else int(self.max_mode, 8)

    @property
    def owners(self) -> list[str] | None:
        return [self.owner] if isinstance(self.owner, str) else self.owner

    @property
    def groups(self) -> list[str] | None:
        return [self.group] if isinstance(self.group, str) else self.group

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
    """One kernel parameter (`key`) or several that must all hold (`keys`, e.g. `.all`, `.default` and the IPv6
    siblings). On Linux the running value and the value persisted in sysctl.conf/sysctl.d are both judged."""

    type: Literal["sysctl"]
    key: SysctlKey | None = None
    keys: list[SysctlKey] | None = Field(default=None, min_length=1)
    expected: Annotated[str, BeforeValidator(_int_as_text)]
    op: Comparison = "eq"
    # A key the running kernel does not have (a module not loaded, IPv6 turned off): skipped unless told otherwise.
    missing: Missing = "skip"
    # "required": a persisted assignment must exist and comply; "if_set": only a persisted assignment that
    # contradicts fails (for settings whose kernel default is already the compliant value).
    persisted: Literal["required", "if_set"] = "required"

    @model_validator(mode="after")
    def _numeric_for_ordering(self) -> "SysctlRule":
        if (self.key is None) == (self.keys is None):
            raise ValueError("give either key or keys")
        if self.op in ("ge", "le") and not re.fullmatch(r"-?\d+", self.expected.strip()):
            raise ValueError(f"op {self.op} compares integers, got expected={self.expected!r}")
        return self

    @property
    def all_keys(self) -> list[str]:
        return [self.key] if self.key is not None else list(self.keys or [])


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


class ConfigValueRule(_RuleBase):
    """A `name = value` (or `name value`) setting read the way its program reads it: `paths` in reading order
    (a `*` in the last part expands to the matching files in name order), the last assignment wins unless
    `wins: first`; `default` is what the program uses when no file sets it."""

    type: Literal["config_value"]
    paths: list[str] = Field(min_length=1)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    separator: Literal["=", "space"] = "="
    wins: Literal["first", "last"] = "last"
    op: SettingOp = "eq"
    expected: RegistryScalar | list[RegistryScalar]
    default: str | None = None
    missing: Missing = "fail"

    @model_validator(mode="after")
    def _expected_fits_op(self) -> "ConfigValueRule":
        _check_setting_expected(self.op, self.expected)
        return self


class SshdConfigRule(_RuleBase):
    """An sshd setting as the server applies it: `sshd -T` on a running host, else sshd_config parsed with its
    `Include`s, first value wins, `Match` blocks left out; `default` is OpenSSH's own when nothing sets it."""

    type: Literal["sshd_config"]
    keyword: str = Field(pattern=r"^[A-Za-z0-9]+$")
    op: SettingOp = "eq"
    expected: RegistryScalar | list[RegistryScalar]
    default: str | None = None
    missing: Missing = "skip"

    @model_validator(mode="after")
    def _expected_fits_op(self) -> "SshdConfigRule":
        _check_setting_expected(self.op, self.expected)
        return self


class BootParameterRule(_RuleBase):
    """A kernel command-line parameter: on the running kernel (/proc/cmdline) and in every boot entry the boot
    loader offers (grub.cfg `linux` lines, boot loader spec `options`)."""

    type: Literal["boot_parameter"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    op: SettingOp = "eq"
    expected: RegistryScalar | list[RegistryScalar]

    @model_validator(mode="after")
    def _expected_fits_op(self) -> "BootParameterRule":
        _check_setting_expected(self.op, self.expected)
        return self


class AllOfRule(_RuleBase):
    """Every rule must pass (a recommendation with several conditions); with `applies_if`, the check is skipped
    on hosts where that rule does not pass (cron permissions only where cron is installed)."""

    type: Literal["all_of"]
    rules: list["Rule"] = Field(min_length=1)
    applies_if: "Rule | None" = None


class WindowsRegistryRule(_RuleBase):
    type: Literal["windows_registry"]
    hive: Literal["HKLM", "HKCU", "HKU"]
    key: str = Field(min_length=1)
    value_name: str
    expected: RegistryScalar | list[RegistryScalar]
    op: Literal["eq", "ne", "ge", "le", "in", "between"] = "eq"
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
    op: Literal["eq", "ne", "ge", "le", "in", "between"] = "eq"

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


_LIST_OPS = ("in", "between", "subset", "disjoint")


def _check_expected_shape(op: str, expected: object) -> None:
    if op in _LIST_OPS and not isinstance(expected, list):
        raise ValueError(f"op {op!r} needs expected to be a list")
    if op not in _LIST_OPS and isinstance(expected, list):
        raise ValueError(f"op {op!r} needs a single expected value, not a list")
    if op in ("ge", "le") and not _is_integer(expected):
        raise ValueError(f"op {op!r} compares integers, got expected={expected!r}")
    if op == "between":
        assert isinstance(expected, list)
        if len(expected) != 2 or not all(_is_integer(bound) for bound in expected):
            raise ValueError(f"op 'between' needs expected to be [low, high] integers, got {expected!r}")
        if int(expected[0]) > int(expected[1]):
            raise ValueError(f"op 'between' needs low <= high, got {expected!r}")


def _check_setting_expected(op: str, expected: object) -> None:
    _check_expected_shape(op, expected)
    if op in ("subset", "disjoint", "in") and not expected:
        raise ValueError(f"op {op!r} needs a non-empty list")


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
    | BsdRcConfRule
    | ConfigValueRule
    | SshdConfigRule
    | BootParameterRule
    | AllOfRule,
    Field(discriminator="type"),
]

AllOfRule.model_rebuild()

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
        "config_value",
        "sshd_config",
        "boot_parameter",
        "all_of",
    }
)


def parse_rule(raw: object) -> Rule:
    """Validate a rule document; raises pydantic.ValidationError on unknown types or bad fields."""
    return RULE_ADAPTER.validate_python(raw)


def rule_problems(exc: ValidationError) -> list[str]:
    """A rule's validation errors as `field: message` lines, the field relative to the rule itself."""
    return [f"{'.'.join(str(part) for part in error['loc'][1:]) or 'type'}: {error['msg']}" for error in exc.errors()]
