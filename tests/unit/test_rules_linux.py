"""Linux rule evaluation as the benchmarks audit it: persisted sysctl values, unit files, boot entries, the
effective sshd configuration, drop-in folders, and the built-in checks that use them."""

from pathlib import Path

import pytest

from content import load_builtin_content
from domain import linux_settings as linux
from domain.evaluation import Evaluation, FileStat, evaluate
from tests.unit.test_rules import FakeHost, ok

CONTENT = load_builtin_content()


def check_rule(template: str, rule_id: str) -> dict:
    return next(check.rule for check in CONTENT.template(template).checks if check.rule_id == rule_id)


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


def proc(host: FakeHost, key: str, value: str) -> None:
    host.file("/proc/sys/" + key.replace(".", "/"), f"{value}\n")


# sysctl: the running value and the persisted value


def test_sysctl_fails_when_the_running_value_is_not_persisted(host: FakeHost) -> None:
    proc(host, "kernel.randomize_va_space", "2")
    rule = check_rule("cis-linux-l1", "1.5.1")
    assert evaluate(rule, host).status == "fail"
    host.file("/etc/sysctl.d/60-aslr.conf", "kernel.randomize_va_space = 2\n")
    assert evaluate(rule, host) == Evaluation(
        "pass", "kernel.randomize_va_space=2 running, 2 persisted in /etc/sysctl.d/60-aslr.conf")


def test_sysctl_fails_when_the_persisted_value_differs_from_the_running_one(host: FakeHost) -> None:
    proc(host, "kernel.randomize_va_space", "2")
    host.file("/etc/sysctl.conf", "kernel.randomize_va_space=0\n")
    assert evaluate(check_rule("cis-linux-l1", "1.5.1"), host).status == "fail"


def test_persisted_sysctl_follows_the_boot_time_precedence(host: FakeHost) -> None:
    host.file("/usr/lib/sysctl.d/50-vendor.conf", "net.ipv4.ip_forward = 1\n")
    host.file("/etc/sysctl.d/50-vendor.conf", "net.ipv4.ip_forward = 0\n")  # same name: hides the vendor file
    assert linux.persisted_sysctl(host, "net.ipv4.ip_forward") == ("0", "/etc/sysctl.d/50-vendor.conf")
    host.file("/lib/sysctl.d/90-late.conf", "net/ipv4/ip_forward=1\n")  # later name wins, slashes are dots
    assert linux.persisted_sysctl(host, "net.ipv4.ip_forward") == ("1", "/lib/sysctl.d/90-late.conf")
    host.file("/etc/sysctl.conf", "# last of all\n-net.ipv4.ip_forward = 0\n")
    assert linux.persisted_sysctl(host, "net.ipv4.ip_forward") == ("0", "/etc/sysctl.conf")


def test_persisted_sysctl_understands_glob_keys(host: FakeHost) -> None:
    host.file("/etc/sysctl.d/10-rp.conf", "net.ipv4.conf.*.rp_filter = 1\n")
    assert linux.persisted_sysctl(host, "net.ipv4.conf.default.rp_filter") == ("1", "/etc/sysctl.d/10-rp.conf")


def test_source_routing_check_covers_default_and_ipv6(host: FakeHost) -> None:
    keys = ["net.ipv4.conf.all.accept_source_route", "net.ipv4.conf.default.accept_source_route",
            "net.ipv6.conf.all.accept_source_route", "net.ipv6.conf.default.accept_source_route"]
    for key in keys:
        proc(host, key, "0")
    host.file("/etc/sysctl.d/60-route.conf", "".join(f"{key} = 0\n" for key in keys))
    rule = check_rule("cis-linux-l1", "3.3.8")
    assert evaluate(rule, host).status == "pass"
    proc(host, "net.ipv4.conf.default.accept_source_route", "1")
    result = evaluate(rule, host)
    assert result.status == "fail"
    assert result.actual.startswith("net.ipv4.conf.default.accept_source_route=1 running")


def test_ipv6_siblings_are_skipped_when_the_kernel_has_no_ipv6(host: FakeHost) -> None:
    for key in ("net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.default.accept_redirects"):
        proc(host, key, "0")
    host.file("/etc/sysctl.d/60-redirects.conf",
              "net.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.default.accept_redirects = 0\n")
    assert evaluate(check_rule("cis-linux-l1", "3.3.5"), host).status == "pass"


