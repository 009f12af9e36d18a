"""Answers `inventory` jobs: the host's installed packages from its package manager (dpkg with the source
package and version, rpm, FreeBSD pkg), and os-release's ID and VERSION_ID; other systems are `unsupported`."""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

DPKG_FORMAT = ("${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${Architecture}"
               "\\t${db:Status-Status}\\n")
RPM_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"
PKG_FORMAT = "%n\\t%v\\t%o\\t%q"
OS_RELEASE = (Path("/etc/os-release"), Path("/usr/lib/os-release"), Path("/var/run/os-release"))
TIMEOUT_SECONDS = 120

Run = Callable[[list[str]], str]


def run_command(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=True).stdout


def os_release(paths=OS_RELEASE) -> dict:
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"').strip("'")
        return {"id": values.get("ID"), "version_id": values.get("VERSION_ID")}
    return {"id": None, "version_id": None}


def dpkg_packages(output: str) -> list[dict]:
    packages = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 6 or fields[5] != "installed":
            continue
        name, version, source_name, source_version, arch, _ = fields
        packages.append({"name": name, "version": version, "source_name": source_name or name,
                         "source_version": source_version or version, "arch": arch})
    return packages


def rpm_packages(output: str) -> list[dict]:
    packages = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0] != "gpg-pubkey":
            packages.append({"name": fields[0], "version": fields[1], "arch": fields[2]})
    return packages


def pkg_packages(output: str) -> list[dict]:
    packages = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 4:
            packages.append({"name": fields[0], "version": fields[1], "source_name": fields[2], "arch": fields[3]})
    return packages


def collect(run: Run = run_command, which: Callable[[str], str | None] = shutil.which,
            system: str | None = None) -> dict:
    """The §7 inventory result; a package manager that fails is reported as unsupported with the reason."""
    system = system or platform.system()
    try:
        if system == "Linux" and which("dpkg-query"):
            packages = dpkg_packages(run(["dpkg-query", "-W", "-f", DPKG_FORMAT]))
        elif system == "Linux" and which("rpm"):
            packages = rpm_packages(run(["rpm", "-qa", "--queryformat", RPM_FORMAT]))
        elif system == "FreeBSD" and which("pkg"):
            packages = pkg_packages(run(["pkg", "query", PKG_FORMAT]))
        else:
            return {"status": "unsupported"}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"status": "unsupported", "reason": f"package manager failed: {exc}"}
    release = os_release()
    if system == "FreeBSD" and not release["id"]:
        release = {"id": "freebsd", "version_id": platform.release().split("-")[0]}
    return {"os": release, "packages": packages}
