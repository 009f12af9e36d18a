"""Linux settings read the way their programs read them: persisted sysctl values, the effective sshd
configuration, systemd unit state from unit files, the dpkg database, boot loader entries, /etc/fstab, audit rules and
the account databases.

Everything goes through the HostProbe, so the same code judges a running host and a root filesystem offline.
"""

import fnmatch
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from domain.probe import HostProbe

# systemd-sysctl and `sysctl --system`: a file name in an earlier folder hides the same name in later ones, the
# files then apply in file-name order, and /etc/sysctl.conf comes last.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
SYSCTL_CONF = "/etc/sysctl.conf"
SSHD_CONFIG = "/etc/ssh/sshd_config"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/usr/lib/systemd/system", "/lib/systemd/system")
GRUB_CONFIGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")
BLS_ENTRIES = "/boot/loader/entries"
DPKG_STATUS = "/var/lib/dpkg/status"
_MAX_INCLUDE_DEPTH = 16
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path")


def expand(host: HostProbe, pattern: str) -> list[str]:
    """The files a path names: itself, or with wildcards in its last part the matching names in sorted order."""
    folder, _, name = pattern.rpartition("/")
    if not any(char in name for char in "*?["):
        return [pattern]
    return [f"{folder}/{entry}" for entry in sorted(host.list_dir(folder or "/") or [])
            if fnmatch.fnmatchcase(entry, name)]


# sysctl


def sysctl_files(host: HostProbe) -> list[str]:
    chosen: dict[str, str] = {}
    for folder in SYSCTL_DIRS:
        for entry in host.list_dir(folder) or []:
            if entry.endswith(".conf") and entry not in chosen:
                chosen[entry] = f"{folder}/{entry}"
    return [chosen[name] for name in sorted(chosen)] + [SYSCTL_CONF]


def parse_sysctl_conf(text: str) -> list[tuple[str, str]]:
    """(key, value) assignments in file order; `/` separators become dots, a leading `-` is dropped."""
    assignments = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().lstrip("-").strip().replace("/", ".")
        assignments.append((key, " ".join(value.split())))
    return assignments


def persisted_sysctl(host: HostProbe, key: str) -> tuple[str, str] | None:
    """The value the boot-time sysctl pass would set for `key`, and the file that sets it; None if none does."""
    found = None
    for path in sysctl_files(host):
        for pattern, value in parse_sysctl_conf(host.read_file(path) or ""):
            if pattern == key or fnmatch.fnmatchcase(key, pattern):
                found = (value, path)
    return found


# key = value configuration files


def config_values(text: str, name: str, separator: str) -> list[str]:
    """Every value assigned to `name` in a `name = value` (separator "=") or `name value` file, in order."""
    values = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if separator == "=":
            key, sign, value = line.partition("=")
            if not sign:
                continue
        else:
            key, _, value = re.sub(r"\s+", " ", line).partition(" ")
        if key.strip() == name:
            values.append(_unquote(value.split("#", 1)[0].strip()))
    return values


def effective_config_value(host: HostProbe, paths: Sequence[str], name: str, separator: str,
                           wins: str) -> tuple[str, str] | None:
    """(value, file) of the assignment that takes effect, or None when no file assigns `name`."""
    found = None
    for pattern in paths:
        for path in expand(host, pattern):
            for value in config_values(host.read_file(path) or "", name, separator):
                if wins == "first":
                    return value, path
                found = (value, path)
    return found


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


# sshd


def parse_sshd_t(output: str) -> dict[str, str]:
    """`sshd -T` prints every setting as `keyword value`; for repeated keywords the first line is kept."""
    settings: dict[str, str] = {}
    for line in output.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if keyword:
            settings.setdefault(keyword.lower(), value.strip())
    return settings


def sshd_file_settings(host: HostProbe, path: str = SSHD_CONFIG) -> dict[str, str] | None:
    """The global settings of sshd_config as sshd reads them: `Include`s expanded where they appear, the first
    value of a keyword wins, `Match` blocks are left out. None when the main file is missing."""
    if host.read_file(path) is None:
        return None
    settings: dict[str, str] = {}
    _read_sshd_file(host, path, settings, 0)
    return settings


def _read_sshd_file(host: HostProbe, path: str, settings: dict[str, str], depth: int) -> None:
    text = host.read_file(path) or ""
    in_match = False  # a Match block lasts until the end of the file it starts in
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = re.match(r"([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*)$", line)
        if found is None:
            continue
        keyword, value = found.group(1).lower(), found.group(2).strip()
        if keyword == "match":
            in_match = True
        elif in_match:
            continue
        elif keyword == "include":
            if depth >= _MAX_INCLUDE_DEPTH:
                continue
            for pattern in shlex.split(value):
                pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                for included in expand(host, pattern):
                    _read_sshd_file(host, included, settings, depth + 1)
        else:
            settings.setdefault(keyword, _unquote(value))


