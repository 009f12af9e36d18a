"""Password hashing, JWTs for people and opaque secrets for agents and enrollment."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from config import MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, Settings

_hasher = PasswordHasher()
JWT_ALGORITHM = "HS256"
# argon2 releases the GIL, so hashing in threads keeps the event loop free; a small pool also caps the CPU and
# memory (64 MiB per hash) that a burst of logins can take.
_hash_threads = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1), thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hash_threads, hash_password, password)


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_hash_threads, verify_password, password_hash, password)


# A precomputed hash so that unknown usernames cost the same time as wrong passwords.
DUMMY_PASSWORD_HASH = _hasher.hash("not-a-real-password")


def require_signing_secret(settings: Settings) -> None:
    """The API signs tokens: without a real secret anyone could mint them, so it does not start."""
    if settings.environment != "test" and (
        settings.jwt_secret in PLACEHOLDER_SECRETS or len(settings.jwt_secret) < MIN_SECRET_LENGTH
    ):
        raise RuntimeError("JWT_SECRET is not set to a secret of at least 32 characters; `make run` generates one")
    if not settings.jwt_secret:
        raise RuntimeError("JWT_SECRET is empty")


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int


def issue_access_token(user_id: uuid.UUID, secret: str, ttl_minutes: int, token_version: int = 0) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=ttl_minutes), "typ": "access",
              "ver": token_version}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_access_token(token: str, secret: str) -> AccessClaims | None:
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        if claims.get("typ") != "access":
            return None
        version = claims.get("ver", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            return None
        return AccessClaims(uuid.UUID(claims["sub"]), version)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def token_is_current(user, claims: AccessClaims) -> bool:
    """Deactivation and every password change bump the user's token version, which ends older tokens."""
    return user.is_active and claims.token_version == user.token_version


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def secret_digest(secret: str) -> str:
    """Secrets with 256 bits of entropy need no slow hash: SHA-256 lets us look them up by digest."""
    return hashlib.sha256(secret.encode()).hexdigest()
