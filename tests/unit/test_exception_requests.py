"""Exception request bodies: one scope at most, a reason, an expiry in the future (naive times are UTC)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from api.schemas.exceptions import ExceptionCreate, ExceptionUpdate

ORG = uuid.UUID(int=1)


def create(**fields) -> ExceptionCreate:
    return ExceptionCreate(**({"org_id": ORG, "rule_id": "5.2.8", "reason": "compensating control"} | fields))


def test_neither_scope_means_the_whole_organization():
    body = create()
    assert body.host_id is None and body.host_group_id is None and body.expires_at is None


def test_host_and_group_together_are_refused():
    with pytest.raises(ValidationError, match="not both"):
        create(host_id=uuid.UUID(int=2), host_group_id=uuid.UUID(int=3))


@pytest.mark.parametrize("reason", ["", "   "])
def test_reason_must_say_something(reason):
    with pytest.raises(ValidationError):
        create(reason=reason)


def test_expiry_must_be_in_the_future():
    with pytest.raises(ValidationError, match="in the future"):
        create(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="in the future"):
        ExceptionUpdate(expires_at=datetime.now(UTC) - timedelta(seconds=1))


def test_expiry_without_a_zone_is_taken_as_utc():
    naive = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None)
    assert create(expires_at=naive.isoformat()).expires_at == naive.replace(tzinfo=UTC)


def test_update_may_clear_the_expiry_but_not_the_reason():
    assert ExceptionUpdate(expires_at=None).changes() == {"expires_at": None}
    with pytest.raises(ValidationError, match="may not be null"):
        ExceptionUpdate(reason=None)


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        create(status="active")
    with pytest.raises(ValidationError):
        ExceptionUpdate(approved_by=str(uuid.UUID(int=4)))
