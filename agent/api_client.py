"""The agent's HTTP conversation with the API: enroll, heartbeat, long-poll jobs, post results, with backoff."""

from __future__ import annotations

import asyncio
import logging
import random

import httpx

log = logging.getLogger("agent")


class AgentApi:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None, token: str | None = None):
        self.base = base_url.rstrip("/") + "/api/v1/agent"
        self.http = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def enroll(self, enrollment_token: str, facts: dict) -> dict:
        response = await self.http.post(f"{self.base}/enroll", json={"enrollment_token": enrollment_token, **facts})
        response.raise_for_status()
        body = response.json()
        self.token = body["agent_token"]
        return body

    async def heartbeat(self, facts: dict | None = None) -> None:
        (await self.http.post(f"{self.base}/heartbeat", json=facts or {}, headers=self.headers)).raise_for_status()

    async def jobs(self, wait: int) -> list[dict]:
        response = await self.http.get(f"{self.base}/jobs", params={"wait": wait}, headers=self.headers,
                                       timeout=wait + 30)
        response.raise_for_status()
        return response.json()

    async def post_result(self, job_id: str, body: dict) -> int:
        response = await self.http.post(f"{self.base}/jobs/{job_id}/result", json=body, headers=self.headers)
        if response.status_code >= 500:
            response.raise_for_status()
        return response.status_code


class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    def __init__(self, first: float = 1.0, cap: float = 60.0):
        self.first, self.cap, self.current = first, cap, first

    async def sleep(self) -> None:
        await asyncio.sleep(self.current * random.uniform(0.5, 1.0))
        self.current = min(self.cap, self.current * 2)

    def reset(self) -> None:
        self.current = self.first


async def with_retries(what: str, call, backoff: Backoff | None = None, attempts: int | None = None):
    """Retry transport errors and 5xx answers; 4xx answers are final and raised."""
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await call()
            backoff.reset()
            return result
        except httpx.HTTPStatusError as err:
            if err.response.status_code < 500 and err.response.status_code != 429:
                raise
            log.warning("%s: API answered %s; retrying", what, err.response.status_code)
        except httpx.TransportError as err:
            log.warning("%s: API unreachable (%s); retrying", what, type(err).__name__)
        if attempts is not None and attempt >= attempts:
            raise RuntimeError(f"{what}: gave up after {attempt} attempts")
        await backoff.sleep()
