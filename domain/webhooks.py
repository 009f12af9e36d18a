"""Outbound webhook signing: HMAC-SHA256 over the exact bytes sent, so receivers can prove who sent them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

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
