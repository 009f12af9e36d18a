"""The plain reading of a compliance result stores exactly what ComplianceResultIn would, and leaves every result
that needs the model (to normalize it or to word its errors) to the model."""

from __future__ import annotations

import uuid

import pytest

from api.compliance_results import plain_compliance_result
from api.schemas.agents import MAX_ACTUAL, ComplianceResultIn

CHECKS = [str(uuid.uuid4()) for _ in range(4)]
KNOWN = frozenset(CHECKS)


def through_the_model(raw: dict) -> dict:
    return ComplianceResultIn.model_validate(raw).model_dump(mode="json")


@pytest.mark.parametrize("raw", [
    {"results": []},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "actual": "PermitRootLogin no"},
                 {"check_id": CHECKS[1], "status": "fail"},
                 {"check_id": CHECKS[2], "status": "error", "actual": None},
                 {"check_id": CHECKS[3], "status": "skip", "actual": "x" * MAX_ACTUAL}]},
    {"results": [{"status": "pass", "actual": "", "check_id": CHECKS[2]}]},
])
def test_a_plainly_valid_result_is_stored_as_the_model_would_store_it(raw):
    assert plain_compliance_result(raw, KNOWN) == through_the_model(raw)


@pytest.mark.parametrize("raw", [
    None, [], {"results": None}, {"results": {}}, {"results": [], "extra": 1}, {},
    {"results": ["not an answer"]},
    {"results": [{"check_id": str(uuid.uuid4()), "status": "pass"}]},  # not a check of this job
    {"results": [{"check_id": CHECKS[0], "status": "pass"}, {"check_id": CHECKS[0], "status": "fail"}]},
    {"results": [{"check_id": CHECKS[0].upper(), "status": "pass"}]},  # valid, but the model normalizes it
    {"results": [{"check_id": CHECKS[0], "status": " pass "}]},
    {"results": [{"check_id": CHECKS[0], "status": "waived"}]},
    {"results": [{"check_id": CHECKS[0], "status": ["pass"]}]},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "actual": " padded "}]},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "actual": "nul \x00"}]},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "actual": "x" * (MAX_ACTUAL + 1)}]},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "actual": 7}]},
    {"results": [{"check_id": CHECKS[0], "status": "pass", "expected": "no"}]},
    {"results": [{"check_id": CHECKS[0]}]},
    {"results": [{"check_id": 5, "status": "pass"}]},
])
def test_anything_else_is_left_to_the_model(raw):
    assert plain_compliance_result(raw, KNOWN) is None


def test_more_answers_than_the_model_allows_are_left_to_it():
    many = frozenset(str(uuid.uuid4()) for _ in range(5001))
    raw = {"results": [{"check_id": check_id, "status": "pass"} for check_id in many]}
    assert plain_compliance_result(raw, many) is None
    assert plain_compliance_result({"results": raw["results"][:5000]}, many) == through_the_model(
        {"results": raw["results"][:5000]})
