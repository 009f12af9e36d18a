"""The reference agent's heartbeat carries the host's facts: at start-up, when they change, and at least hourly
(its polls keep the host online, so an unchanged host costs the API one heartbeat an hour, not twelve)."""

from agent.__main__ import FACTS_CHECK_SECONDS, HEARTBEAT_SECONDS, heartbeat_due, heartbeat_facts

FACTS = {"ip_address": "10.0.0.5", "os_version": "6.1", "agent_version": "0.1.0"}


def test_the_first_heartbeat_is_sent_at_once():
    assert heartbeat_due(FACTS, None, None, now=0.0)


def test_unchanged_facts_wait_for_the_hourly_heartbeat():
    assert not heartbeat_due(FACTS, dict(FACTS), sent_at=100.0, now=100.0 + FACTS_CHECK_SECONDS)
    assert not heartbeat_due(FACTS, dict(FACTS), sent_at=100.0, now=100.0 + HEARTBEAT_SECONDS - 1)
    assert heartbeat_due(FACTS, dict(FACTS), sent_at=100.0, now=100.0 + HEARTBEAT_SECONDS)


def test_a_changed_fact_is_sent_at_the_next_check():
    moved = FACTS | {"ip_address": "10.0.0.6"}
    assert heartbeat_due(moved, FACTS, sent_at=100.0, now=100.0 + FACTS_CHECK_SECONDS)


def test_the_heartbeat_carries_only_facts_the_api_accepts():
    from api.schemas.agents import HeartbeatRequest

    facts = heartbeat_facts()
    assert set(facts) == {"ip_address", "os_version", "agent_version"}
    assert HeartbeatRequest.model_validate(facts).model_dump(exclude_none=True) == facts
