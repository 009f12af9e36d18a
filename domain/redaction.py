"""What an agent may report as a check's `actual` value: never secret material read from the host."""

from __future__ import annotations

import fnmatch
import re

# Files whose content is secret whatever a rule asks of them: password hashes, private keys, keytabs.
SENSITIVE_PATHS = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/master.passwd", "/etc/spwd.db",
    "/etc/security/opasswd", "/etc/krb5.keytab", "/etc/ssh/ssh_host_*_key", "/etc/ssl/private/*",
    "/etc/pki/tls/private/*", "/root/.ssh/*", "/home/*/.ssh/*", "/etc/wireguard/*", "/etc/ppp/*-secrets",
    "/proc/*/environ", "*.key", "*_rsa", "*_dsa", "*_ecdsa", "*_ed25519",
)
# Files of `name:secret:...` lines: the account name (the field a rule judges the line by) may be shown.
ACCOUNT_FILES = {"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/master.passwd",
                 "/etc/security/opasswd"}
# Secrets that may turn up in any text: crypt(3) hashes and PEM private keys.
CRYPT_HASH = re.compile(r"\$(?:1|2[abxy]?|5|6|7|y|gy|sha1|md5)\$[^\s:]+")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)


def is_sensitive(*paths: str) -> bool:
    """True when any of the names of one file (as the rule gave it, as resolved on the host) is sensitive."""
    return any(fnmatch.fnmatchcase(path, pattern) for path in paths if path for pattern in SENSITIVE_PATHS)


def redact_file_actual(paths: tuple[str, ...], actual: str) -> str:
    """A file rule's `actual` for a sensitive file: the judged field of an account line, else no content."""
    if not is_sensitive(*paths) or actual.startswith("no line in ") or actual.endswith(" not found"):
        return actual
    if any(path in ACCOUNT_FILES for path in paths) and ":" in actual:
        name, _, rest = actual.partition(":")
        secret = rest.split(":", 1)[0]
        return f"{name}:<{'empty' if not secret else 'redacted'}>"
    return "a line matches (content not shown: sensitive file)"


def scrub(actual: str) -> str:
    """Any `actual`: password hashes and private keys replaced, the rest kept."""
    actual = CRYPT_HASH.sub("<hash redacted>", actual)
    return PRIVATE_KEY.sub("<private key redacted>", actual)
