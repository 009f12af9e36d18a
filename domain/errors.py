"""Errors of the product's rules, each carrying the HTTP status the API answers with; raised by services and
routes alike and rendered by one handler (api/errors.py)."""

from __future__ import annotations


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: str | list | dict = "bad request"):
        super().__init__(detail)
        self.detail = detail

    @property
    def message(self) -> str:
        """The detail as one line of text (a list of validation errors joined by their messages)."""
        if isinstance(self.detail, list):
            return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                             for item in self.detail)
        return str(self.detail)


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
    """Invalid input, answered in the shape of FastAPI's own validation errors (a list), so every 422 keeps one
    schema; a plain message becomes one entry about the body."""

    status_code = 422

    def __init__(self, detail: str | list | dict = "invalid input"):
        if isinstance(detail, str):
            detail = [{"loc": ["body"], "msg": detail, "type": "invalid"}]
        super().__init__(detail)

