"""The installable agent: one file that any Python 3.11+ runs, built from this API's own sources (agent.package).
Public, like any software download: what lets an agent act is the enrollment token, never the file."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/agent", tags=["agents"])
FILENAME = "compliance-agent.pyz"


async def agent_package(request: Request):
    """Built once per process, in a thread (it reads and compresses the sources)."""
    state = request.app.state
    if getattr(state, "agent_package", None) is None:
        from agent.package import build

        state.agent_package = await asyncio.to_thread(build)
    return state.agent_package


@router.get("/download", response_class=Response, responses={
    200: {"content": {"application/octet-stream": {}},
          "description": f"{FILENAME}; its SHA-256 is in X-Checksum-SHA256 (also the ETag)"},
    304: {"description": "the copy named in If-None-Match is current"}})
async def download_agent(request: Request) -> Response:
    """The reference agent as a single-file zipapp: `python3 compliance-agent.pyz --api URL --state-dir DIR
    --enrollment-token-file FILE` (see docs/agent.md)."""
    package = await agent_package(request)
    etag = f'"{package.sha256}"'
    headers = {"ETag": etag, "X-Checksum-SHA256": package.sha256, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(package.data, media_type="application/octet-stream",
                    headers={**headers, "Content-Disposition": f'attachment; filename="{FILENAME}"'})
