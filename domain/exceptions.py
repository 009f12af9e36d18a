"""Waiver matching: which active exception, if any, turns a failed check into `waived`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

_HOST_SCOPE, _GROUP_SCOPE, _ORG_SCOPE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ExceptionScope:
    id: uuid.UUID
    rule_id: str
    host_id: uuid.UUID | None
    host_group_id: uuid.UUID | None
    status: str
    expires_at: datetime | None


class CheckOutcome(NamedTuple):
    """One check's outcome in one scan (a tuple: recording builds hundreds of thousands of them)."""

    check_id: uuid.UUID
    rule_id: str
    status: str
    actual: str | None
    exception_id: uuid.UUID | None = None


def _is_live(exception: ExceptionScope, now: datetime) -> bool:
    return exception.status == "active" and (exception.expires_at is None or exception.expires_at > now)


def _scope_rank(exception: ExceptionScope, host_id: uuid.UUID, host_group_ids: frozenset[uuid.UUID]) -> int | None:
    """How specifically the exception covers this host (lower is more specific), or None if it does not."""
    if exception.host_id is not None:
        return _HOST_SCOPE if exception.host_id == host_id else None
    if exception.host_group_id is not None:
        return _GROUP_SCOPE if exception.host_group_id in host_group_ids else None
    return _ORG_SCOPE


def find_waiver(
    rule_id: str,
    host_id: uuid.UUID,
    host_group_ids: frozenset[uuid.UUID],
    exceptions: Sequence[ExceptionScope],
    now: datetime,
) -> uuid.UUID | None:
    """The id of the exception that waives `rule_id` on this host at `now`.

    Host scope beats group scope beats organization scope; among equals the smallest id wins, so the
    same inputs always give the same answer whatever order the database returned them in.
    """
    best: tuple[int, uuid.UUID] | None = None
    for exception in exceptions:
        if exception.rule_id != rule_id or not _is_live(exception, now):
            continue
        rank = _scope_rank(exception, host_id, host_group_ids)
        if rank is not None and (best is None or (rank, exception.id) < best):
            best = (rank, exception.id)
    return None if best is None else best[1]


def apply_waivers(
    results: Sequence[CheckOutcome],
    host_id: uuid.UUID,
    host_group_ids: frozenset[uuid.UUID],
    exceptions: Sequence[ExceptionScope],
    now: datetime,
) -> list[CheckOutcome]:
    """Mark failures covered by a live exception as `waived`; every other outcome passes through as is."""
    by_rule: dict[str, list[ExceptionScope]] = defaultdict(list)
    for exception in exceptions:
        by_rule[exception.rule_id].append(exception)

    applied: list[CheckOutcome] = []
    for result in results:
        exception_id = None
        if result.status == "fail" and result.rule_id in by_rule:
            exception_id = find_waiver(result.rule_id, host_id, host_group_ids, by_rule[result.rule_id], now)
        if exception_id is None:
            applied.append(result)
        else:
            applied.append(result._replace(status="waived", exception_id=exception_id))
    return applied