def test_missing_yama_is_a_failure_for_ptrace_scope(host: FakeHost) -> None:
    assert evaluate(check_rule("cis-linux-l1", "1.5.2"), host) == Evaluation(
        "fail", "kernel.yama.ptrace_scope not in the running kernel")


def test_if_set_persistence_only_fails_on_a_contradicting_file(host: FakeHost) -> None:
    proc(host, "kernel.randomize_va_space", "2")
    rule = check_rule("stig-linux", "V-260474")
    assert evaluate(rule, host).status == "pass"
    host.file("/etc/sysctl.d/99-local.conf", "kernel.randomize_va_space = 1\n")
    assert evaluate(rule, host).status == "fail"


def test_core_dumps_need_the_hard_core_limit_too(host: FakeHost) -> None:
    proc(host, "fs.suid_dumpable", "0")
    host.file("/etc/sysctl.d/60-core.conf", "fs.suid_dumpable = 0\n")
    rule = check_rule("cis-linux-l1", "1.5.3")
    assert evaluate(rule, host).status == "fail"
    host.file("/etc/security/limits.d/60-core.conf", "*    hard   core   0\n")
    assert evaluate(rule, host).status == "pass"


# services


def test_enablement_from_unit_symlinks_without_systemctl(host: FakeHost) -> None:
    host.file("/lib/systemd/system/auditd.service", "[Service]\nExecStart=/sbin/auditd\n[Install]\n"
              "WantedBy=multi-user.target\n")
    rule = {"type": "service", "name": "auditd", "expect": "enabled"}
    assert evaluate(rule, host) == Evaluation("fail", "auditd disabled")
    host.folder("/etc/systemd/system/multi-user.target.wants")
    (host.root / "etc/systemd/system/multi-user.target.wants/auditd.service").symlink_to(
        "/lib/systemd/system/auditd.service")
    assert evaluate(rule, host) == Evaluation("pass", "auditd enabled")


def test_masked_and_static_units(host: FakeHost) -> None:
    host.file("/lib/systemd/system/cups.service", "[Service]\n[Install]\nWantedBy=multi-user.target\n")
    host.folder("/etc/systemd/system")
    (host.root / "etc/systemd/system/cups.service").symlink_to("/dev/null")
    assert linux.unit_file_state(host, "cups") == "masked"
    host.file("/lib/systemd/system/helper.service", "[Service]\nExecStart=/bin/true\n")
    assert linux.unit_file_state(host, "helper") == "static"


def test_an_absent_package_fails_the_installed_and_enabled_rules(host: FakeHost) -> None:
    host.file("/var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\n")
    assert evaluate(check_rule("cis-linux-l2", "6.3.1.1"), host) == Evaluation("fail", "auditd not installed")
    assert evaluate(check_rule("cis-linux-l2", "6.3.1.2"), host) == Evaluation("fail", "auditd not-found")
    assert evaluate(check_rule("stig-linux", "V-260515"), host).status == "fail"


def test_cron_checks_apply_only_where_cron_is_installed(host: FakeHost) -> None:
    host.file("/var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\n")
    host.folder("/etc/cron.daily", 0o755)
    rule = check_rule("cis-linux-l1", "2.4.1.4")
    assert evaluate(rule, host) == Evaluation("skip", "not applicable: cron not installed")
    host.file("/var/lib/dpkg/status", "Package: cron\nStatus: install ok installed\n")
    assert evaluate(rule, host).status == "fail"


# boot parameters


def test_audit_must_be_on_the_running_kernel_and_in_every_boot_entry(host: FakeHost) -> None:
    host.file("/boot/grub/grub.cfg", "menuentry 'Debian' {\n\tlinux /vmlinuz root=/dev/sda1 ro audit=1\n}\n")
    host.file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
    rule = check_rule("cis-linux-l2", "6.3.1.3")
    assert evaluate(rule, host) == Evaluation("fail", "audit missing from running kernel")
    host.file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro audit=1\n")
    assert evaluate(rule, host).status == "pass"
    host.file("/boot/grub/grub.cfg", "linux /vmlinuz ro audit=1\nlinux /vmlinuz.old ro audit=0\n")
    assert evaluate(rule, host) == Evaluation("fail", "audit=0 in /boot/grub/grub.cfg")


