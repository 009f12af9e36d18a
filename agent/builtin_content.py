"""The built-in check content the agent carries, as plain data: `{"key", "name", "os_type", "checks":
[{"rule_id", "title", "rule"}]}` per template, every rule completed by its schema. The installable agent reads
`builtin_content.json`, written beside this module when the agent is packaged; from the sources it is built from
`content/` (which needs the full install)."""

from __future__ import annotations

import json
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

BUNDLE = "builtin_content.json"


@cache
def templates() -> list[dict[str, Any]]:
    try:
        bundled = pkgutil.get_data("agent", BUNDLE)
    except OSError:
        bundled = None
    if bundled is not None:
        return json.loads(bundled)
    from content.loader import load_builtin_content

    return [as_data(template) for template in load_builtin_content().templates]


def as_data(template: Any) -> dict[str, Any]:
    """A loaded template (content.loader.TemplateDoc) as the agent carries it."""
    from domain.rules import completed

    return {"key": template.key, "name": template.name, "os_type": template.os_type,
            "checks": [{"rule_id": check.rule_id, "title": check.title, "rule": completed(check.rule)}
                       for check in template.checks]}


def template_file(path: Path) -> dict[str, Any]:
    """A template YAML file outside the built-in content (its `extends` may name a built-in template)."""
    try:
        from content.loader import load_builtin_content, load_template_file
    except ModuleNotFoundError as exc:
        raise SystemExit(f"reading template files needs the full install (missing {exc.name}); "
                         "the packaged agent scans with its built-in templates") from None
    return as_data(load_template_file(path, load_builtin_content()))


def bundle_text() -> str:
    """builtin_content.json for the packaged agent."""
    return json.dumps(templates(), separators=(",", ":"), sort_keys=True)
