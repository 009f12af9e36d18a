"""The commands this agent runs: those of the built-in content, pinned by SHA-256 of their argv when the agent is
built (imported), so a rule sent by the server cannot make it run anything else as root."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache

# Set to 1/true/yes in the agent's own environment (or pass --allow-custom-commands) to let rules run commands
# that are not in the built-in content: the host's owner decides, never the server.
ALLOW_CUSTOM_COMMANDS_ENV = "COMPLIANCE_AGENT_ALLOW_CUSTOM_COMMANDS"


def argv_digest(argv: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(argv), separators=(",", ":")).encode()).hexdigest()


@cache
def builtin_command_digests() -> frozenset[str]:
    from content.loader import load_builtin_content

    return frozenset(
        argv_digest(check.rule["argv"])
        for template in load_builtin_content().templates
        for check in template.checks
        if check.rule.get("type") == "command_output"
    )


def custom_commands_allowed(flag: bool = False) -> bool:
    return flag or os.environ.get(ALLOW_CUSTOM_COMMANDS_ENV, "").strip().lower() in ("1", "true", "yes")


def refusal(rule: object, allow_custom: bool) -> str | None:
    """Why this rule's command may not run here, or None (also for rules that run no command)."""
    if allow_custom or not isinstance(rule, dict) or rule.get("type") != "command_output":
        return None
    argv = rule.get("argv")
    if isinstance(argv, list) and all(isinstance(part, str) for part in argv) and \
            argv_digest(argv) in builtin_command_digests():
        return None
    return (f"refused: command {argv!r} is not part of the built-in content; this agent runs custom commands "
            f"only when its host allows them ({ALLOW_CUSTOM_COMMANDS_ENV}=1)")


# Computed at import, so the pinned set is fixed before any job arrives.
builtin_command_digests()
