"""Evaluates check rules against a host seen only through the HostProbe interface; never raises."""

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from domain import linux_settings as linux
from domain.probe import CommandNotFound, CommandResult, CommandTimeout, FileStat, HostProbe
from domain.redaction import redact_file_actual
from domain.regex_safety import search as regex_search
from domain.rules import (
    RULE_TYPES,
    AllOfRule,
    BootParameterRule,
    BsdRcConfRule,
    CommandOutputRule,
    ConfigValueRule,
    FileExistsRule,
    FilePermissionsRule,
    FileRegexRule,
    KernelModuleRule,
    MountOptionRule,
    PackageRule,
    RegistryScalar,
    ServiceRule,
    SshdConfigRule,
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
class Evaluation:
    status: Status
    actual: str


def evaluate(rule: Any, host: HostProbe) -> Evaluation:
    """Evaluate one raw rule document on `host`. Invalid rules and evaluator failures give `error`."""
    try:
        parsed = parse_rule(rule)
    except ValidationError as exc:
        return Evaluation("error", _shorten(_describe_invalid(rule, exc)))
    outcome = _evaluate_parsed(parsed, host)
    return Evaluation(outcome.status, _shorten(outcome.actual))


def _evaluate_parsed(rule: Any, host: HostProbe) -> "Evaluation":
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


def _offline(what: str) -> Evaluation:
    return Evaluation("skip", f"{what} needs the running system; not judged in an offline scan")


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
        return _not_applicable(host)
    if not host.running:
        return _offline(f"running {rule.argv[0]}")
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
        verdicts = [_linux_sysctl(key, rule, host) for key in rule.all_keys]
        return _combine(verdicts)
    if host.os_type != "bsd":
        return _not_applicable(host)
    if not host.running:
        return _offline("reading kernel parameters")
    if not host.which("sysctl"):
        return Evaluation("skip", "sysctl command not available")
    return _combine([_bsd_sysctl(key, rule, host) for key in rule.all_keys])


def _bsd_sysctl(key: str, rule: SysctlRule, host: HostProbe) -> Evaluation:
    result = host.run(["sysctl", "-n", key], PROBE_TIMEOUT_SECONDS)
    if result.exit_code != 0:
        return Evaluation(rule.missing, f"{key} not present")
    value = " ".join(result.stdout.split())
    return Evaluation("pass" if _sysctl_ok(value, rule) else "fail", f"{key}={value}")


def _linux_sysctl(key: str, rule: SysctlRule, host: HostProbe) -> Evaluation:
    """Both the running value and the value the next boot sets (sysctl.d, sysctl.conf) must comply; offline only
    the persisted one can be judged."""
    persisted = linux.persisted_sysctl(host, key)
    saved = f"{persisted[0]} persisted in {persisted[1]}" if persisted else "not persisted"
    if host.running:
        raw = host.read_file("/proc/sys/" + key.replace(".", "/"))
        if raw is None:
            return Evaluation(rule.missing, f"{key} not in the running kernel")
        value = " ".join(raw.split())
        ok = _sysctl_ok(value, rule)
        seen = f"{key}={value} running, {saved}"
    elif key.startswith("net.ipv6.") and linux.ipv6_disabled_at_boot(host):
        return Evaluation("skip", f"{key}: IPv6 is disabled on the kernel command line")
    else:
        ok, seen = True, f"{key} {saved}"
    if persisted is None:
        if rule.persisted == "required":
            ok = False
        elif not host.running:
            return Evaluation("skip", f"{seen}; the kernel default applies")
    elif not _sysctl_ok(persisted[0], rule):
        ok = False
    if not host.running:
        where = "persisted"
    elif rule.persisted == "required":
        where = "both running and persisted"
    else:
        where = "running and wherever persisted"
    return Evaluation("pass", seen) if ok else Evaluation("fail", f"{seen}; expected {rule.op} {rule.expected} {where}")


def _sysctl_ok(value: str, rule: SysctlRule) -> bool:
    expected = " ".join(rule.expected.split())
    if rule.op in ("eq", "ne"):
        return (value == expected) == (rule.op == "eq")
    return _ordered(_as_int(value, "value"), rule.op, int(expected))


def _combine(verdicts: Sequence[Evaluation]) -> Evaluation:
    """Several conditions of one check: any error or failure decides, all skipped is a skip, else a pass."""
    for status in ("error", "fail"):
        bad = [verdict.actual for verdict in verdicts if verdict.status == status]
        if bad:
            return Evaluation(status, "; ".join(bad))
    if all(verdict.status == "skip" for verdict in verdicts):
        return Evaluation("skip", "; ".join(verdict.actual for verdict in verdicts))
    return Evaluation("pass", "; ".join(verdict.actual for verdict in verdicts if verdict.status == "pass"))


def _package(rule: PackageRule, host: HostProbe) -> Evaluation:
    if host.os_type == "linux":
        installed = _linux_package_installed(rule.name, host)
        if installed is None:
            return Evaluation("skip", "no package database found (dpkg, rpm)")
    elif host.os_type == "bsd":
        if not host.running:
            return _offline("querying pkg")
        if not host.which("pkg"):
            return Evaluation("skip", "pkg not installed")
        installed = host.run(["pkg", "info", "-e", rule.name], PROBE_TIMEOUT_SECONDS).exit_code == 0
    else:
        return _not_applicable(host)
    wanted = installed if rule.expect == "installed" else not installed
    return Evaluation("pass" if wanted else "fail", f"{rule.name} {'installed' if installed else 'not installed'}")


def _linux_package_installed(name: str, host: HostProbe) -> bool | None:
    if host.running and host.which("dpkg-query"):
        result = host.run(["dpkg-query", "-W", "-f=${Status}\n", name], PROBE_TIMEOUT_SECONDS)
        statuses = result.stdout.splitlines() if result.exit_code == 0 else []
        return any(status.split()[-1:] == ["installed"] for status in statuses)
    if host.running and host.which("rpm"):
        return host.run(["rpm", "-q", name], PROBE_TIMEOUT_SECONDS).exit_code == 0
    status = host.read_file(linux.DPKG_STATUS)
    return None if status is None else linux.dpkg_installed(status, name)


_SYSTEMD_ENABLED = {"enabled", "enabled-runtime", "alias", "generated", "indirect"}
_SYSTEMD_ACTIVE = {"active", "activating", "reloading", "refreshing", "deactivating"}
_RC_TRUE = {"YES", "TRUE", "ON", "1"}


def _service(rule: ServiceRule, host: HostProbe) -> Evaluation:
    checking_enabled = rule.expect in ("enabled", "disabled")
    if not checking_enabled and not host.running:
        return _offline("whether a service is running")
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
    """Enablement works without a running systemd (`systemctl is-enabled` reads unit files, and so do we when
    systemctl is missing or the host is a root filesystem); whether a unit is active needs systemd as PID 1."""
    if checking_enabled:
        if host.running and host.which("systemctl"):
            result = host.run(["systemctl", "is-enabled", name], PROBE_TIMEOUT_SECONDS)
            state = _first_line(result.stdout) or "not-found"
        else:
            state = linux.unit_file_state(host, name)
        return state, state in _SYSTEMD_ENABLED
    booted = host.stat("/run/systemd/system")
    if not host.which("systemctl") or booted is None or not booted.is_dir:
        return None, False
    result = host.run(["systemctl", "is-active", name], PROBE_TIMEOUT_SECONDS)
    state = _first_line(result.stdout) or "inactive"
    return state, state in _SYSTEMD_ACTIVE


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


_MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
                  "/lib/modprobe.d")


