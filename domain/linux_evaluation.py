"""The Linux side of rule evaluation: kernel parameters, modules, systemd units, packages, sshd, the kernel
command line, audit rules, file-system sweeps and the account databases, judged the way the benchmarks audit them,
on a running host or on a root filesystem offline."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import defaultdict
from typing import TYPE_CHECKING

from domain import linux_settings as linux
from domain.probe import FileStat, HostProbe
from domain.rule_views import RegistryScalar
from domain.verdicts import (
    PROBE_TIMEOUT_SECONDS,
    Evaluation,
    as_int,
    compare,
    described,
    first_line,
    judged,
    not_applicable,
    ordered,
)

if TYPE_CHECKING:
    from domain.rules import (
        AccountsRule,
        AuditRuleRule,
        BootParameterRule,
        FileSweepRule,
        KernelModuleRule,
        SshdConfigRule,
        SysctlRule,
    )


def linux_sysctl(key: str, rule: SysctlRule, host: HostProbe) -> Evaluation:
    """Both the running value and the value the next boot sets (sysctl.d, sysctl.conf) must comply; offline only
    the persisted one can be judged."""
    persisted = linux.persisted_sysctl(host, key)
    saved = f"{persisted[0]} persisted in {persisted[1]}" if persisted else "not persisted"
    if host.running:
        raw = host.read_file("/proc/sys/" + key.replace(".", "/"))
        if raw is None:
            return Evaluation(rule.missing, f"{key} not in the running kernel")
        value = " ".join(raw.split())
        ok = sysctl_ok(value, rule)
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
    elif not sysctl_ok(persisted[0], rule):
        ok = False
    if not host.running:
        where = "persisted"
    elif rule.persisted == "required":
        where = "both running and persisted"
    else:
        where = "running and wherever persisted"
    return Evaluation("pass", seen) if ok else Evaluation("fail", f"{seen}; expected {rule.op} {rule.expected} {where}")


def sysctl_ok(value: str, rule: SysctlRule) -> bool:
    expected = " ".join(rule.expected.split())
    if rule.op in ("eq", "ne"):
        return (value == expected) == (rule.op == "eq")
    return ordered(as_int(value, "value"), rule.op, int(expected))


def linux_package_installed(name: str, host: HostProbe) -> bool | None:
    if host.running and host.which("dpkg-query"):
        result = host.run(["dpkg-query", "-W", "-f=${Status}\n", name], PROBE_TIMEOUT_SECONDS)
        statuses = result.stdout.splitlines() if result.exit_code == 0 else []
        return any(status.split()[-1:] == ["installed"] for status in statuses)
    if host.running and host.which("rpm"):
        return host.run(["rpm", "-q", name], PROBE_TIMEOUT_SECONDS).exit_code == 0
    status = host.read_file(linux.DPKG_STATUS)
    return None if status is None else linux.dpkg_installed(status, name)


SYSTEMD_ENABLED = {"enabled", "enabled-runtime", "alias", "generated", "indirect"}


SYSTEMD_ACTIVE = {"active", "activating", "reloading", "refreshing", "deactivating"}


def systemd_state(name: str, checking_enabled: bool, host: HostProbe) -> tuple[str | None, bool]:
    """Enablement works without a running systemd (`systemctl is-enabled` reads unit files, and so do we when
    systemctl is missing or the host is a root filesystem); whether a unit is active needs systemd as PID 1,
    except that a unit with no unit file or init script is never active."""
    if checking_enabled:
        if host.running and host.which("systemctl"):
            result = host.run(["systemctl", "is-enabled", name], PROBE_TIMEOUT_SECONDS)
            state = first_line(result.stdout) or "not-found"
        else:
            state = linux.unit_file_state(host, name)
        return state, state in SYSTEMD_ENABLED
    booted = host.stat("/run/systemd/system")
    if not host.which("systemctl") or booted is None or not booted.is_dir:
        # Without systemd nothing says what runs, but a unit that is not installed is certainly not running.
        installed, _ = systemd_state(name, True, host)
        return ("not-found", False) if installed == "not-found" else (None, False)
    result = host.run(["systemctl", "is-active", name], PROBE_TIMEOUT_SECONDS)
    state = first_line(result.stdout) or "inactive"
    return state, state in SYSTEMD_ACTIVE


_MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
                  "/lib/modprobe.d")


def kernel_module(rule: KernelModuleRule, host: HostProbe) -> Evaluation:
    """Disabled means: not loaded, and, unless the kernel has no such module, both an `install <module>
    /bin/false` (or /bin/true) override and a blacklist entry, so neither a request nor an alias can load it."""
    if host.os_type != "linux":
        return not_applicable(host)
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
    """From the module index of the running kernel (every installed kernel offline), else modprobe's dry run. A
    running kernel with neither a module tree nor modprobe (one built without loadable module support, as in many
    micro-VMs and containers' hosts) can load nothing: there a module is available only if it is built in."""
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
    if not indexes and host.running and not with_modprobe:
        return "built into the kernel" if _built_in(module, host) else "module not available"
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


def _built_in(module: str, host: HostProbe) -> bool:
    """What the running kernel shows of a built-in driver: its /sys/module entry, or the file system it registers."""
    name = module.replace("-", "_")
    if host.stat(f"/sys/module/{name}") is not None:
        return True
    filesystems = host.read_file("/proc/filesystems") or ""
    return any(line.split()[-1:] == [module] for line in filesystems.splitlines())


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


def sshd_config(rule: SshdConfigRule, host: HostProbe) -> Evaluation:
    if host.os_type == "windows":
        return not_applicable(host)
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
    comparable: RegistryScalar = value
    if rule.op in ("ge", "le", "between") and (seconds := linux.sshd_seconds(value)) is not None:
        comparable = seconds
    ok = compare(comparable, rule.op, rule.expected)
    seen = f"{rule.keyword} {value} ({source})"
    return judged(ok, seen, rule.op, rule.expected)


def boot_parameter(rule: BootParameterRule, host: HostProbe) -> Evaluation:
    if host.os_type != "linux":
        return not_applicable(host)
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
        elif not compare(value, rule.op, rule.expected):
            problems.append(f"{rule.name}={value} in {source}")
    if problems:
        return Evaluation("fail", "; ".join(dict.fromkeys(problems)))
    where = ", ".join(dict.fromkeys(source for source, _ in sources))
    return Evaluation("pass", f"{rule.name} {described(rule.op, rule.expected)} in {where}")


def audit_rule(rule: AuditRuleRule, host: HostProbe) -> Evaluation:
    """The rule must be persisted, and on a running host also loaded into the kernel."""
    if host.os_type != "linux":
        return not_applicable(host)
    wanted = _audit_wanted(rule)
    persisted = linux.persisted_audit_rules(host)
    if persisted is None:
        return Evaluation("fail", f"no audit rules persisted ({linux.AUDIT_RULES_DIR}/*.rules); {wanted} missing")
    rules, source = persisted
    problems = [f"{missing} not in {source}" for missing in _audit_missing(rule, rules)]
    where = source
    if host.running:
        if not host.which("auditctl"):
            problems.append("auditctl not installed, so no rule is loaded")
        else:
            result = host.run(["auditctl", "-l"], PROBE_TIMEOUT_SECONDS)
            if result.exit_code != 0:
                problems.append(f"auditctl -l failed: {first_line(result.stderr) or f'exit {result.exit_code}'}")
            else:
                loaded = linux.parse_audit_rules(result.stdout)
                problems += [f"{missing} not loaded" for missing in _audit_missing(rule, loaded)]
                where += " and loaded"
    if problems:
        return Evaluation("fail", "; ".join(problems))
    return Evaluation("pass", f"{wanted} in {where}")


def _audit_wanted(rule: AuditRuleRule) -> str:
    filters = "".join(f" -F {field}" for field in rule.fields)
    if rule.path is not None:
        return f"watch {rule.path} -p {rule.permissions}{filters}"
    return f"{','.join(rule.syscalls or [])} ({'/'.join(rule.arches)}){filters}"


def _audit_missing(rule: AuditRuleRule, rules: list[linux.AuditRule]) -> list[str]:
    required = {linux.audit_field(field) for field in rule.fields}
    if rule.path is not None:
        path = rule.path.rstrip("/") or "/"
        found = any(r.watch == path and set(rule.permissions) <= set(r.permissions) and required <= r.fields
                    and r.action in (None, "always,exit") for r in rules)
        return [] if found else [f"watch {path} -p {rule.permissions}" + "".join(f" -F {f}" for f in rule.fields)]
    missing = []
    for arch in rule.arches:
        absent = [name for name in rule.syscalls or [] if not any(
            r.action == "always,exit" and r.arch == arch and name in r.syscalls and required <= r.fields
            for r in rules)]
        if absent:
            missing.append(f"{','.join(absent)} ({arch})" + "".join(f" -F {f}" for f in rule.fields))
    return missing


# File systems a sweep does not enter: kernel interfaces and network shares (as `df --local` leaves them out).
_NOT_LOCAL = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "debugfs",
              "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "bpf", "autofs", "binfmt_misc", "efivarfs",
              "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "nsfs", "rpc_pipefs", "ramfs"}
_OFFLINE_SKIPPED = ("/proc", "/sys", "/dev", "/run")
SWEEP_TIMEOUT_SECONDS = 600
MAX_SWEEP_ENTRIES = 2_000_000
_SHOWN_FINDINGS = 10


def file_sweep(rule: FileSweepRule, host: HostProbe) -> Evaluation:
    """find(1) on a running host (each local file system once, as the benchmarks' audits do), else a walk through
    the probe; links are never followed."""
    if host.os_type == "windows":
        return not_applicable(host)
    if host.running and host.which("find"):
        findings = _find_findings(rule, host)
    else:
        findings = _walk_findings(rule, host)
        if findings is None:
            return Evaluation("error", f"more than {MAX_SWEEP_ENTRIES} entries under {' '.join(rule.roots)}")
    findings = sorted(path for path in set(findings)
                      if not any(fnmatch.fnmatchcase(path, pattern) for pattern in rule.allow))
    what = _SWEEP_WORDS[rule.find]
    if findings:
        shown = ", ".join(findings[:_SHOWN_FINDINGS]) + (" ..." if len(findings) > _SHOWN_FINDINGS else "")
        return Evaluation("fail", f"{len(findings)} {what}: {shown}")
    return Evaluation("pass", f"no {what} under {' '.join(rule.roots)}")


_SWEEP_WORDS = {"world_writable": "world-writable files or unsticky world-writable directories",
                "unowned": "files without a known owner or group", "setuid_setgid": "unexpected SUID/SGID files",
                "mode_exceeds": "files with a mode beyond the limit", "owner_not": "files with another owner",
                "group_not": "files with another group"}


def _find_findings(rule: FileSweepRule, host: HostProbe) -> list[str]:
    starts = list(rule.roots)
    for line in (host.read_file("/proc/self/mounts") or "").splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[2] in _NOT_LOCAL:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        if point not in starts and any(point.startswith(root.rstrip("/") + "/") for root in rule.roots):
            starts.append(point)
    kinds = {"file": ["-type", "f"], "dir": ["-type", "d"], "any": []}[rule.kind]
    test = {
        "world_writable": ["(", "-type", "f", "-perm", "-0002", "-o", "-type", "d", "-perm", "-0002", "!", "-perm",
                           "-1000", ")"],
        "unowned": ["(", "-nouser", "-o", "-nogroup", ")"],
        "setuid_setgid": ["-type", "f", "(", "-perm", "-4000", "-o", "-perm", "-2000", ")"],
        "mode_exceeds": ["-perm", f"/{_beyond(rule):o}"] if _beyond(rule) else ["-false"],
    }.get(rule.find, [])
    named = ["-name", rule.name] if rule.name else []
    result = host.run(["find", *starts, "-xdev", *kinds, *named, *test, "-print"], SWEEP_TIMEOUT_SECONDS)
    paths = [line for line in result.stdout.splitlines() if line]
    if rule.find in ("owner_not", "group_not"):
        paths = [path for path in paths if (info := host.stat(path)) is not None and _is_finding(rule, path, info)]
    return paths


def _walk_findings(rule: FileSweepRule, host: HostProbe) -> list[str] | None:
    findings = []
    pending = list(rule.roots)
    seen = 0
    while pending:
        path = pending.pop()
        if path in _OFFLINE_SKIPPED and path not in rule.roots:
            continue
        if path != "/" and host.read_link(path) is not None:
            continue
        info = host.stat(path)
        if info is None:
            continue
        seen += 1
        if seen > MAX_SWEEP_ENTRIES:
            return None
        if _is_finding(rule, path, info):
            findings.append(path)
        if info.is_dir:
            pending += [posixpath.join(path, entry) for entry in host.list_dir(path) or []]
    return findings


def _beyond(rule: FileSweepRule) -> int:
    return ~int(rule.max_mode or "7777", 8) & 0o7777


def _is_finding(rule: FileSweepRule, path: str, info: FileStat) -> bool:
    if rule.kind != "any" and (rule.kind == "dir") != info.is_dir:
        return False
    if rule.name is not None and not fnmatch.fnmatchcase(posixpath.basename(path), rule.name):
        return False
    mode = info.mode & 0o7777
    if rule.find == "world_writable":
        return bool(mode & 0o002) and not (info.is_dir and mode & 0o1000)
    if rule.find == "unowned":
        return info.owner.isdigit() or info.group.isdigit()
    if rule.find == "setuid_setgid":
        return not info.is_dir and bool(mode & 0o6000)
    if rule.find == "mode_exceeds":
        return bool(mode & _beyond(rule))
    if rule.find == "owner_not":
        return info.owner not in (rule.owners or [])
    return info.group not in (rule.groups or [])


def accounts(rule: AccountsRule, host: HostProbe) -> Evaluation:
    if host.os_type == "windows":
        return not_applicable(host)
    passwd_text, group_text = host.read_file("/etc/passwd"), host.read_file("/etc/group")
    if passwd_text is None or group_text is None:
        return Evaluation("skip", "/etc/passwd or /etc/group not found")
    users, groups = linux.account_entries(passwd_text, 7), linux.account_entries(group_text, 4)
    if rule.check in ("unique_uids", "unique_gids", "unique_user_names", "unique_group_names"):
        entries = users if rule.check in ("unique_uids", "unique_user_names") else groups
        column = 0 if rule.check.endswith("names") else 2
        holders: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            holders[entry[column]].append(entry[0])
        shared = [f"{key} ({', '.join(names)})" if column else key for key, names in holders.items()
                  if len(names) > 1]
        label = {"unique_uids": "UID", "unique_gids": "GID", "unique_user_names": "user name",
                 "unique_group_names": "group name"}[rule.check]
        if shared:
            return Evaluation("fail", f"{label}s used more than once: {'; '.join(shared)}")
        return Evaluation("pass", f"every {label} is used once ({len(entries)} entries)")
    if rule.check == "primary_groups_exist":
        defined = {entry[2] for entry in groups}
        orphans = [f"{entry[0]} (GID {entry[3]})" for entry in users if entry[3] not in defined]
        if orphans:
            return Evaluation("fail", f"primary groups not in /etc/group: {', '.join(orphans)}")
        return Evaluation("pass", f"every primary group of {len(users)} accounts is defined")
    shadow = next((entry for entry in groups if entry[0] == "shadow"), None)
    if shadow is None:
        return Evaluation("pass", "no shadow group")
    members = [name for name in shadow[3].split(",") if name.strip()]
    members += [entry[0] for entry in users if entry[3] == shadow[2]]
    if members:
        return Evaluation("fail", f"shadow group members: {', '.join(members)}")
    return Evaluation("pass", "the shadow group has no members")
