"""The built-in templates and scripts: they load against the schema, are big enough, and evaluate cleanly here."""

import json
import textwrap
from pathlib import Path

import pytest

from agent.host import LocalHost
from content import BuiltinContent, ContentError, ScriptRemediation, load_builtin_content
from domain.evaluation import evaluate

MINIMUM_CHECKS = {
    "cis-linux-l1": 40,
    "stig-linux": 150,
    "cis-windows-l1": 300,
    "stig-windows": 80,
    "cis-bsd-l1": 130,
    "stig-bsd": 25,
}
LEVEL_2_EXTRA = {
    "cis-linux-l2": ("cis-linux-l1", 15),
    "cis-windows-l2": ("cis-windows-l1", 60),
    "cis-bsd-l2": ("cis-bsd-l1", 30),
}


@pytest.fixture(scope="module")
def content() -> BuiltinContent:
    return load_builtin_content()


def templates_by_key(content: BuiltinContent) -> dict:
    return {template.key: template for template in content.templates}


def test_every_content_file_loads(content: BuiltinContent) -> None:
    assert content.templates
    assert content.scripts


@pytest.mark.parametrize(("key", "minimum"), sorted(MINIMUM_CHECKS.items()))
def test_template_has_enough_checks(content: BuiltinContent, key: str, minimum: int) -> None:
    templates = templates_by_key(content)
    assert key in templates, f"template {key} is missing"
    assert len(templates[key].checks) >= minimum


@pytest.mark.parametrize(("key", "base_and_extra"), sorted(LEVEL_2_EXTRA.items()))
def test_level_2_adds_checks_to_level_1(content: BuiltinContent, key: str, base_and_extra: tuple[str, int]) -> None:
    base_key, extra = base_and_extra
    templates = templates_by_key(content)
    assert key in templates and base_key in templates, f"{key} or {base_key} is missing"
    level_2, level_1 = templates[key], templates[base_key]
    assert level_2.extends == base_key
    assert {c.rule_id for c in level_1.checks} <= {c.rule_id for c in level_2.checks}
    assert len(level_2.checks) >= len(level_1.checks) + extra


def test_rule_ids_are_unique_per_template(content: BuiltinContent) -> None:
    for template in content.templates:
        rule_ids = [check.rule_id for check in template.checks]
        assert len(rule_ids) == len(set(rule_ids)), template.key


def test_checks_carry_their_framework_ids(content: BuiltinContent) -> None:
    for template in content.templates:
        assert template.framework == ("STIG" if template.key.startswith("stig-") else "CIS"), template.key
        assert template.os_type in template.key, template.key
        for check in template.checks:
            if template.framework == "STIG":
                assert check.frameworks.stig == check.rule_id, (template.key, check.rule_id)
            else:
                assert check.frameworks.cis == check.rule_id, (template.key, check.rule_id)


def test_linux_stig_checks_use_vulnerability_ids(content: BuiltinContent) -> None:
    stig = content.template("stig-linux")
    assert all(check.rule_id.startswith("V-") for check in stig.checks)
    assert all(check.frameworks.nist for check in stig.checks)


def test_every_bound_script_exists(content: BuiltinContent) -> None:
    for template in content.templates:
        for check in template.checks:
            if isinstance(check.remediation, ScriptRemediation):
                assert check.remediation.script in content.scripts, (template.key, check.rule_id)


def test_linux_scripts_are_strict_bash(content: BuiltinContent) -> None:
    linux_scripts = [script for key, script in content.scripts.items() if key.startswith("linux-")]
    assert linux_scripts
    for script in linux_scripts:
        assert script.shell == "bash", script.key
        assert "\nset -eu\n" in script.body, script.key


def test_linux_checks_evaluate_without_definition_errors_on_this_host(content: BuiltinContent) -> None:
    host = LocalHost()
    errors = []
    seen: set[str] = set()  # L2 repeats L1's checks and STIG shares many: each distinct rule runs once
    for template in content.templates:
        if template.os_type != "linux":
            continue
        for check in template.checks:
            key = json.dumps(check.rule, sort_keys=True)
            # Sweeps walk the whole filesystem (seconds each): they are judged on the fixture roots instead
            # (test_offline_scan, test_rules_sweeps).
            if key in seen or check.rule.get("type") == "file_sweep":
                continue
            seen.add(key)
            result = evaluate(check.rule, host)
            if result.status == "error":
                errors.append(f"{template.key} {check.rule_id}: {result.actual}")
    assert errors == []


