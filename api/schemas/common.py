"""Base classes for request and response models."""

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, model_validator


def _has_nul(value: Any) -> bool:
    """Whether any text in a request (keys included) holds NUL. A nested request is checked at every level, so
    large ones (an agent's hundreds of results) are first encoded in one go: JSON writes NUL as \\u0000, and only
    when that sequence shows up (it may be an escaped backslash followed by "u0000") is the value walked."""
    if isinstance(value, dict | list):
        try:
            if b"\\u0000" not in orjson.dumps(value):
                return False
        except TypeError:
            pass  # not plain JSON (or not str keys): walk it
    return _walk_for_nul(value)


def _walk_for_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_walk_for_nul(k) or _walk_for_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_walk_for_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """Requests reject unknown fields: no client can set a field it should not."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it as bad input instead of failing at write time.
        if _has_nul(data):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return data


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
