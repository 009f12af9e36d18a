"""Score baselines and regression detection: has a host's score dropped sharply against its recent past?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from domain.scoring import round_points

BaselineKind = Literal["rolling_7d", "previous_scan"]

MIN_WINDOW_SCORES = 3
DEFAULT_REGRESSION_THRESHOLD = 10.0


@dataclass(frozen=True, slots=True)
class Baseline:
    kind: BaselineKind
    score: float


@dataclass(frozen=True, slots=True)
class Regression:
    baseline_type: BaselineKind
    baseline_score: float
    current_score: float
    drop_percentage: float


def _exact(value: float) -> Decimal:
    # Scores are stored with two decimals; reading them back through their repr keeps 75.3 − 65.3 at
    # exactly 10, where float subtraction would land a hair above or below it.
    return Decimal(str(value))


def choose_baseline(window_scores: Sequence[float], previous_score: float | None) -> Baseline | None:
    """The rolling 7-day mean when the window holds enough scans, else the previous scan, else nothing."""
    if len(window_scores) >= MIN_WINDOW_SCORES:
        mean = sum(map(_exact, window_scores), Decimal(0)) / len(window_scores)
        return Baseline(kind="rolling_7d", score=round_points(mean))
    if previous_score is not None:
        return Baseline(kind="previous_scan", score=previous_score)
    return None


def detect_regression(
    baseline: Baseline | None,
    current_score: float | None,
    threshold: float = DEFAULT_REGRESSION_THRESHOLD,
) -> Regression | None:
    """A regression is a drop of strictly more than `threshold` points below the baseline."""
    if baseline is None or current_score is None:
        return None
    drop = _exact(baseline.score) - _exact(current_score)
    if drop <= _exact(threshold):
        return None
    return Regression(
        baseline_type=baseline.kind,
        baseline_score=baseline.score,
        current_score=current_score,
        drop_percentage=round_points(drop),
    )
