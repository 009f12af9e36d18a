"""The remediation and change-record state machines, and who may decide a change."""

from __future__ import annotations

import uuid

import pytest

from domain.remediation import (
    CHANGE_MOVES,
    FINISHED,
    REMEDIATION_MOVES,
    InvalidTransition,
    approval_grounds,
    can_move,
    may_decide,
    move,
    needs_approval,
)


def test_a_remediation_runs_only_after_approval_or_without_one():
    assert can_move(REMEDIATION_MOVES, "planned", "implementing")
    assert can_move(REMEDIATION_MOVES, "pending_approval", "implementing")
    assert not can_move(REMEDIATION_MOVES, "implementing", "pending_approval")


@pytest.mark.parametrize("state", sorted(FINISHED - {"skipped"}))
def test_finished_remediations_never_move_again(state):
    assert REMEDIATION_MOVES[state] == frozenset()


def test_a_remediation_held_back_by_the_kill_switch_can_be_re_armed():
    assert move(REMEDIATION_MOVES, "skipped", "planned") == "planned"


def test_an_impossible_move_is_refused():
    with pytest.raises(InvalidTransition):
        move(REMEDIATION_MOVES, "completed", "implementing")


def test_a_change_is_decided_once():
    assert can_move(CHANGE_MOVES, "pending_approval", "approved")
    assert can_move(CHANGE_MOVES, "pending_approval", "rejected")
    assert not can_move(CHANGE_MOVES, "approved", "rejected")
    assert not can_move(CHANGE_MOVES, "rejected", "approved")


def test_every_state_named_in_a_move_is_a_state():
    for moves in (REMEDIATION_MOVES, CHANGE_MOVES):
        assert set().union(*moves.values()) <= set(moves)


def test_approval_is_needed_in_manual_mode_or_when_the_check_asks_for_it():
    assert needs_approval("manual", False) and needs_approval("auto", True) and not needs_approval("auto", False)
    assert approval_grounds("manual", True) == ["the policy's approval mode is manual",
                                                "the check requires a change record"]


def test_the_requester_of_a_change_never_decides_it():
    requester, other = uuid.uuid4(), uuid.uuid4()
    assert not may_decide(requester, requester)
    assert may_decide(requester, other)
    assert may_decide(None, other)  # automatic remediations have no requester