def _kernel_module(rule: KernelModuleRule, host: HostProbe) -> Evaluation:
    """Disabled means: not loaded, and, unless the kernel has no such module, both an `install <module>
    /bin/false` (or /bin/true) override and a blacklist entry, so neither a request nor an alias can load it."""
    if host.os_type != "linux":
        return _not_applicable(host)
    name = rule.name.replace("-", "_")
    if host.running:
        loaded = host.read_file("/proc/modules") or ""
        if any(line.split(" ", 1)[0] == name for line in loaded.splitlines()):
            return Evaluation("fail", f"{rule.name} is loaded")
    with_modprobe = host.running and host.which("modprobe")
    availability = _module_availability(rule.name, host, with_modprobe)
    if availability == "module not available":
        return Evaluation("pass", f"{rule.name}: {availability}")
    if availability == "built into the kernel":
        return Evaluation("fail", f"{rule.name} is {availability}")
    if with_modprobe:
        config = host.run(["modprobe", "--showconfig"], PROBE_TIMEOUT_SECONDS).stdout
    else:
        config = "\n".join(host.read_file(path) or "" for path in _modprobe_files(host))
    pattern = _module_regex(rule.name)
    install = re.search(rf"^\s*install\s+{pattern}\s+(/usr)?/bin/(true|false)\b.*$", config, re.MULTILINE)
    blacklisted = re.search(rf"^\s*blacklist\s+{pattern}\s*$", config, re.MULTILINE) is not None
    missing = ([] if install else [f"no 'install {rule.name} /bin/false'"]) + ([] if blacklisted else
                                                                               ["not blacklisted"])
    state = "not loaded" if host.running else "in modprobe.d"
    if missing:
        return Evaluation("fail", f"{rule.name} {state} but loadable: {', '.join(missing)}")
    assert install is not None
    return Evaluation("pass", f"{rule.name} {state}; {install.group(0).strip()}; blacklisted")


