"""GET /api/v1/agent/download: the agent as one file, public, with its checksum."""

from __future__ import annotations

import hashlib
import io
import zipfile


async def test_the_agent_downloads_without_signing_in_with_its_checksum(client):
    answer = await client.get("/api/v1/agent/download")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert 'filename="compliance-agent.pyz"' in answer.headers["content-disposition"]
    digest = hashlib.sha256(answer.content).hexdigest()
    assert answer.headers["x-checksum-sha256"] == digest and answer.headers["etag"] == f'"{digest}"'
    assert answer.content.startswith(b"#!/usr/bin/env python3\n")
    assert "__main__.py" in zipfile.ZipFile(io.BytesIO(answer.content)).namelist()

    again = await client.get("/api/v1/agent/download", headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and not again.content
