"""Signatures of portability documents: Ed25519 over the canonical document, so an edited document is refused
even when its digest was recomputed. Trust comes from the installation's own key and the keys an administrator
lists (PORTABILITY_TRUSTED_KEYS), never from anything the document itself carries."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.portability import canonical_json

ALGORITHM = "Ed25519"
FIELD = "signature"


def installation_key(secret: str) -> Ed25519PrivateKey:
    """The installation's signing key, derived from its per-installation secret: every API process of one
    installation signs with the same key, and no second secret has to be kept."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"compliance-operations",
                info=b"portability-document-signing").derive(secret.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def encode_public_key(key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_bytes(key)).decode()


def parse_public_keys(setting: str) -> list[Ed25519PublicKey]:
    """The trusted-keys setting: comma-separated base64 raw Ed25519 public keys."""
    return [Ed25519PublicKey.from_public_bytes(base64.b64decode(item.strip(), validate=True))
            for item in setting.split(",") if item.strip()]


def _signed_bytes(document: dict[str, Any]) -> bytes:
    return canonical_json({key: value for key, value in document.items() if key != FIELD}).encode("utf-8")


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The document with its signature (over everything else in it, the digest included)."""
    public = key.public_key()
    return document | {FIELD: {"alg": ALGORITHM, "key_id": key_id(public),
                               "value": base64.b64encode(key.sign(_signed_bytes(document))).decode()}}


def signature_problem(document: dict[str, Any], trusted: list[Ed25519PublicKey]) -> str | None:
    """Why the document's signature is not acceptable, or None when a trusted key made it."""
    signature = document.get(FIELD)
    if not isinstance(signature, dict):
        return "missing: documents are accepted only as exported, signed, by a trusted installation"
    by_id = {key_id(key): key for key in trusted}
    key = by_id.get(signature.get("key_id"))
    if key is None:
        return "made by a key this installation does not trust (see PORTABILITY_TRUSTED_KEYS)"
    try:
        key.verify(base64.b64decode(str(signature.get("value")), validate=True), _signed_bytes(document))
    except (InvalidSignature, ValueError):
        return "does not match the document's content"
    return None
