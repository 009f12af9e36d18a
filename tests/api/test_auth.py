"""Login, identity and the refusal of placeholder secrets."""

import pytest
from pydantic import ValidationError

from config import DEV_JWT_SECRET, Settings
from tests.factories import PASSWORD, login, make_org, make_user


async def test_login_with_good_password_returns_bearer_jwt(client, db):
    org = await make_org(db)
    user = await make_user(db, org=org, role="viewer")
    await db.commit()
    response = await client.post("/api/v1/auth/token", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].count(".") == 2

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert me.json()["memberships"] == [{"org_id": str(org.id), "org_name": org.name, "role": "viewer",
                                         "permissions": ["compliance.view"]}]


@pytest.mark.parametrize("username,password", [("known", "wrong-password"), ("nobody", PASSWORD)])
async def test_login_with_bad_credentials_is_401(client, db, username, password):
    await make_user(db, username="known")
    await db.commit()
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json() == {"detail": "incorrect username or password"}


async def test_me_without_or_with_forged_token_is_401(client):
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    response = await client.get("/api/v1/auth/me", headers=forged)
    assert response.status_code == 401 and "detail" in response.json()


async def test_token_signed_with_another_secret_is_rejected(app_factory, db):
    user = await make_user(db)
    await db.commit()
    first = await app_factory(jwt_secret="first-secret-abcdefghijklmnop-0123456789")
    second = await app_factory(jwt_secret="second-secret-abcdefghijklmnop-0123456789")
    headers = await login(first, user.username)
    assert (await first.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await second.get("/api/v1/auth/me", headers=headers)).status_code == 401


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "", "changeme", "short-but-random-9f8e7d"])
def test_settings_refuse_placeholder_secret_outside_development(secret):
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", jwt_secret=secret)


def test_settings_accept_real_secret_in_production():
    assert Settings(environment="production", jwt_secret="x" * 40).environment == "production"


def test_api_refuses_to_start_with_default_secret_in_production(monkeypatch):
    import subprocess
    import sys

    env = {"ENVIRONMENT": "production", "DATABASE_URL": "postgresql://u@127.0.0.1:1/x", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", "import api.main as m; m.app"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr
