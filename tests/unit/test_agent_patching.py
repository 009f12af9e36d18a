"""The reference agent's patch_install: exact versions through apt-get, non-interactive; strict refusal of bad
names and versions; the versions installed afterwards decide success."""

from __future__ import annotations

import subprocess

import pytest

from agent.patching import install, install_command, refusal


class Recorder:
    def __init__(self, returncode: int = 0):
        self.calls: list[tuple[list[str], dict]] = []
        self.returncode = returncode

    def __call__(self, argv: list[str], env: dict) -> subprocess.CompletedProcess:
        self.calls.append((argv, env))
        return subprocess.CompletedProcess(argv, self.returncode, stdout="done\n", stderr="")


def debian(*packages) -> dict:
    return {"os": {"id": "debian", "version_id": "12"}, "packages": [
        {"name": name, "version": version} for name, version in packages]}


def test_apt_installs_exact_versions_non_interactively_and_reports_them():
    run = Recorder()
    result = install({"packages": [{"name": "libc6", "version": "2.36-9+deb12u3"}]}, run=run,
                     which=lambda name: f"/usr/bin/{name}", system="Linux",
                     collect=lambda: debian(("libc6", "2.36-9+deb12u3"), ("bash", "5.2")))
    (update, update_env), (argv, env) = run.calls
    assert update[:2] == ["apt-get", "update"]
    assert argv[:4] == ["apt-get", "install", "-y", "--only-upgrade"] and argv[-1] == "libc6=2.36-9+deb12u3"
    assert env["DEBIAN_FRONTEND"] == "noninteractive"
    assert result == {"status": "success", "installed": [{"name": "libc6", "version": "2.36-9+deb12u3"}],
                      "output": "done\ndone\n"}


def test_a_package_left_at_another_version_is_a_failure():
    result = install({"packages": [{"name": "libc6", "version": "2.36-9+deb12u3"}]}, run=Recorder(),
                     which=lambda name: f"/usr/bin/{name}", system="Linux",
                     collect=lambda: debian(("libc6", "2.36-9+deb12u1")))
    assert result["status"] == "failed" and result["installed"] == [{"name": "libc6", "version": "2.36-9+deb12u1"}]


@pytest.mark.parametrize("package", [
    {"name": "-oAPT::Update::Pre-Invoke::=rm", "version": "1"},
    {"name": "libc6; rm -rf /", "version": "1"},
    {"name": "libc6", "version": "1 --allow-downgrades"},
    {"name": "libc6", "version": "$(id)"},
    {"name": "libc6", "version": ""},
    {"name": "", "version": "1.0"},
])
def test_bad_names_and_versions_are_refused_before_anything_runs(package):
    run = Recorder()
    result = install({"packages": [package]}, run=run, which=lambda name: name, system="Linux",
                     collect=lambda: debian())
    assert result["status"] == "failed" and result["output"].startswith("refused")
    assert run.calls == []


def test_valid_debian_and_rpm_versions_pass_the_patterns():
    assert refusal([{"name": "openssh-server", "version": "1:9.2p1-2+deb12u3"},
                    {"name": "libstdc++6", "version": "12.2.0-14~deb12u1"},
                    {"name": "kernel_core", "version": "5.14.0-427.el9_4"}]) is None
    assert refusal([]) == "no packages to install"


def test_dnf_and_pkg_commands():
    packages = [{"name": "openssl", "version": "1:3.0.7-27.el9"}]
    assert install_command("dnf", packages) == ["dnf", "upgrade", "-y", "openssl-1:3.0.7-27.el9"]
    assert install_command("pkg", packages) == ["pkg", "upgrade", "-y", "openssl"]


def test_a_host_without_a_package_manager_answers_failed():
    result = install({"packages": [{"name": "libc6", "version": "1"}]}, run=Recorder(), which=lambda name: None,
                     system="Windows", collect=lambda: {})
    assert result == {"status": "failed", "installed": [], "output": "no supported package manager on this host"}
