"""Remediation rules: which failed checks a scan remediates automatically, which need approval and why, the
states a remediation and its change record move through, and who may decide a change."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RemediationType = Literal["none", "manual", "script", "workflow"]
ApprovalMode = Literal["auto", "manual"]

AUTOMATIC_REMEDIATION_TYPES = frozenset({"script", "workflow"})


@dataclass(frozen=True, slots=True)
class FailedCheck:
    check_id: uuid.UUID
    rule_id: str
    severity: str
    remediation_type: RemediationType
    requires_change: bool


@dataclass(frozen=True, slots=True)
class PolicyGates:
    approval_mode: ApprovalMode
    auto_remediate_critical: bool
    auto_remediate_high: bool
    auto_remediate_medium: bool
    auto_remediate_low: bool

    def allows(self, severity: str) -> bool:
        gates = {
            "critical": self.auto_remediate_critical,
            "high": self.auto_remediate_high,
            "medium": self.auto_remediate_medium,
            "low": self.auto_remediate_low,
        }
        return gates.get(severity.lower(), False)


@dataclass(frozen=True, slots=True)
class PlannedRemediation:
    check_id: uuid.UUID
    needs_approval: bool


@dataclass(frozen=True, slots=True)
class SkippedRemediation:
    check_id: uuid.UUID
    reason: str


def plan_remediations(
    failed: Sequence[FailedCheck],
    gates: PolicyGates,
    automation_paused: bool,
    scan_type: str,
    previously_remediated_check_ids: frozenset[uuid.UUID],
) -> tuple[list[PlannedRemediation], list[SkippedRemediation]]:
    """Split a scan's failed checks into remediations to start and candidates held back.

    Candidates are failures with a script or workflow binding whose severity gate is on; anything else is
    not an automatic remediation at all and is left out of both lists. The organization kill switch holds
    back every candidate. A verify scan never starts automatic fixes, which is what keeps fix → verify → fix
    from looping; a check that was itself just remediated gets the more telling reason.
    """
    planned: list[PlannedRemediation] = []
    skipped: list[SkippedRemediation] = []
    seen: set[uuid.UUID] = set()
    for check in failed:
        if check.check_id in seen:
            continue
        if check.remediation_type not in AUTOMATIC_REMEDIATION_TYPES or not gates.allows(check.severity):
            continue
        seen.add(check.check_id)
        if automation_paused:
            skipped.append(SkippedRemediation(check.check_id, "automation_paused"))
        elif scan_type == "verify":
            just_fixed = check.check_id in previously_remediated_check_ids
            reason = "verify_scan_no_loop" if just_fixed else "verify_scan"
            skipped.append(SkippedRemediation(check.check_id, reason))
        else:
            needs_approval = gates.approval_mode == "manual" or check.requires_change
            planned.append(PlannedRemediation(check.check_id, needs_approval))
    return planned, skipped


# A remediation: planned → (pending_approval →) implementing → completed | failed, or it ends without running:
# rejected, expired (nobody decided in time) or skipped (kill switch, no automated fix). A remediation held back
# by the kill switch is re-armed as `planned` by a one-click fix.
REMEDIATION_MOVES: dict[str, frozenset[str]] = {
    "planned": frozenset({"pending_approval", "implementing", "skipped"}),
    "pending_approval": frozenset({"implementing", "rejected", "expired", "skipped"}),
    "implementing": frozenset({"completed", "failed"}),
    "skipped": frozenset({"planned"}),
    "rejected": frozenset(), "expired": frozenset(), "completed": frozenset(), "failed": frozenset(),
}
FINISHED = frozenset({"rejected", "expired", "skipped", "completed", "failed"})

# A change record: decided once, by a person other than its requester, then closed by what happened to the fix.
CHANGE_MOVES: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"approved", "rejected", "expired", "failed"}),
    "approved": frozenset({"implementing", "failed"}),
    "implementing": frozenset({"completed", "failed"}),
    "rejected": frozenset(), "expired": frozenset(), "completed": frozenset(), "failed": frozenset(),
}
DECISIONS = frozenset({"approved", "rejected"})


class InvalidTransition(ValueError):
    pass


def can_move(moves: dict[str, frozenset[str]], current: str, target: str) -> bool:
    return target in moves.get(current, frozenset())


def move(moves: dict[str, frozenset[str]], current: str, target: str) -> str:
    if not can_move(moves, current, target):
        raise InvalidTransition(f"{current} cannot become {target}")
    return target


def needs_approval(approval_mode: str, requires_change: bool) -> bool:
    return approval_mode == "manual" or requires_change


def approval_grounds(approval_mode: str, requires_change: bool) -> list[str]:
    grounds = []
    if approval_mode == "manual":
        grounds.append("the policy's approval mode is manual")
    if requires_change:
        grounds.append("the check requires a change record")
    return grounds


def may_decide(requested_by: uuid.UUID | None, decider: uuid.UUID) -> bool:
    """Four eyes: whoever asked for a change never decides it. Automatic remediations have no requester."""
    return requested_by is None or requested_by != decider
