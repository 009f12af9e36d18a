"""Webhooks may not target this machine or internal networks unless an allow-list says so (security review row 8)."""

from __future__ import annotations

import ipaddress

import pytest

from domain.webhooks import allowed_networks, refused_address, refused_name
from tests.factories import login, make_org, make_user

SECRET = "s3cret-s3cret-s3cret"
INTERNAL = ["http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://172.16.5.5/hook", "http://0.0.0.0/hook",
            "http://[::ffff:127.0.0.1]/hook", "http://localhost:9000/hook", "http://vault.internal/hook"]


async def operator_headers(client, db):
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    return org, await login(client, user.username)


@pytest.mark.parametrize("url", INTERNAL)
async def test_a_webhook_to_an_internal_target_is_refused(client, db, url):
    org, headers = await operator_headers(client, db)
    response = await client.post(f"/api/v1/orgs/{org.id}/webhooks", json={"url": url, "secret": SECRET},
                                 headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "internal_target"


async def test_changing_a_webhook_to_an_internal_target_is_refused(client, db):
    org, headers = await operator_headers(client, db)
    created = await client.post(f"/api/v1/orgs/{org.id}/webhooks", headers=headers,
                                json={"url": "https://hooks.example.com/compliance", "secret": SECRET})
    assert created.status_code == 201
    moved = await client.patch(f"/api/v1/orgs/{org.id}/webhooks/{created.json()['id']}", headers=headers,
                               json={"url": "http://169.254.169.254/latest"})
    assert moved.status_code == 422


async def test_an_allow_listed_internal_network_is_accepted(app_factory, db):
    client = await app_factory(webhook_allowed_networks="10.20.0.0/16")
    org, headers = await operator_headers(client, db)
    allowed = await client.post(f"/api/v1/orgs/{org.id}/webhooks", headers=headers,
                                json={"url": "http://10.20.1.1/hook", "secret": SECRET})
    assert allowed.status_code == 201
    other = await client.post(f"/api/v1/orgs/{org.id}/webhooks", headers=headers,
                              json={"url": "http://10.30.1.1/hook", "secret": SECRET})
    assert other.status_code == 422


def test_public_addresses_pass_and_internal_ones_do_not():
    allowed = allowed_networks("127.0.0.1, 10.0.0.0/8")
    assert refused_address([ipaddress.ip_address("93.184.216.34")], []) is None
    assert refused_address([ipaddress.ip_address("127.0.0.1")], allowed) is None
    assert str(refused_address([ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("100.64.0.1")], allowed)) == \
        "100.64.0.1"
    assert refused_name("LOCALHOST.") and refused_name("db.internal") and not refused_name("hooks.example.com")
