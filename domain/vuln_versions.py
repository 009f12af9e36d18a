"""Package versions in each ecosystem's own order (dpkg, rpm, from `univers`) and OSV range membership."""

from __future__ import annotations

from functools import lru_cache

from univers.versions import DebianVersion, InvalidVersion, RpmVersion

# os-release ID → (OSV ecosystem name, version order). Ubuntu's OSV ecosystems name LTS releases `…:LTS`.
DPKG_DISTRIBUTIONS = {"debian": "Debian", "ubuntu": "Ubuntu"}
RPM_DISTRIBUTIONS = {"almalinux": "AlmaLinux", "rocky": "Rocky Linux", "rhel": "Red Hat", "opensuse-leap": "openSUSE",
                     "sles": "SUSE", "fedora": "Fedora"}
ORDERS = {"Debian": DebianVersion, "Ubuntu": DebianVersion, **{name: RpmVersion for name in RPM_DISTRIBUTIONS.values()}}


def ecosystem_of(os_id: str | None, version_id: str | None) -> str | None:
    """`debian` 12 → `Debian:12`, `ubuntu` 22.04 → `Ubuntu:22.04:LTS`, `almalinux` 9.4 → `AlmaLinux:9`."""
    os_id = (os_id or "").strip().lower()
    version_id = (version_id or "").strip()
    if not os_id or not version_id:
        return None
    if os_id == "debian":
        return f"Debian:{version_id.split('.')[0]}"
    if os_id == "ubuntu":
        year, _, month = version_id.partition(".")
        lts = year.isdigit() and int(year) % 2 == 0 and month == "04"
        return f"Ubuntu:{version_id}{':LTS' if lts else ''}"
    if os_id in RPM_DISTRIBUTIONS:
        return f"{RPM_DISTRIBUTIONS[os_id]}:{version_id.split('.')[0]}"
    if os_id == "freebsd":
        return f"FreeBSD:{version_id.split('.')[0]}"
    return None


@lru_cache(maxsize=200_000)
def parse(ecosystem_family: str, value: str):
    """A comparable version; None when the string is not a valid version of that ecosystem."""
    order = ORDERS.get(ecosystem_family)
    if order is None:
        return None
    try:
        return order(value)
    except (InvalidVersion, ValueError, TypeError):
        return None


def compare(ecosystem: str, left: str, right: str) -> int:
    """-1, 0 or 1, in the ecosystem's order; ValueError for an ecosystem without order or an invalid version."""
    family = ecosystem.split(":")[0]
    a, b = parse(family, left), parse(family, right)
    if a is None or b is None:
        raise ValueError(f"cannot compare {left!r} and {right!r} in {ecosystem}")
    return (a > b) - (a < b)


def _in_events(ecosystem: str, version: str, events: list[dict]) -> bool:
    """OSV's rule for one range, without needing the events sorted: affected when some `introduced` is at or
    below the version and no later `fixed` is at or below it (the fixed version is not affected) and no later
    `last_affected` is below it. `introduced: 0` is before every version; unparseable bounds are ignored."""
    family = ecosystem.split(":")[0]
    installed = parse(family, version)
    if installed is None:
        return False
    bounds = [(kind, None if bound == "0" else parse(family, bound)) for event in events
              for kind, bound in event.items()]
    for kind, introduced in bounds:
        if kind != "introduced" or (introduced is not None and not introduced <= installed):
            continue
        if not any(_closes(kind, bound, introduced, installed) for kind, bound in bounds):
            return True
    return False


def _closes(kind: str, bound, introduced, installed) -> bool:
    if bound is None or (introduced is not None and not introduced <= bound):
        return False
    if kind == "fixed":
        return bound <= installed and (introduced is None or introduced < bound)
    if kind == "last_affected":
        return bound < installed
    return False


def is_affected(ecosystem: str, version: str, ranges: list[dict]) -> bool:
    """Whether `version` is affected by any of the ranges (or listed in an explicit `versions` list)."""
    for entry in ranges:
        if "versions" in entry and version in entry["versions"]:
            return True
        if entry.get("events") and _in_events(ecosystem, version, entry["events"]):
            return True
    return False
