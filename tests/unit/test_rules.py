"""Check-rule evaluation: every rule type against real temporary files and a scripted command runner."""

import grp
import os
import pwd
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.host import LocalHost, parse_security_template
from domain.evaluation import (
    MAX_ACTUAL_CHARS,
    CommandNotFound,
    CommandResult,
    CommandTimeout,
    Evaluation,
    FileStat,
    evaluate,
    evaluate_checks,
)

Outcome = CommandResult | Exception


class FakeHost:
    """A HostProbe whose filesystem is a temporary folder and whose commands are scripted."""

    running = True

    def __init__(
        self,
        root: Path,
        os_type: str = "linux",
        commands: dict[tuple[str, ...], Outcome] | None = None,
        binaries: Sequence[str] = (),
        registry: dict[tuple[str, str, str], str | int] | None = None,
        policy: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.root = root
        self.os_type = os_type
        self.commands = commands or {}
        self.binaries = set(binaries)
        self.registry = registry or {}
        self.policy = policy or {}
        self.ran: list[tuple[str, ...]] = []
        self._local = LocalHost()

    def file(self, path: str, text: str, mode: int = 0o644) -> Path:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        return target

    def folder(self, path: str, mode: int = 0o755) -> Path:
        target = self.root / path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(mode)
        return target

    def _real(self, path: str) -> str:
        return str(self.root / path.lstrip("/"))

    def read_file(self, path: str) -> str | None:
        return self._local.read_file(self._real(path))

    def stat(self, path: str) -> FileStat | None:
        return self._local.stat(self._real(path))

    def list_dir(self, path: str) -> list[str] | None:
        return self._local.list_dir(self._real(path))

    def read_link(self, path: str) -> str | None:
        return self._local.read_link(self._real(path))

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.ran.append(tuple(argv))
        outcome = self.commands.get(tuple(argv))
        if outcome is None:
            raise CommandNotFound(argv[0]) if argv[0] not in self.binaries else AssertionError(f"unexpected {argv}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def which(self, name: str) -> bool:
        return name in self.binaries or any(argv[0] == name for argv in self.commands)

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None:
        return self.registry.get((hive, key, value_name))

    def security_policy(self) -> dict[str, dict[str, str]]:
        return self.policy


def ok(stdout: str = "", exit_code: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult(exit_code=exit_code, stdout=stdout, stderr=stderr)


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name

SSHD = "/etc/ssh/sshd_config"


# file_regex


def test_file_regex_match_reports_the_matching_line(host: FakeHost) -> None:
    host.file(SSHD, "Port 22\nPermitRootLogin no\n")
    rule = {"type": "file_regex", "path": SSHD, "pattern": r"^\s*PermitRootLogin\s+no\b"}
    assert evaluate(rule, host) == Evaluation("pass", "PermitRootLogin no")


def test_file_regex_anchors_apply_per_line(host: FakeHost) -> None:
    host.file(SSHD, "# PermitRootLogin yes\nPermitRootLogin prohibit-password\n")
    rule = {"type": "file_regex", "path": SSHD, "pattern": r"^PermitRootLogin\s+yes"}
    assert evaluate(rule, host).status == "fail"


def test_file_regex_no_match_fails_on_the_offending_line(host: FakeHost) -> None:
    host.file(SSHD, "PermitRootLogin yes\n")
    rule = {"type": "file_regex", "path": SSHD, "pattern": r"^\s*PermitRootLogin\s+yes", "expect": "no_match"}
    assert evaluate(rule, host) == Evaluation("fail", "PermitRootLogin yes")


def test_file_regex_missing_file_defaults_depend_on_expectation(host: FakeHost) -> None:
    match = {"type": "file_regex", "path": "/etc/absent.conf", "pattern": "x"}
    assert evaluate(match, host) == Evaluation("fail", "/etc/absent.conf not found")
    assert evaluate({**match, "expect": "no_match"}, host).status == "pass"
    assert evaluate({**match, "missing": "skip"}, host).status == "skip"


def test_malformed_regex_is_an_error_naming_the_pattern(host: FakeHost) -> None:
    host.file(SSHD, "Port 22\n")
    result = evaluate({"type": "file_regex", "path": SSHD, "pattern": "PermitRootLogin ("}, host)
    assert result.status == "error"
    assert "invalid regular expression" in result.actual


# file_exists


def test_file_exists_checks_presence_and_kind(host: FakeHost) -> None:
    host.file("/etc/cron.allow", "root\n")
    host.folder("/etc/cron.d")
    assert evaluate({"type": "file_exists", "path": "/etc/cron.allow", "expect": "present"}, host).status == "pass"
    assert evaluate({"type": "file_exists", "path": "/etc/cron.deny", "expect": "absent"}, host).status == "pass"
    assert evaluate({"type": "file_exists", "path": "/etc/cron.deny", "expect": "present"}, host) == Evaluation(
        "fail", "/etc/cron.deny absent"
    )
    wrong_kind = {"type": "file_exists", "path": "/etc/cron.d", "expect": "present", "kind": "file"}
    assert evaluate(wrong_kind, host) == Evaluation("fail", "/etc/cron.d present (directory)")


# file_permissions


def test_file_permissions_pass_within_limits(host: FakeHost) -> None:
    host.file("/etc/shadow", "root:*:1::::::\n", mode=0o640)
    rule = {"type": "file_permissions", "path": "/etc/shadow", "max_mode": "0640", "owner": ME, "group": MY_GROUP}
    assert evaluate(rule, host) == Evaluation("pass", f"/etc/shadow mode 0640 owner {ME}:{MY_GROUP}")


def test_file_permissions_fail_on_any_extra_bit(host: FakeHost) -> None:
    host.file("/etc/crontab", "", mode=0o604)
    result = evaluate({"type": "file_permissions", "path": "/etc/crontab", "max_mode": "0600"}, host)
    assert result.status == "fail"
    assert "mode 0604" in result.actual


def test_file_permissions_fail_on_wrong_owner(host: FakeHost) -> None:
    host.file("/etc/passwd", "", mode=0o644)
    rule = {"type": "file_permissions", "path": "/etc/passwd", "owner": "no-such-owner"}
    result = evaluate(rule, host)
    assert result.status == "fail"
    assert "owner should be no-such-owner" in result.actual


def test_file_permissions_missing_file_skips_by_default(host: FakeHost) -> None:
    rule = {"type": "file_permissions", "path": "/boot/grub/grub.cfg", "max_mode": "0600"}
    assert evaluate(rule, host).status == "skip"
    assert evaluate({**rule, "missing": "fail"}, host).status == "fail"


def test_file_permissions_rejects_non_octal_mode(host: FakeHost) -> None:
    result = evaluate({"type": "file_permissions", "path": "/etc/passwd", "max_mode": "0689"}, host)
    assert result.status == "error"
    assert "max_mode" in result.actual


# command_output


def test_command_output_matches_stdout(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, commands={("systemctl", "is-enabled", "ctrl-alt-del.target"): ok("masked\n")})
    rule = {"type": "command_output", "argv": ["systemctl", "is-enabled", "ctrl-alt-del.target"], "pattern": "^masked$"}
    assert evaluate(rule, host) == Evaluation("pass", "masked")


def test_command_output_no_match_fails_when_output_matches(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, commands={("find", "/usr/bin", "-perm", "/022"): ok("/usr/bin/evil\n")})
    rule = {
        "type": "command_output",
        "argv": ["find", "/usr/bin", "-perm", "/022"],
        "pattern": r"\S",
        "expect": "no_match",
    }
    assert evaluate(rule, host) == Evaluation("fail", "/usr/bin/evil")


def test_command_output_missing_required_binary_skips(host: FakeHost) -> None:
    rule = {"type": "command_output", "argv": ["sshd", "-T"], "pattern": "x", "requires": "sshd"}
    assert evaluate(rule, host) == Evaluation("skip", "sshd not installed")
    assert host.ran == []


def test_command_output_missing_program_skips(host: FakeHost) -> None:
    result = evaluate({"type": "command_output", "argv": ["aa-status"], "pattern": "enforce"}, host)
    assert result == Evaluation("skip", "aa-status not installed")


def test_command_output_timeout_is_an_error(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, commands={("slow",): CommandTimeout("slow did not finish within 3s")})
    result = evaluate({"type": "command_output", "argv": ["slow"], "pattern": "x", "timeout_seconds": 3}, host)
    assert result == Evaluation("error", "slow timed out after 3s")


def test_command_output_skips_other_operating_systems(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, os_type="bsd", commands={("id",): ok("uid=0")})
    rule = {"type": "command_output", "argv": ["id"], "pattern": "uid", "os_types": ["linux"]}
    assert evaluate(rule, host) == Evaluation("skip", "not applicable on bsd")


def test_command_output_timeout_is_bounded() -> None:
    rule = {"type": "command_output", "argv": ["id"], "pattern": "uid", "timeout_seconds": 600}
    assert evaluate(rule, FakeHost(Path("/nonexistent"))).status == "error"


# sysctl


def test_sysctl_reads_proc_sys_on_linux(host: FakeHost) -> None:
    host.file("/proc/sys/net/ipv4/ip_forward", "1\n")
    host.file("/etc/sysctl.d/10-forward.conf", "net.ipv4.ip_forward = 1\n")
    rule = {"type": "sysctl", "key": "net.ipv4.ip_forward", "expected": "0"}
    assert evaluate(rule, host) == Evaluation(
        "fail",
        "net.ipv4.ip_forward=1 running, 1 persisted in /etc/sysctl.d/10-forward.conf; "
        "expected eq 0 both running and persisted",
    )
    assert evaluate({**rule, "op": "ne"}, host).status == "pass"


def test_sysctl_orders_as_integers(host: FakeHost) -> None:
    host.file("/proc/sys/kernel/yama/ptrace_scope", "2\n")
    host.file("/etc/sysctl.conf", "kernel.yama.ptrace_scope = 2\n")
    assert (
        evaluate({"type": "sysctl", "key": "kernel.yama.ptrace_scope", "expected": "1", "op": "ge"}, host).status
        == "pass"
    )
    assert (
        evaluate({"type": "sysctl", "key": "kernel.yama.ptrace_scope", "expected": "10", "op": "ge"}, host).status
        == "fail"
    )


def test_sysctl_non_integer_value_with_ordering_is_an_error(host: FakeHost) -> None:
    host.file("/proc/sys/net/ipv4/ping_group_range", "1\t0\n")
    result = evaluate({"type": "sysctl", "key": "net.ipv4.ping_group_range", "expected": "1", "op": "le"}, host)
    assert result.status == "error"
    assert "not an integer" in result.actual


def test_sysctl_missing_key_skips(host: FakeHost) -> None:
    result = evaluate({"type": "sysctl", "key": "kernel.yama.ptrace_scope", "expected": "1"}, host)
    assert result == Evaluation("skip", "kernel.yama.ptrace_scope not in the running kernel")


def test_sysctl_runs_sysctl_on_bsd(tmp_path: Path) -> None:
    host = FakeHost(
        tmp_path,
        os_type="bsd",
        commands={
            ("sysctl", "-n", "security.bsd.see_other_uids"): ok("0\n"),
            ("sysctl", "-n", "kern.nope"): ok("", 1, "sysctl: unknown oid 'kern.nope'"),
        },
    )
    assert evaluate({"type": "sysctl", "key": "security.bsd.see_other_uids", "expected": 0}, host).status == "pass"
    assert evaluate({"type": "sysctl", "key": "kern.nope", "expected": "0"}, host).status == "skip"


# package


def test_package_via_dpkg(tmp_path: Path) -> None:
    host = FakeHost(
        tmp_path,
        commands={
            ("dpkg-query", "-W", "-f=${Status}\n", "telnet"): ok(
                "", 1, "dpkg-query: no packages found matching telnet"
            ),
            ("dpkg-query", "-W", "-f=${Status}\n", "auditd"): ok("install ok installed\n"),
            ("dpkg-query", "-W", "-f=${Status}\n", "nis"): ok("deinstall ok config-files\n"),
        },
    )
    assert evaluate({"type": "package", "name": "telnet", "expect": "absent"}, host) == Evaluation(
        "pass", "telnet not installed"
    )
    assert evaluate({"type": "package", "name": "auditd", "expect": "installed"}, host).status == "pass"
    assert evaluate({"type": "package", "name": "nis", "expect": "absent"}, host).status == "pass"


def test_package_via_rpm_and_pkg(tmp_path: Path) -> None:
    rpm_host = FakeHost(tmp_path, commands={("rpm", "-q", "xinetd"): ok("xinetd-2.3.15\n")})
    assert evaluate({"type": "package", "name": "xinetd", "expect": "absent"}, rpm_host).status == "fail"
    bsd_host = FakeHost(tmp_path, os_type="bsd", commands={("pkg", "info", "-e", "sudo"): ok()})
    assert evaluate({"type": "package", "name": "sudo", "expect": "installed"}, bsd_host).status == "pass"


def test_package_without_package_manager_skips(host: FakeHost) -> None:
    assert evaluate({"type": "package", "name": "telnet", "expect": "absent"}, host).status == "skip"


# service


def booted_systemd(tmp_path: Path, commands: dict[tuple[str, ...], Outcome]) -> FakeHost:
    host = FakeHost(tmp_path, commands=commands)
    host.folder("/run/systemd/system")
    return host


def test_service_enabled_and_active(tmp_path: Path) -> None:
    host = booted_systemd(
        tmp_path,
        {
            ("systemctl", "is-enabled", "auditd"): ok("enabled\n"),
            ("systemctl", "is-active", "auditd"): ok("active\n"),
        },
    )
    assert evaluate({"type": "service", "name": "auditd", "expect": "enabled"}, host) == Evaluation(
        "pass", "auditd enabled"
    )
    assert evaluate({"type": "service", "name": "auditd", "expect": "inactive"}, host).status == "fail"


def test_missing_unit_counts_as_disabled(tmp_path: Path) -> None:
    host = booted_systemd(
        tmp_path,
        {
            ("systemctl", "is-enabled", "avahi-daemon"): ok(
                "", 1, "Failed to get unit file state for avahi-daemon.service: No such file or directory"
            ),
            ("systemctl", "is-enabled", "cups"): ok("masked\n", 1),
        },
    )
    assert evaluate({"type": "service", "name": "avahi-daemon", "expect": "disabled"}, host) == Evaluation(
        "pass", "avahi-daemon not-found"
    )
    assert evaluate({"type": "service", "name": "cups", "expect": "disabled"}, host).status == "pass"


def test_service_enablement_is_asked_even_without_booted_systemd(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, commands={("systemctl", "is-enabled", "cron"): ok("enabled\n")})
    assert evaluate({"type": "service", "name": "cron", "expect": "enabled"}, host) == Evaluation(
        "pass", "cron enabled"
    )
    result = evaluate({"type": "service", "name": "cron", "expect": "active"}, host)
    assert result == Evaluation("skip", "systemd is not running on this host")


def test_service_on_bsd_reads_rc_conf(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, os_type="bsd")
    host.file("/etc/rc.conf", 'sshd_enable="YES"\nsendmail_enable="NO"\n')
    assert evaluate({"type": "service", "name": "sshd", "expect": "enabled"}, host) == Evaluation(
        "pass", "sshd_enable=YES"
    )
    assert evaluate({"type": "service", "name": "sendmail", "expect": "disabled"}, host).status == "pass"
    assert evaluate({"type": "service", "name": "ntpd", "expect": "enabled"}, host).status == "fail"


def test_service_on_windows_uses_start_type(tmp_path: Path) -> None:
    services = r"SYSTEM\CurrentControlSet\Services"
    host = FakeHost(
        tmp_path,
        os_type="windows",
        registry={
            ("HKLM", rf"{services}\Spooler", "Start"): 4,
            ("HKLM", rf"{services}\RemoteRegistry", "Start"): 3,
        },
    )
    assert evaluate({"type": "service", "name": "Spooler", "expect": "disabled"}, host).status == "pass"
    assert evaluate({"type": "service", "name": "RemoteRegistry", "expect": "disabled"}, host) == Evaluation(
        "fail", "RemoteRegistry start type manual"
    )


# kernel_module


def test_loaded_module_fails(host: FakeHost) -> None:
    host.file("/proc/modules", "usb_storage 81920 0 - Live 0x0\next4 999 1 - Live 0x0\n")
    result = evaluate({"type": "kernel_module", "name": "usb-storage"}, host)
    assert result == Evaluation("fail", "usb-storage is loaded")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("install cramfs /bin/false\nblacklist cramfs\n",
         Evaluation("pass", "cramfs not loaded; install cramfs /bin/false; blacklisted")),
        ("blacklist cramfs\n", Evaluation("fail", "cramfs not loaded but loadable: no 'install cramfs /bin/false'")),
        ("install cramfs /bin/true\n", Evaluation("fail", "cramfs not loaded but loadable: not blacklisted")),
    ],
)
def test_module_needs_both_an_install_override_and_a_blacklist(tmp_path: Path, config: str,
                                                               expected: Evaluation) -> None:
    insmod = ok("insmod /lib/modules/6.1/kernel/fs/cramfs/cramfs.ko\n")
    host = FakeHost(tmp_path, commands={("modprobe", "-n", "-v", "cramfs"): insmod,
                                        ("modprobe", "--showconfig"): ok(config)})
    host.file("/proc/modules", "ext4 999 1 - Live 0x0\n")
    assert evaluate({"type": "kernel_module", "name": "cramfs", "expect": "disabled"}, host) == expected


def test_module_the_kernel_lacks_passes(tmp_path: Path) -> None:
    missing = ok("", 1, "modprobe: FATAL: Module cramfs not found in directory /lib/modules/6.1")
    host = FakeHost(tmp_path, commands={("modprobe", "-n", "-v", "cramfs"): missing})
    assert evaluate({"type": "kernel_module", "name": "cramfs"}, host) == Evaluation(
        "pass", "cramfs: module not available"
    )


def test_module_without_modprobe_reads_modprobe_d(host: FakeHost) -> None:
    host.file("/proc/sys/kernel/osrelease", "6.1.0\n")
    host.file("/lib/modules/6.1.0/modules.dep", "kernel/fs/cramfs/cramfs.ko.xz:\nkernel/net/sctp/sctp.ko.xz:\n")
    host.file("/etc/modprobe.d/cramfs.conf", "install cramfs /bin/false\nblacklist cramfs\n")
    cramfs = evaluate({"type": "kernel_module", "name": "cramfs"}, host)
    assert cramfs.status == "pass"
    assert "install cramfs /bin/false" in cramfs.actual
    assert evaluate({"type": "kernel_module", "name": "sctp"}, host).status == "fail"
    assert evaluate({"type": "kernel_module", "name": "tipc"}, host) == Evaluation(
        "pass", "tipc: module not available"
    )


# mount_option

MOUNTS = (
    "/dev/vda1 / ext4 rw,relatime 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n"
    "tmpfs /tmp tmpfs rw,nosuid,nodev 0 0\n"
    "tmpfs /tmp tmpfs rw,nosuid,nodev,noexec 0 0\n"
)


def test_mount_option_present_and_absent(host: FakeHost) -> None:
    host.file("/proc/self/mounts", MOUNTS)
    assert evaluate({"type": "mount_option", "mount_point": "/dev/shm", "option": "nodev"}, host) == Evaluation(
        "pass", "/dev/shm rw,nosuid,nodev"
    )
    assert evaluate({"type": "mount_option", "mount_point": "/dev/shm", "option": "noexec"}, host).status == "fail"
    absent = {"type": "mount_option", "mount_point": "/dev/shm", "option": "noexec", "expect": "absent"}
    assert evaluate(absent, host).status == "pass"


def test_mount_option_uses_the_topmost_mount(host: FakeHost) -> None:
    host.file("/proc/self/mounts", MOUNTS)
    assert evaluate({"type": "mount_option", "mount_point": "/tmp", "option": "noexec"}, host).status == "pass"


def test_mount_point_not_separately_mounted_skips(host: FakeHost) -> None:
    host.file("/proc/self/mounts", MOUNTS)
    result = evaluate({"type": "mount_option", "mount_point": "/var/tmp", "option": "nodev"}, host)
    assert result == Evaluation("skip", "not a separate mount")


def test_mount_option_on_bsd_reads_mount_p(tmp_path: Path) -> None:
    host = FakeHost(
        tmp_path,
        os_type="bsd",
        commands={
            ("mount", "-p"): ok("/dev/ada0p2\t/\tufs\trw\t1 1\ntmpfs\t/tmp\ttmpfs\trw,nosuid\t0 0\n"),
        },
    )
    assert evaluate({"type": "mount_option", "mount_point": "/tmp", "option": "nosuid"}, host).status == "pass"


# windows_registry and windows_security_policy


def test_windows_rules_skip_on_linux(host: FakeHost) -> None:
    registry = {
        "type": "windows_registry",
        "hive": "HKLM",
        "key": r"SOFTWARE\Policies\X",
        "value_name": "Y",
        "expected": 1,
    }
    policy = {
        "type": "windows_security_policy",
        "section": "System Access",
        "setting": "MinimumPasswordLength",
        "expected": 14,
        "op": "ge",
    }
    assert evaluate(registry, host) == Evaluation("skip", "not applicable on linux")
    assert evaluate(policy, host) == Evaluation("skip", "not applicable on linux")


def test_windows_registry_comparisons(tmp_path: Path) -> None:
    lsa = r"SYSTEM\CurrentControlSet\Control\Lsa"
    host = FakeHost(
        tmp_path,
        os_type="windows",
        registry={
            ("HKLM", lsa, "LmCompatibilityLevel"): 5,
            ("HKLM", lsa, "NoLMHash"): "1",
        },
    )
    base = {"type": "windows_registry", "hive": "HKLM", "key": lsa}
    assert evaluate({**base, "value_name": "LmCompatibilityLevel", "expected": 5}, host) == Evaluation(
        "pass", "LmCompatibilityLevel=5"
    )
    assert evaluate({**base, "value_name": "LmCompatibilityLevel", "expected": 3, "op": "ge"}, host).status == "pass"
    assert evaluate({**base, "value_name": "NoLMHash", "expected": [0, 1], "op": "in"}, host).status == "pass"
    assert evaluate({**base, "value_name": "Absent", "expected": 1}, host).status == "fail"
    assert evaluate({**base, "value_name": "Absent", "expected": 1, "missing": "pass"}, host).status == "pass"


def test_windows_registry_in_needs_a_list(host: FakeHost) -> None:
    rule = {"type": "windows_registry", "hive": "HKLM", "key": "K", "value_name": "V", "expected": 1, "op": "in"}
    assert evaluate(rule, host).status == "error"


def test_windows_security_policy_values_and_privilege_rights(tmp_path: Path) -> None:
    inf = (
        "[Unicode]\nUnicode=yes\n[System Access]\nMinimumPasswordLength = 14\nPasswordComplexity = 1\n"
        "[Privilege Rights]\nSeRemoteInteractiveLogonRight = *S-1-5-32-555,*S-1-5-32-544\n"
    )
    host = FakeHost(tmp_path, os_type="windows", policy=parse_security_template(inf))
    base = {"type": "windows_security_policy", "section": "System Access"}
    assert evaluate({**base, "setting": "MinimumPasswordLength", "expected": 14, "op": "ge"}, host) == Evaluation(
        "pass", "MinimumPasswordLength=14"
    )
    assert evaluate({**base, "setting": "LockoutBadCount", "expected": 5, "op": "le"}, host).status == "fail"
    rights = {
        "type": "windows_security_policy",
        "section": "Privilege Rights",
        "setting": "SeRemoteInteractiveLogonRight",
        "expected": "*S-1-5-32-544,*S-1-5-32-555",
    }
    assert evaluate(rights, host).status == "pass"
    nobody = {**rights, "setting": "SeTrustedCredManAccessPrivilege", "expected": ""}
    assert evaluate(nobody, host).status == "pass"


# bsd_rc_conf


def test_bsd_rc_conf_last_assignment_wins(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, os_type="bsd")
    host.file("/etc/defaults/rc.conf", 'sendmail_enable="NONE"\nclear_tmp_enable="NO"\n')
    host.file("/etc/rc.conf", 'sshd_enable="YES"\nsshd_enable="NO" # hardened\n')
    host.file("/etc/rc.conf.local", "sshd_enable=YES\n")
    rule = {"type": "bsd_rc_conf", "variable": "sshd_enable", "expected": "yes"}
    assert evaluate(rule, host) == Evaluation("pass", 'sshd_enable="YES" (/etc/rc.conf.local)')
    defaults = {"type": "bsd_rc_conf", "variable": "clear_tmp_enable", "expected": "YES"}
    assert evaluate(defaults, host) == Evaluation("fail", 'clear_tmp_enable="NO" (/etc/defaults/rc.conf)')


def test_bsd_rc_conf_unset_variable_uses_default_field_or_fails(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, os_type="bsd")
    rule = {"type": "bsd_rc_conf", "variable": "rpcbind_enable", "expected": "NO"}
    assert evaluate(rule, host) == Evaluation("fail", "rpcbind_enable not set")
    assert evaluate({**rule, "default": "NO"}, host).status == "pass"
    assert evaluate({**rule, "op": "ne", "expected": "YES", "default": "NO"}, host).status == "pass"


def test_bsd_rc_conf_skips_off_bsd(host: FakeHost) -> None:
    result = evaluate({"type": "bsd_rc_conf", "variable": "sshd_enable", "expected": "NO"}, host)
    assert result == Evaluation("skip", "not applicable on linux")


# errors and the evaluation contract


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "registry_magic", "path": "/x"}, "unknown rule type 'registry_magic'"),
        ({"path": "/x"}, "unknown rule type None"),
        ("file_regex", "invalid rule: expected a mapping, got str"),
        (None, "invalid rule: expected a mapping, got NoneType"),
    ],
)
def test_unknown_or_malformed_rules_are_errors(host: FakeHost, rule: object, message: str) -> None:
    assert evaluate(rule, host) == Evaluation("error", message)


