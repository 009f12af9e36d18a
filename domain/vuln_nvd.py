"""Reads NVD CVE API 2.0 response pages: each CVE's dates, English description and CVSS base score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from domain.errors import Unprocessable

# The newest CVSS version first; within one, NVD's own (Primary) score before a CNA's (Secondary).
CVSS_METRICS = (("cvssMetricV40", "4.0"), ("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"))
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class NvdCve:
    cve_id: str
    published: datetime | None
    last_modified: datetime | None
    description: str | None
    cvss_version: str | None
    cvss_score: float | None
    severity: str | None


@dataclass(frozen=True, slots=True)
class NvdPage:
    start_index: int
    results_per_page: int
    total_results: int
    cves: list[NvdCve]

    @property
    def next_index(self) -> int | None:
        """The startIndex of the next page, or None on the last one."""
        following = self.start_index + self.results_per_page
        return following if self.results_per_page and following < self.total_results else None


def parse_timestamp(value: str | None) -> datetime | None:
    """NVD writes UTC timestamps without a zone (`2024-03-29T17:15:21.150`)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def severity_of(score: float | None) -> str | None:
    """CVSS v3/v4 qualitative rating of a base score (0.0 is `none`, kept as no severity)."""
    if score is None or score <= 0:
        return None
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


def _cvss(metrics: dict) -> tuple[str | None, float | None]:
    for key, version in CVSS_METRICS:
        entries = metrics.get(key) or []
        ranked = sorted(entries, key=lambda m: m.get("type") != "Primary")
        for entry in ranked:
            score = (entry.get("cvssData") or {}).get("baseScore")
            if isinstance(score, int | float):
                return version, float(score)
    return None, None


def parse_cve(item: dict) -> NvdCve:
    cve = item["cve"]
    descriptions = cve.get("descriptions") or []
    english = next((d.get("value") for d in descriptions if d.get("lang") == "en"), None)
    version, score = _cvss(cve.get("metrics") or {})
    return NvdCve(
        cve_id=cve["id"], published=parse_timestamp(cve.get("published")),
        last_modified=parse_timestamp(cve.get("lastModified")), description=english,
        cvss_version=version, cvss_score=score, severity=severity_of(score),
    )


def parse_page(document: dict) -> NvdPage:
    """One response page of `GET /rest/json/cves/2.0`."""
    if not isinstance(document, dict) or not isinstance(document.get("vulnerabilities"), list):
        raise Unprocessable("not an NVD CVE API 2.0 response: no vulnerabilities[]")
    try:
        cves = [parse_cve(item) for item in document["vulnerabilities"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable(f"malformed NVD CVE record: {exc!r}") from exc
    return NvdPage(start_index=int(document.get("startIndex", 0)),
                   results_per_page=int(document.get("resultsPerPage", len(cves))),
                   total_results=int(document.get("totalResults", len(cves))), cves=cves)
