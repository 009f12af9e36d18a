"""Row 14: catastrophic regexes are refused, rule regexes run in linear time, and templates have a size limit."""

from __future__ import annotations

import copy
import time
import uuid

import pytest
from sqlalchemy import func, select

from domain.evaluation import evaluate
from domain.regex_safety import backtracking_hazard
from models import ComplianceCheck, ComplianceTemplate
from tests.factories import login, make_org, make_user

BASE = "/api/v1/compliance/templates"


class FileHost:
    os_type = "linux"

    def __init__(self, content: str):
        self.content = content

    def read_file(self, path: str) -> str:
        return self.content


async def operator_with_draft(client, db, limit_checks: int | None = None):
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, user.username)
    source = await db.scalar(select(ComplianceTemplate.id).where(ComplianceTemplate.content_key == "cis-linux-l1"))
    draft = await client.post(f"{BASE}/{source}/copy", json={"org_id": str(org.id), "name": "mine"}, headers=headers)
    assert draft.status_code == 201, draft.text
    return org, headers, draft.json(), source


def new_check(pattern: str, rule_id: str = "X.1") -> dict:
    return {"rule_id": rule_id, "title": "custom", "severity": "low", "remediation_type": "none",
            "rule": {"type": "file_regex", "path": "/etc/hosts", "pattern": pattern}}


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"(a|aa)*b", r"^(\w+\s?)*$", r"(x+x+)+y"])
async def test_a_catastrophic_regex_is_refused_with_422(client, db, pattern):
    _, headers, draft, _ = await operator_with_draft(client, db)
    response = await client.post(f"{BASE}/{draft['id']}/checks", json=new_check(pattern), headers=headers)
    assert response.status_code == 422, response.text
    assert "exponential time" in str(response.json()["detail"])


def test_every_built_in_pattern_passes_the_check():
    from content.loader import load_builtin_content

    patterns = [c.rule["pattern"] for t in load_builtin_content().templates for c in t.checks if "pattern" in c.rule]
    assert len(patterns) > 100
    assert [p for p in patterns if backtracking_hazard(p)] == []


def test_rule_regexes_run_in_linear_time_on_the_host():
    # Polynomial on a backtracking engine (hours for this input), linear on RE2.
    started = time.perf_counter()
    outcome = evaluate({"type": "file_regex", "path": "/x", "pattern": "a*a*a*a*a*a*b"}, FileHost("a" * 50_000))
    assert outcome.status == "fail"
    assert time.perf_counter() - started < 1
    # A look-ahead (which RE2 cannot express) still works, on the backtracking engine, for a safe pattern.
    lookahead = {"type": "file_regex", "path": "/x", "pattern": r"^\s*linux\s(?![^\n]*\baudit=1\b)[^\n]*$"}
    assert evaluate(lookahead, FileHost("  linux /vmlinuz ro audit=1\n")).actual == "no line in /x matches"
    assert evaluate(lookahead, FileHost("  linux /vmlinuz ro quiet\n")).actual == "linux /vmlinuz ro quiet"


def test_the_agent_refuses_a_catastrophic_regex_as_an_error_not_a_hang():
    started = time.perf_counter()
    outcome = evaluate({"type": "file_regex", "path": "/x", "pattern": "^(a+)+$"}, FileHost("a" * 40 + "!"))
    assert outcome.status == "error" and "exponential time" in outcome.actual
    assert time.perf_counter() - started < 1


async def test_adding_checks_stops_at_the_per_template_limit(app_factory, db):
    client = await app_factory(max_checks_per_template=260)
    _, headers, draft, _ = await operator_with_draft(client, db)
    have = len(draft["checks"])
    assert have < 260
    for index in range(260 - have):
        added = await client.post(f"{BASE}/{draft['id']}/checks", json=new_check("^x", f"X.{index}"), headers=headers)
        assert added.status_code == 201, added.text
    refused = await client.post(f"{BASE}/{draft['id']}/checks", json=new_check("^x", "X.last"), headers=headers)
    assert refused.status_code == 422 and "at most 260 checks" in refused.json()["detail"][0]["msg"]
    assert await db.scalar(select(func.count()).select_from(ComplianceCheck)
                           .where(ComplianceCheck.template_id == uuid.UUID(draft["id"]))) == 260


async def test_an_import_over_the_check_limit_is_refused_quickly(app_factory, db):
    client = await app_factory(max_checks_per_template=200, max_import_bytes=50 * 1024 * 1024)
    org, headers, _, source = await operator_with_draft(client, db)
    document = (await client.get(f"{BASE}/{source}/export", headers=headers)).json()
    one = document["checks"][0]
    document["checks"] = [copy.deepcopy(one) | {"rule_id": f"R{i}"} for i in range(12_000)]
    started = time.perf_counter()
    response = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                                 headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "at most 200 checks"
    assert time.perf_counter() - started < 10


async def test_twelve_thousand_checks_exceed_the_default_import_size(client, db):
    org, headers, _, source = await operator_with_draft(client, db)
    document = (await client.get(f"{BASE}/{source}/export", headers=headers)).json()
    document["checks"] = [copy.deepcopy(document["checks"][0]) | {"rule_id": f"R{i}"} for i in range(12_000)]
    response = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                                 headers=headers)
    assert response.status_code == 413
