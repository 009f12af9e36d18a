"""Answers `patch_install` jobs: installs exact package versions with the system's package manager
(apt-get on Debian/Ubuntu, dnf on RPM distributions, pkg on FreeBSD), non-interactively, then reports the
versions installed afterwards. Names and versions are checked against strict patterns before anything runs."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable

from agent import inventory

# Debian policy names (lowercase, digits, + - .) and RPM/pkg names (letters, digits, + - . _); versions with
# an optional epoch and the characters dpkg and rpm allow. Nothing that could be an option or a shell word.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}$")
VERSION = re.compile(r"^(?:[0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~_-]{0,199}$")
MAX_PACKAGES = 200
TIMEOUT_SECONDS = 1800
MAX_OUTPUT = 64 * 1024

Run = Callable[[list[str], dict], subprocess.CompletedProcess]


def run_command(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False, env=env)


def refusal(packages: object) -> str | None:
    """Why this package list must not be installed; None when every name and version is well formed."""
    if not isinstance(packages, list) or not packages:
        return "no packages to install"
    if len(packages) > MAX_PACKAGES:
        return f"more than {MAX_PACKAGES} packages"
    for package in packages:
        if not isinstance(package, dict):
            return "a package is not an object"
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return f"refused: bad package name {name!r}"
        if not isinstance(version, str) or not VERSION.fullmatch(version):
            return f"refused: bad version {version!r} of {name}"
    return None


def install_command(manager: str, packages: list[dict]) -> list[str]:
    if manager == "apt":
        return ["apt-get", "install", "-y", "--only-upgrade", "--no-install-recommends",
                "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
                *(f"{p['name']}={p['version']}" for p in packages)]
    if manager == "dnf":
        return ["dnf", "upgrade", "-y", *(f"{p['name']}-{p['version']}" for p in packages)]
    return ["pkg", "upgrade", "-y", *(p["name"] for p in packages)]


def package_manager(system: str, which: Callable[[str], str | None]) -> str | None:
    if system == "Linux" and which("apt-get") and which("dpkg-query"):
        return "apt"
    if system == "Linux" and which("dnf"):
        return "dnf"
    if system == "FreeBSD" and which("pkg"):
        return "pkg"
    return None


def install(payload: dict, run: Run = run_command, which: Callable[[str], str | None] = shutil.which,
            system: str | None = None, collect: Callable[[], dict] = inventory.collect) -> dict:
    """The §7 `patch_install` result: success when the command succeeded and every package is now at (or
    beyond) the version asked for, as the package manager reports it afterwards."""
    packages = payload.get("packages") if isinstance(payload, dict) else None
    if (reason := refusal(packages)) is not None:
        return {"status": "failed", "installed": [], "output": reason}
    manager = package_manager(system or platform.system(), which)
    if manager is None:
        return {"status": "failed", "installed": [], "output": "no supported package manager on this host"}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "a", "LC_ALL": "C"}
    output = ""
    try:
        if manager == "apt":
            updated = run(["apt-get", "update", "-q"], env)
            output += updated.stdout + updated.stderr
        completed = run(install_command(manager, packages), env)
        output += completed.stdout + completed.stderr
        succeeded = completed.returncode == 0
    except (OSError, subprocess.SubprocessError) as exc:
        output += f"\ncould not run the package manager: {exc}"
        succeeded = False
    wanted = {p["name"]: p["version"] for p in packages}
    found = {p["name"]: p["version"] for p in collect().get("packages", []) if p.get("name") in wanted}
    installed = [{"name": name, "version": found[name]} for name in sorted(wanted) if name in found]
    if succeeded and manager != "pkg":
        succeeded = all(found.get(name) == version for name, version in wanted.items())
    return {"status": "success" if succeeded else "failed", "installed": installed, "output": output[-MAX_OUTPUT:]}