def test_unknown_field_is_an_error_naming_the_field(host: FakeHost) -> None:
    result = evaluate({"type": "file_exists", "path": "/etc/x", "expect": "present", "shell": "rm -rf /"}, host)
    assert result.status == "error"
    assert "shell" in result.actual


def test_an_evaluator_exception_becomes_an_error(host: FakeHost) -> None:
    target = host.file("/etc/secret.conf", "x")

    def denied(path: str) -> str | None:
        raise PermissionError(13, "Permission denied", str(target))

    host.read_file = denied  # type: ignore[method-assign]
    result = evaluate({"type": "file_regex", "path": "/etc/secret.conf", "pattern": "x"}, host)
    assert result.status == "error"
    assert "Permission denied" in result.actual


def test_actual_is_kept_short(host: FakeHost) -> None:
    host.file("/etc/long.conf", "A" * 5000 + "\n")
    result = evaluate({"type": "file_regex", "path": "/etc/long.conf", "pattern": "^A"}, host)
    assert result.status == "pass"
    assert len(result.actual) <= MAX_ACTUAL_CHARS


def test_evaluate_checks_returns_one_result_per_check(host: FakeHost) -> None:
    host.file("/etc/issue", "Authorized use only\n")
    checks = [
        {"check_id": "a", "rule": {"type": "file_exists", "path": "/etc/issue", "expect": "present"}},
        {"check_id": "b", "rule": {"type": "nope"}},
        {"check_id": "c"},
    ]
    assert evaluate_checks(checks, host) == [
        {"check_id": "a", "status": "pass", "actual": "/etc/issue present (file)"},
        {"check_id": "b", "status": "error", "actual": "unknown rule type 'nope'"},
        {"check_id": "c", "status": "error", "actual": "invalid rule: expected a mapping, got NoneType"},
    ]


