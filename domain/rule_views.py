"""Check rules as the evaluators read them, in the standard library only, so the installable agent needs nothing
else: a rule document whose every field is present (the server sends each rule as its schema in `domain.rules`
validated and completed it) is read through attributes, with the few derived values the evaluators use."""

from __future__ import annotations

from typing import Any

RegistryScalar = str | int

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
        "windows_user_right",
        "windows_audit_policy",
        "bsd_rc_conf",
        "config_value",
        "sshd_config",
        "boot_parameter",
        "audit_rule",
        "file_sweep",
        "accounts",
        "all_of",
        "any_of",
    }
)


class InvalidRule(ValueError):
    """A document that is not a rule this agent knows."""


class RuleView:
    """A rule document read through attributes; a field the document lacks is an error, not a silent None."""

    __slots__ = ("_doc",)

    def __init__(self, doc: dict[str, Any]):
        self._doc = doc

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._doc[name]
        except KeyError:
            raise AttributeError(f"{self._doc.get('type')} rule has no field {name!r}") from None
        if name in ("rules", "applies_if"):
            return None if value is None else [view(part) for part in value] if name == "rules" else view(value)
        return value

    def __repr__(self) -> str:
        return f"RuleView({self._doc!r})"


class FileRegexView(RuleView):
    __slots__ = ()

    @property
    def all_paths(self) -> list[str]:
        return [self.path] if self.path is not None else list(self.paths or [])

    @property
    def missing_outcome(self) -> str:
        if self.missing is not None:
            return self.missing
        return "fail" if self.expect == "match" else "pass"


class FilePermissionsView(RuleView):
    __slots__ = ()

    @property
    def max_mode_bits(self) -> int | None:
        return None if self.max_mode is None else int(self.max_mode, 8)

    @property
    def owners(self) -> list[str] | None:
        return [self.owner] if isinstance(self.owner, str) else self.owner

    @property
    def groups(self) -> list[str] | None:
        return [self.group] if isinstance(self.group, str) else self.group


class SysctlView(RuleView):
    __slots__ = ()

    @property
    def all_keys(self) -> list[str]:
        return [self.key] if self.key is not None else list(self.keys or [])


_VIEWS: dict[str, type[RuleView]] = {"file_regex": FileRegexView, "file_permissions": FilePermissionsView,
                                     "sysctl": SysctlView}


def view(doc: object) -> RuleView:
    """The evaluators' reading of a complete rule document; InvalidRule when it is not one."""
    if not isinstance(doc, dict):
        raise InvalidRule(f"invalid rule: expected a mapping, got {type(doc).__name__}")
    rule_type = doc.get("type")
    if rule_type not in RULE_TYPES:
        raise InvalidRule(f"unknown rule type {rule_type!r}")
    return _VIEWS.get(rule_type, RuleView)(doc)
