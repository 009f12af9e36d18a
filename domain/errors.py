"""Errors of the product's rules, each carrying the HTTP status the API answers with; raised by services and
routes alike and rendered by one handler (api/errors.py)."""

from __future__ import annotations


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: str | list | dict = "bad request"):
        super().__init__(detail)
        self.detail = detail


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404

    def __init__(self, what: str = "resource"):
        super().__init__(f"{what} not found")


class Conflict(AppError):
    status_code = 409


class Unprocessable(AppError):
    status_code = 422