def test_boot_loader_spec_entries_use_grubenv_kernelopts(host: FakeHost) -> None:
    host.file("/boot/grub2/grubenv", "kernelopts=root=/dev/vda1 audit=1 audit_backlog_limit=8192\n")
    host.file("/boot/loader/entries/rhel.conf", "title RHEL\noptions $kernelopts\n")
    host.file("/proc/cmdline", "root=/dev/vda1 audit=1 audit_backlog_limit=8192\n")
    assert evaluate(check_rule("cis-linux-l2", "6.3.1.4"), host).status == "pass"


# SSH


SSHD_T = "port 22\npermitrootlogin no\nmaxauthtries 4\nciphers aes128-ctr,aes256-gcm@openssh.com\n"


def test_sshd_settings_come_from_sshd_t_when_it_runs(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, commands={("sshd", "-T"): ok(SSHD_T)})
    host.file("/etc/ssh/sshd_config", "PermitRootLogin yes\n")
    assert evaluate(check_rule("cis-linux-l1", "5.1.20"), host) == Evaluation(
        "pass", "PermitRootLogin no (sshd -T)")


def test_sshd_config_include_and_first_match_without_sshd(host: FakeHost) -> None:
    host.file("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"
              "Match User backup\n  PermitRootLogin yes\n")
    host.file("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\n")
    rule = check_rule("cis-linux-l1", "5.1.20")
    assert evaluate(rule, host).status == "fail"  # the drop-in is read first
    host.file("/etc/ssh/sshd_config.d/50-cloud.conf", "Match Address 10.0.0.0/8\n  PermitRootLogin yes\n")
    assert evaluate(rule, host) == Evaluation("pass", "PermitRootLogin no (sshd_config)")


def test_sshd_defaults_and_time_values(host: FakeHost) -> None:
    host.file("/etc/ssh/sshd_config", "LoginGraceTime 1m\n")
    assert evaluate(check_rule("cis-linux-l1", "5.1.13"), host).status == "pass"
    assert evaluate(check_rule("cis-linux-l1", "5.1.16"), host) == Evaluation(
        "fail", "MaxAuthTries 6 (OpenSSH default), expected le 4")
    host.file("/etc/ssh/sshd_config", "LoginGraceTime 2m\n")
    assert evaluate(check_rule("cis-linux-l1", "5.1.13"), host).status == "fail"


def test_stig_ciphers_accept_any_order_of_approved_ciphers(host: FakeHost) -> None:
    rule = check_rule("stig-linux", "V-260531")
    host.file("/etc/ssh/sshd_config", "Ciphers aes128-ctr,aes256-ctr\n")
    assert evaluate(rule, host).status == "pass"
    host.file("/etc/ssh/sshd_config", "Ciphers aes256-ctr,chacha20-poly1305@openssh.com\n")
    assert evaluate(rule, host).status == "fail"
    host.file("/etc/ssh/sshd_config", "# nothing set: OpenSSH's default list includes chacha20\n")
    assert evaluate(rule, host).status == "fail"


def test_sshd_algorithm_lists_relative_to_the_default() -> None:
    assert linux.sshd_list_value("-chacha20*", "chacha20-poly1305@openssh.com,aes128-ctr") == "aes128-ctr"
    assert linux.sshd_list_value("+aes128-cbc", "aes128-ctr") == "aes128-ctr,aes128-cbc"
    assert linux.sshd_list_value("^aes256-ctr", "aes128-ctr,aes256-ctr") == "aes256-ctr,aes128-ctr"


# drop-in folders


def test_sudoers_d_counts(host: FakeHost) -> None:
    host.file("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n")
    rule = check_rule("cis-linux-l1", "5.2.2")
    assert evaluate(rule, host).status == "fail"
    host.file("/etc/sudoers.d/hardening", "Defaults use_pty\n")
    assert evaluate(rule, host) == Evaluation("pass", "/etc/sudoers.d/hardening: Defaults use_pty")
    host.file("/etc/sudoers.d/ops", "ops ALL=(ALL) NOPASSWD: ALL\n")
    assert evaluate(check_rule("cis-linux-l2", "5.2.4"), host).status == "fail"


