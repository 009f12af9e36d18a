"""Engine and session factory construction."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+psycopg:// and return the psycopg 3 async form."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


def libpq_url(url: str) -> str:
    """The same database as a plain libpq URL, for psycopg connections outside SQLAlchemy."""
    return "postgresql://" + async_url(url)[len("postgresql+psycopg://"):]


def with_database(url: str, name: str) -> str:
    """The same server with another database name, keeping host/socket options in the query string."""
    head, _, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30.0) -> AsyncEngine:
    """A bounded pool: past pool_size + max_overflow connections, a checkout waits pool_timeout seconds and then
    raises sqlalchemy.exc.TimeoutError (the API answers it with 503 and Retry-After)."""
    # orjson parses the agents' result documents that recording reads back about 4x faster than json.
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=max_overflow,
                               pool_timeout=pool_timeout, pool_pre_ping=True, json_deserializer=orjson.loads)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