def sshd_list_value(value: str, default: str | None) -> str:
    """Resolve the `+` (append), `-` (remove) and `^` (prepend) forms of algorithm lists against the default."""
    if not value or value[0] not in "+-^" or default is None:
        return value
    base = [item for item in default.split(",") if item]
    items = [item for item in value[1:].split(",") if item]
    if value[0] == "+":
        merged = base + [item for item in items if item not in base]
    elif value[0] == "^":
        merged = items + [item for item in base if item not in items]
    else:
        merged = [item for item in base if not any(fnmatch.fnmatchcase(item, pattern) for pattern in items)]
    return ",".join(merged)


def sshd_seconds(value: str) -> int | None:
    """sshd time values: `90`, `1m30s`, `2h` ... as seconds; None if the text is not a time."""
    if re.fullmatch(r"\d+", value):
        return int(value)
    parts = re.findall(r"(\d+)([smhdwSMHDW])", value)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != value:
        return None
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(number) * scale[unit.lower()] for number, unit in parts)


# systemd units


def unit_name(name: str) -> str:
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def unit_file_state(host: HostProbe, name: str) -> str:
    """What `systemctl is-enabled` answers, decided from the unit files and their symlinks alone: masked,
    enabled (a *.wants/*.requires link, or an alias link in /etc), enabled-runtime, static, disabled, generated
    (a SysV script with a start link) or not-found."""
    unit = unit_name(name)
    for folder in UNIT_DIRS[:2]:
        if host.read_link(f"{folder}/{unit}") == "/dev/null":
            return "masked"
    files = [f"{folder}/{unit}" for folder in UNIT_DIRS if host.read_file(f"{folder}/{unit}") is not None]
    if not files:
        return _sysv_state(host, name.removesuffix(".service"))
    for folder, state in (("/etc/systemd/system", "enabled"), ("/run/systemd/system", "enabled-runtime")):
        for entry in host.list_dir(folder) or []:
            if entry.endswith((".wants", ".requires")) and unit in (host.list_dir(f"{folder}/{entry}") or []):
                return state
    if files[0].startswith("/etc/systemd/system/") and host.read_link(files[0]) is not None:
        return "alias"
    text = host.read_file(files[0]) or ""
    if not re.search(r"^\s*\[Install\]", text, re.MULTILINE):
        return "static"
    return "disabled"


def _sysv_state(host: HostProbe, name: str) -> str:
    if host.stat(f"/etc/init.d/{name}") is None:
        return "not-found"
    for level in "2345":
        if any(re.fullmatch(rf"S\d\d{re.escape(name)}", entry) for entry in host.list_dir(f"/etc/rc{level}.d") or []):
            return "generated"
    return "disabled"


# packages


def dpkg_installed(status: str, name: str) -> bool:
    """Whether the dpkg status database lists `name` (any architecture) as installed."""
    for paragraph in re.split(r"\n\s*\n", status):
        fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", paragraph, re.MULTILINE))
        if fields.get("Package") == name and fields.get("Status", "").split()[-1:] == ["installed"]:
            return True
    return False


# boot parameters


def boot_entries(host: HostProbe) -> list[tuple[str, str]]:
    """(source, kernel command line) of every entry the boot loader offers: grub.cfg `linux` lines and boot
    loader spec `options` lines (with grubenv's $kernelopts filled in)."""
    entries = []
    for path in GRUB_CONFIGS:
        for found in re.finditer(r"^\s*linux(?:efi|16)?\s+\S+(.*)$", host.read_file(path) or "", re.MULTILINE):
            entries.append((path, found.group(1).strip()))
    grubenv = host.read_file("/boot/grub2/grubenv") or host.read_file("/boot/grub/grubenv") or ""
    kernelopts = next(iter(re.findall(r"^kernelopts=(.*)$", grubenv, re.MULTILINE)), "")
    for entry in sorted(host.list_dir(BLS_ENTRIES) or []):
        if entry.endswith(".conf"):
            path = f"{BLS_ENTRIES}/{entry}"
            for found in re.finditer(r"^\s*options\s+(.*)$", host.read_file(path) or "", re.MULTILINE):
                entries.append((path, found.group(1).replace("$kernelopts", kernelopts).strip()))
    return entries