def test_lines_of_sensitive_files_stay_hidden_in_every_rule_form(host: FakeHost) -> None:
    host.file("/etc/shadow", "root:$6$salt$hash:19700:0:99999:7:::\n")
    by_paths = {"type": "file_regex", "paths": ["/etc/shadow"], "pattern": "^root:"}
    assert evaluate(by_paths, host) == Evaluation("pass", "/etc/shadow: root:<redacted>")
    nested = {"type": "all_of", "rules": [{"type": "file_regex", "path": "/etc/shadow", "pattern": "^root:"}]}
    assert evaluate(nested, host) == Evaluation("pass", "root:<redacted>")


def test_pwquality_conf_is_read_after_its_drop_ins(host: FakeHost) -> None:
    rule = check_rule("cis-linux-l1", "5.3.3.2.2")
    host.file("/etc/security/pwquality.conf.d/50-local.conf", "minlen = 14\n")
    assert evaluate(rule, host) == Evaluation("pass", "minlen=14 (/etc/security/pwquality.conf.d/50-local.conf)")
    host.file("/etc/security/pwquality.conf", "minlen = 8\n")
    assert evaluate(rule, host).status == "fail"


# values


def test_useradd_inactive_accepts_the_allowed_range(host: FakeHost) -> None:
    rule = check_rule("stig-linux", "V-260547")
    for value, status in (("30", "pass"), ("35", "pass"), ("0", "pass"), ("36", "fail"), ("-1", "fail")):
        host.file("/etc/default/useradd", f"SHELL=/bin/sh\nINACTIVE={value}\n")
        assert evaluate(rule, host).status == status, value


class OwnedHost(FakeHost):
    """Files report the owner and group given here, whoever runs the test."""

    def __init__(self, root: Path, owner: str, group: str) -> None:
        super().__init__(root)
        self.owner, self.group = owner, group

    def stat(self, path: str) -> FileStat | None:
        real = super().stat(path)
        return None if real is None else FileStat(real.mode, self.owner, self.group, real.is_dir)


@pytest.mark.parametrize(("group", "status"), [("root", "pass"), ("syslog", "pass"), ("users", "fail")])
def test_var_log_group_may_be_root_where_there_is_no_syslog_group(tmp_path: Path, group: str, status: str) -> None:
    host = OwnedHost(tmp_path, "root", group)
    host.folder("/var/log")
    assert evaluate(check_rule("stig-linux", "V-260509"), host).status == status


@pytest.mark.parametrize(("template", "rule_id", "value_name", "limit"), [
    ("cis-windows-l1", "2.3.7.3", "InactivityTimeoutSecs", 900),
    ("stig-windows", "V-254456", "InactivityTimeoutSecs", 900),
    ("cis-windows-l2", "18.10.56.3.10.1", "MaxIdleTime", 900000),
])
def test_windows_time_limits_reject_zero(tmp_path: Path, template: str, rule_id: str, value_name: str,
                                         limit: int) -> None:
    rule = check_rule(template, rule_id)
    for value, status in ((0, "fail"), (1, "pass"), (limit, "pass"), (limit + 1, "fail")):
        host = FakeHost(tmp_path, os_type="windows", registry={("HKLM", rule["key"], value_name): value})
        assert evaluate(rule, host).status == status, value


# remediation approval


@pytest.mark.parametrize(("template", "rule_id"), [("cis-linux-l1", "3.3.1"), ("cis-linux-l2", "1.1.1.6")])
def test_fixes_that_can_break_hosts_need_change_approval(template: str, rule_id: str) -> None:
    check = next(c for c in CONTENT.template(template).checks if c.rule_id == rule_id)
    assert check.remediation.type == "script" and check.remediation.requires_change


def test_commands_inside_all_of_are_pinned_like_top_level_ones() -> None:
    from agent.pinning import refusal

    custom = {"type": "command_output", "argv": ["sh", "-c", "id"], "pattern": "uid"}
    builtin = check_rule("cis-linux-l2", "1.1.2.3.1")
    assert refusal({"type": "all_of", "rules": [builtin]}, allow_custom=False) is None
    assert refusal({"type": "all_of", "rules": [builtin, custom]}, allow_custom=False).startswith("refused")
    assert refusal({"type": "all_of", "applies_if": custom, "rules": [builtin]}, allow_custom=False) is not None
