"""Evaluates check rules against a host seen only through the HostProbe interface; never raises."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from domain import linux_settings as linux
from domain.linux_evaluation import (
    accounts,
    audit_rule,
    boot_parameter,
    file_sweep,
    kernel_module,
    linux_package_installed,
    linux_sysctl,
    sshd_config,
    sysctl_ok,
    systemd_state,
)
from domain.probe import CommandNotFound, CommandResult, CommandTimeout, FileStat, HostProbe
from domain.redaction import redact_file_actual
from domain.regex_safety import search as regex_search
from domain.rule_views import RULE_TYPES, InvalidRule, RuleView, view

try:  # the full install checks every rule against its schema; the standard-library agent reads the server's copy,
    # which that schema already checked and completed
    from pydantic import ValidationError

    from domain.rules import parse_rule, rule_problems
except ModuleNotFoundError:
    parse_rule = None

if TYPE_CHECKING:
    from domain.rules import (
        AllOfRule,
        AnyOfRule,
        BsdRcConfRule,
        CommandOutputRule,
        ConfigValueRule,
        FileExistsRule,
        FilePermissionsRule,
        FileRegexRule,
        MountOptionRule,
        PackageRule,
        ServiceRule,
        SysctlRule,
        WindowsRegistryRule,
        WindowsSecurityPolicyRule,
    )
from domain.verdicts import (
    PROBE_TIMEOUT_SECONDS,
    Evaluation,
    Status,
    combine,
    compare,
    first_line,
    judged,
    not_applicable,
    offline,
)
from domain.windows_evaluation import WINDOWS_EVALUATORS

MAX_ACTUAL_CHARS = 500
_RC_TRUE = {"YES", "TRUE", "ON", "1"}


def evaluate(rule: Any, host: HostProbe) -> Evaluation:
    """Evaluate one raw rule document on `host`. Invalid rules and evaluator failures give `error`."""
    try:
        parsed = read_rule(rule)
    except InvalidRule as exc:
        return Evaluation("error", _shorten(str(exc)))
    outcome = _evaluate_parsed(parsed, host)
    return Evaluation(outcome.status, _shorten(outcome.actual))


def read_rule(raw: Any) -> RuleView:
    """The rule as the evaluators read it: validated and completed by its schema where the schema is installed."""
    if parse_rule is None:
        return view(raw)
    try:
        return view(parse_rule(raw).model_dump())
    except ValidationError as exc:
        raise InvalidRule(_describe_invalid(raw, exc)) from None


def _evaluate_parsed(rule: Any, host: HostProbe) -> Evaluation:
    try:
        return _EVALUATORS[rule.type](rule, host)
    except CommandTimeout as exc:
        return Evaluation("error", f"command timed out: {exc}")
    except Exception as exc:  # a failing evaluator is reported, never propagated
        return Evaluation("error", f"{type(exc).__name__}: {exc}")


def evaluate_checks(checks: Sequence[dict[str, Any]], host: HostProbe) -> list[dict[str, Any]]:
    """Evaluate every check (`{"check_id", "rule", ...}`) in order; one result per check."""
    results = []
    for check in checks:
        rule = check.get("rule") if isinstance(check, dict) else None
        check_id = check.get("check_id") if isinstance(check, dict) else None
        outcome = evaluate(rule, host)
        results.append({"check_id": check_id, "status": outcome.status, "actual": outcome.actual})
    return results


def _describe_invalid(rule: Any, exc: Exception) -> str:
    if not isinstance(rule, dict):
        return f"invalid rule: expected a mapping, got {type(rule).__name__}"
    rule_type = rule.get("type")
    if rule_type not in RULE_TYPES:
        return f"unknown rule type {rule_type!r}"
    return f"invalid {rule_type} rule: " + "; ".join(rule_problems(exc))


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ACTUAL_CHARS else text[: MAX_ACTUAL_CHARS - 1] + "…"


def _line_at(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : end if end != -1 else len(text)].strip()


def _file_regex(rule: FileRegexRule, host: HostProbe) -> Evaluation:
    files = [(path, text) for pattern in rule.all_paths for path in linux.expand(host, pattern)
             if (text := host.read_file(path)) is not None]
    if not files:
        return Evaluation(rule.missing_outcome, f"{' '.join(rule.all_paths)} not found")
    for path, content in files:
        found = regex_search(rule.pattern, content)
        if found:
            # Redacted here as well as on the agent, so a line of a sensitive file inside `paths` or an `all_of`
            # is never reported either.
            seen = redact_file_actual((path,), _line_at(content, found.start()))
            if rule.path is None:
                seen = f"{path}: {seen}"
            return Evaluation("pass" if rule.expect == "match" else "fail", seen)
    names = rule.path or ", ".join(path for path, _ in files)
    return Evaluation("fail" if rule.expect == "match" else "pass", f"no line in {names} matches")


def _file_exists(rule: FileExistsRule, host: HostProbe) -> Evaluation:
    info = host.stat(rule.path)
    if info is None:
        exists, seen = False, f"{rule.path} absent"
    else:
        kind = "directory" if info.is_dir else "file"
        exists = rule.kind == "any" or (rule.kind == "dir") == info.is_dir
        seen = f"{rule.path} present ({kind})"
    wanted = exists if rule.expect == "present" else not exists
    return Evaluation("pass" if wanted else "fail", seen)


def _file_permissions(rule: FilePermissionsRule, host: HostProbe) -> Evaluation:
    info = host.stat(rule.path)
    if info is None:
        return Evaluation(rule.missing, f"{rule.path} not found")
    mode = info.mode & 0o7777
    limit = rule.max_mode_bits
    problems = []
    if limit is not None and mode & ~limit:
        problems.append(f"mode exceeds {limit:04o}")
    if rule.owners is not None and info.owner not in rule.owners:
        problems.append(f"owner should be {' or '.join(rule.owners)}")
    if rule.groups is not None and info.group not in rule.groups:
        problems.append(f"group should be {' or '.join(rule.groups)}")
    seen = f"{rule.path} mode {mode:04o} owner {info.owner}:{info.group}"
    if problems:
        return Evaluation("fail", f"{seen} ({'; '.join(problems)})")
    return Evaluation("pass", seen)


def _command_output(rule: CommandOutputRule, host: HostProbe) -> Evaluation:
    if rule.os_types is not None and host.os_type not in rule.os_types:
        return not_applicable(host)
    if not host.running:
        return offline(f"running {rule.argv[0]}")
    if rule.requires is not None and not host.which(rule.requires):
        return Evaluation("skip", f"{rule.requires} not installed")
    try:
        result = host.run(rule.argv, rule.timeout_seconds)
    except CommandNotFound:
        return Evaluation("skip", f"{rule.argv[0]} not installed")
    except CommandTimeout:
        return Evaluation("error", f"{rule.argv[0]} timed out after {rule.timeout_seconds}s")
    found = regex_search(rule.pattern, result.stdout)
    if found:
        seen = _line_at(result.stdout, found.start())
    elif first_line(result.stdout):
        seen = first_line(result.stdout)
    else:
        seen = f"exit {result.exit_code}, no output" + (
            f": {first_line(result.stderr)}" if result.stderr.strip() else ""
        )
    wanted = found is not None if rule.expect == "match" else found is None
    return Evaluation("pass" if wanted else "fail", seen)


def _sysctl(rule: SysctlRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        verdicts = [linux_sysctl(key, rule, host) for key in rule.all_keys]
        return combine(verdicts)
    if host.os_type != "bsd":
        return not_applicable(host)
    if not host.running:
        return offline("reading kernel parameters")
    if not host.which("sysctl"):
        return Evaluation("skip", "sysctl command not available")
    return combine([_bsd_sysctl(key, rule, host) for key in rule.all_keys])


def _bsd_sysctl(key: str, rule: SysctlRule, host: HostProbe) -> Evaluation:
    result = host.run(["sysctl", "-n", key], PROBE_TIMEOUT_SECONDS)
    if result.exit_code != 0:
        return Evaluation(rule.missing, f"{key} not present")
    value = " ".join(result.stdout.split())
    return Evaluation("pass" if sysctl_ok(value, rule) else "fail", f"{key}={value}")


def _package(rule: PackageRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        installed = linux_package_installed(rule.name, host)
        if installed is None:
            return Evaluation("skip", "no package database found (dpkg, rpm)")
    elif host.os_type == "bsd":
        if not host.running:
            return offline("querying pkg")
        if not host.which("pkg"):
            return Evaluation("skip", "pkg not installed")
        installed = host.run(["pkg", "info", "-e", rule.name], PROBE_TIMEOUT_SECONDS).exit_code == 0
    else:
        return not_applicable(host)
    wanted = installed if rule.expect == "installed" else not installed
    return Evaluation("pass" if wanted else "fail", f"{rule.name} {'installed' if installed else 'not installed'}")


def _service(rule: ServiceRule, host: HostProbe) -> Evaluation:
    checking_enabled = rule.expect in ("enabled", "disabled")
    if not checking_enabled and not host.running:
        return offline("whether a service is running")
    if host.os_type == "linux":
        state, on = systemd_state(rule.name, checking_enabled, host)
        if state is None:
            return Evaluation("skip", "systemd is not running on this host")
        seen = f"{rule.name} {state}"
    elif host.os_type == "bsd":
        if checking_enabled:
            value, _ = _rc_conf_value(host, f"{rule.name}_enable")
            on = value is not None and value.upper() in _RC_TRUE
            seen = f"{rule.name}_enable={value if value is not None else 'unset'}"
        else:
            if not host.which("service"):
                return Evaluation("skip", "service command not available")
            on = host.run(["service", rule.name, "onestatus"], PROBE_TIMEOUT_SECONDS).exit_code == 0
            seen = f"{rule.name} {'running' if on else 'not running'}"
    else:
        state, seen = _windows_service(rule.name, checking_enabled, host)
        if state is None:
            return Evaluation("fail", seen)
        on = state
    wanted = on if rule.expect in ("enabled", "active") else not on
    return Evaluation("pass" if wanted else "fail", seen)


def _windows_service(name: str, checking_enabled: bool, host: HostProbe) -> tuple[bool | None, str]:
    """Enabled/disabled from the service's Start type; a manual start is neither, so it fails both."""
    if checking_enabled:
        start = host.read_registry("HKLM", rf"SYSTEM\CurrentControlSet\Services\{name}", "Start")
        if start is None:
            return False, f"{name} not installed"
        code = int(start)
        label = {0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}.get(code, str(code))
        state = True if code in (0, 1, 2) else False if code == 4 else None
        return state, f"{name} start type {label}"
    result = host.run(["sc", "query", name], PROBE_TIMEOUT_SECONDS)
    running = re.search(r"STATE\s*:\s*\d+\s+RUNNING", result.stdout) is not None
    return running, f"{name} {'running' if running else 'not running'}"


