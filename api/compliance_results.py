"""An agent's compliance result, read without a model when it is plainly well formed.

Validating a result of a few hundred answers with ComplianceResultIn and dumping it back took ~1.7 ms of the API's
CPU per result post, most of the post's work at thousands of hosts. A result whose every answer names a check of
its job (the template's check ids, in their canonical form) once, with a known status and a short single-line
actual value, needs none of what the model does: such an answer is valid by construction. Anything else (an
unknown or repeated check, a stray field, whitespace to strip, a NUL) goes through the model, which words the
errors; the document stored is the same either way.
"""

from __future__ import annotations

from typing import get_args

from api.schemas.agents import MAX_ACTUAL, MAX_RESULTS, CheckStatus

STATUSES = frozenset(get_args(CheckStatus))
_ANSWER_KEYS = (frozenset(("check_id", "status")), frozenset(("check_id", "status", "actual")))


def plain_compliance_result(raw: object, check_ids: frozenset[str]) -> dict | None:
    """The result as ComplianceResultIn would store it, or None when it is not plainly valid (the caller then
    validates it with the model)."""
    if type(raw) is not dict or raw.keys() != {"results"}:
        return None
    answers = raw["results"]
    if type(answers) is not list or len(answers) > MAX_RESULTS:
        return None
    seen: set[str] = set()
    stored = []
    for answer in answers:
        if type(answer) is not dict or answer.keys() not in _ANSWER_KEYS:
            return None
        check_id, status, actual = answer["check_id"], answer["status"], answer.get("actual")
        if (type(check_id) is not str or check_id not in check_ids or check_id in seen
                or type(status) is not str or status not in STATUSES):
            return None
        if actual is not None and (type(actual) is not str or len(actual) > MAX_ACTUAL or "\x00" in actual
                                   or actual != actual.strip()):
            return None
        seen.add(check_id)
        stored.append({"check_id": check_id, "status": status, "actual": actual})
    return {"results": stored}
