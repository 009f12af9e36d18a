"""The commands this agent runs: those of the built-in content, pinned by SHA-256 of their argv when the agent is
built (imported), so a rule sent by the server cannot make it run anything else as root."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache

from agent import builtin_content

# Set to 1/true/yes in the agent's own environment (or pass --allow-custom-commands) to let rules run commands
# that are not in the built-in content: the host's owner decides, never the server.
ALLOW_CUSTOM_COMMANDS_ENV = "COMPLIANCE_AGENT_ALLOW_CUSTOM_COMMANDS"


def argv_digest(argv: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(argv), separators=(",", ":")).encode()).hexdigest()


def commands_in(rule: object) -> list[object]:
    """The argv of every command a rule would run, also inside `all_of` and `any_of` rules."""
    if not isinstance(rule, dict):
        return []
    if rule.get("type") == "command_output":
        return [rule.get("argv")]
    if rule.get("type") in ("all_of", "any_of"):
        parts = [*(rule.get("rules") or []), rule.get("applies_if")]
        return [argv for part in parts if isinstance(part, dict) for argv in commands_in(part)]
    return []


@cache
def builtin_command_digests() -> frozenset[str]:
    return frozenset(
        argv_digest(argv)
        for template in builtin_content.templates()
        for check in template["checks"]
        for argv in commands_in(check["rule"])
        if isinstance(argv, list)
    )


def custom_commands_allowed(flag: bool = False) -> bool:
    return flag or os.environ.get(ALLOW_CUSTOM_COMMANDS_ENV, "").strip().lower() in ("1", "true", "yes")


def refusal(rule: object, allow_custom: bool) -> str | None:
    """Why this rule's command may not run here, or None (also for rules that run no command)."""
    if allow_custom:
        return None
    for argv in commands_in(rule):
        if not (isinstance(argv, list) and all(isinstance(part, str) for part in argv)
                and argv_digest(argv) in builtin_command_digests()):
            return (f"refused: command {argv!r} is not part of the built-in content; this agent runs custom "
                    f"commands only when its host allows them ({ALLOW_CUSTOM_COMMANDS_ENV}=1)")
    return None


# Computed at import, so the pinned set is fixed before any job arrives.
builtin_command_digests()