# LocalHost, the real probe


def test_local_host_runs_commands_and_enforces_timeouts(tmp_path: Path) -> None:
    local = LocalHost()
    assert local.os_type == "linux"
    assert local.run(["sh", "-c", "echo hi; echo err >&2; exit 3"], timeout=5) == CommandResult(3, "hi\n", "err\n")
    with pytest.raises(CommandTimeout):
        local.run(["sleep", "5"], timeout=0.2)
    with pytest.raises(CommandNotFound):
        local.run(["definitely-not-a-program-xyz"], timeout=5)
    assert local.which("sh") and not local.which("definitely-not-a-program-xyz")


def test_local_host_reads_files_and_procfs(tmp_path: Path) -> None:
    local = LocalHost()
    (tmp_path / "f.conf").write_text("key=1\n")
    (tmp_path / "f.conf").chmod(0o640)
    assert local.read_file(str(tmp_path / "f.conf")) == "key=1\n"
    assert local.read_file(str(tmp_path / "absent")) is None
    assert local.read_file("/proc/sys/kernel/osrelease")
    info = local.stat(str(tmp_path / "f.conf"))
    assert info == FileStat(mode=0o640, owner=ME, group=MY_GROUP, is_dir=False)
    assert local.list_dir(str(tmp_path)) == ["f.conf"]
