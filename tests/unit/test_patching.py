"""Patching rules: qualification under a policy, alert severity, approval threshold, ring host selection and the
failure rate that halts a rollout."""

from __future__ import annotations

import uuid

import pytest

from domain.patching import (
    DEFAULT_POLICY,
    Policy,
    Ring,
    alert_severity,
    assign_rings,
    failure_rate,
    needs_approval,
    patch_severity,
    qualifies,
    ring_halts,
)


@pytest.mark.parametrize(("severity", "kev", "policy", "expected"), [
    ("high", False, Policy(min_severity="high"), True),
    ("critical", False, Policy(min_severity="high"), True),
    ("medium", False, Policy(min_severity="high"), False),
    ("medium", True, Policy(min_severity="high", kev_always=True), True),
    ("medium", True, Policy(min_severity="high", kev_always=False), False),
    ("low", False, Policy(min_severity="low"), True),
    (None, False, Policy(min_severity="low"), False),  # NVD has not scored it yet
    (None, True, DEFAULT_POLICY, True),
])
def test_a_vulnerability_qualifies_by_severity_or_kev(severity, kev, policy, expected):
    assert qualifies(severity, kev, policy) is expected


def test_alert_is_critical_for_kev_or_cvss_nine_and_above():
    assert alert_severity(9.0, False) == "critical"
    assert alert_severity(8.9, False) == "warning"
    assert alert_severity(5.0, True) == "critical"
    assert alert_severity(None, False) == "warning"


def test_a_patch_is_as_severe_as_its_worst_cve_and_kev_counts_as_critical():
    assert patch_severity(["low", "high", None], kev=False) == "high"
    assert patch_severity(["low"], kev=True) == "critical"
    assert patch_severity([None], kev=False) is None


def test_one_patch_below_the_auto_approve_threshold_needs_approval():
    assert not needs_approval(["critical", "critical"], "critical")
    assert needs_approval(["critical", "high"], "critical")
    assert not needs_approval(["high", "critical"], "high")
    assert needs_approval([None], "low")


def test_hosts_go_to_the_first_ring_whose_group_holds_them_then_to_the_catch_all():
    canary_group, web_group = uuid.uuid4(), uuid.uuid4()
    canary, web, other, both = (uuid.uuid4() for _ in range(4))
    rings = [Ring("canary", canary_group, 60, 0.0), Ring("web", web_group, 60, 0.1), Ring("rest", None, 0, 0.2)]
    assigned = assign_rings(rings, [canary, web, other, both],
                            {canary_group: {canary, both}, web_group: {web, both}})
    assert assigned == {canary: 0, both: 0, web: 1, other: 2}


def test_a_host_no_ring_covers_is_left_out():
    group = uuid.uuid4()
    inside, outside = uuid.uuid4(), uuid.uuid4()
    assert assign_rings([Ring("only", group, 0, 0.0)], [inside, outside], {group: {inside}}) == {inside: 0}


def test_ring_reads_its_stored_shape():
    group = uuid.uuid4()
    assert Ring.of({"name": "a", "host_group_id": str(group), "soak_minutes": 30, "max_failure_rate": 0.1}) == Ring(
        "a", group, 30, 0.1)
    assert Ring.of({"name": "b", "host_group_id": None}) == Ring("b", None, 0, 0.0)


def test_a_ring_halts_only_above_its_failure_limit():
    assert failure_rate(1, 4) == 0.25 and failure_rate(0, 0) == 0.0
    assert not ring_halts(1, 4, 0.25)
    assert ring_halts(2, 4, 0.25)
    assert ring_halts(1, 10, 0.0)
    assert not ring_halts(0, 0, 0.0)  # a ring with no host to patch
