"""Permissions by name, and the roles that are sets of them.

The API checks permissions, never roles: `compliance.view` for every read, `compliance.manage` for every change,
`changes.approve` to approve or reject a change record (never one's own: domain.remediation), `org.admin` to
manage an organization's members and agents. Platform administrators hold every permission in every organization.
"""

from __future__ import annotations

VIEW = "compliance.view"
MANAGE = "compliance.manage"
APPROVE_CHANGES = "changes.approve"
ORG_ADMIN = "org.admin"

ALL = (VIEW, MANAGE, APPROVE_CHANGES, ORG_ADMIN)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "operator": frozenset({VIEW, MANAGE, APPROVE_CHANGES}),
    "admin": frozenset(ALL),
}


def permissions_of(role: str | None, platform_admin: bool = False) -> list[str]:
    """The permissions a role grants, in a stable order (every one for a platform administrator)."""
    granted = frozenset(ALL) if platform_admin else ROLE_PERMISSIONS.get(role or "", frozenset())
    return [p for p in ALL if p in granted]
