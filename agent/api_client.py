"""The agent's HTTP conversation with the API: enroll, heartbeat, long-poll jobs, post results (which can carry
the next poll), with backoff that honours the API's Retry-After."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass

import httpx

log = logging.getLogger("agent")


class AgentApi:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None, token: str | None = None):
        self.base = base_url.rstrip("/") + "/api/v1/agent"
        self.http = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.token = token
        self.requests: Counter[str] = Counter()  # sent, by kind: enroll, heartbeat, poll, result
        self.server_errors = 0  # 5xx answers to polls and result posts

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def enroll(self, enrollment_token: str, facts: dict) -> dict:
        self.requests["enroll"] += 1
        response = await self.http.post(f"{self.base}/enroll", json={"enrollment_token": enrollment_token, **facts})
        response.raise_for_status()
        body = response.json()
        self.token = body["agent_token"]
        return body

    async def heartbeat(self, facts: dict | None = None) -> None:
        self.requests["heartbeat"] += 1
        (await self.http.post(f"{self.base}/heartbeat", json=facts or {}, headers=self.headers)).raise_for_status()

    async def jobs(self, wait: int) -> list[dict]:
        self.requests["poll"] += 1
        response = await self.http.get(f"{self.base}/jobs", params={"wait": wait}, headers=self.headers,
                                       timeout=wait + 30)
        self.server_errors += response.status_code >= 500
        response.raise_for_status()
        return response.json()

    async def post_result(self, job_id: str, body: dict) -> int:
        return (await self.answer(job_id, body)).status

    async def answer(self, job_id: str, body: dict, wait: int | None = None) -> Answered:
        """Post a job's result; with `wait`, the same request long-polls for the next jobs (`next_jobs` is None
        when it did not, e.g. from an API that predates it or on a 4xx answer)."""
        self.requests["result"] += 1
        response = await self.http.post(f"{self.base}/jobs/{job_id}/result", json=body, headers=self.headers,
                                        params={} if wait is None else {"wait": wait},
                                        timeout=httpx.USE_CLIENT_DEFAULT if wait is None else wait + 30)
        if response.status_code >= 500:
            self.server_errors += 1
            response.raise_for_status()
        next_jobs = response.json().get("next_jobs") if response.status_code == 200 else None
        return Answered(response.status_code, next_jobs)


@dataclass
class Answered:
    status: int
    next_jobs: list[dict] | None = None


def retry_after(error: Exception) -> float | None:
    """The seconds an overloaded API (503, 429) asked the client to wait, if it said."""
    if not isinstance(error, httpx.HTTPStatusError):
        return None
    try:
        return float(error.response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    def __init__(self, first: float = 1.0, cap: float = 60.0):
        self.first, self.cap, self.current = first, cap, first

    async def sleep(self, at_least: float | None = None) -> None:
        """Wait the next backoff step; when the API said how long to wait, that long with up to half again of
        jitter, so that agents refused together do not come back together."""
        if at_least is not None:
            await asyncio.sleep(at_least * random.uniform(1.0, 1.5))
            return
        await asyncio.sleep(self.current * random.uniform(0.5, 1.0))
        self.current = min(self.cap, self.current * 2)

    def reset(self) -> None:
        self.current = self.first


async def with_retries(what: str, call, backoff: Backoff | None = None, attempts: int | None = None):
    """Retry transport errors, 429 and 5xx answers (after the Retry-After they carry); other 4xx answers are final
    and raised."""
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        attempt += 1
        wait_at_least = None
        try:
            result = await call()
            backoff.reset()
            return result
        except httpx.HTTPStatusError as err:
            if err.response.status_code < 500 and err.response.status_code != 429:
                raise
            wait_at_least = retry_after(err)
            log.warning("%s: API answered %s; retrying", what, err.response.status_code)
        except httpx.TransportError as err:
            log.warning("%s: API unreachable (%s); retrying", what, type(err).__name__)
        if attempts is not None and attempt >= attempts:
            raise RuntimeError(f"{what}: gave up after {attempt} attempts")
        await backoff.sleep(wait_at_least)
