"""Read access to the audit log."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.deps import CurrentUser, Page, SessionDep, paginate
from api.errors import NotFound
from api.schemas.accounts import AuditOut
from models import AuditEntry

router = APIRouter(tags=["audit"])


@router.get("/audit-log", response_model=list[AuditOut])
async def list_audit(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, action: str | None = None, target_id: str | None = None,
):
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if org_id is not None:
        if not principal.can_see(org_id):
            raise NotFound("organization")
        stmt = stmt.where(AuditEntry.org_id == org_id)
    elif (visible := principal.visible_org_ids()) is not None:
        stmt = stmt.where(AuditEntry.org_id.in_(visible))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    return await paginate(session, stmt, page, response)
