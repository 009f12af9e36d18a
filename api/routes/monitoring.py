"""Alerts, incidents and notifications raised by scans, and the organizations' outbound webhooks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    SettingsDep,
    paginate,
    tenant_scope,
)
from api.errors import NotFound
from api.schemas.monitoring import (
    AlertOut,
    IncidentOut,
    IncidentStatus,
    NotificationOut,
    Severity,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
)
from models import Alert, Incident, Notification, Organization, Webhook, WebhookDelivery
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
    severity: Severity | None = None, alert_type: str | None = None,
):
    stmt = _scoped(select(Alert), principal, Alert, org_id, host_id=host_id, policy_id=policy_id,
                   severity=severity, alert_type=alert_type)
    return await paginate(session, stmt, page, response)


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, status: IncidentStatus | None = None, host_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
):
    stmt = _scoped(select(Incident), principal, Incident, org_id, status=status, host_id=host_id,
                   policy_id=policy_id)
    return await paginate(session, stmt, page, response)


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
async def get_incident(incident_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident")
    principal.require(incident.org_id, VIEW, "incident")
    return incident


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
