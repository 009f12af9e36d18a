"""Outbound webhooks: HMAC-SHA256 signing over the exact bytes sent, so receivers can prove who sent them, and
which targets a webhook may reach at all."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
INTERNAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")

SIGNATURE_HEADER = "X-Compliance-Signature"
EVENT_HEADER = "X-Compliance-Event"
DELIVERY_HEADER = "X-Compliance-Delivery"
SIGNATURE_PREFIX = "sha256="


def encode_body(payload: dict[str, Any]) -> bytes:
    """The one serialization that is both sent and signed."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def sign(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


def allowed_networks(setting: str) -> list[Network]:
    """The allow-list setting: comma-separated addresses or CIDR blocks (e.g. `10.20.0.0/16, 127.0.0.1`)."""
    return [ipaddress.ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip()]


def internal_address(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified: not the internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global)


def refused_address(addresses: Iterable[Address], allowed: list[Network]) -> Address | None:
    """The first address a webhook may not reach (internal and not allow-listed), or None when all are fine."""
    for address in addresses:
        if internal_address(address) and not any(address in network for network in allowed):
            return address
    return None


def refused_name(host: str) -> bool:
    """Names that only ever mean this machine or its private network."""
    host = host.lower().rstrip(".")
    return host == "localhost" or any(host.endswith(suffix) for suffix in INTERNAL_NAMES[1:])


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
