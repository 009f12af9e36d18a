"""Reads CISA's Known Exploited Vulnerabilities catalog (its JSON feed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class KevEntry:
    cve_id: str
    vendor: str | None
    product: str | None
    name: str | None
    date_added: date | None
    due_date: date | None
    known_ransomware: bool
    required_action: str | None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def parse_catalog(document: dict) -> list[KevEntry]:
    if not isinstance(document, dict) or not isinstance(document.get("vulnerabilities"), list):
        raise Unprocessable("not a KEV catalog: no vulnerabilities[]")
    try:
        return [
            KevEntry(
                cve_id=item["cveID"], vendor=item.get("vendorProject"), product=item.get("product"),
                name=item.get("vulnerabilityName"), date_added=_date(item.get("dateAdded")),
                due_date=_date(item.get("dueDate")),
                known_ransomware=(item.get("knownRansomwareCampaignUse") or "").lower() == "known",
                required_action=item.get("requiredAction"),
            )
            for item in document["vulnerabilities"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable(f"malformed KEV entry: {exc!r}") from exc
