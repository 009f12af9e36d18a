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
from domain.rule_views import RegistryScalar
from domain.windows_evaluation import principal_id

OsType = Literal["linux", "windows", "bsd"]
Missing = Literal["pass", "fail", "skip"]
Comparison = Literal["eq", "ne", "ge", "le"]
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


AuditField = Annotated[str, Field(pattern=r"^[a-z0-9_]+(=|!=|>=|<=|>|<|&=|&)[A-Za-z0-9_./-]+$")]


class AuditRuleRule(_RuleBase):
    """An audit rule that must be both persisted (/etc/audit/rules.d/*.rules) and, on a running host, loaded
    (`auditctl -l`): a watch on `path` granting at least `permissions`, or, for `syscalls`, an `always,exit` rule
    per architecture that names each of them. Every filter in `fields` (`auid>=1000`, `auid!=unset`,
    `exit=-EACCES`, `euid!=uid`) must be on the matching rule."""

    type: Literal["audit_rule"]
    path: str | None = Field(default=None, pattern=r"^/[^\s]*$")
    permissions: str = Field(default="wa", pattern=r"^[rwxa]+$")
    syscalls: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] | None = Field(default=None, min_length=1)
    arches: list[Literal["b32", "b64"]] = Field(default_factory=lambda: ["b64", "b32"], min_length=1)
    fields: list[AuditField] = Field(default_factory=list)

    @model_validator(mode="after")
    def _path_or_syscalls(self) -> "AuditRuleRule":
        if (self.path is None) == (self.syscalls is None):
            raise ValueError("give either path or syscalls")
        return self


class FileSweepRule(_RuleBase):
    """Every file and directory under `roots` (each local filesystem below them, links not followed) is judged,
    and the check passes when none is a finding: `world_writable` (a file, or a directory without the sticky
    bit, writable by everyone), `unowned` (an owner or group with no name), `setuid_setgid`, `mode_exceeds`
    (`max_mode`), `owner_not` / `group_not` (none of `owners` / `groups`). `name` narrows to matching file
    names; findings matching an `allow` pattern are accepted."""

    type: Literal["file_sweep"]
    roots: list[Annotated[str, Field(pattern=r"^/[^\s]*$")]] = Field(min_length=1)
    find: Literal["world_writable", "unowned", "setuid_setgid", "mode_exceeds", "owner_not", "group_not"]
    kind: Literal["file", "dir", "any"] = "any"
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.*?\[\]-]+$")
    max_mode: str | None = Field(default=None, pattern=r"^0?[0-7]{3,4}$")
    owners: list[str] | None = Field(default=None, min_length=1)
    groups: list[str] | None = Field(default=None, min_length=1)
    allow: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _what_to_compare(self) -> "FileSweepRule":
        needs = {"mode_exceeds": ("max_mode", self.max_mode), "owner_not": ("owners", self.owners),
                 "group_not": ("groups", self.groups)}
        if self.find in needs and needs[self.find][1] is None:
            raise ValueError(f"find {self.find} needs {needs[self.find][0]}")
        return self


class AccountsRule(_RuleBase):
    """The local account databases judged as a whole: names and ids used once each, every primary group
    defined, the shadow group without members."""

    type: Literal["accounts"]
    check: Literal["unique_uids", "unique_gids", "unique_user_names", "unique_group_names", "primary_groups_exist",
                   "shadow_group_empty"]


class AllOfRule(_RuleBase):
    """Every rule must pass (a recommendation with several conditions); with `applies_if`, the check is skipped
    on hosts where that rule does not pass (cron permissions only where cron is installed)."""

    type: Literal["all_of"]
    rules: list["Rule"] = Field(min_length=1)
    applies_if: "Rule | None" = None


class AnyOfRule(_RuleBase):
    """At least one rule must pass (a recommendation met in one of several ways: chrony or systemd-timesyncd as the
    one time daemon)."""

    type: Literal["any_of"]
    rules: list["Rule"] = Field(min_length=1)


class WindowsRegistryRule(_RuleBase):
    type: Literal["windows_registry"]
    hive: Literal["HKLM", "HKCU", "HKU"]
    key: str = Field(min_length=1)
    value_name: str
    expected: RegistryScalar | list[RegistryScalar]
    # `subset`: a REG_MULTI_SZ (read as comma-joined items) holding nothing outside `expected`.
    op: Literal["eq", "ne", "ge", "le", "in", "between", "subset"] = "eq"
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


def _known_principal(name: str) -> str:
    if principal_id(name) is None:
        raise ValueError(f"unknown principal {name!r}: give a SID (S-1-5-32-544) or a well-known name (Administrators)")
    return name


Principal = Annotated[str, AfterValidator(_known_principal)]


class WindowsUserRightRule(_RuleBase):
    """A user right of the local security policy ([Privilege Rights]) judged as the set of principals holding it:
    `exactly` the `principals` (none is 'no one'; any of `optional` may hold it as well, such as the Hyper-V
    Virtual Machines group), `includes` all of them, or `excludes` every one of them."""

    type: Literal["windows_user_right"]
    right: str = Field(pattern=r"^Se[A-Za-z]+(Privilege|Right)$")
    expect: Literal["exactly", "includes", "excludes"]
    principals: list[Principal] = Field(default_factory=list)
    optional: list[Principal] = Field(default_factory=list)

    @model_validator(mode="after")
    def _principals_fit_expect(self) -> "WindowsUserRightRule":
        if self.expect != "exactly" and not self.principals:
            raise ValueError(f"expect {self.expect} needs at least one principal")
        if self.expect != "exactly" and self.optional:
            raise ValueError("optional principals apply only to expect exactly")
        return self


class WindowsAuditPolicyRule(_RuleBase):
    """An advanced audit policy subcategory, by GUID, whose setting must include every flag in `includes`."""

    type: Literal["windows_audit_policy"]
    subcategory: str = Field(pattern=r"^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}$")
    includes: list[Literal["success", "failure"]] = Field(min_length=1)


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
    | WindowsUserRightRule
    | WindowsAuditPolicyRule
    | BsdRcConfRule
    | ConfigValueRule
    | SshdConfigRule
    | BootParameterRule
    | AuditRuleRule
    | FileSweepRule
    | AccountsRule
    | AllOfRule
    | AnyOfRule,
    Field(discriminator="type"),
]

AllOfRule.model_rebuild()
AnyOfRule.model_rebuild()

RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)


def parse_rule(raw: object) -> Rule:
    """Validate a rule document; raises pydantic.ValidationError on unknown types or bad fields."""
    return RULE_ADAPTER.validate_python(raw)


def completed(raw: object) -> object:
    """The rule with every field its schema defaults, as agents read it (`domain.rule_views`); a document the
    schema refuses stays as it is, and the agent reports it as an error."""
    try:
        return parse_rule(raw).model_dump(mode="json")
    except ValidationError:
        return raw


def rule_problems(exc: ValidationError) -> list[str]:
    """A rule's validation errors as `field: message` lines, the field relative to the rule itself."""
    return [f"{'.'.join(str(part) for part in error['loc'][1:]) or 'type'}: {error['msg']}" for error in exc.errors()]
