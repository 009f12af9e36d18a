"""The Linux side of rule evaluation: kernel parameters, modules, systemd units, packages, sshd and the kernel
command line, judged the way the benchmarks audit them, on a running host or on a root filesystem offline."""

import re

from domain import linux_settings as linux
from domain.probe import HostProbe
from domain.rules import BootParameterRule, KernelModuleRule, RegistryScalar, SshdConfigRule, SysctlRule
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
    systemctl is missing or the host is a root filesystem); whether a unit is active needs systemd as PID 1."""
    if checking_enabled:
        if host.running and host.which("systemctl"):
            result = host.run(["systemctl", "is-enabled", name], PROBE_TIMEOUT_SECONDS)
            state = first_line(result.stdout) or "not-found"
        else:
            state = linux.unit_file_state(host, name)
        return state, state in SYSTEMD_ENABLED
    booted = host.stat("/run/systemd/system")
    if not host.which("systemctl") or booted is None or not booted.is_dir:
        return None, False
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
