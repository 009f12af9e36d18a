import uuid

import pytest

from domain.remediation import (
    FailedCheck,
    PlannedRemediation,
    PolicyGates,
    SkippedRemediation,
    plan_remediations,
)

ALL_ON = PolicyGates("auto", True, True, True, True)


def failed(n: int, severity="high", remediation_type="script", requires_change=False) -> FailedCheck:
    return FailedCheck(uuid.UUID(int=n), f"R{n}", severity, remediation_type, requires_change)


def plan(checks, gates=ALL_ON, *, paused=False, scan_type="scheduled", previous=frozenset()):
    return plan_remediations(checks, gates, paused, scan_type, previous)


def test_script_and_workflow_bindings_are_planned():
    planned, skipped = plan([failed(1, remediation_type="script"), failed(2, remediation_type="workflow")])
    assert planned == [
        PlannedRemediation(uuid.UUID(int=1), False),
        PlannedRemediation(uuid.UUID(int=2), False),
    ]
    assert skipped == []


@pytest.mark.parametrize("remediation_type", ["none", "manual"])
def test_checks_without_an_automatic_binding_are_not_listed(remediation_type):
    assert plan([failed(1, remediation_type=remediation_type)]) == ([], [])


@pytest.mark.parametrize(
    ("gates", "allowed"),
    [
        (PolicyGates("auto", True, False, False, False), "critical"),
        (PolicyGates("auto", False, True, False, False), "high"),
        (PolicyGates("auto", False, False, True, False), "medium"),
        (PolicyGates("auto", False, False, False, True), "low"),
    ],
)
def test_each_severity_gate_opens_only_its_severity(gates, allowed):
    checks = [failed(n, severity=s) for n, s in enumerate(["critical", "high", "medium", "low"])]
    planned, skipped = plan(checks, gates)
    assert [p.check_id for p in planned] == [c.check_id for c in checks if c.severity == allowed]
    assert skipped == []


def test_severity_is_matched_case_insensitively_and_unknown_severities_have_no_gate():
    planned, _ = plan([failed(1, severity="HIGH"), failed(2, severity="info")])
    assert [p.check_id for p in planned] == [uuid.UUID(int=1)]


def test_manual_approval_mode_needs_approval_for_everything():
    planned, _ = plan([failed(1)], PolicyGates("manual", True, True, True, True))
    assert planned == [PlannedRemediation(uuid.UUID(int=1), needs_approval=True)]


def test_check_requiring_a_change_needs_approval_even_in_auto_mode():
    planned, _ = plan([failed(1, requires_change=True), failed(2)])
    assert planned == [
        PlannedRemediation(uuid.UUID(int=1), True),
        PlannedRemediation(uuid.UUID(int=2), False),
    ]


def test_paused_automation_skips_every_candidate():
    checks = [failed(1), failed(2, remediation_type="workflow"), failed(3, remediation_type="manual")]
    planned, skipped = plan(checks, paused=True)
    assert planned == []
    assert skipped == [
        SkippedRemediation(uuid.UUID(int=1), "automation_paused"),
        SkippedRemediation(uuid.UUID(int=2), "automation_paused"),
    ]


def test_paused_automation_takes_precedence_over_verify_reasons():
    _, skipped = plan([failed(1)], paused=True, scan_type="verify", previous=frozenset({uuid.UUID(int=1)}))
    assert skipped == [SkippedRemediation(uuid.UUID(int=1), "automation_paused")]


def test_verify_scan_never_re_remediates_the_check_it_verifies():
    _, skipped = plan([failed(1)], scan_type="verify", previous=frozenset({uuid.UUID(int=1)}))
    assert skipped == [SkippedRemediation(uuid.UUID(int=1), "verify_scan_no_loop")]


def test_verify_scan_plans_no_automatic_remediation_at_all():
    planned, skipped = plan([failed(1), failed(2)], scan_type="verify", previous=frozenset({uuid.UUID(int=1)}))
    assert planned == []
    assert skipped == [
        SkippedRemediation(uuid.UUID(int=1), "verify_scan_no_loop"),
        SkippedRemediation(uuid.UUID(int=2), "verify_scan"),
    ]


def test_previously_remediated_ids_do_not_matter_outside_verify_scans():
    planned, _ = plan([failed(1)], scan_type="on_demand", previous=frozenset({uuid.UUID(int=1)}))
    assert planned == [PlannedRemediation(uuid.UUID(int=1), False)]


def test_gate_off_check_is_neither_planned_nor_skipped_even_when_paused():
    gates = PolicyGates("auto", False, False, False, False)
    assert plan([failed(1)], gates, paused=True) == ([], [])
    assert plan([failed(1)], gates, scan_type="verify") == ([], [])


def test_a_check_listed_twice_is_planned_once():
    planned, _ = plan([failed(1), failed(1)])
    assert planned == [PlannedRemediation(uuid.UUID(int=1), False)]


def test_nothing_failed_plans_nothing():
    assert plan([]) == ([], [])
