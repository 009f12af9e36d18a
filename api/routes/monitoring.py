"""Alerts, incidents and notifications raised by scans, and the organizations' outbound webhooks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    SettingsDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.errors import NotFound
from api.schemas.monitoring import (
    AlertOut,
    AlertState,
    IncidentAssign,
    IncidentComment,
    IncidentDetailOut,
    IncidentOut,
    IncidentResolve,
    IncidentStatus,
    NotificationOut,
    Severity,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
)
from models import Alert, Incident, Notification, Organization, Webhook, WebhookDelivery
from services import incidents
from services.webhooks import check_url

router = APIRouter(tags=["monitoring"])


def _scoped(stmt, principal, model, org_id: uuid.UUID | None, **filters):
    if org_id is not None and not principal.can_see(org_id):
        raise NotFound("organization")
    stmt = stmt.where(tenant_scope(principal, model.org_id, org_id))
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    return stmt.order_by(model.created_at.desc(), model.id)


@router.get("/alerts", response_model=list[AlertOut])
async def list_alerts(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, host_id: uuid.UUID | None = None, policy_id: uuid.UUID | None = None,
    severity: Severity | None = None, alert_type: str | None = None, incident_id: uuid.UUID | None = None,
    state: AlertState | None = Query(None, description="open: not acknowledged yet"),
):
    stmt = _scoped(select(Alert), principal, Alert, org_id, host_id=host_id, policy_id=policy_id,
                   severity=severity, alert_type=alert_type, incident_id=incident_id)
    if state is not None:
        stmt = stmt.where(Alert.acknowledged_at.is_(None) if state == "open" else Alert.acknowledged_at.is_not(None))
    return await paginate(session, stmt, page, response)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge_alert(alert_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    alert = await get_or_404(session, principal, Alert, alert_id, MANAGE, "alert")
    if await incidents.acknowledge_alert(session, alert, principal.user, datetime.now(UTC)):
        audit(session, principal, "alert.acknowledge", "alert", alert.id, alert.org_id,
              after={"acknowledged_at": alert.acknowledged_at})
    return alert


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, status: IncidentStatus | None = None, host_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None, assigned_to: uuid.UUID | None = None,
):
    stmt = _scoped(select(Incident), principal, Incident, org_id, status=status, host_id=host_id,
                   policy_id=policy_id, assigned_to=assigned_to)
    return await paginate(session, stmt, page, response)


async def incident_detail(session, incident: Incident) -> IncidentDetailOut:
    alerts = await session.scalars(select(Alert).where(Alert.incident_id == incident.id)
                                   .order_by(Alert.created_at.desc(), Alert.id))
    return IncidentDetailOut(**IncidentOut.model_validate(incident).model_dump(),
                             alerts=[AlertOut.model_validate(a) for a in alerts])


@router.get("/incidents/{incident_id}", response_model=IncidentDetailOut)
async def get_incident(incident_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await incident_detail(session, await get_or_404(session, principal, Incident, incident_id, VIEW,
                                                           "incident"))


async def _worked(session, principal, incident: Incident, action: str, before: dict, after: dict):
    audit(session, principal, f"incident.{action}", "incident", incident.id, incident.org_id, before=before,
          after=after)
    return await incident_detail(session, incident)


@router.post("/incidents/{incident_id}/acknowledge", response_model=IncidentDetailOut)
async def acknowledge_incident(incident_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    incident = await get_or_404(session, principal, Incident, incident_id, MANAGE, "incident")
    if not await incidents.acknowledge_incident(session, incident, principal.user, datetime.now(UTC)):
        return await incident_detail(session, incident)
    return await _worked(session, principal, incident, "acknowledge", {"acknowledged_at": None},
                         {"acknowledged_at": incident.acknowledged_at})


@router.post("/incidents/{incident_id}/assign", response_model=IncidentDetailOut)
async def assign_incident(incident_id: uuid.UUID, body: IncidentAssign, principal: CurrentUser,
                          session: SessionDep):
    incident = await get_or_404(session, principal, Incident, incident_id, MANAGE, "incident")
    before = {"assigned_to": incident.assigned_to}
    await incidents.assign_incident(session, incident, principal.user, body.user_id, datetime.now(UTC))
    return await _worked(session, principal, incident, "assign", before, {"assigned_to": incident.assigned_to})


@router.post("/incidents/{incident_id}/comments", response_model=IncidentDetailOut, status_code=201)
async def comment_on_incident(incident_id: uuid.UUID, body: IncidentComment, principal: CurrentUser,
                              session: SessionDep):
    incident = await get_or_404(session, principal, Incident, incident_id, MANAGE, "incident")
    await incidents.comment_on_incident(session, incident, principal.user, body.comment, datetime.now(UTC))
    return await _worked(session, principal, incident, "comment", {}, {"comment": body.comment})


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentDetailOut)
async def resolve_incident(incident_id: uuid.UUID, body: IncidentResolve, principal: CurrentUser,
                           session: SessionDep):
    incident = await get_or_404(session, principal, Incident, incident_id, MANAGE, "incident")
    await incidents.resolve_incident(session, incident, principal.user, body.note, datetime.now(UTC))
    return await _worked(session, principal, incident, "resolve", {"status": "open"},
                         {"status": "resolved", "resolution_note": body.note})


@router.get("/notifications", response_model=list[NotificationOut])
async def list_notifications(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, host_id: uuid.UUID | None = None, severity: Severity | None = None,
    kind: str | None = None,
):
    stmt = _scoped(select(Notification), principal, Notification, org_id, host_id=host_id, severity=severity,
                   kind=kind)
    return await paginate(session, stmt, page, response)


async def _org(session, principal, org_id: uuid.UUID, permission: str) -> Organization:
    principal.require(org_id, permission, "organization")
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("organization")
    return org


async def _webhook(session, principal, org_id: uuid.UUID, webhook_id: uuid.UUID, permission: str) -> Webhook:
    await _org(session, principal, org_id, permission)
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or webhook.org_id != org_id:
        raise NotFound("webhook")
    return webhook


@router.get("/orgs/{org_id}/webhooks", response_model=list[WebhookOut])
async def list_webhooks(org_id: uuid.UUID, principal: CurrentUser, session: SessionDep, page: Page,
                        response: Response):
    await _org(session, principal, org_id, VIEW)
    stmt = select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.created_at, Webhook.id)
    return await paginate(session, stmt, page, response)


@router.post("/orgs/{org_id}/webhooks", response_model=WebhookOut, status_code=201)
async def create_webhook(org_id: uuid.UUID, body: WebhookCreate, principal: CurrentUser, session: SessionDep,
                         settings: SettingsDep):
    await _org(session, principal, org_id, MANAGE)
    check_url(body.url, settings.webhook_allowed_networks)
    webhook = Webhook(org_id=org_id, url=body.url, secret=body.secret, enabled=body.enabled)
    session.add(webhook)
    await session.flush()
    out = WebhookOut.model_validate(webhook)
    audit(session, principal, "webhook.create", "webhook", webhook.id, org_id, after=out)
    return out


@router.patch("/orgs/{org_id}/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, body: WebhookUpdate, principal: CurrentUser,
                         session: SessionDep, settings: SettingsDep):
    webhook = await _webhook(session, principal, org_id, webhook_id, MANAGE)
    before = WebhookOut.model_validate(webhook)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        check_url(changes["url"], settings.webhook_allowed_networks)
    for key, value in changes.items():
        setattr(webhook, key, value)
    await session.flush()
    out = WebhookOut.model_validate(webhook)
    audit(session, principal, "webhook.update", "webhook", webhook.id, org_id, before=before,
          after=out.model_dump(mode="json") | {"secret_rotated": "secret" in changes})
    return out


@router.delete("/orgs/{org_id}/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    webhook = await _webhook(session, principal, org_id, webhook_id, MANAGE)
    before = WebhookOut.model_validate(webhook)
    await session.delete(webhook)
    audit(session, principal, "webhook.delete", "webhook", webhook_id, org_id, before=before)
    return Response(status_code=204)


@router.get("/orgs/{org_id}/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDeliveryOut])
async def list_deliveries(org_id: uuid.UUID, webhook_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                          page: Page, response: Response):
    webhook = await _webhook(session, principal, org_id, webhook_id, VIEW)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id).order_by(
        WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    return await paginate(session, stmt, page, response)
