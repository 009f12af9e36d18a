"""Rows 14 and 16: every response carries security headers, /docs needs no CDN, and every oversized body is 413."""

from __future__ import annotations

import re

import pytest

from tests.factories import login, make_org, make_user


async def test_json_answers_carry_the_security_headers_and_a_strict_policy(client):
    for path in ("/healthz", "/api/v1/auth/me", "/api/v1/no-such-route"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


async def test_docs_page_loads_only_its_own_scripts_and_styles(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    html = page.text
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    assert "<script>" not in html  # no inline script: the policy could not allow it
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/docs/") for source in sources)
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert "SwaggerUIBundle" in (await client.get("/docs/assets/swagger-ui-bundle.js")).text
    assert (await client.get("/openapi.json")).status_code == 200


async def chunks(total: int, size: int = 4096, head: bytes = b""):
    """A body sent chunked (no Content-Length), as a client streaming it would."""
    yield head
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


MULTIPART_HEAD = b'--zzz\r\nContent-Disposition: form-data; name="username"\r\n\r\n'


@pytest.mark.parametrize(("path", "content_type"), [
    ("/api/v1/orgs", "application/json"),
    ("/api/v1/agent/enroll", "application/json"),
    ("/api/v1/auth/token", "application/x-www-form-urlencoded"),
    ("/api/v1/auth/token", "multipart/form-data; boundary=zzz"),
])
async def test_chunked_bodies_over_the_limit_get_413_not_400(app_factory, path, content_type):
    client = await app_factory(max_request_bytes=10_000)
    head = MULTIPART_HEAD if content_type.startswith("multipart") else b""
    response = await client.post(path, content=chunks(50_000, head=head), headers={"content-type": content_type})
    assert response.status_code == 413, response.text
    assert "exceeds 10000 bytes" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_declared_oversized_body_is_refused_before_it_is_read(app_factory):
    client = await app_factory(max_request_bytes=10_000)
    response = await client.post("/api/v1/orgs", content=b"{" + b" " * 20_000 + b"}",
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_template_imports_have_their_own_smaller_size_limit(app_factory, db):
    client = await app_factory(max_import_bytes=50_000)
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, user.username)
    document = {"format": "x", "checks": [{"title": "y" * 1000}] * 100}
    response = await client.post("/api/v1/compliance/templates/import", headers=headers,
                                 json={"org_id": str(org.id), "document": document})
    assert response.status_code == 413
    assert "exceeds 50000 bytes" in response.json()["detail"]