def kernel_parameter(cmdline: str, name: str) -> str | None:
    """The value of `name=value` on a kernel command line (the last one counts), "" for a bare flag, None if
    absent."""
    value = None
    for word in cmdline.split():
        key, sign, rest = word.partition("=")
        if key == name:
            value = rest if sign else ""
    return value


def ipv6_disabled_at_boot(host: HostProbe) -> bool:
    """Whether the configured kernel command line turns IPv6 off (for judging a root filesystem offline)."""
    lines = [cmdline for _, cmdline in boot_entries(host)]
    lines += re.findall(r"^\s*GRUB_CMDLINE_LINUX(?:_DEFAULT)?=[\"']?(.*?)[\"']?\s*$",
                        host.read_file("/etc/default/grub") or "", re.MULTILINE)
    return any(kernel_parameter(line, "ipv6.disable") == "1" for line in lines)


# mounts


def fstab_options(fstab: str, mount_point: str) -> list[str] | None:
    """The options /etc/fstab gives `mount_point` (the last entry wins), None if it has no entry."""
    options = None
    for line in fstab.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("#"):
            target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1]).rstrip("/") or "/"
            if target == mount_point:
                options = fields[3].split(",")
    return options


# audit rules


AUDIT_RULES_DIR = "/etc/audit/rules.d"
AUDIT_RULES = "/etc/audit/audit.rules"
_UNSET_AUID = {"-1", "4294967295", "unset"}
_AUDIT_FIELD = re.compile(r"^([a-z0-9_]+)(!=|>=|<=|&=|=|>|<|&)(.+)$")


@dataclass(frozen=True)
class AuditRule:
    """One `-w` or `-a` rule: the watched path and its permissions, or the syscalls of an arch, and its filters."""

    watch: str | None
    permissions: str
    action: str | None
    arch: str | None
    syscalls: frozenset[str]
    fields: frozenset[str]


def audit_field(text: str) -> str:
    """A filter in one spelling: `auid!=-1`, `auid!=4294967295` and `auid!=unset` are the same rule."""
    found = _AUDIT_FIELD.match(text.strip())
    if found is None:
        return text.strip()
    name, op, value = found.groups()
    if name in ("auid", "uid", "euid", "loginuid") and value in _UNSET_AUID:
        value = "unset"
    return f"{name}{op}{value}"


def parse_audit_rules(text: str) -> list[AuditRule]:
    """The watch and syscall rules of an audit rules file or of `auditctl -l`; control lines are left out."""
    rules = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] not in ("-w", "-a", "-A"):
            continue
        watch = permissions = action = arch = None
        syscalls: set[str] = set()
        fields: set[str] = set()
        for option, value in zip(words, [*words[1:], ""], strict=True):
            if option == "-w":
                watch = value
            elif option == "-p":
                permissions = value
            elif option in ("-a", "-A"):
                action = ",".join(sorted(value.split(",")))
            elif option == "-S":
                syscalls.update(name for name in value.split(",") if name)
            elif option in ("-F", "-C"):
                field = audit_field(value)
                name, _, rest = field.partition("=")
                if name in ("path", "dir"):
                    watch = rest
                elif name == "perm":
                    permissions = rest
                elif name == "arch":
                    arch = rest
                elif name not in ("key", "k"):
                    fields.add(field)
        if watch is not None:
            watch = watch.rstrip("/") or "/"
        rules.append(AuditRule(watch, permissions or "rwxa", action, arch, frozenset(syscalls), frozenset(fields)))
    return rules


def persisted_audit_rules(host: HostProbe) -> tuple[list[AuditRule], str] | None:
    """The rules augenrules loads at boot (rules.d/*.rules), else a hand-kept audit.rules; None if neither."""
    texts = [(path, text) for path in expand(host, f"{AUDIT_RULES_DIR}/*.rules")
             if (text := host.read_file(path)) is not None]
    if texts:
        return [rule for _, text in texts for rule in parse_audit_rules(text)], f"{AUDIT_RULES_DIR}/*.rules"
    text = host.read_file(AUDIT_RULES)
    return None if text is None else (parse_audit_rules(text), AUDIT_RULES)


# account databases


def account_entries(text: str, fields: int) -> list[list[str]]:
    """The colon-separated entries of /etc/passwd or /etc/group with at least `fields` fields."""
    entries = []
    for line in text.splitlines():
        if line.strip() and not line.startswith(("#", "+", "-")):
            parts = line.split(":")
            if len(parts) >= fields:
                entries.append(parts)
    return entries
