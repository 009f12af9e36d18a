"""Offline scanning of a root filesystem: reads stay inside the root, and every Linux check of the built-in
content gives the expected verdict on a compliant and on a non-compliant Debian-like tree."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.offline import RootHost, choose_templates, scan_root
from content import load_builtin_content
from domain.evaluation import evaluate

ROOTS = Path(__file__).resolve().parent.parent / "fixtures" / "roots"
CONTENT = load_builtin_content()
LINUX_TEMPLATES = ("cis-linux-l2", "stig-linux")  # cis-linux-l2 holds every cis-linux-l1 check

# Checks that need the running system: a command, the live mount table, or a running service.
OFFLINE_SKIPS = {"1.1.2.1.1", "1.1.2.3.1", "1.1.2.4.1", "1.1.2.5.1", "1.1.2.6.1", "1.1.2.7.1", "1.3.1.3", "1.3.1.4",
                 "6.3.3.21", "V-260469", "V-260485", "V-260486", "V-260516"}
# Both trees use ufw: the nftables and iptables sections apply only where that firewall is the one chosen (see
# test_a_host_that_chose_nftables), and the journald-only setting only where rsyslog is absent.
NOT_CHOSEN = {"4.2.1", "4.2.2", "4.2.5", "4.2.6", "4.2.8", "4.3.1.1", "4.3.1.2", "4.3.1.3", "4.3.2.1", "4.3.2.2",
              "4.3.3.1", "4.3.3.2"}
# The compliant tree uses chrony and rsyslog, so the systemd-timesyncd and journald-only checks do not apply there.
COMPLIANT_SKIPS = {"2.3.2.1", "6.2.1.1.4"}
# The non-compliant tree passes these on purpose: openssh-server is installed there (its config is what fails), and
# systemd-timesyncd is its one time daemon, which CIS accepts (the STIG's chrony checks fail there).
NONCOMPLIANT_PASSES = {"V-260523", "2.3.1.1"}
# The non-compliant tree has no /dev/shm entry in /etc/fstab (not a separate mount, so nothing to judge), and has
# neither chrony, ufw nor rsyslog installed, so the checks of their configuration do not apply.
NONCOMPLIANT_SKIPS = {"1.1.2.2.2", "1.1.2.2.3", "1.1.2.2.4", "2.3.3.1", "2.3.3.2", "2.3.3.3", "4.1.2", "6.2.3.2",
                      "6.2.3.3", "6.2.3.4", "6.2.3.7"}


def linux_checks() -> list[tuple[str, str]]:
    return [(template, check.rule_id) for template in LINUX_TEMPLATES
            for check in CONTENT.template(template).checks]


def expected_verdict(tree: str, rule_id: str) -> str:
    if rule_id in OFFLINE_SKIPS | NOT_CHOSEN:
        return "skip"
    if rule_id in (NONCOMPLIANT_SKIPS if tree == "debian-noncompliant" else COMPLIANT_SKIPS):
        return "skip"
    if tree == "debian-compliant" or rule_id in NONCOMPLIANT_PASSES:
        return "pass"
    return "fail"


def materialize(tree: str, target: Path) -> Path:
    """A copy of the fixture tree with the modes (and, when running as root, the owners) of its manifest."""
    root = target / tree
    shutil.copytree(ROOTS / tree, root, symlinks=True)
    for line in (ROOTS / f"{tree}.manifest").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        mode, owner, path = line.split(maxsplit=2)
        real = root / path.lstrip("/")
        if not real.exists() and not real.is_symlink():
            real.mkdir(parents=True)
        if os.geteuid() == 0:  # before the mode: a change of owner clears the set-user-ID bit
            uid, gid = owner.split(":")
            os.chown(real, int(uid), int(gid), follow_symlinks=False)
        real.chmod(int(mode, 8))
    return root


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("roots")
    return {tree: materialize(tree, base) for tree in ("debian-compliant", "debian-noncompliant")}


def judges_ownership(rule: dict) -> bool:
    if rule.get("type") == "all_of":
        return any(judges_ownership(part) for part in rule["rules"])
    return rule.get("type") == "file_permissions" and (rule.get("owner") is not None or rule.get("group") is not None)


@pytest.mark.parametrize("tree", ["debian-compliant", "debian-noncompliant"])
@pytest.mark.parametrize(("template", "rule_id"), linux_checks())
def test_every_linux_check_on_the_fixture_roots(trees: dict[str, Path], tree: str, template: str,
                                                rule_id: str) -> None:
    check = next(c for c in CONTENT.template(template).checks if c.rule_id == rule_id)
    expected = expected_verdict(tree, rule_id)
    if os.geteuid() != 0 and judges_ownership(check.rule) and expected != "skip":
        pytest.skip("files can be given root's ownership only when the tests run as root")
    result = evaluate(check.rule, RootHost(trees[tree]))
    assert result.status == expected, f"{template} {rule_id}: {result.actual}"


def test_offline_skips_say_why(trees: dict[str, Path]) -> None:
    host = RootHost(trees["debian-compliant"])
    findmnt = next(c.rule for c in CONTENT.template("cis-linux-l1").checks if c.rule_id == "1.1.2.1.1")
    assert evaluate(findmnt, host).actual == "running findmnt needs the running system; not judged in an offline scan"
    ufw_active = next(c.rule for c in CONTENT.template("stig-linux").checks if c.rule_id == "V-260516")
    assert "needs the running system" in evaluate(ufw_active, host).actual


def test_links_cannot_lead_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.write_text("host secret\n")
    (root / "etc" / "absolute").symlink_to("/" + str(outside.relative_to("/")))
    (root / "etc" / "relative").symlink_to("../../secret")
    (root / "etc" / "loop").symlink_to("loop")
    host = RootHost(root)
    assert host.read_file("/etc/absolute") is None
    assert host.read_file("/etc/relative") is None
    assert host.read_file("/etc/loop") is None
    assert host.read_file("/../secret") is None
    (root / "etc" / "inside").symlink_to("/etc/passwd")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    assert host.read_file("/etc/inside") == "root:x:0:0::/root:/bin/sh\n"
    assert host.read_link("/etc/inside") == "/etc/passwd"


def test_owner_names_come_from_the_image(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(f"imageuser:x:{os.getuid()}:{os.getgid()}::/:/bin/sh\n")
    (root / "etc" / "group").write_text(f"imagegroup:x:{os.getgid()}:\n")
    info = RootHost(root).stat("/etc/passwd")
    assert info is not None and (info.owner, info.group) == ("imageuser", "imagegroup")


def test_nothing_runs_offline(tmp_path: Path) -> None:
    host = RootHost(tmp_path)
    assert not host.which("sh")
    rule = {"type": "command_output", "argv": ["id"], "pattern": "uid", "os_types": ["linux"]}
    assert evaluate(rule, host).status == "skip"


def test_scan_command_prints_json_verdicts(trees: dict[str, Path]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "agent", "scan", "--root", str(trees["debian-noncompliant"]),
         "--template", "cis-linux-l1"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )
    report = json.loads(completed.stdout)
    [template] = report["templates"]
    assert template["template"] == "cis-linux-l1"
    verdicts = {row["check_id"]: row["status"] for row in template["results"]}
    assert verdicts["5.1.20"] == "fail" and verdicts["1.1.2.1.1"] == "skip"
    assert template["summary"]["fail"] == sum(status == "fail" for status in verdicts.values())


def test_scan_takes_a_template_file(trees: dict[str, Path], tmp_path: Path) -> None:
    template = tmp_path / "mine.yaml"
    template.write_text(
        "format: 1\nkey: mine\nname: Mine\nos_type: linux\nframework: CIS\nextends: cis-linux-l1\nchecks:\n"
        "  - rule_id: x.1\n    title: Banner file\n    rationale: Because.\n    severity: low\n"
        "    rule: {type: file_exists, path: /etc/issue.net, expect: present}\n    remediation: {type: none}\n")
    report = scan_root(trees["debian-compliant"], choose_templates([str(template)]))
    rows = report["templates"][0]["results"]
    assert rows[-1] == {"check_id": "x.1", "title": "Banner file", "status": "pass",
                        "actual": "/etc/issue.net present (file)"}
    assert len(rows) == len(CONTENT.template("cis-linux-l1").checks) + 1


def test_a_rhel_like_layout(tmp_path: Path) -> None:
    """Units under /usr/lib/systemd/system, boot loader spec entries with grubenv's $kernelopts, no dpkg."""
    root = tmp_path / "rhel"
    files = {
        "usr/lib/systemd/system/auditd.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
        "boot/grub2/grubenv": "kernelopts=root=/dev/mapper/rhel-root ro audit=1 audit_backlog_limit=8192\n",
        "boot/loader/entries/abc-5.14.0.conf": "title Red Hat Enterprise Linux\noptions $kernelopts\n",
        "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n",
        "etc/ssh/sshd_config.d/50-redhat.conf": "X11Forwarding yes\nUsePAM yes\n",
        "var/lib/rpm/rpmdb.sqlite": "",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "auditd.service").symlink_to("/usr/lib/systemd/system/auditd.service")
    host = RootHost(root)

    def verdict(template: str, rule_id: str) -> str:
        return evaluate(next(c.rule for c in CONTENT.template(template).checks if c.rule_id == rule_id), host).status

    assert verdict("cis-linux-l2", "6.3.1.2") == "pass"   # auditd enabled
    assert verdict("cis-linux-l2", "6.3.1.3") == "pass"   # audit=1 in every boot entry
    assert verdict("cis-linux-l2", "6.3.1.4") == "pass"
    assert verdict("cis-linux-l1", "5.1.20") == "pass"    # PermitRootLogin no
    assert verdict("stig-linux", "V-260529") == "fail"    # X11Forwarding yes from the drop-in
    assert verdict("cis-linux-l2", "6.3.1.1") == "skip"   # no dpkg database; the rpm one is not read offline


