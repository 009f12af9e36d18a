"""The portability document: built from plain dicts, digested canonically, and validated problem by problem."""

import copy
import hashlib
import json

from domain.portability import build_document, canonical_json, document_digest, validate_document

BODY = "sysctl -w net.ipv4.ip_forward=0\n"
TEMPLATE = {"name": "Hardened Linux", "description": "ours", "os_type": "linux", "framework": "CIS", "level": 1,
            "scan_interval_hours": 24, "version": 3, "id": "ignored", "lineage_id": "ignored"}
CHECKS = [
    {"rule_id": "3.1.1", "title": "IP forwarding is off", "description": "Routers only.", "severity": "high",
     "enabled": True, "rule": {"type": "sysctl", "key": "net.ipv4.ip_forward", "expected": "0"},
     "frameworks": {"cis": "3.1.1", "nist": ["CM-7"]}, "remediation_type": "script",
     "remediation_instructions": None, "remediation_requires_change": True, "script_id": "ignored",
     "script": {"name": "IP forwarding off", "shell": "bash", "body": BODY,
                "sha256": hashlib.sha256(BODY.encode()).hexdigest(), "timeout_seconds": 60, "id": "ignored"}},
    {"rule_id": "1.1.1", "title": "cramfs is disabled", "description": None, "severity": "low", "enabled": False,
     "rule": {"type": "kernel_module", "name": "cramfs"}, "frameworks": {}, "remediation_type": "manual",
     "remediation_instructions": "Blacklist it.", "remediation_requires_change": False},
]


def test_document_has_the_versioned_shape_and_only_portable_fields():
    document = build_document(TEMPLATE, CHECKS)
    assert document["format"] == "compliance-template" and document["format_version"] == 1
    assert set(document) == {"format", "format_version", "template", "checks", "digest"}
    assert document["template"] == {k: TEMPLATE[k] for k in ("name", "description", "os_type", "framework", "level",
                                                               "scan_interval_hours", "version")}
    first, second = document["checks"]
    assert "script_id" not in first and "id" not in first["script"]
    assert first["script"]["sha256"] == hashlib.sha256(BODY.encode()).hexdigest()
    assert second["script"] is None and second["workflow"] is None
    assert [c["rule_id"] for c in document["checks"]] == ["3.1.1", "1.1.1"]
    assert validate_document(document) == []


def test_digest_is_sha256_over_the_canonical_form_without_the_digest():
    document = build_document(TEMPLATE, CHECKS)
    body = {k: v for k, v in document.items() if k != "digest"}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    assert document["digest"] == f"sha256:{expected}"
    reordered = json.loads(json.dumps(document, sort_keys=False))
    reordered = dict(reversed(list(reordered.items())))
    assert document_digest(reordered) == document["digest"]
    assert canonical_json({"b": "é", "a": [1, 2]}) == '{"a":[1,2],"b":"é"}'


def test_a_tampered_document_fails_the_digest():
    document = build_document(TEMPLATE, CHECKS)
    document["checks"][0]["severity"] = "low"
    assert validate_document(document) == ["digest: does not match the document's content"]


def test_every_problem_is_reported_at_once():
    document = copy.deepcopy(build_document(TEMPLATE, CHECKS))
    document["format_version"] = 2
    document["template"]["scan_interval_hours"] = 12
    document["template"]["os_type"] = "plan9"
    document["checks"][0]["severity"] = "urgent"
    document["checks"][0]["rule"] = {"type": "sysctl"}
    document["checks"][1]["surprise"] = True
    del document["checks"][1]["title"]
    document["digest"] = "md5:abc"
    problems = validate_document(document)
    joined = "\n".join(problems)
    for fragment in ("format_version", "template.scan_interval_hours", "template.os_type", "checks[0].severity",
                     "checks[0].rule", "checks[1].surprise", "checks[1].title", "digest"):
        assert fragment in joined, (fragment, problems)


def test_semantic_problems_duplicates_script_hash_shell_and_bindings():
    checks = copy.deepcopy(CHECKS)
    checks[1]["rule_id"] = "3.1.1"
    checks[0]["script"]["sha256"] = "0" * 64
    checks[0]["script"]["shell"] = "powershell"
    checks[1]["remediation_type"] = "script"
    problems = validate_document(build_document(TEMPLATE, checks))
    assert problems == [
        "checks[0].script.sha256: does not match the script body",
        "checks[0].script.shell: powershell does not run on linux",
        "checks[1].rule_id: '3.1.1' appears more than once",
        "checks[1].script: required exactly when remediation_type is 'script'",
    ]


def test_non_objects_and_wrong_types_are_rejected():
    assert validate_document([]) == ["document: must be a JSON object"]
    problems = validate_document({"format": "compliance-template"})
    assert {p.split(":")[0] for p in problems} == {"format_version", "template", "checks", "digest"}
    document = build_document(TEMPLATE, CHECKS)
    document["template"]["level"] = "1"
    document["digest"] = document_digest(document)
    assert validate_document(document) == ["template.level: Input should be a valid integer"]
