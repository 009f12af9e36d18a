"""Evaluates check rules against a host seen only through the HostProbe interface; never raises."""

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from domain.regex_safety import search as regex_search
from domain.rules import (
    RULE_TYPES,
    BsdRcConfRule,
    CommandOutputRule,
    FileExistsRule,
    FilePermissionsRule,
    FileRegexRule,
    KernelModuleRule,
    MountOptionRule,
    PackageRule,
    RegistryScalar,
    ServiceRule,
    SysctlRule,
    WindowsRegistryRule,
    WindowsSecurityPolicyRule,
    parse_rule,
    rule_problems,
)

Status = Literal["pass", "fail", "error", "skip"]
MAX_ACTUAL_CHARS = 500
PROBE_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class FileStat:
    mode: int
    owner: str
    group: str
    is_dir: bool


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


class CommandNotFound(Exception):
    """The program to run does not exist on the host."""


class CommandTimeout(Exception):
    """The program did not finish within its timeout."""


class HostProbe(Protocol):
    os_type: Literal["linux", "windows", "bsd"]

    def read_file(self, path: str) -> str | None: ...

    def stat(self, path: str) -> FileStat | None: ...

    def list_dir(self, path: str) -> list[str] | None: ...

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult: ...

    def which(self, name: str) -> bool: ...

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None: ...

    def security_policy(self) -> dict[str, dict[str, str]]: ...


@dataclass(frozen=True)
class Evaluation:
    status: Status
    actual: str


def evaluate(rule: Any, host: HostProbe) -> Evaluation:
    """Evaluate one raw rule document on `host`. Invalid rules and evaluator failures give `error`."""
    try:
        parsed = parse_rule(rule)
    except ValidationError as exc:
        return Evaluation("error", _shorten(_describe_invalid(rule, exc)))
    try:
        outcome = _EVALUATORS[parsed.type](parsed, host)
    except CommandTimeout as exc:
        outcome = Evaluation("error", f"command timed out: {exc}")
    except Exception as exc:  # a failing evaluator is reported, never propagated
        outcome = Evaluation("error", f"{type(exc).__name__}: {exc}")
    return Evaluation(outcome.status, _shorten(outcome.actual))


def evaluate_checks(checks: Sequence[dict[str, Any]], host: HostProbe) -> list[dict[str, Any]]:
    """Evaluate every check (`{"check_id", "rule", ...}`) in order; one result per check."""
    results = []
    for check in checks:
        rule = check.get("rule") if isinstance(check, dict) else None
        check_id = check.get("check_id") if isinstance(check, dict) else None
        outcome = evaluate(rule, host)
        results.append({"check_id": check_id, "status": outcome.status, "actual": outcome.actual})
    return results


def _describe_invalid(rule: Any, exc: ValidationError) -> str:
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


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _not_applicable(host: HostProbe) -> Evaluation:
    return Evaluation("skip", f"not applicable on {host.os_type}")


def _file_regex(rule: FileRegexRule, host: HostProbe) -> Evaluation:
    content = host.read_file(rule.path)
    if content is None:
        return Evaluation(rule.missing_outcome, f"{rule.path} not found")
    found = regex_search(rule.pattern, content)
    seen = _line_at(content, found.start()) if found else f"no line in {rule.path} matches"
    wanted = found is not None if rule.expect == "match" else found is None
    return Evaluation("pass" if wanted else "fail", seen)


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
    if rule.owner is not None and info.owner != rule.owner:
        problems.append(f"owner should be {rule.owner}")
    if rule.group is not None and info.group != rule.group:
        problems.append(f"group should be {rule.group}")
    seen = f"{rule.path} mode {mode:04o} owner {info.owner}:{info.group}"
    if problems:
        return Evaluation("fail", f"{seen} ({'; '.join(problems)})")
    return Evaluation("pass", seen)


def _command_output(rule: CommandOutputRule, host: HostProbe) -> Evaluation:
    if rule.os_types is not None and host.os_type not in rule.os_types:
        return _not_applicable(host)
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
    elif _first_line(result.stdout):
        seen = _first_line(result.stdout)
    else:
        seen = f"exit {result.exit_code}, no output" + (
            f": {_first_line(result.stderr)}" if result.stderr.strip() else ""
        )
    wanted = found is not None if rule.expect == "match" else found is None
    return Evaluation("pass" if wanted else "fail", seen)


