"""Reads OSV records (the Debian and Ubuntu ecosystems' exports): which source package versions each CVE affects.

A record names its CVEs in `id` (UBUNTU-CVE-…, DEBIAN-CVE-…) or `aliases`/`upstream`; each affected package has
ECOSYSTEM ranges of introduced/fixed/last_affected events in that distribution's own version order.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime

from domain.errors import Unprocessable
from domain.vuln_nvd import parse_timestamp

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")


@dataclass(frozen=True, slots=True)
class Affected:
    """One CVE's effect on one package of one ecosystem: the ranges as OSV events, and the first fixed version."""

    cve_id: str
    ecosystem: str
    package: str
    ranges: list[dict]
    fixed_version: str | None
    advisory_id: str
    summary: str | None
    modified: datetime | None


def record_cves(record: dict) -> list[str]:
    names = [record.get("id", ""), *(record.get("aliases") or []), *(record.get("upstream") or [])]
    found: list[str] = []
    for name in names:
        match = CVE_ID.search(name) if isinstance(name, str) else None
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return found


def _ranges(affected: dict) -> list[dict]:
    """Ecosystem ranges as ordered event lists; a record's `versions` list alone (no ranges) is kept as such."""
    out = []
    for entry in affected.get("ranges") or []:
        if entry.get("type") != "ECOSYSTEM":
            continue
        events = [{k: str(v)} for event in entry.get("events") or [] for k, v in event.items()
                  if k in ("introduced", "fixed", "last_affected")]
        if events:
            out.append({"events": events})
    if not out and affected.get("versions"):
        out.append({"versions": [str(v) for v in affected["versions"]]})
    return out


def parse_record(record: dict) -> list[Affected]:
    """Every (CVE, ecosystem, package) the record affects; a withdrawn record affects nothing (empty ranges)."""
    if not isinstance(record, dict) or "id" not in record:
        raise Unprocessable("not an OSV record: no id")
    withdrawn = bool(record.get("withdrawn"))
    modified = parse_timestamp(record.get("modified"))
    out: list[Affected] = []
    for cve_id in record_cves(record):
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            if not package.get("ecosystem") or not package.get("name"):
                continue
            ranges = [] if withdrawn else _ranges(affected)
            fixed = next((e["fixed"] for r in ranges for e in r.get("events", []) if "fixed" in e), None)
            out.append(Affected(cve_id=cve_id, ecosystem=package["ecosystem"], package=package["name"],
                                ranges=ranges, fixed_version=fixed, advisory_id=record["id"],
                                summary=record.get("summary") or (record.get("details") or "")[:1000] or None,
                                modified=modified))
    return out


def parse_records(records: list) -> list[Affected]:
    try:
        return [affected for record in records for affected in parse_record(record)]
    except (TypeError, AttributeError) as exc:
        raise Unprocessable(f"malformed OSV record: {exc!r}") from exc


def parse_document(content: bytes) -> list[Affected]:
    """An ecosystem's `all.zip` export (one JSON record per file), a JSON array of records, or one record."""
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                records = [json.loads(archive.read(name)) for name in archive.namelist() if name.endswith(".json")]
        except (zipfile.BadZipFile, ValueError) as exc:
            raise Unprocessable(f"unreadable OSV zip: {exc}") from exc
        return parse_records(records)
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise Unprocessable(f"OSV document is not JSON: {exc}") from exc
    return parse_records(document if isinstance(document, list) else [document])
