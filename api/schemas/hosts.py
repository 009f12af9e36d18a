"""Hosts and host groups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import RequestModel, ResponseModel

OsType = Literal["windows", "linux", "bsd"]


class HostOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    hostname: str
    ip_address: str | None
    os_type: OsType
    os_name: str | None
    os_version: str | None
    last_seen: datetime | None
    online: bool = False
    created_at: datetime


class HostGroupCreate(RequestModel):
    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class HostGroupOut(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str | None
    member_count: int = 0
    created_at: datetime


class GroupMembersAdd(RequestModel):
    host_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class GroupMembersOut(ResponseModel):
    group_id: uuid.UUID
    host_ids: list[uuid.UUID]