def test_a_host_that_chose_nftables(trees: dict[str, Path], tmp_path: Path) -> None:
    """The ufw section steps aside and the nftables section judges /etc/nftables.conf."""
    root = tmp_path / "nft"
    shutil.copytree(trees["debian-compliant"], root, symlinks=True)
    (root / "lib/systemd/system/nftables.service").write_text("[Service]\n[Install]\nWantedBy=sysinit.target\n")
    (root / "etc/systemd/system/sysinit.target.wants/nftables.service").symlink_to(
        "/lib/systemd/system/nftables.service")
    (root / "etc/nftables.conf").write_text(
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy accept;\n  }\n}\n")
    host = RootHost(root)

    def verdict(rule_id: str) -> str:
        return evaluate(next(c.rule for c in CONTENT.template("cis-linux-l2").checks if c.rule_id == rule_id),
                        host).status

    assert [verdict(rule_id) for rule_id in ("4.1.1", "4.1.3", "4.1.7")] == ["skip"] * 3
    assert [verdict(rule_id) for rule_id in ("4.2.2", "4.2.5", "4.2.6", "4.2.8")] == ["fail"] * 4
    (root / "etc/nftables.conf").write_text(
        'table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n'
        '    iif "lo" accept\n    ip saddr 127.0.0.0/8 counter drop\n  }\n'
        "  chain forward {\n    type filter hook forward priority 0; policy drop;\n  }\n"
        "  chain output {\n    type filter hook output priority 0; policy drop;\n  }\n}\n")
    (root / "etc/systemd/system/multi-user.target.wants/ufw.service").unlink()
    assert [verdict(rule_id) for rule_id in ("4.2.2", "4.2.5", "4.2.6", "4.2.8")] == ["pass"] * 4
