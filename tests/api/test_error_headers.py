"""An unexpected error still carries the security headers (Starlette answers it outside the middleware)."""

from __future__ import annotations

import httpx


async def test_a_500_carries_the_security_headers_and_no_details(app_factory):
    client = await app_factory()

    async def boom() -> None:
        raise RuntimeError("secret internals")

    client.app.add_api_route("/api/v1/test-boom", boom)
    transport = httpx.ASGITransport(app=client.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as plain:
        response = await plain.get("/api/v1/test-boom")
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
