"""Compliance score arithmetic: count check outcomes and turn the counts into a percentage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CHECK_STATUSES = frozenset({"pass", "fail", "error", "skip", "waived"})

_CENT = Decimal("0.01")


def round_points(value: Decimal | float | int) -> float:
    """Round to two decimals, halves away from zero, the way a person would round a percentage.

    Floats go through their shortest repr so that 2.675 is treated as the 2.675 the caller wrote,
    not as the 2.67499… that binary floating point stores.
    """
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return float(exact.quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class ScoreCounts:
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int
    waived: int


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: float | None
    reason: str | None


def count_statuses(statuses: Iterable[str]) -> ScoreCounts:
    tally = Counter(statuses)
    unknown = set(tally) - CHECK_STATUSES
    if unknown:
        raise ValueError(f"unknown check status: {', '.join(sorted(map(repr, unknown)))}")
    return ScoreCounts(
        total=sum(tally.values()),
        passed=tally["pass"],
        failed=tally["fail"],
        errors=tally["error"],
        skipped=tally["skip"],
        waived=tally["waived"],
    )


def compute_score(counts: ScoreCounts) -> ScoreResult:
    """score = passed / (total − skipped − errors − waived) × 100, or no score with the reason why."""
    if counts.total == 0:
        return ScoreResult(score=None, reason="no_checks")
    applicable = counts.total - counts.skipped - counts.errors - counts.waived
    if applicable <= 0:
        return ScoreResult(score=None, reason="no_applicable_checks")
    return ScoreResult(score=round_points(Decimal(counts.passed * 100) / applicable), reason=None)


INCOMPLETE = "incomplete"
DEFAULT_INCOMPLETE_ERROR_SHARE = 0.2


def coverage(total: int, errors: int) -> float | None:
    """The share of a scan's checks that the agent could evaluate, in percent (errors are the rest)."""
    return None if total == 0 else round_points(Decimal((total - errors) * 100) / total)


def is_incomplete(counts: ScoreCounts, max_error_share: float = DEFAULT_INCOMPLETE_ERROR_SHARE) -> bool:
    """A scan whose errors exceed `max_error_share` of its checks measured too little to count as healthy,
    whatever its score: two passing answers out of ninety-five checks are not a 100 % host."""
    return counts.total > 0 and counts.errors > max_error_share * counts.total
