"""Patching rules: which host vulnerabilities qualify under an organization's policy, how loud their alert is,
whether a deployment needs approval, which ring each host belongs to, and when a ring halts the rollout."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SEVERITIES = ("low", "medium", "high", "critical")
CRITICAL_CVSS = 9.0
FINISHED = frozenset({"completed", "halted", "cancelled", "skipped_paused"})
ACTIVE = frozenset({"pending_approval", "running", "soaking"})


@dataclass(frozen=True, slots=True)
class Policy:
    """An organization's vulnerability policy; these defaults hold until the organization saves its own."""

    min_severity: str = "high"
    kev_always: bool = True
    auto_deploy: bool = False
    auto_approve_min_severity: str = "critical"
    ring_set_id: uuid.UUID | None = None


DEFAULT_POLICY = Policy()


def severity_rank(severity: str | None) -> int:
    """0 for an unknown severity (a CVE NVD has not scored yet), then low=1 … critical=4."""
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


def qualifies(severity: str | None, kev: bool, policy: Policy) -> bool:
    """An open host vulnerability raises an alert (and may be deployed automatically) when its CVSS severity is
    at least the policy's minimum, or when it is known exploited and the policy says KEV always counts."""
    return severity_rank(severity) >= severity_rank(policy.min_severity) or (kev and policy.kev_always)


def alert_severity(cvss_score: float | None, kev: bool) -> str:
    return "critical" if kev or (cvss_score is not None and cvss_score >= CRITICAL_CVSS) else "warning"


def patch_severity(cve_severities: Iterable[str | None], kev: bool) -> str | None:
    """What a patch fixes at worst: the highest severity of its CVEs, a known-exploited one counting as critical."""
    if kev:
        return "critical"
    ranked = [s for s in cve_severities if s in SEVERITIES]
    return max(ranked, key=severity_rank) if ranked else None


def needs_approval(patch_severities: Iterable[str | None], auto_approve_min_severity: str) -> bool:
    """A deployment runs without approval only when every patch in it fixes something at or above the
    auto-approve threshold; a single patch below it puts the whole deployment before a second person."""
    threshold = severity_rank(auto_approve_min_severity)
    return any(severity_rank(s) < threshold for s in patch_severities)


@dataclass(frozen=True, slots=True)
class Ring:
    name: str
    host_group_id: uuid.UUID | None
    soak_minutes: int
    max_failure_rate: float

    @classmethod
    def of(cls, stored: Mapping) -> Ring:
        group = stored.get("host_group_id")
        return cls(name=str(stored["name"]), host_group_id=uuid.UUID(str(group)) if group else None,
                   soak_minutes=int(stored.get("soak_minutes", 0)),
                   max_failure_rate=float(stored.get("max_failure_rate", 0.0)))


def assign_rings(rings: Sequence[Ring], hosts: Sequence[uuid.UUID],
                 group_members: Mapping[uuid.UUID, set[uuid.UUID]]) -> dict[uuid.UUID, int]:
    """The ring of each host that needs a patch: the first ring whose host group holds it, or the first ring
    without a group ("every remaining host"). A host no ring covers is left out of the deployment."""
    assigned: dict[uuid.UUID, int] = {}
    for host in hosts:
        for index, ring in enumerate(rings):
            if ring.host_group_id is None or host in group_members.get(ring.host_group_id, set()):
                assigned[host] = index
                break
    return assigned


def failure_rate(failed: int, total: int) -> float:
    return failed / total if total else 0.0


def ring_halts(failed: int, total: int, max_failure_rate: float) -> bool:
    """The rollout stops when the ring's failure rate exceeds its limit (a limit of 0 tolerates no failure)."""
    return failure_rate(failed, total) > max_failure_rate
