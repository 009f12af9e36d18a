"""Row 1: no process signs tokens with the public development secret; `make run` makes its own, once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.main import create_app
from config import DEV_JWT_SECRET, Settings
from stack.run import prepare_secrets


def test_the_public_development_secret_is_refused_in_development_too():
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="development", jwt_secret=DEV_JWT_SECRET)


def test_the_api_does_not_start_without_a_secret():
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        create_app(Settings(environment="development", database_url="postgresql://x@/y"))


def test_make_run_generates_one_secret_per_installation_and_keeps_it(tmp_path):
    first: dict[str, str] = {}
    prepare_secrets(tmp_path, first)
    again: dict[str, str] = {}
    prepare_secrets(tmp_path, again)
    other: dict[str, str] = {}
    prepare_secrets(tmp_path / "elsewhere", other)
    assert first["JWT_SECRET"] == again["JWT_SECRET"] != other["JWT_SECRET"]
    assert len(first["JWT_SECRET"]) >= 48
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "secrets" / "jwt-secret").stat().st_mode & 0o777 == 0o600
    Settings(environment="development", jwt_secret=first["JWT_SECRET"])


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "changeme", "short-but-random"])
def test_make_run_refuses_a_placeholder_secret_from_the_environment(tmp_path, secret):
    with pytest.raises(SystemExit, match="placeholder"):
        prepare_secrets(tmp_path, {"JWT_SECRET": secret})
