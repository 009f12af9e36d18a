"""Base classes for request and response models."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Requests reject unknown fields: no client can set a field it should not."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