def _module_availability(module: str, host: HostProbe, with_modprobe: bool) -> str:
    """From the module index of the running kernel (every installed kernel offline), else modprobe's dry run."""
    if host.running:
        release = (host.read_file("/proc/sys/kernel/osrelease") or "").strip()
        trees = [f"/lib/modules/{release}", f"/usr/lib/modules/{release}"]
    else:
        trees = [f"{base}/{release}" for base in ("/lib/modules", "/usr/lib/modules")
                 for release in host.list_dir(base) or []]
    name = _module_regex(module)
    indexes = [(host.read_file(f"{tree}/modules.builtin") or "", host.read_file(f"{tree}/modules.dep"))
               for tree in trees]
    indexes = [(builtin, dep) for builtin, dep in indexes if dep is not None]
    if not indexes and with_modprobe:
        dry_run = host.run(["modprobe", "-n", "-v", module], PROBE_TIMEOUT_SECONDS)
        if dry_run.exit_code != 0 and "not found" in (dry_run.stderr + dry_run.stdout):
            return "module not available"
        if re.search(r"^\s*builtin\s", dry_run.stdout, re.MULTILINE):
            return "built into the kernel"
        return "available"
    if any(re.search(rf"/{name}\.ko\s*$", builtin, re.MULTILINE) for builtin, _ in indexes):
        return "built into the kernel"
    if indexes and not any(re.search(rf"/{name}\.ko(\.\w+)?:", dep or "", re.MULTILINE) for _, dep in indexes):
        return "module not available"
    return "available"


def _modprobe_files(host: HostProbe) -> list[str]:
    chosen: dict[str, str] = {}
    for folder in _MODPROBE_DIRS:
        for entry in host.list_dir(folder) or []:
            if entry.endswith(".conf") and entry not in chosen:
                chosen[entry] = f"{folder}/{entry}"
    return [chosen[name] for name in sorted(chosen)]


def _module_regex(module: str) -> str:
    """Module names treat '-' and '_' as the same character."""
    return "".join("[-_]" if char in "-_" else re.escape(char) for char in module)


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
            return _offline("reading the mount table")
        if not host.which("mount"):
            return Evaluation("skip", "mount command not available")
        table = host.run(["mount", "-p"], PROBE_TIMEOUT_SECONDS).stdout
    else:
        return _not_applicable(host)
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
    if isinstance(expected, list):
        if op == "in":
            return any(_equal(value, option) for option in expected)
        allowed = {str(option).strip().casefold() for option in expected}
        items = {item.strip().casefold() for item in str(value).split(",") if item.strip()}
        if op == "subset":
            return bool(items) and items <= allowed
        if op == "disjoint":
            return not items & allowed
        assert op == "between"
        number = _as_int(value, "value")
        return int(expected[0]) <= number <= int(expected[1])
    if op in ("eq", "ne"):
        return _equal(value, expected) == (op == "eq")
    return _ordered(_as_int(value, "value"), op, int(expected))


