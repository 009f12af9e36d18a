"""Remediation scripts run for real, chrooted into a copy of the non-compliant fixture root inside a private mount
namespace (this machine's programs borrowed read-only under /host, never its /etc): one run makes the check
pass, a second run changes nothing, and a refused change leaves the files as they were."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.offline import RootHost
from content import load_builtin_content
from domain.evaluation import evaluate
from tests.unit.test_offline_scan import materialize

CONTENT = load_builtin_content()
LIBRARIES = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64")
# Programs that would act on the running system answer from stubs; each call is logged to /stub.log.
STUBS = ("systemctl", "service", "sysctl", "modprobe", "update-grub", "apt-get", "apt", "dpkg", "dnf", "yum", "rpm")


def _isolation_available() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("chroot") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _isolation_available(),
                                reason="needs root and mount namespaces (unshare) to chroot into a fixture copy")


def run_isolated(root: Path, body: str, failing: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a script with bash chrooted into `root`. `failing` maps a program name to a stub that fails."""
    stubs = root / "stubs"
    stubs.mkdir(exist_ok=True)
    stubbed = {name: 'echo "$0 $*" >> /stub.log' for name in (*STUBS, "sshd")}
    stubbed["pidof"] = "exit 1"  # no daemon runs in the fixture
    stubbed.update(failing or {})
    for name, text in stubbed.items():
        (stubs / name).write_text(f"#!/host/usr/bin/bash\n{text}\n")
        (stubs / name).chmod(0o755)
    for name in ("awk",):  # reached through /etc/alternatives, which the chroot does not have
        real = os.path.realpath(shutil.which(name) or name)
        if real.startswith("/usr/") and not (stubs / name).is_symlink():
            (stubs / name).symlink_to("/host" + real)
    (root / "remediation.sh").write_text(body)
    mounts = [("/usr", "host/usr"), ("/dev/null", "dev/null")]
    for folder in LIBRARIES:
        inside = root / folder.lstrip("/")
        if os.path.islink(folder):  # merged /usr: /lib64 -> usr/lib64, as the program loader expects
            if not inside.exists() and not inside.is_symlink():
                inside.symlink_to(os.readlink(folder))
        elif os.path.isdir(folder):
            mounts.append((folder, folder.lstrip("/")))
    setup = ["set -e"]
    for source, target in mounts:
        inside = root / target
        if os.path.isdir(source):
            inside.mkdir(parents=True, exist_ok=True)
        else:
            inside.parent.mkdir(parents=True, exist_ok=True)
            inside.touch()
        setup += [f"mount --bind '{source}' '{inside}'", f"mount -o remount,bind,ro '{inside}'"]
    setup.append(f"exec chroot '{root}' /host/usr/bin/env -i PATH=/stubs:/host/usr/bin:/host/usr/sbin "
                 "LC_ALL=C /host/usr/bin/bash /remediation.sh")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(setup)],
                          capture_output=True, text=True, timeout=60)


SCAFFOLDING = {"host", "stubs", "dev", "remediation.sh", "stub.log",
               *(folder.lstrip("/") for folder in LIBRARIES)}


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every file, folder and link of the tree with its mode, owner and content digest (scaffolding left out)."""
    state = {}
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            if relative in SCAFFOLDING:
                if name in folders:
                    folders.remove(name)
                continue
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            state[relative] = (info.st_mode, info.st_uid, info.st_gid, digest)
    return state


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return materialize("debian-noncompliant", tmp_path)


def check(template: str, rule_id: str):
    return next(c for c in CONTENT.template(template).checks if c.rule_id == rule_id)


# Scripts that install, remove, enable or mask through the package manager or systemctl: both are stubs here,
# so the round trip cannot show their effect.
THROUGH_MANAGERS = ("linux-install-", "linux-purge-", "linux-enable-", "linux-mask-")
# The non-compliant tree does not fail these: V-260469 needs the running system, V-260523's package is installed,
# 6.2.3.3 applies only where rsyslog is installed.
NOT_FAILING = {"V-260469", "V-260523", "6.2.3.3"}


def scripted_checks() -> list[tuple[str, str]]:
    return [(template, c.rule_id) for template in ("cis-linux-l2", "stig-linux")
            for c in CONTENT.template(template).checks
            if c.remediation.type == "script" and not c.remediation.script.startswith(THROUGH_MANAGERS)
            and c.rule_id not in NOT_FAILING]


@pytest.mark.parametrize(("template", "rule_id"), scripted_checks())
def test_remediation_makes_the_check_pass_and_is_idempotent(root: Path, template: str, rule_id: str) -> None:
    (root / "etc/pam.d/common-password").write_text("password requisite pam_pwquality.so retry=3\n")
    target = check(template, rule_id)
    assert evaluate(target.rule, RootHost(root)).status == "fail"
    script = CONTENT.scripts[target.remediation.script]
    first = run_isolated(root, script.body)
    assert first.returncode == 0, first.stderr
    result = evaluate(target.rule, RootHost(root))
    assert result.status == "pass", result.actual
    before = snapshot(root)
    second = run_isolated(root, script.body)
    assert second.returncode == 0, second.stderr
    assert snapshot(root) == before


def test_var_log_falls_back_to_root_without_a_syslog_group(root: Path) -> None:
    group = root / "etc" / "group"
    group.write_text("".join(line for line in group.read_text().splitlines(keepends=True)
                             if not line.startswith("syslog:")))
    done = run_isolated(root, CONTENT.scripts["linux-perms-var-log"].body)
    assert done.returncode == 0, done.stderr
    info = RootHost(root).stat("/var/log")
    assert info is not None and (oct(info.mode), info.owner, info.group) == ("0o755", "root", "root")


def test_sshd_fix_keeps_match_blocks_and_backs_up_every_file(root: Path) -> None:
    dropin = root / "etc/ssh/sshd_config.d/50-cloud.conf"
    dropin.write_text(dropin.read_text() + "Match User backup\n  PermitRootLogin yes\n")
    done = run_isolated(root, CONTENT.scripts["linux-sshd-permitrootlogin"].body)
    assert done.returncode == 0, done.stderr
    assert "Match User backup\n  PermitRootLogin yes\n" in dropin.read_text()
    assert not any(line.startswith("PermitRootLogin yes") for line in dropin.read_text().splitlines())
    backups = sorted(path.name for path in (root / "etc/ssh").rglob("*.compliance-*.bak"))
    assert len(backups) == 2 and backups[0].startswith("50-cloud.conf.") and backups[1].startswith("sshd_config.")


def test_sshd_fix_restores_every_file_when_sshd_refuses(root: Path) -> None:
    before = snapshot(root)
    refused = run_isolated(root, CONTENT.scripts["linux-sshd-permitrootlogin"].body,
                           failing={"sshd": "echo 'bad configuration' >&2; exit 1"})
    assert refused.returncode == 1
    after = {path: state for path, state in snapshot(root).items() if ".compliance-" not in path}
    assert after == before


def test_pwquality_fix_refuses_without_the_pam_module(root: Path) -> None:
    before = snapshot(root)
    refused = run_isolated(root, CONTENT.scripts["linux-pwquality-minlen-14"].body)
    assert refused.returncode == 1 and "pam_pwquality.so is not used" in refused.stderr
    assert snapshot(root) == before
    (root / "etc/pam.d/common-password").write_text("password requisite pam_pwquality.so retry=3\n")
    done = run_isolated(root, CONTENT.scripts["linux-pwquality-minlen-14"].body)
    assert done.returncode == 0, done.stderr
    assert evaluate(check("cis-linux-l1", "5.3.3.2.2").rule, RootHost(root)).status == "pass"
