"""Verdicts found wrong when every Linux check was compared with the true state of a real Debian 12 host (a micro-VM
without loadable kernel modules, without systemd as PID 1, without openssh-server, rsyslog, auditd or AIDE; see
docs/content-audit-debian12.md). Each case is that host's state, recorded as files, so none depends on the machine
the tests run on."""

from pathlib import Path

import pytest

from content import load_builtin_content
from domain.evaluation import evaluate
from tests.unit.test_rules import FakeHost, ok

CONTENT = load_builtin_content()


def rule(template: str, rule_id: str) -> dict:
    return next(c.rule for c in CONTENT.template(template).checks if c.rule_id == rule_id)


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


def dpkg_status(host: FakeHost, *installed: str) -> None:
    host.file("/var/lib/dpkg/status", "".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: 1.0\n\n" for name in installed))


# A kernel built without module support (CONFIG_MODULES unset: no /proc/modules, no /lib/modules/<release>, no
# modprobe) can load nothing; only what is built in is available. /proc/filesystems as recorded on that host.
MICRO_VM_FILESYSTEMS = ("nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\n\tsquashfs\nnodev\tautofs\n\tfuseblk\n"
                        "nodev\toverlay\n\txfs\n\terofs\n\tbtrfs\n")


def micro_vm(host: FakeHost) -> None:
    host.file("/proc/sys/kernel/osrelease", "6.18.44-fc-v782\n")
    host.file("/proc/filesystems", MICRO_VM_FILESYSTEMS)


@pytest.mark.parametrize("module", ["cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf", "usb-storage", "dccp",
                                    "tipc", "rds", "sctp"])
def test_a_module_a_kernel_without_module_support_lacks_is_not_available(host: FakeHost, module: str) -> None:
    micro_vm(host)
    result = evaluate({"type": "kernel_module", "name": module}, host)
    assert result.status == "pass", result.actual
    assert result.actual == f"{module}: module not available"


def test_a_built_in_file_system_stays_available(host: FakeHost) -> None:
    micro_vm(host)
    result = evaluate({"type": "kernel_module", "name": "squashfs"}, host)
    assert (result.status, result.actual) == ("fail", "squashfs is built into the kernel")


def test_a_built_in_driver_shows_in_sys_module(host: FakeHost) -> None:
    micro_vm(host)
    host.folder("/sys/module/usb_storage/parameters")
    assert evaluate({"type": "kernel_module", "name": "usb-storage"}, host).status == "fail"


def test_a_service_that_is_not_installed_is_not_active_without_systemd(tmp_path: Path) -> None:
    # systemctl is installed, but systemd is not PID 1 (no /run/systemd/system); its answers as recorded on the host.
    missing = ok("", 1, "Failed to get unit file state for ufw.service: No such file or directory\n")
    host = FakeHost(tmp_path, commands={("systemctl", "is-enabled", "ufw"): missing})
    ufw_active = rule("stig-linux", "V-260516")
    result = evaluate(ufw_active, host)
    assert (result.status, result.actual) == ("fail", "ufw not-found")
    host.commands[("systemctl", "is-enabled", "ufw")] = ok("disabled\n", 1)
    assert evaluate(ufw_active, host).status == "skip"  # installed: whether it runs cannot be told


def test_suid_helpers_shipped_by_debian_12_are_allowed(host: FakeHost) -> None:
    host.running = False  # the walk through the probe, over just these files
    host.file("/usr/lib/polkit-1/polkit-agent-helper-1", "", mode=0o4755)
    host.file("/usr/lib/x86_64-linux-gnu/utempter/utempter", "", mode=0o2755)
    host.file("/usr/bin/su", "", mode=0o4755)
    sweep = rule("cis-linux-l1", "7.1.13")
    assert evaluate(sweep, host).status == "pass"
    host.file("/usr/local/bin/backdoor", "", mode=0o4755)
    result = evaluate(sweep, host)
    assert (result.status, result.actual) == ("fail", "1 unexpected SUID/SGID files: /usr/local/bin/backdoor")


def test_ssh_access_limits_are_not_judged_without_an_ssh_server(host: FakeHost) -> None:
    host.file("/etc/ssh/ssh_config", "Host *\n")
    assert evaluate(rule("cis-linux-l1", "5.1.4"), host).status == "skip"
    host.file("/etc/ssh/sshd_config", "PermitRootLogin no\n")
    assert evaluate(rule("cis-linux-l1", "5.1.4"), host).status == "fail"


def test_rsyslog_is_required_only_where_journald_hands_logs_to_syslog(host: FakeHost) -> None:
    dpkg_status(host, "systemd")
    host.file("/etc/systemd/journald.conf", "[Journal]\n#Storage=auto\n#ForwardToSyslog=no\n")
    installed = rule("cis-linux-l1", "6.2.3.1")
    assert evaluate(installed, host).status == "skip"  # journald is the only logger
    host.file("/etc/systemd/journald.conf.d/syslog.conf", "[Journal]\nForwardToSyslog=yes\n")
    assert evaluate(installed, host).status == "fail"
    dpkg_status(host, "systemd", "rsyslog")
    assert evaluate(installed, host).status == "pass"


def test_apt_passes_when_allow_unauthenticated_is_not_set_at_all(host: FakeHost) -> None:
    # STIG V-260476: "not set at all or set to false"; only a "true" is a finding.
    host.file("/etc/apt/apt.conf.d/70debconf", 'DPkg::Pre-Install-Pkgs {"/usr/sbin/dpkg-preconfigure --apt";};\n')
    apt = rule("stig-linux", "V-260476")
    assert evaluate(apt, host).status == "pass"
    host.file("/etc/apt/apt.conf.d/99-insecure", 'APT::Get::AllowUnauthenticated "true";\n')
    assert evaluate(apt, host).status == "fail"


@pytest.mark.parametrize(("rule_id", "path", "line"), [
    ("V-260584", "/etc/default/aide", "SILENTREPORTS=no\n"),
    ("V-260593", "/etc/audit/auditd.conf", "action_mail_acct = root\n"),
])
def test_stig_settings_that_must_be_written_fail_when_missing(host: FakeHost, rule_id: str, path: str,
                                                              line: str) -> None:
    # "... is commented out, or is missing, this is a finding": the program's default does not count.
    check = rule("stig-linux", rule_id)
    assert evaluate(check, host).status == "fail"
    host.file(path, "# " + line)
    assert evaluate(check, host).status == "fail"
    host.file(path, line)
    assert evaluate(check, host).status == "pass"


# CIS 2.3.1.1 accepts either chrony (with systemd-timesyncd disabled) or systemd-timesyncd alone; the host used
# timesyncd alone and was failed for not running chrony.
TIMESYNCD = "[Unit]\nDescription=Network Time Synchronization\n[Install]\nWantedBy=sysinit.target\n"


def timesyncd(host: FakeHost, enabled: bool) -> None:
    host.file("/lib/systemd/system/systemd-timesyncd.service", TIMESYNCD)
    if enabled:
        link = host.folder("/etc/systemd/system/sysinit.target.wants") / "systemd-timesyncd.service"
        link.symlink_to("/lib/systemd/system/systemd-timesyncd.service")


@pytest.mark.parametrize(("chrony", "timesyncd_enabled", "expected"), [
    (False, True, "pass"),   # systemd-timesyncd alone: this host
    (True, False, "pass"),   # chrony alone
    (True, True, "fail"),    # two daemons
    (False, False, "fail"),  # none
])
def test_one_time_daemon_of_either_kind(host: FakeHost, chrony: bool, timesyncd_enabled: bool,
                                        expected: str) -> None:
    dpkg_status(host, "systemd-timesyncd", *(["chrony"] if chrony else []))
    timesyncd(host, timesyncd_enabled)
    result = evaluate(rule("cis-linux-l1", "2.3.1.1"), host)
    assert result.status == expected, result.actual


def test_any_of_passes_on_one_way_and_reports_every_failed_one(host: FakeHost) -> None:
    host.file("/etc/a", "x = 1\n")
    one = {"type": "file_regex", "path": "/etc/a", "pattern": "^x = 1$"}
    two = {"type": "file_regex", "path": "/etc/a", "pattern": "^x = 2$"}
    missing = {"type": "file_regex", "path": "/etc/none", "pattern": "x", "missing": "skip"}
    unknown = {"type": "no_such_rule"}
    assert evaluate({"type": "any_of", "rules": [two, one]}, host).status == "pass"
    failed = evaluate({"type": "any_of", "rules": [two, two]}, host)
    assert failed.status == "fail" and " / " in failed.actual
    assert evaluate({"type": "any_of", "rules": [missing]}, host).status == "skip"
    invalid = evaluate({"type": "any_of", "rules": [unknown, one]}, host)  # a broken part is never passed over
    assert invalid.status == "error" and invalid.actual.startswith("invalid any_of rule")


def test_commands_inside_any_of_are_pinned() -> None:
    from agent.pinning import commands_in

    command = {"type": "command_output", "argv": ["aa-status"], "pattern": "x", "os_types": ["linux"]}
    assert commands_in({"type": "any_of", "rules": [{"type": "all_of", "rules": [command]}]}) == [["aa-status"]]