def _described(op: str, expected: RegistryScalar | list[RegistryScalar]) -> str:
    if isinstance(expected, list):
        shown = ",".join(str(item) for item in expected)
        return f"between {expected[0]} and {expected[1]}" if op == "between" else f"{op} [{shown}]"
    return f"{op} {expected}"


def _judged(ok: bool, seen: str, op: str, expected: RegistryScalar | list[RegistryScalar]) -> Evaluation:
    return Evaluation("pass", seen) if ok else Evaluation("fail", f"{seen}, expected {_described(op, expected)}")


def _config_value(rule: ConfigValueRule, host: HostProbe) -> Evaluation:
    found = linux.effective_config_value(host, rule.paths, rule.name, rule.separator, rule.wins)
    if found is None:
        if rule.default is None:
            return Evaluation(rule.missing, f"{rule.name} not set in {', '.join(rule.paths)}")
        found = (rule.default, "default")
    value, source = found
    ok = _compare(value, rule.op, rule.expected)
    seen = f"{rule.name}={value} ({source})"
    return _judged(ok, seen, rule.op, rule.expected)


def _sshd_config(rule: SshdConfigRule, host: HostProbe) -> Evaluation:
    if host.os_type == "windows":
        return _not_applicable(host)
    settings, source = None, "sshd_config"
    if host.running and host.which("sshd"):
        result = host.run(["sshd", "-T"], PROBE_TIMEOUT_SECONDS)
        if result.exit_code == 0 and result.stdout.strip():
            settings, source = linux.parse_sshd_t(result.stdout), "sshd -T"
    if settings is None:
        settings = linux.sshd_file_settings(host)
    if settings is None:
        return Evaluation(rule.missing, f"{linux.SSHD_CONFIG} not found")
    value = settings.get(rule.keyword.lower())
    if value is None:
        if rule.default is None:
            return Evaluation("fail", f"{rule.keyword} not set ({source})")
        value, source = rule.default, "OpenSSH default"
    value = linux.sshd_list_value(value, rule.default)
    judged: RegistryScalar = value
    if rule.op in ("ge", "le", "between") and (seconds := linux.sshd_seconds(value)) is not None:
        judged = seconds
    ok = _compare(judged, rule.op, rule.expected)
    seen = f"{rule.keyword} {value} ({source})"
    return _judged(ok, seen, rule.op, rule.expected)


def _boot_parameter(rule: BootParameterRule, host: HostProbe) -> Evaluation:
    if host.os_type != "linux":
        return _not_applicable(host)
    sources = linux.boot_entries(host)
    if host.running:
        sources.insert(0, ("running kernel", host.read_file("/proc/cmdline") or ""))
    if not sources:
        return Evaluation("skip", "no boot loader entries found (grub.cfg, /boot/loader/entries)")
    problems = []
    for source, cmdline in sources:
        value = linux.kernel_parameter(cmdline, rule.name)
        if value is None:
            problems.append(f"{rule.name} missing from {source}")
        elif not _compare(value, rule.op, rule.expected):
            problems.append(f"{rule.name}={value} in {source}")
    if problems:
        return Evaluation("fail", "; ".join(dict.fromkeys(problems)))
    where = ", ".join(dict.fromkeys(source for source, _ in sources))
    return Evaluation("pass", f"{rule.name} {_described(rule.op, rule.expected)} in {where}")


def _all_of(rule: AllOfRule, host: HostProbe) -> Evaluation:
    if rule.applies_if is not None:
        gate = _evaluate_parsed(rule.applies_if, host)
        if gate.status != "pass":
            return Evaluation("skip" if gate.status != "error" else "error", f"not applicable: {gate.actual}")
    return _combine([_evaluate_parsed(part, host) for part in rule.rules])


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
    "config_value": _config_value,
    "sshd_config": _sshd_config,
    "boot_parameter": _boot_parameter,
    "all_of": _all_of,
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
