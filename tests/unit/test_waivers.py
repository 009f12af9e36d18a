import uuid
from datetime import UTC, datetime, timedelta

from domain.exceptions import CheckOutcome, ExceptionScope, apply_waivers, find_waiver

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOST = uuid.UUID(int=100)
OTHER_HOST = uuid.UUID(int=101)
GROUP = uuid.UUID(int=200)
OTHER_GROUP = uuid.UUID(int=201)
RULE = "CIS 5.2.8"


def exception(
    n: int,
    *,
    rule_id: str = RULE,
    host_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    status: str = "active",
    expires_at: datetime | None = None,
) -> ExceptionScope:
    return ExceptionScope(uuid.UUID(int=n), rule_id, host_id, group_id, status, expires_at)


def find(exceptions, *, rule_id=RULE, groups=frozenset({GROUP}), now=NOW):
    return find_waiver(rule_id, HOST, groups, exceptions, now)


def test_no_exceptions_no_waiver():
    assert find([]) is None


def test_host_scope_matches_only_that_host():
    assert find([exception(1, host_id=HOST)]) == uuid.UUID(int=1)
    assert find([exception(1, host_id=OTHER_HOST)]) is None


def test_group_scope_matches_only_member_hosts():
    assert find([exception(1, group_id=GROUP)]) == uuid.UUID(int=1)
    assert find([exception(1, group_id=OTHER_GROUP)]) is None
    assert find([exception(1, group_id=GROUP)], groups=frozenset()) is None


def test_org_wide_scope_matches_every_host():
    assert find([exception(1)], groups=frozenset()) == uuid.UUID(int=1)


def test_other_rule_does_not_match():
    assert find([exception(1, rule_id="CIS 5.2.9", host_id=HOST)]) is None


def test_only_active_exceptions_waive():
    for status in ("pending_approval", "rejected", "expired", "revoked"):
        assert find([exception(1, host_id=HOST, status=status)]) is None


def test_exception_expiring_later_still_waives():
    assert find([exception(1, expires_at=NOW + timedelta(seconds=1))]) == uuid.UUID(int=1)


def test_exception_expiring_exactly_now_no_longer_waives():
    assert find([exception(1, expires_at=NOW)]) is None


def test_expired_exception_does_not_waive_even_if_status_still_active():
    assert find([exception(1, host_id=HOST, expires_at=NOW - timedelta(minutes=1))]) is None


def test_host_scope_beats_group_and_org_scope():
    exceptions = [exception(1), exception(2, group_id=GROUP), exception(9, host_id=HOST)]
    assert find(exceptions) == uuid.UUID(int=9)


def test_group_scope_beats_org_scope():
    assert find([exception(1), exception(5, group_id=GROUP)]) == uuid.UUID(int=5)


def test_expired_specific_exception_falls_back_to_broader_live_one():
    exceptions = [exception(1, host_id=HOST, expires_at=NOW - timedelta(days=1)), exception(2)]
    assert find(exceptions) == uuid.UUID(int=2)


def test_ties_pick_the_smallest_id_whatever_the_order():
    exceptions = [
        exception(7, group_id=GROUP),
        exception(3, group_id=OTHER_GROUP),
        exception(4, group_id=GROUP),
    ]
    groups = frozenset({GROUP, OTHER_GROUP})
    assert find(exceptions, groups=groups) == uuid.UUID(int=3)
    assert find(list(reversed(exceptions)), groups=groups) == uuid.UUID(int=3)


def outcome(n: int, status: str, rule_id: str = RULE) -> CheckOutcome:
    return CheckOutcome(uuid.UUID(int=1000 + n), rule_id, status, actual="found")


def test_apply_waivers_turns_only_matching_failures_into_waived():
    results = [
        outcome(1, "fail"),
        outcome(2, "pass"),
        outcome(3, "error"),
        outcome(4, "skip"),
        outcome(5, "fail", rule_id="CIS 1.1.1"),
    ]
    applied = apply_waivers(results, HOST, frozenset({GROUP}), [exception(42, host_id=HOST)], NOW)

    assert applied[0] == CheckOutcome(results[0].check_id, RULE, "waived", "found", uuid.UUID(int=42))
    assert applied[1:] == results[1:]


def test_apply_waivers_leaves_pass_error_skip_alone_even_when_covered():
    results = [outcome(1, "pass"), outcome(2, "error"), outcome(3, "skip")]
    assert apply_waivers(results, HOST, frozenset(), [exception(1)], NOW) == results


def test_apply_waivers_ignores_inactive_exceptions():
    results = [outcome(1, "fail")]
    applied = apply_waivers(results, HOST, frozenset(), [exception(1, status="revoked")], NOW)
    assert applied == results


def test_apply_waivers_uses_the_same_precedence_as_find_waiver():
    exceptions = [exception(1), exception(2, host_id=HOST), exception(3, group_id=GROUP)]
    applied = apply_waivers([outcome(1, "fail")], HOST, frozenset({GROUP}), exceptions, NOW)
    assert applied[0].exception_id == uuid.UUID(int=2)


def test_apply_waivers_returns_a_new_list_in_input_order():
    results = [outcome(n, "fail", rule_id=f"R{n}") for n in range(5)]
    applied = apply_waivers(results, HOST, frozenset(), [exception(1, rule_id="R3")], NOW)
    assert [r.check_id for r in applied] == [r.check_id for r in results]
    assert [r.status for r in applied] == ["fail", "fail", "fail", "waived", "fail"]
    assert results[3].status == "fail"
