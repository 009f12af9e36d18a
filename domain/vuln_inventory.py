"""A host's package inventory as the agent reports it, normalised and content-addressed: hosts that report the
same packages on the same ecosystem share one stored package set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from domain.vuln_versions import ecosystem_of

FIELDS = ("name", "version", "source_name", "source_version", "arch")


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str
    source_name: str | None = None
    source_version: str | None = None
    arch: str | None = None

    @property
    def match_name(self) -> str:
        """OSV's Debian and Ubuntu records name source packages, with the source version."""
        return self.source_name or self.name

    @property
    def match_version(self) -> str:
        return self.source_version or self.version


@dataclass(frozen=True, slots=True)
class Inventory:
    supported: bool
    os_id: str | None = None
    os_version_id: str | None = None
    ecosystem: str | None = None
    packages: tuple[Package, ...] = ()

    @property
    def digest(self) -> str:
        """The set's address: the ecosystem and the sorted, de-duplicated package list, hashed."""
        rows = [[p.name, p.version, p.source_name, p.source_version, p.arch] for p in self.packages]
        canonical = json.dumps([self.ecosystem, rows], separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _text(value, limit: int = 500) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


def read_result(result: dict) -> Inventory:
    """The §7 inventory result: `{"os": {"id", "version_id"}, "packages": [...]}` or `{"status": "unsupported"}`."""
    if not isinstance(result, dict) or result.get("status") == "unsupported":
        return Inventory(supported=False)
    os_info = result.get("os") or {}
    os_id, version_id = _text(os_info.get("id"), 64), _text(os_info.get("version_id"), 64)
    packages = set()
    for item in result.get("packages") or []:
        if isinstance(item, dict) and _text(item.get("name")) and _text(item.get("version")):
            packages.add(Package(*(_text(item.get(f)) for f in FIELDS)))
    ordered = tuple(sorted(packages, key=lambda p: tuple(v or "" for v in (p.name, p.arch, p.version,
                                                                            p.source_name, p.source_version))))
    return Inventory(supported=True, os_id=os_id, os_version_id=version_id,
                     ecosystem=ecosystem_of(os_id, version_id), packages=ordered)
