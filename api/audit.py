"""Writes audit rows in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from models import AuditEntry


def _plain(value: Any) -> Any:
    """JSON-ready: pydantic models dumped, and datetimes and ids inside plain dicts and lists as strings."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return jsonable_encoder(value)


def audit(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None,
    org_id: uuid.UUID | None,
    *,
    before: Any = None,
    after: Any = None,
    actor_type: str | None = None,
    actor_name: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            org_id=org_id,
            actor_type=actor_type or ("user" if actor else "system"),
            actor_id=actor.id if actor else None,
            actor_name=actor_name or (actor.user.username if actor else None),
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            before=_plain(before),
            after=_plain(after),
        )
    )
