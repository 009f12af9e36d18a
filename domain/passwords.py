"""Password policy after NIST SP 800-63B: long enough, not a commonly tried one, and taken exactly as typed."""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_LENGTH = 12
# Long passphrases are welcome; the cap only keeps a single hash from costing unbounded time and memory.
MAX_LENGTH = 200


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why this password is refused, or None. Whitespace is kept: it is part of the password as typed."""
    if len(password) < MIN_LENGTH:
        return f"password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must have at most {MAX_LENGTH} characters"
    folded = password.casefold()
    if folded in common_passwords():
        return "password is one of the most commonly used passwords; choose another"
    if username and folded == username.casefold():
        return "password must not be the username"
    if len(set(password)) < 3:
        return "password must not be one or two characters repeated"
    return None
