"""Audit rules, file-system sweeps and the account databases: persisted and loaded audit rules in any spelling,
sweeps through find(1) and through the probe alike, duplicate ids and orphan groups."""

import os
from pathlib import Path

import pytest

from agent.offline import RootHost
from domain import linux_settings as linux
from domain.evaluation import evaluate
from tests.unit.test_rules import FakeHost, ok

RULES_D = "/etc/audit/rules.d/50-cis.rules"
SUDOERS_WATCH = {"type": "audit_rule", "path": "/etc/sudoers", "permissions": "wa"}
TIME_CHANGE = {"type": "audit_rule", "syscalls": ["adjtimex", "settimeofday"]}
CHAGE = {"type": "audit_rule", "path": "/usr/bin/chage", "permissions": "x",
         "fields": ["auid>=1000", "auid!=unset"]}


@pytest.fixture
def offline(tmp_path: Path) -> RootHost:
    return RootHost(tmp_path)


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


# audit_rule


def test_a_watch_passes_with_wider_permissions_and_any_key(tmp_path: Path, offline: RootHost) -> None:
    write(tmp_path, RULES_D, "-w /etc/sudoers -p rwa -k scope\n")
    assert evaluate(SUDOERS_WATCH, offline).status == "pass"
    write(tmp_path, RULES_D, "-w /etc/sudoers -p w -k scope\n")
    assert evaluate(SUDOERS_WATCH, offline).actual == "watch /etc/sudoers -p wa not in /etc/audit/rules.d/*.rules"


def test_a_path_filter_rule_counts_as_a_watch(tmp_path: Path, offline: RootHost) -> None:
    write(tmp_path, RULES_D, "-a always,exit -F path=/usr/bin/chage -F perm=x -F auid>=1000 -F auid!=-1 "
                             "-k privileged\n")
    assert evaluate(CHAGE, offline).status == "pass"
    write(tmp_path, RULES_D, "-a always,exit -F path=/usr/bin/chage -F perm=x -k privileged\n")
    assert evaluate(CHAGE, offline).status == "fail"


def test_syscalls_must_be_covered_for_every_arch(tmp_path: Path, offline: RootHost) -> None:
    write(tmp_path, RULES_D, "-a always,exit -F arch=b64 -S settimeofday -S adjtimex -k time\n")
    assert evaluate(TIME_CHANGE, offline).actual == "adjtimex,settimeofday (b32) not in /etc/audit/rules.d/*.rules"
    write(tmp_path, RULES_D, "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time\n"
                             "-a exit,always -F arch=b32 -S adjtimex -k time\n-a always,exit -F arch=b32 "
                             "-S settimeofday -k time\n")
    assert evaluate(TIME_CHANGE, offline).status == "pass"


def test_a_never_rule_does_not_count(tmp_path: Path, offline: RootHost) -> None:
    write(tmp_path, RULES_D, "-a never,exit -F arch=b64 -S adjtimex,settimeofday\n"
                             "-a never,exit -F arch=b32 -S adjtimex,settimeofday\n")
    assert evaluate(TIME_CHANGE, offline).status == "fail"


def test_without_rules_d_the_hand_kept_rules_file_is_read(tmp_path: Path, offline: RootHost) -> None:
    assert evaluate(SUDOERS_WATCH, offline).status == "fail"
    write(tmp_path, "/etc/audit/audit.rules", "-D\n-w /etc/sudoers -p wa\n-e 2\n")
    assert evaluate(SUDOERS_WATCH, offline).actual == "watch /etc/sudoers -p wa in /etc/audit/audit.rules"


def test_a_running_host_must_also_have_the_rule_loaded(tmp_path: Path) -> None:
    write(tmp_path, RULES_D, "-w /etc/sudoers -p wa -k scope\n")
    host = FakeHost(tmp_path, commands={("auditctl", "-l"): ok("No rules\n")})
    assert evaluate(SUDOERS_WATCH, host).actual == "watch /etc/sudoers -p wa not loaded"
    host.commands[("auditctl", "-l")] = ok("-w /etc/sudoers -p wa -k scope\n")
    assert evaluate(SUDOERS_WATCH, host).actual == "watch /etc/sudoers -p wa in /etc/audit/rules.d/*.rules and loaded"
    assert evaluate(SUDOERS_WATCH, FakeHost(tmp_path)).actual == "auditctl not installed, so no rule is loaded"


def test_unset_auid_has_three_spellings() -> None:
    assert {linux.audit_field(text) for text in ("auid!=-1", "auid!=4294967295", "auid!=unset")} == {"auid!=unset"}
    [rule] = linux.parse_audit_rules("-a always,exit -F arch=b64 -C euid!=uid -F auid!=-1 -S execve -k user_emul\n")
    assert rule.fields == {"euid!=uid", "auid!=unset"} and rule.arch == "b64" and rule.syscalls == {"execve"}


def test_an_audit_rule_needs_a_path_or_syscalls(offline: RootHost) -> None:
    assert evaluate({"type": "audit_rule", "permissions": "wa"}, offline).status == "error"
    assert evaluate({"type": "audit_rule", "path": "/x", "fields": ["auid>=1000 -k x"]}, offline).status == "error"