def _sysctl(rule: SysctlRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        raw = host.read_file("/proc/sys/" + rule.key.replace(".", "/"))
    elif host.os_type == "bsd":
        if not host.which("sysctl"):
            return Evaluation("skip", "sysctl command not available")
        result = host.run(["sysctl", "-n", rule.key], PROBE_TIMEOUT_SECONDS)
        raw = result.stdout if result.exit_code == 0 else None
    else:
        return _not_applicable(host)
    if raw is None:
        return Evaluation("skip", f"{rule.key} not present")
    value = " ".join(raw.split())
    expected = " ".join(rule.expected.split())
    if rule.op in ("eq", "ne"):
        ok = (value == expected) == (rule.op == "eq")
    else:
        ok = _ordered(_as_int(value, rule.key), rule.op, int(expected))
    return Evaluation("pass" if ok else "fail", f"{rule.key}={value}")


def _package(rule: PackageRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        if host.which("dpkg-query"):
            result = host.run(["dpkg-query", "-W", "-f=${Status}\n", rule.name], PROBE_TIMEOUT_SECONDS)
            statuses = result.stdout.splitlines() if result.exit_code == 0 else []
            installed = any(status.split()[-1:] == ["installed"] for status in statuses)
        elif host.which("rpm"):
            installed = host.run(["rpm", "-q", rule.name], PROBE_TIMEOUT_SECONDS).exit_code == 0
        else:
            return Evaluation("skip", "no package manager (dpkg-query, rpm) found")
    elif host.os_type == "bsd":
        if not host.which("pkg"):
            return Evaluation("skip", "pkg not installed")
        installed = host.run(["pkg", "info", "-e", rule.name], PROBE_TIMEOUT_SECONDS).exit_code == 0
    else:
        return _not_applicable(host)
    wanted = installed if rule.expect == "installed" else not installed
    return Evaluation("pass" if wanted else "fail", f"{rule.name} {'installed' if installed else 'not installed'}")


_SYSTEMD_ENABLED = {"enabled", "enabled-runtime", "alias", "generated", "indirect"}
_SYSTEMD_ACTIVE = {"active", "activating", "reloading", "refreshing", "deactivating"}
_RC_TRUE = {"YES", "TRUE", "ON", "1"}


def _service(rule: ServiceRule, host: HostProbe) -> Evaluation:
    checking_enabled = rule.expect in ("enabled", "disabled")
    if host.os_type == "linux":
        state, on = _systemd_state(rule.name, checking_enabled, host)
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


def _systemd_state(name: str, checking_enabled: bool, host: HostProbe) -> tuple[str | None, bool]:
    booted = host.stat("/run/systemd/system")
    if not host.which("systemctl") or booted is None or not booted.is_dir:
        return None, False
    verb = "is-enabled" if checking_enabled else "is-active"
    result = host.run(["systemctl", verb, name], PROBE_TIMEOUT_SECONDS)
    state = _first_line(result.stdout) or ("not-found" if checking_enabled else "inactive")
    return state, state in (_SYSTEMD_ENABLED if checking_enabled else _SYSTEMD_ACTIVE)


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


def _kernel_module(rule: KernelModuleRule, host: HostProbe) -> Evaluation:
    if host.os_type != "linux":
        return _not_applicable(host)
    name = rule.name.replace("-", "_")
    loaded = host.read_file("/proc/modules") or ""
    if any(line.split(" ", 1)[0] == name for line in loaded.splitlines()):
        return Evaluation("fail", f"{rule.name} is loaded")
    if host.which("modprobe"):
        reason = _modprobe_blocks(rule.name, host)
    else:
        reason = _module_files_block(rule.name, host)
    if reason.startswith("loadable") or reason.startswith("built into"):
        return Evaluation("fail", f"{rule.name} not loaded but {reason}")
    return Evaluation("pass", f"{rule.name} not loaded; {reason}")


def _modprobe_blocks(module: str, host: HostProbe) -> str:
    dry_run = host.run(["modprobe", "-n", "-v", module], PROBE_TIMEOUT_SECONDS)
    install = re.search(r"^\s*install\s+(/usr)?/bin/(true|false)\b.*$", dry_run.stdout, re.MULTILINE)
    if install:
        return install.group(0).strip()
    if dry_run.exit_code != 0 and "not found" in (dry_run.stderr + dry_run.stdout):
        return "module not available"
    if re.search(r"^\s*builtin\s", dry_run.stdout, re.MULTILINE):
        return "built into the kernel"
    config = host.run(["modprobe", "--showconfig"], PROBE_TIMEOUT_SECONDS).stdout
    if re.search(rf"^blacklist\s+{_module_regex(module)}\s*$", config, re.MULTILINE):
        return "blacklisted"
    return f"loadable ({_first_line(dry_run.stdout) or 'no install override'})"


def _module_files_block(module: str, host: HostProbe) -> str:
    """Decide without modprobe: from the module index and the modprobe.d configuration files."""
    name = _module_regex(module)
    for directory in ("/etc/modprobe.d", "/run/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"):
        for entry in sorted(host.list_dir(directory) or []):
            if not entry.endswith(".conf"):
                continue
            text = host.read_file(f"{directory}/{entry}") or ""
            install = re.search(rf"^\s*install\s+{name}\s+(/usr)?/bin/(true|false)\b", text, re.MULTILINE)
            if install:
                return f"{install.group(0).strip()} ({directory}/{entry})"
            if re.search(rf"^\s*blacklist\s+{name}\s*$", text, re.MULTILINE):
                return f"blacklisted ({directory}/{entry})"
    release = (host.read_file("/proc/sys/kernel/osrelease") or "").strip()
    builtin = host.read_file(f"/lib/modules/{release}/modules.builtin") or ""
    if re.search(rf"/{name}\.ko\s*$", builtin, re.MULTILINE):
        return "built into the kernel"
    index = host.read_file(f"/lib/modules/{release}/modules.dep")
    if index is None or not re.search(rf"/{name}\.ko(\.\w+)?:", index, re.MULTILINE):
        return "module not available"
    return "loadable (no install or blacklist rule in modprobe.d)"


def _module_regex(module: str) -> str:
    """Module names treat '-' and '_' as the same character."""
    return "".join("[-_]" if char in "-_" else re.escape(char) for char in module)


def _mount_option(rule: MountOptionRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        table = host.read_file("/proc/self/mounts") or ""
    elif host.os_type == "bsd":
        if not host.which("mount"):
            return Evaluation("skip", "mount command not available")
        table = host.run(["mount", "-p"], PROBE_TIMEOUT_SECONDS).stdout
    else:
        return _not_applicable(host)
    target = rule.mount_point.rstrip("/") or "/"
    options = None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 4 and _unescape_mount(fields[1]) == target:
            options = fields[3].split(",")  # the last entry wins: it is the one mounted on top
    if options is None:
        return Evaluation("skip", "not a separate mount")
    present = rule.option in options or any(opt.split("=", 1)[0] == rule.option for opt in options)
    wanted = present if rule.expect == "present" else not present
    return Evaluation("pass" if wanted else "fail", f"{target} {','.join(options)}")


def _unescape_mount(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _windows_registry(rule: WindowsRegistryRule, host: HostProbe) -> Evaluation:
    if host.os_type != "windows":
        return _not_applicable(host)
    value = host.read_registry(rule.hive, rule.key, rule.value_name)
    if value is None:
        return Evaluation(rule.missing, f"{rule.hive}\\{rule.key}\\{rule.value_name} not set")
    ok = _compare(value, rule.op, rule.expected)
    return Evaluation("pass" if ok else "fail", f"{rule.value_name}={value}")


def _windows_security_policy(rule: WindowsSecurityPolicyRule, host: HostProbe) -> Evaluation:
    if host.os_type != "windows":
        return _not_applicable(host)
    policy = host.security_policy()
    section = next((v for k, v in policy.items() if k.lower() == rule.section.lower()), {})
    value = next((v for k, v in section.items() if k.lower() == rule.setting.lower()), None)
    if value is None and rule.op in ("ge", "le"):
        return Evaluation("fail", f"{rule.setting} not defined")
    seen = f"{rule.setting}={value}" if value is not None else f"{rule.setting} not defined"
    text = value or ""
    if rule.section.lower() == "privilege rights" and rule.op in ("eq", "ne"):
        same = _principals(text) == _principals(str(rule.expected))
        ok = same == (rule.op == "eq")
    else:
        ok = _compare(text, rule.op, rule.expected)
    return Evaluation("pass" if ok else "fail", seen)


def _principals(text: str) -> set[str]:
    return {item.strip().lstrip("*").lower() for item in text.split(",") if item.strip()}


def _bsd_rc_conf(rule: BsdRcConfRule, host: HostProbe) -> Evaluation:
    if host.os_type != "bsd":
        return _not_applicable(host)
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


def _compare(value: RegistryScalar, op: str, expected: RegistryScalar | list[RegistryScalar]) -> bool:
    if op == "in":
        assert isinstance(expected, list)
        return any(_equal(value, option) for option in expected)
    assert not isinstance(expected, list)
    if op in ("eq", "ne"):
        return _equal(value, expected) == (op == "eq")
    return _ordered(_as_int(value, "value"), op, int(expected))


def _equal(value: RegistryScalar, expected: RegistryScalar) -> bool:
    left, right = str(value).strip(), str(expected).strip()
    if re.fullmatch(r"-?\d+", left) and re.fullmatch(r"-?\d+", right):
        return int(left) == int(right)
    return left.casefold() == right.casefold()


def _ordered(value: int, op: str, expected: int) -> bool:
    return value >= expected if op == "ge" else value <= expected


def _as_int(value: RegistryScalar, label: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{label} {value!r} is not an integer") from None


_EVALUATORS: dict[str, Callable[[Any, HostProbe], Evaluation]] = {
    "file_regex": _file_regex,
    "file_exists": _file_exists,
    "file_permissions": _file_permissions,
    "command_output": _command_output,
    "sysctl": _sysctl,
    "package": _package,
    "service": _service,
    "kernel_module": _kernel_module,
    "mount_option": _mount_option,
    "windows_registry": _windows_registry,
    "windows_security_policy": _windows_security_policy,
    "bsd_rc_conf": _bsd_rc_conf,
}

__all__ = [
    "CommandNotFound",
    "CommandResult",
    "CommandTimeout",
    "Evaluation",
    "FileStat",
    "HostProbe",
    "evaluate",
    "evaluate_checks",
]