def _mount_option(rule: MountOptionRule, host: HostProbe) -> Evaluation:
    target = rule.mount_point.rstrip("/") or "/"
    if host.os_type == "linux" and not host.running:
        options = linux.fstab_options(host.read_file("/etc/fstab") or "", target)
        if options is None:
            return Evaluation("skip", "not a separate mount in /etc/fstab")
        return _judge_mount_options(rule, f"{target} (fstab)", options)
    if host.os_type == "linux":
        table = host.read_file("/proc/self/mounts") or ""
    elif host.os_type == "bsd":
        if not host.running:
            return offline("reading the mount table")
        if not host.which("mount"):
            return Evaluation("skip", "mount command not available")
        table = host.run(["mount", "-p"], PROBE_TIMEOUT_SECONDS).stdout
    else:
        return not_applicable(host)
    options = None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 4 and _unescape_mount(fields[1]) == target:
            options = fields[3].split(",")  # the last entry wins: it is the one mounted on top
    if options is None:
        return Evaluation("skip", "not a separate mount")
    return _judge_mount_options(rule, target, options)


def _judge_mount_options(rule: MountOptionRule, target: str, options: list[str]) -> Evaluation:
    present = rule.option in options or any(opt.split("=", 1)[0] == rule.option for opt in options)
    wanted = present if rule.expect == "present" else not present
    return Evaluation("pass" if wanted else "fail", f"{target} {','.join(options)}")


