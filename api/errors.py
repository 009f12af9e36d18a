"""The handlers that render every error as JSON; the errors themselves are in domain/errors.py."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.headers import API_POLICY, COMMON
from domain.errors import (  # noqa: F401 (routes import the errors from here)
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from orchestration.gateway import TemporalUnavailable

log = logging.getLogger(__name__)
POOL_RETRY_AFTER_SECONDS = 2


def _json(status: int, detail, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return _json(exc.status_code, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        return _json(422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(TemporalUnavailable)
    async def _temporal(_: Request, exc: TemporalUnavailable) -> JSONResponse:
        return _json(503, str(exc), {"Retry-After": "5"})

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy past the checkout timeout: overload, which a client waits out.
        log.warning("database pool exhausted: %s", exc)
        return _json(503, "the server is busy, retry shortly", {"Retry-After": str(POOL_RETRY_AFTER_SECONDS)})

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the route did not pre-check (a race between two requests): a conflict, not a crash.
        log.info("integrity error: %s", exc.orig)
        return _json(409, "conflicts with existing data")

    @app.exception_handler(DataError)
    async def _bad_value(_: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot store or compare (NUL bytes, out-of-range numbers): the client's input.
        log.info("data error: %s", exc.orig)
        return _json(422, [{"loc": [], "msg": "a value is not acceptable to the database", "type": "invalid_value"}])

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # Lost or refused connections are an outage, not a bug: clients should retry.
        if exc.connection_invalidated or type(exc.orig).__name__ in ("OperationalError", "InterfaceError"):
            log.warning("database unavailable: %s", exc.orig)
            return _json(503, "database unavailable, retry shortly", {"Retry-After": "2"})
        log.exception("database error", exc_info=exc)
        return _json(500, "internal error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette answers these from its outermost middleware, outside SecurityHeaders: the headers go here.
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "internal error", dict(COMMON) | {"content-security-policy": API_POLICY})