# file_sweep


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for folder, mode in (("tmp", 0o1777), ("srv/share", 0o777), ("usr/bin", 0o755)):
        (root / folder).mkdir(parents=True)
        (root / folder).chmod(mode)
    for name, mode in (("usr/bin/tool", 0o755), ("usr/bin/su", 0o4755), ("srv/notes", 0o666)):
        (root / name).write_text("x")
        (root / name).chmod(mode)
    (root / "usr/bin/link").symlink_to("tool")
    (root / "proc").mkdir()
    (root / "proc/kcore").write_text("")
    (root / "proc/kcore").chmod(0o666)
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text(f"root:x:0:0::/root:/bin/sh\nme:x:{os.getuid()}:{os.getgid()}::/:/bin/sh\n")
    (root / "etc/group").write_text(f"root:x:0:\nme:x:{os.getgid()}:\n")
    return root


def test_world_writable_files_and_unsticky_directories_are_found_offline(tmp_path: Path) -> None:
    host = RootHost(tree(tmp_path))
    result = evaluate({"type": "file_sweep", "roots": ["/"], "find": "world_writable"}, host)
    assert result.status == "fail"
    assert result.actual.endswith(": /srv/notes, /srv/share")  # /tmp is sticky; /proc and the link are not entered


def test_allowed_findings_and_name_patterns(tmp_path: Path) -> None:
    host = RootHost(tree(tmp_path))
    suid = {"type": "file_sweep", "roots": ["/usr/bin"], "find": "setuid_setgid"}
    assert evaluate(suid, host).actual == "1 unexpected SUID/SGID files: /usr/bin/su"
    assert evaluate({**suid, "allow": ["/usr/bin/su"]}, host).status == "pass"
    mode = {"type": "file_sweep", "roots": ["/usr/bin"], "find": "mode_exceeds", "max_mode": "0755", "kind": "file"}
    assert evaluate(mode, host).status == "fail"
    assert evaluate({**mode, "name": "t*"}, host).status == "pass"
    assert evaluate({**mode, "max_mode": "7755"}, host).status == "pass"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file another owner needs root")
def test_unowned_files_are_those_without_a_name_in_the_image(tmp_path: Path) -> None:
    root = tree(tmp_path)
    unowned = {"type": "file_sweep", "roots": ["/srv"], "find": "unowned"}
    assert evaluate(unowned, RootHost(root)).status == "pass"
    os.chown(root / "srv/notes", 0, 4242)
    assert evaluate(unowned, RootHost(root)).actual == "1 files without a known owner or group: /srv/notes"


def test_a_running_host_sweeps_with_find_on_each_local_file_system(tmp_path: Path) -> None:
    mounts = "/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n/dev/sda2 /var ext4 rw 0 0\nsrv:/x /mnt nfs4 rw 0 0\n"
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mounts").write_text(mounts)
    argv = ("find", "/", "/var", "-xdev", "(", "-nouser", "-o", "-nogroup", ")", "-print")
    host = FakeHost(tmp_path, commands={argv: ok("/var/tmp/orphan\n")})
    host.read_file = lambda path: mounts if path == "/proc/self/mounts" else None  # type: ignore[method-assign]
    result = evaluate({"type": "file_sweep", "roots": ["/"], "find": "unowned"}, host)
    assert result.actual == "1 files without a known owner or group: /var/tmp/orphan"


def test_a_sweep_names_what_it_compares() -> None:
    assert evaluate({"type": "file_sweep", "roots": ["/"], "find": "owner_not"}, RootHost("/nonexistent")
                    ).actual.startswith("invalid file_sweep rule")


# accounts


@pytest.mark.parametrize(("check", "passwd", "group", "verdict"), [
    ("unique_uids", "root:x:0:0::/:/bin/sh\nop:x:0:0::/:/bin/sh\n", "root:x:0:\n", "fail"),
    ("unique_uids", "root:x:0:0::/:/bin/sh\nop:x:1:0::/:/bin/sh\n", "root:x:0:\n", "pass"),
    ("unique_gids", "root:x:0:0::/:/bin/sh\n", "root:x:0:\nwheel:x:0:\n", "fail"),
    ("unique_user_names", "a:x:1:0::/:/bin/sh\na:x:2:0::/:/bin/sh\n", "root:x:0:\n", "fail"),
    ("unique_group_names", "a:x:1:0::/:/bin/sh\n", "root:x:0:\nroot:x:1:\n", "fail"),
    ("primary_groups_exist", "a:x:1:7::/:/bin/sh\n", "root:x:0:\n", "fail"),
    ("primary_groups_exist", "a:x:1:0::/:/bin/sh\n", "root:x:0:\n", "pass"),
    ("shadow_group_empty", "a:x:1:42::/:/bin/sh\n", "shadow:x:42:\n", "fail"),
    ("shadow_group_empty", "a:x:1:0::/:/bin/sh\n", "shadow:x:42:a\n", "fail"),
    ("shadow_group_empty", "a:x:1:0::/:/bin/sh\n", "shadow:x:42:\n", "pass"),
])
def test_account_databases(tmp_path: Path, check: str, passwd: str, group: str, verdict: str) -> None:
    write(tmp_path, "/etc/passwd", passwd)
    write(tmp_path, "/etc/group", group)
    assert evaluate({"type": "accounts", "check": check}, RootHost(tmp_path)).status == verdict
