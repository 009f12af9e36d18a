"""What a scan's score says to people: low/critical score notices and the reasons to open an incident."""

from __future__ import annotations

from dataclasses import dataclass

from domain.baselines import Regression

LOW_SCORE_THRESHOLD = 70.0
CRITICAL_SCORE_THRESHOLD = 50.0


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    severity: str
    message: str


def score_notification(score: float | None) -> Notice | None:
    if score is None or score >= LOW_SCORE_THRESHOLD:
        return None
    if score < CRITICAL_SCORE_THRESHOLD:
        return Notice(
            kind="compliance_score_critical",
            severity="critical",
            message=f"Compliance score {score:.2f}% is below {CRITICAL_SCORE_THRESHOLD:g}%",
        )
    return Notice(
        kind="compliance_score_low",
        severity="warning",
        message=f"Compliance score {score:.2f}% is below {LOW_SCORE_THRESHOLD:g}%",
    )


def regression_notice(regression: Regression) -> Notice:
    """The `compliance_score_regression` warning that a detected regression raises."""
    baseline_label = "7-day average" if regression.baseline_type == "rolling_7d" else "previous scan"
    return Notice(
        kind="compliance_score_regression",
        severity="warning",
        message=(
            f"Compliance score fell {regression.drop_percentage:.2f} points, from {baseline_label} "
            f"{regression.baseline_score:.2f}% to {regression.current_score:.2f}%"
        ),
    )


def incident_reasons(failed_critical_checks: int, score: float | None, regression: Regression | None) -> list[str]:
    """Why this scan should open (or join) an incident; an empty list means it should not."""
    reasons: list[str] = []
    if failed_critical_checks > 0:
        reasons.append("critical_check_failed")
    if score is not None and score < CRITICAL_SCORE_THRESHOLD:
        reasons.append("score_below_50")
    if regression is not None:
        reasons.append("score_regression")
    return reasons
