"""The agent's HTTP conversation with the API: enroll, heartbeat, long-poll jobs, post results (which can carry
the next poll), with backoff that honours the API's Retry-After.

Standard library only: the installable agent is this package run by a plain `python3`. Requests go through an
`http` object with an async `request(method, url, params=, json=, headers=, timeout=)` answering a response with
`status_code`, `headers` and `json()`: `UrllibHttp` here, or the simulated fleet's adapter around httpx."""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("agent")
DEFAULT_TIMEOUT = 60.0


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, headers: dict[str, str], detail: str = ""):
        super().__init__(f"API answered {status}{': ' + detail if detail else ''}")
        self.status, self.headers = status, headers


class Unreachable(Exception):
    """No answer: the connection failed or timed out."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


class UrllibHttp:
    """Blocking urllib in a worker thread: one request at a time per call, a fresh connection each (an agent
    sends a few requests a minute; the long poll holds its connection while it waits)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, ca_file: str | None = None):
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file)

    async def request(self, method: str, url: str, *, params: dict | None = None, json: Any = None,
                      headers: dict[str, str] | None = None, timeout: float | None = None) -> Response:
        return await in_daemon_thread(self._send, method, url, params, json, headers or {}, timeout or self.timeout)

    def _send(self, method: str, url: str, params: dict | None, body: Any, headers: dict[str, str],
              timeout: float) -> Response:
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        data = None if body is None else jsonlib.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={**headers, "Content-Type": "application/json",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as answer:  # noqa: S310
                return Response(answer.status, _lower(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, _lower(err.headers.items()), err.read())
        except (urllib.error.URLError, OSError) as err:
            raise Unreachable(str(getattr(err, "reason", err))) from err


async def in_daemon_thread(function, *args):
    """`function(*args)` in a thread that never holds up the process's exit: a stopping agent does not wait for
    its long poll to end (asyncio.to_thread's threads are joined at exit)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        try:
            outcome = (function(*args), None)
        except BaseException as exc:  # handed to the awaiting task
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass

    threading.Thread(target=run, name="agent-http", daemon=True).start()
    return await future


def _lower(items) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


class AgentApi:
    def __init__(self, base_url: str, http: Any = None, token: str | None = None):
        self.base = base_url.rstrip("/") + "/api/v1/agent"
        self.http = http or UrllibHttp()
        self.token = token
        self.requests: Counter[str] = Counter()  # sent, by kind: enroll, heartbeat, poll, result
        self.server_errors = 0  # 5xx answers to heartbeats, polls and result posts

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                    timeout: float | None = None) -> Response:
        response = await self.http.request(method, f"{self.base}{path}", params=params, json=json,
                                           headers=self.headers, timeout=timeout)
        if response.status_code >= 400:
            raise ApiError(response.status_code, dict(response.headers), _detail(response))
        return response

    async def enroll(self, enrollment_token: str, facts: dict) -> dict:
        self.requests["enroll"] += 1
        body = (await self._call("POST", "/enroll", json={"enrollment_token": enrollment_token, **facts})).json()
        self.token = body["agent_token"]
        return body

    async def heartbeat(self, facts: dict | None = None) -> None:
        self.requests["heartbeat"] += 1
        try:
            await self._call("POST", "/heartbeat", json=facts or {})
        except ApiError as err:
            self.server_errors += err.status >= 500
            raise

    async def jobs(self, wait: int) -> list[dict]:
        self.requests["poll"] += 1
        try:
            return (await self._call("GET", "/jobs", params={"wait": wait}, timeout=wait + 30)).json()
        except ApiError as err:
            self.server_errors += err.status >= 500
            raise

    async def post_result(self, job_id: str, body: dict) -> int:
        return (await self.answer(job_id, body)).status

    async def answer(self, job_id: str, body: dict, wait: int | None = None) -> Answered:
        """Post a job's result; with `wait`, the same request long-polls for the next jobs (`next_jobs` is None
        when it did not, e.g. from an API that predates it or on a 4xx answer, which is final for this job)."""
        self.requests["result"] += 1
        try:
            response = await self._call("POST", f"/jobs/{job_id}/result", json=body,
                                        params=None if wait is None else {"wait": wait},
                                        timeout=None if wait is None else wait + 30)
        except ApiError as err:
            if err.status >= 500:
                self.server_errors += 1
                raise
            return Answered(err.status, None)
        return Answered(response.status_code, response.json().get("next_jobs"))


def _detail(response: Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    return detail if isinstance(detail, str) else ""


@dataclass
class Answered:
    status: int
    next_jobs: list[dict] | None = None


def retry_after(error: Exception) -> float | None:
    """The seconds an overloaded API (503, 429) asked the client to wait, if it said."""
    if not isinstance(error, ApiError):
        return None
    try:
        return float(error.headers["retry-after"])
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
    """Retry unreachable APIs, 429 and 5xx answers (after the Retry-After they carry); other 4xx answers are final
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
        except ApiError as err:
            if err.status < 500 and err.status != 429:
                raise
            wait_at_least = retry_after(err)
            log.warning("%s: API answered %s; retrying", what, err.status)
        except Unreachable as err:
            log.warning("%s: API unreachable (%s); retrying", what, err)
        if attempts is not None and attempt >= attempts:
            raise RuntimeError(f"{what}: gave up after {attempt} attempts")
        await backoff.sleep(wait_at_least)