# loader behaviour, on a content folder built for each test

SCRIPT = """\
- key: fix-it
  name: Fix it
  shell: bash
  body: |
    set -eu
    true
"""

BASE = """\
format: 1
key: base
name: Base
os_type: linux
framework: CIS
level: 1
checks:
  - rule_id: "1.1"
    title: First
    rationale: Because.
    severity: low
    rule: {type: file_exists, path: /etc/issue, expect: present}
    remediation: {type: script, script: fix-it}
  - rule_id: "1.2"
    title: Second
    rationale: Because.
    severity: medium
    rule: {type: sysctl, key: kernel.randomize_va_space, expected: "2"}
    remediation: {type: none}
"""


def write_content(root: Path, templates: dict[str, str], scripts: str = SCRIPT) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "scripts" / "linux.yaml").write_text(scripts)
    for name, text in templates.items():
        (root / "templates" / name).write_text(textwrap.dedent(text))
    return root


def test_extends_includes_parent_checks_first_and_overrides_by_rule_id(tmp_path: Path) -> None:
    child = """\
    format: 1
    key: child
    name: Child
    os_type: linux
    framework: CIS
    level: 2
    extends: base
    checks:
      - rule_id: "1.3"
        title: Third
        rationale: Because.
        severity: high
        rule: {type: package, name: telnet, expect: absent}
        remediation: {type: manual, instructions: apt purge telnet}
      - rule_id: "1.1"
        title: First, stricter
        rationale: Because.
        severity: high
        rule: {type: file_exists, path: /etc/issue.net, expect: present}
        remediation: {type: none}
    """
    loaded = load_builtin_content(write_content(tmp_path, {"base.yaml": BASE, "child.yaml": child}))
    expanded = loaded.template("child")
    assert [check.rule_id for check in expanded.checks] == ["1.1", "1.2", "1.3"]
    assert expanded.checks[0].title == "First, stricter"
    assert len(loaded.template("base").checks) == 2


def test_validation_error_names_file_and_check(tmp_path: Path) -> None:
    broken = BASE.replace("kernel.randomize_va_space", "kernel/randomize")
    with pytest.raises(ContentError, match=r"base\.yaml: check 1\.2: rule: .*key"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": broken}))


def test_bad_regex_in_content_is_rejected(tmp_path: Path) -> None:
    broken = BASE.replace(
        "{type: file_exists, path: /etc/issue, expect: present}",
        "{type: file_regex, path: /etc/issue, pattern: 'Banner ('}",
    )
    with pytest.raises(ContentError, match=r"check 1\.1: .*invalid regular expression"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": broken}))


def test_unknown_script_reference_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"base\.yaml: check 1\.1: unknown script 'fix-it'"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": BASE}, scripts="[]\n"))


def test_duplicate_rule_id_in_one_file_is_rejected(tmp_path: Path) -> None:
    duplicated = BASE.replace('rule_id: "1.2"', 'rule_id: "1.1"')
    with pytest.raises(ContentError, match=r"check 1\.1: rule_id appears twice"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": duplicated}))


def test_unquoted_octal_mode_is_rejected(tmp_path: Path) -> None:
    # YAML reads 0600 as the integer 384; the schema insists on the string so the mode is never misread.
    broken = BASE.replace(
        "{type: file_exists, path: /etc/issue, expect: present}",
        "{type: file_permissions, path: /etc/shadow, max_mode: 0600}",
    )
    with pytest.raises(ContentError, match=r"check 1\.1: .*max_mode"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": broken}))


def test_extends_cycle_is_rejected(tmp_path: Path) -> None:
    first = BASE.replace("level: 1\n", "level: 1\nextends: second\n")
    second = BASE.replace("key: base", "key: second").replace("level: 1\n", "level: 1\nextends: base\n")
    with pytest.raises(ContentError, match="cycle"):
        load_builtin_content(write_content(tmp_path, {"base.yaml": first, "second.yaml": second}))
