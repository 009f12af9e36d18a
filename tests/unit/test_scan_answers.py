"""How recording reads an agent's answers: in template order, whatever order they came in, and counted."""

import uuid

import pytest

from services.scan_recording import NO_RESULT, CheckInfo, TemplateChecks, answers, tally


def template(n: int) -> TemplateChecks:
    return TemplateChecks([CheckInfo(uuid.UUID(int=i + 1), f"R{i}", f"check {i}", "medium", "none", False)
                           for i in range(n)])


def answer(check: CheckInfo, status: str, actual: str | None = "seen") -> dict:
    return {"check_id": str(check.id), "status": status, "actual": actual}


def test_answers_in_template_order_are_read_as_they_come():
    t = template(3)
    result = {"results": [answer(t.checks[0], "pass"), answer(t.checks[1], "fail", None), answer(t.checks[2], "skip")]}
    assert answers(t, result) == (["pass", "fail", "skip"], ["seen", None, "seen"])


def test_answers_out_of_order_or_missing_are_put_in_template_order():
    t = template(3)
    result = {"results": [answer(t.checks[2], "fail", "late"), answer(t.checks[0], "pass")]}
    assert answers(t, result) == (["pass", "error", "fail"], ["seen", NO_RESULT, "late"])


def test_an_answer_without_an_actual_value_has_none():
    t = template(2)
    result = {"results": [{"check_id": str(t.checks[0].id), "status": "pass"}, answer(t.checks[1], "fail")]}
    assert answers(t, result) == (["pass", "fail"], [None, "seen"])


def test_no_document_means_every_check_errored():
    assert answers(template(2), None) == (["error", "error"], [NO_RESULT, NO_RESULT])


def test_tally_counts_like_count_statuses_and_refuses_unknown_statuses():
    counts = tally(["pass", "pass", "fail", "error", "skip", "waived"])
    assert (counts.total, counts.passed, counts.failed, counts.errors, counts.skipped, counts.waived) == (
        6, 2, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="unknown check status"):
        tally(["pass", "maybe"])