def _unescape_mount(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _windows_registry(rule: WindowsRegistryRule, host: HostProbe) -> Evaluation:
    if host.os_type != "windows":
        return not_applicable(host)
    value = host.read_registry(rule.hive, rule.key, rule.value_name)
    if value is None:
        return Evaluation(rule.missing, f"{rule.hive}\\{rule.key}\\{rule.value_name} not set")
    ok = compare(value, rule.op, rule.expected)
    return Evaluation("pass" if ok else "fail", f"{rule.value_name}={value}")


def _windows_security_policy(rule: WindowsSecurityPolicyRule, host: HostProbe) -> Evaluation:
    if host.os_type != "windows":
        return not_applicable(host)
    policy = host.security_policy()
    section = next((v for k, v in policy.items() if k.lower() == rule.section.lower()), {})
    value = next((v for k, v in section.items() if k.lower() == rule.setting.lower()), None)
    if value is None and rule.op in ("ge", "le", "between"):
        return Evaluation("fail", f"{rule.setting} not defined")
    seen = f"{rule.setting}={value}" if value is not None else f"{rule.setting} not defined"
    text = value or ""
    if rule.section.lower() == "privilege rights" and rule.op in ("eq", "ne"):
        same = _principals(text) == _principals(str(rule.expected))
        ok = same == (rule.op == "eq")
    else:
        ok = compare(text, rule.op, rule.expected)
    return Evaluation("pass" if ok else "fail", seen)


def _principals(text: str) -> set[str]:
    return {item.strip().lstrip("*").lower() for item in text.split(",") if item.strip()}


def _bsd_rc_conf(rule: BsdRcConfRule, host: HostProbe) -> Evaluation:
    if host.os_type != "bsd":
        return not_applicable(host)
    value, source = _rc_conf_value(host, rule.variable)
    if value is None:
        if rule.default is None:
            return Evaluation("fail", f"{rule.variable} not set")
        value, source = rule.default, "rule default"
    if rule.expected.upper() in _RC_TRUE | {"NO", "FALSE", "OFF", "0"}:
        same = value.upper() == rule.expected.upper()
    else:
        same = value == rule.expected
    ok = same == (rule.op == "eq")
    return Evaluation("pass" if ok else "fail", f'{rule.variable}="{value}" ({source})')


def _rc_conf_value(host: HostProbe, variable: str) -> tuple[str | None, str]:
    """The value rc(8) would use: last assignment in rc.conf then rc.conf.local, else the defaults."""
    found: tuple[str | None, str] = (None, "")
    for path in ("/etc/rc.conf", "/etc/rc.conf.local"):
        value = _last_assignment(host.read_file(path) or "", variable)
        if value is not None:
            found = (value, path)
    if found[0] is None:
        value = _last_assignment(host.read_file("/etc/defaults/rc.conf") or "", variable)
        if value is not None:
            found = (value, "/etc/defaults/rc.conf")
    return found


def _last_assignment(text: str, variable: str) -> str | None:
    value = None
    for match in re.finditer(rf"^\s*{re.escape(variable)}=(.*)$", text, re.MULTILINE):
        words = shlex.split(match.group(1), comments=True)
        value = words[0] if words else ""
    return value


def _config_value(rule: ConfigValueRule, host: HostProbe) -> Evaluation:
    found = linux.effective_config_value(host, rule.paths, rule.name, rule.separator, rule.wins)
    if found is None:
        if rule.default is None:
            return Evaluation(rule.missing, f"{rule.name} not set in {', '.join(rule.paths)}")
        found = (rule.default, "default")
    value, source = found
    ok = compare(value, rule.op, rule.expected)
    seen = f"{rule.name}={value} ({source})"
    return judged(ok, seen, rule.op, rule.expected)


def _all_of(rule: AllOfRule, host: HostProbe) -> Evaluation:
    if rule.applies_if is not None:
        gate = _evaluate_parsed(rule.applies_if, host)
        if gate.status != "pass":
            return Evaluation("skip" if gate.status != "error" else "error", f"not applicable: {gate.actual}")
    return combine([_evaluate_parsed(part, host) for part in rule.rules])


def _any_of(rule: AnyOfRule, host: HostProbe) -> Evaluation:
    """Passes when one way of meeting the recommendation passes; otherwise every way's failure is reported (an
    error only when no way could be judged without one)."""
    verdicts = [_evaluate_parsed(part, host) for part in rule.rules]
    passed = next((verdict for verdict in verdicts if verdict.status == "pass"), None)
    if passed is not None:
        return passed
    for status in ("fail", "error"):
        bad = [verdict.actual for verdict in verdicts if verdict.status == status]
        if bad:
            return Evaluation(status, " / ".join(bad))
    return Evaluation("skip", "; ".join(verdict.actual for verdict in verdicts))


_EVALUATORS: dict[str, Callable[[Any, HostProbe], Evaluation]] = {
    "file_regex": _file_regex,
    "file_exists": _file_exists,
    "file_permissions": _file_permissions,
    "command_output": _command_output,
    "sysctl": _sysctl,
    "package": _package,
    "service": _service,
    "kernel_module": kernel_module,
    "mount_option": _mount_option,
    "windows_registry": _windows_registry,
    "windows_security_policy": _windows_security_policy,
    "bsd_rc_conf": _bsd_rc_conf,
    "config_value": _config_value,
    "sshd_config": sshd_config,
    "boot_parameter": boot_parameter,
    "audit_rule": audit_rule,
    "file_sweep": file_sweep,
    "accounts": accounts,
    "all_of": _all_of,
    "any_of": _any_of,
    **WINDOWS_EVALUATORS,
}


__all__ = [
    "CommandNotFound",
    "CommandResult",
    "CommandTimeout",
    "Evaluation",
    "FileStat",
    "HostProbe",
    "Status",
    "evaluate",
    "evaluate_checks",
]
