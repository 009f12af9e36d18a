"""The installable agent: one zipapp that a plain Python runs with the standard library alone (`-I -S`: no
site-packages, no environment) and that judges exactly as the sources do."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
import zipfile
from pathlib import Path

import pytest

from agent.offline import choose_templates, scan_root
from agent.package import PackagingError, build, hard_imports
from domain.rule_views import RULE_TYPES
from domain.rules import Rule

ROOTS = Path(__file__).resolve().parents[1] / "fixtures" / "roots"


@pytest.fixture(scope="module")
def package_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("agent") / "compliance-agent.pyz"
    path.write_bytes(build().data)
    return path


def run_packaged(package_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-S", str(package_file), *args], capture_output=True, text=True,
                          timeout=300, cwd=package_file.parent)


def test_the_packaged_agent_judges_a_root_exactly_as_the_sources_do(package_file: Path):
    root = ROOTS / "debian-noncompliant"
    packaged = run_packaged(package_file, "scan", "--root", str(root))
    assert packaged.returncode == 0, packaged.stderr
    from_sources = scan_root(root, choose_templates([]))
    report = json.loads(packaged.stdout)
    assert [t["template"] for t in report["templates"]] == [t["template"] for t in from_sources["templates"]]
    assert report == from_sources
    assert sum(len(t["results"]) for t in report["templates"]) > 500
    assert {"pass", "fail"} <= {r["status"] for t in report["templates"] for r in t["results"]}


def test_the_package_holds_no_module_beyond_the_standard_library(package_file: Path):
    names = zipfile.ZipFile(package_file).namelist()
    assert "__main__.py" in names and "agent/builtin_content.json" in names
    assert not any(name.startswith(("agent/fleet", "domain/rules.py", "content/", "api/")) for name in names)
    shown = run_packaged(package_file, "--help")
    assert shown.returncode == 0 and "--enrollment-token-file" in shown.stdout


def test_the_same_sources_give_the_same_bytes():
    first, second = build(), build()
    assert first.data == second.data and first.sha256 == second.sha256


def test_packaging_refuses_an_agent_that_needs_a_third_party_module(tmp_path: Path):
    for package in ("agent", "domain"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "agent" / "__main__.py").write_text("from agent import runner\n")
    (tmp_path / "agent" / "runner.py").write_text("import json\nimport httpx\n")
    with pytest.raises(PackagingError, match="httpx"):
        build(tmp_path)


def test_optional_and_type_only_imports_are_not_needed_to_run():
    source = ("import json\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pydantic\n"
              "try:\n    import re2\nexcept ModuleNotFoundError:\n    re2 = None\n"
              "def later():\n    import yaml\n")
    assert hard_imports(source) == {"json", "typing", "typing.TYPE_CHECKING"}


def test_the_agent_knows_every_rule_type_of_the_schema():
    models = typing.get_args(typing.get_args(Rule)[0])
    schema_types = {typing.get_args(model.model_fields["type"].annotation)[0] for model in models}
    assert schema_types == RULE_TYPES
