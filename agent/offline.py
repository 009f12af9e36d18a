"""Offline scanning: checks evaluated against a root filesystem that is not running (a mounted VM disk, a
container image's exported filesystem), as `python -m agent scan --root DIR [--template KEY-or-FILE]`.

Every read stays under the root, links included; nothing is run. Rules that need the running kernel, mounts or
services answer `skip` with a reason.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from agent import builtin_content
from agent.host import MAX_READ_BYTES
from agent.runner import evaluate_job_checks
from domain.probe import CommandNotFound, CommandResult, FileStat

_MAX_LINK_HOPS = 40


class RootHost:
    """A HostProbe for a root filesystem: paths resolve inside `root` the way chroot would resolve them."""

    running = False

    def __init__(self, root: str | Path, os_type: Literal["linux", "windows", "bsd"] = "linux") -> None:
        self.root = os.path.realpath(root)
        self.os_type = os_type
        self._names: dict[str, dict[int, str]] = {}

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The real path of `path` inside the root; absolute link targets start again at the root and `..`
        stops there, so no link in the image can lead outside it. None for a link loop."""
        pending = [part for part in path.split("/") if part not in ("", ".")]
        inside: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if inside:
                    inside.pop()
                continue
            candidate = os.path.join(self.root, *inside, part)
            if (pending or follow_last) and os.path.islink(candidate):
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return None
                target = os.readlink(candidate)
                if target.startswith("/"):
                    inside = []
                pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                continue
            inside.append(part)
        return os.path.join(self.root, *inside)

    def read_file(self, path: str) -> str | None:
        real = self.resolve(path)
        try:
            if real is None or not stat.S_ISREG(os.stat(real).st_mode):
                return None  # devices and pipes in an image are never read
            with open(real, "rb") as handle:
                data = handle.read(MAX_READ_BYTES)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        return data.decode("utf-8", errors="replace")

    def stat(self, path: str) -> FileStat | None:
        real = self.resolve(path)
        try:
            info = os.lstat(real) if real is not None else None
        except (FileNotFoundError, NotADirectoryError):
            return None
        if info is None:
            return None
        return FileStat(mode=stat.S_IMODE(info.st_mode), owner=self._name("passwd", info.st_uid),
                        group=self._name("group", info.st_gid), is_dir=stat.S_ISDIR(info.st_mode))

    def list_dir(self, path: str) -> list[str] | None:
        real = self.resolve(path)
        try:
            return sorted(os.listdir(real)) if real is not None else None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_link(self, path: str) -> str | None:
        real = self.resolve(path, follow_last=False)
        try:
            return os.readlink(real) if real is not None else None
        except OSError:
            return None

    def which(self, name: str) -> bool:
        return False

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        raise CommandNotFound(f"{argv[0]} (nothing runs in an offline scan)")

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None:
        raise RuntimeError("registry hives are not read offline")

    def security_policy(self) -> dict[str, dict[str, str]]:
        raise RuntimeError("the local security policy is not read offline")

    def _name(self, database: str, number: int) -> str:
        """Owner and group names come from the image's own /etc/passwd and /etc/group, not this machine's."""
        if database not in self._names:
            names: dict[int, str] = {}
            for line in (self.read_file(f"/etc/{database}") or "").splitlines():
                fields = line.split(":")
                if len(fields) >= 3 and fields[2].isdigit():
                    names.setdefault(int(fields[2]), fields[0])
            self._names[database] = names
        return self._names[database].get(number, str(number))


def scan_root(root: str | Path, templates: Sequence[dict]) -> dict:
    """Every check of every template (as `agent.builtin_content` holds them) evaluated on the root filesystem,
    with a count per verdict."""
    report = []
    for template in templates:
        host = RootHost(root, template["os_type"])
        checks = [{"check_id": check["rule_id"], "rule": check["rule"]} for check in template["checks"]]
        results = evaluate_job_checks(checks, host, allow_custom_commands=False)
        titles = {check["rule_id"]: check["title"] for check in template["checks"]}
        rows = [{"check_id": r["check_id"], "title": titles[r["check_id"]], "status": r["status"],
                 "actual": r["actual"]} for r in results]
        report.append({"template": template["key"], "name": template["name"], "results": rows,
                       "summary": dict(Counter(row["status"] for row in rows))})
    return {"root": os.path.realpath(root), "templates": report}


def choose_templates(names: Sequence[str]) -> list[dict]:
    """Built-in template keys or template files; by default every built-in Linux template."""
    builtin = {template["key"]: template for template in builtin_content.templates()}
    if not names:
        return [template for template in builtin.values() if template["os_type"] == "linux"]
    chosen = []
    for name in names:
        if Path(name).is_file():
            chosen.append(builtin_content.template_file(Path(name)))
        elif name in builtin:
            chosen.append(builtin[name])
        else:
            known = ", ".join(sorted(builtin))
            raise SystemExit(f"no template file or built-in template named {name!r} (built-in: {known})")
    return chosen


def scan_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent scan", description=__doc__)
    parser.add_argument("--root", required=True, type=Path, help="the root filesystem to judge")
    parser.add_argument("--template", action="append", default=[],
                        help="a built-in template key or a template YAML file; repeatable (default: every "
                             "built-in Linux template)")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"{args.root} is not a directory")
    json.dump(scan_root(args.root, choose_templates(args.template)), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
