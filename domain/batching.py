"""Scan-cycle batch sizing: large fleets get bigger batches so each host is scanned within its interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

DEFAULT_CYCLE_MINUTES = 30


def cycles_per_interval(interval_hours: int, cycle_minutes: int = DEFAULT_CYCLE_MINUTES) -> int:
    """How many whole scan cycles fit in one scan interval (at least one)."""
    if interval_hours <= 0 or cycle_minutes <= 0:
        raise ValueError("interval_hours and cycle_minutes must be positive")
    return max(1, interval_hours * 60 // cycle_minutes)


def effective_batch_size(
    batch_size: int, due_count: int, interval_hours: int, cycle_minutes: int = DEFAULT_CYCLE_MINUTES
) -> int:
    """The configured batch size, raised when it could not get through the due hosts within one interval."""
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    if due_count < 0:
        raise ValueError("due_count must not be negative")
    return max(batch_size, math.ceil(due_count / cycles_per_interval(interval_hours, cycle_minutes)))


def chunk(seq: Sequence[T], size: int) -> list[list[T]]:
    if size <= 0:
        raise ValueError("chunk size must be positive")
    return [list(seq[start : start + size]) for start in range(0, len(seq), size)]
