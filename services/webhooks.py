"""Outbound webhooks: who subscribes, the document receivers get, and which webhooks still await an event."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Unprocessable
from domain.webhooks import allowed_networks, literal_address, refused_address, refused_name
from models import Alert, Host, Notification, Webhook, WebhookDelivery


async def orgs_with_webhooks(session: AsyncSession, org_ids: set[str]) -> set[str]:
    rows = await session.scalars(text("""
        SELECT DISTINCT org_id FROM webhooks WHERE enabled AND org_id = ANY(CAST(:orgs AS uuid[]))
    """), {"orgs": list(org_ids)})
    return {str(org) for org in rows}


async def event_payload(session: AsyncSession, event_type: str, event_id: uuid.UUID) -> dict[str, Any] | None:
    """The JSON document receivers get for a notification or an alert, or None while it is not committed."""
    model = Notification if event_type == "notification" else Alert
    row = (await session.execute(
        select(model, Host.hostname).join(Host, Host.id == model.host_id).where(model.id == event_id)
    )).first()
    if row is None:
        return None
    event, hostname = row
    kind = event.kind if event_type == "notification" else event.alert_type
    return {
        "id": str(event.id), "category": event_type, "type": kind, "severity": event.severity,
        "message": event.message, "org_id": str(event.org_id), "host_id": str(event.host_id), "hostname": hostname,
        "policy_id": str(event.policy_id), "scan_id": str(event.scan_id), "details": event.details,
        "created_at": event.created_at.isoformat(),
    }


async def pending_targets(session: AsyncSession, org_id: uuid.UUID, event_id: uuid.UUID) -> list[uuid.UUID]:
    """Enabled webhooks of the organization that have not yet accepted the event."""
    delivered = select(WebhookDelivery.webhook_id).where(WebhookDelivery.event_id == event_id,
                                                         WebhookDelivery.success)
    return list(await session.scalars(select(Webhook.id).where(
        Webhook.org_id == org_id, Webhook.enabled, Webhook.id.not_in(delivered),
    ).order_by(Webhook.created_at, Webhook.id)))


async def attempts_so_far(session: AsyncSession, webhook_id: uuid.UUID, event_id: uuid.UUID) -> int:
    return await session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.event_id == event_id)) or 0


class TargetRefused(Exception):
    """The webhook's URL leads to an address it may not reach."""


def check_url(url: str, allow_list: str) -> None:
    """At creation or change: refuse URLs that name this machine or an internal address outright (422). Names
    are resolved again at every delivery (`resolve_target`), where DNS may point them anywhere."""
    host = urlsplit(url).hostname or ""
    allowed = allowed_networks(allow_list)
    address = literal_address(host)
    refused = refused_address([address], allowed) if address is not None else None
    if refused is not None or (address is None and refused_name(host) and not allowed):
        raise Unprocessable([{"loc": ["body", "url"], "type": "internal_target",
                              "msg": "webhooks may not target this machine or internal networks "
                                     "(allow-list: WEBHOOK_ALLOWED_NETWORKS)"}])


async def resolve_target(url: str, allow_list: str) -> None:
    """Before each delivery: every address the URL's host resolves to must be reachable by webhooks."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = literal_address(host)
    if address is not None:
        addresses = [address]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefused(f"cannot resolve {host}: {exc}") from exc
        addresses = [literal_address(info[4][0]) for info in infos]
    refused = refused_address([a for a in addresses if a is not None], allowed_networks(allow_list))
    if refused is not None:
        raise TargetRefused(f"{host} resolves to {refused}, an internal address")
