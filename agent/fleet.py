"""A simulated fleet: many fake hosts in one asyncio process, answering jobs with configurable outcomes.

    python -m agent.fleet --hosts 1000 --api http://127.0.0.1:8000 --enrollment-token TOKEN \\
        [--fail-rate 0.2] [--error-rate 0.01] [--skip-rate 0.05] [--latency 0.5] [--state FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import hashlib
import logging
import random
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from agent.api_client import (
    AgentApi,
    ApiError,
    Backoff,
    Response,
    Unreachable,
    _lower,
    retry_after,
    with_retries,
)

log = logging.getLogger("fleet")


@dataclass
class Outcomes:
    """How simulated hosts answer. A check's outcome is stable per host (hash-based), so rescans agree."""

    fail_rate: float = 0.2
    error_rate: float = 0.0
    skip_rate: float = 0.0
    latency: float = 0.0
    fixed_rules: set[str] = field(default_factory=set)
    remediation_succeeds: bool = True
    silent: bool = False
    inventory: dict | None = None  # the answer to inventory jobs (§7 shape); None: `unsupported`
    patch_install_succeeds: bool = True

    def status(self, hostname: str, rule_id: str) -> str:
        if rule_id in self.fixed_rules:
            return "pass"
        roll = _roll(hostname, rule_id)
        for status, rate in (("error", self.error_rate), ("skip", self.skip_rate), ("fail", self.fail_rate)):
            if roll < rate:
                return status
            roll -= rate
        return "pass"


@functools.lru_cache(maxsize=1 << 21)
def _roll(hostname: str, rule_id: str) -> float:
    """A host's fixed draw for a rule, in [0, 1). Kept: every scan of a 5,000-host fleet asks again for each of
    its checks, and hashing them afresh was a third of what answering a job cost the simulation."""
    digest = hashlib.sha256(f"{hostname}:{rule_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


@dataclass
class SimulatedHost:
    hostname: str
    os_type: str
    api: AgentApi
    outcomes: Outcomes
    host_id: str | None = None
    answered: int = 0
    fixed_rules: set[str] = field(default_factory=set)
    inventory: dict | None = None  # this host's own package set, else the fleet's
    patch_install_fails: bool = False

    def answer(self, job: dict) -> dict:
        payload = job["payload"]
        if job["kind"] == "inventory":
            return self.inventory or self.outcomes.inventory or {"status": "unsupported"}
        if job["kind"] == "patch_install":
            return self.install(payload.get("packages") or [])
        if job["kind"] == "remediation":
            ok = self.outcomes.remediation_succeeds
            if ok and payload.get("rule_id"):
                self.fixed_rules.add(payload["rule_id"])  # a fix sticks: this host's next scan passes the rule
            return {"status": "success" if ok else "failed", "exit_code": 0 if ok else 1,
                    "output": f"simulated remediation on {self.hostname}"}
        results = []
        for check in payload.get("checks", []):
            fixed = check["rule_id"] in self.fixed_rules
            status = "pass" if fixed else self.outcomes.status(self.hostname, check["rule_id"])
            results.append({"check_id": check["check_id"], "status": status, "actual": f"simulated {status}"})
        return {"results": results}

    def install(self, wanted: list[dict]) -> dict:
        """A successful install moves this host's own copy of the package set to the versions asked for (the
        source version too, as a rebuilt binary package has), so its next inventory shows them."""
        ok = self.outcomes.patch_install_succeeds and not self.patch_install_fails
        self.inventory = copy.deepcopy(self.inventory or self.outcomes.inventory or {"packages": []})
        versions = {p["name"]: p["version"] for p in wanted}
        installed = []
        for package in self.inventory.get("packages", []):
            if package["name"] in versions:
                if ok:
                    package["version"] = versions[package["name"]]
                    if package.get("source_version"):
                        package["source_version"] = versions[package["name"]]
                installed.append({"name": package["name"], "version": package["version"]})
        return {"status": "success" if ok else "failed", "installed": installed,
                "output": f"simulated {'install' if ok else 'failure'} on {self.hostname}"}

    async def serve(self, stop: asyncio.Event, wait: int = 20) -> None:
        """Poll, answer, and let the last answer of each batch carry the next poll, as the reference agent does."""
        backoff = Backoff(first=0.5, cap=10)
        jobs: list[dict] = []
        while not stop.is_set():
            if not jobs:
                try:
                    jobs = await self.api.jobs(wait)
                    backoff.reset()
                except (ApiError, Unreachable, RuntimeError) as exc:
                    log.debug("%s poll failed: %s", self.hostname, exc)
                    await backoff.sleep(retry_after(exc))
                    continue
            pending, jobs = jobs, []
            if self.outcomes.silent:
                continue
            for index, job in enumerate(pending):
                if self.outcomes.latency:
                    await asyncio.sleep(random.uniform(0, self.outcomes.latency))
                next_poll = wait if index == len(pending) - 1 else None
                answered = await with_retries(
                    "result", lambda job=job, next_poll=next_poll: self.api.answer(job["id"], self.answer(job),
                                                                                    next_poll), attempts=20)
                self.answered += 1
                if next_poll is not None:
                    jobs = answered.next_jobs or []


class HttpxHttp:
    """A simulated host's connection: httpx (thousands of hosts share one event loop), its errors the agent's."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def request(self, method: str, url: str, *, params: dict | None = None, json: object = None,
                      headers: dict[str, str] | None = None, timeout: float | None = None) -> Answer:
        if json is not None:
            headers = (headers or {}) | {"content-type": "application/json"}
        try:
            response = await self.client.request(
                method, url, params=params, content=None if json is None else orjson.dumps(json), headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)
        except httpx.TransportError as err:
            raise Unreachable(str(err) or type(err).__name__) from err
        return Answer(response.status_code, _lower(response.headers.items()), response.content)


class Answer(Response):
    """An HTTP answer whose JSON is read by orjson: thousands of simulated hosts share one process, and reading
    an 80 KB job with the standard library's json took 2 ms against orjson's 0.45 (the reference agent, alone on
    its host, keeps the standard library)."""

    def json(self):
        return orjson.loads(self.body) if self.body else None


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def own_connection(timeout: float = 60.0) -> httpx.AsyncClient:
    """A client for one simulated host, as a real agent has: its own connection, not a slot in a shared pool.

    httpx's pool scans every connection on each request, so one client serving a thousand long-polling hosts
    spends its CPU there and becomes the bottleneck of the whole simulation. The hosts share one TLS context:
    each client loading the CA bundle for itself took ~2 MB, 10 GB for 5,000 hosts."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=_tls(),
                             limits=httpx.Limits(max_connections=2, max_keepalive_connections=2))


class Fleet:
    def __init__(self, http: httpx.AsyncClient, base_url: str, outcomes: Outcomes | None = None,
                 client_per_host: Callable[[], httpx.AsyncClient] | None = None):
        """`http` enrolls hosts (and serves them all unless `client_per_host` makes one client per host)."""
        self.http, self.base_url = http, base_url
        self.outcomes = outcomes or Outcomes()
        self.client_per_host = client_per_host
        self.hosts: list[SimulatedHost] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._own_clients: list[httpx.AsyncClient] = []

    async def enroll(self, count: int, enrollment_token: str, *, prefix: str = "fleet", os_type: str = "linux",
                     concurrency: int = 20) -> list[SimulatedHost]:
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> SimulatedHost:
            hostname = f"{prefix}-{index:05d}"
            api = AgentApi(self.base_url, HttpxHttp(self.http))
            async with gate:
                body = await with_retries("enroll", lambda: api.enroll(enrollment_token, {
                    "hostname": hostname, "os_type": os_type, "ip_address": f"10.{index // 65536 % 256}."
                    f"{index // 256 % 256}.{index % 256}", "os_name": "SimLinux", "os_version": "1.0"}))
            if self.client_per_host is not None:
                own = self.client_per_host()
                api.http = HttpxHttp(own)
                self._own_clients.append(own)
            return SimulatedHost(hostname, os_type, api, self.outcomes, host_id=body["host_id"])

        created = await asyncio.gather(*(one(i) for i in range(len(self.hosts), len(self.hosts) + count)))
        self.hosts.extend(created)
        return list(created)

    def start(self, wait: int = 20, heartbeat: float | None = None, spread: float = 0.0) -> None:
        """Every host long-polls with `wait`; with `heartbeat`, each also sends a heartbeat that often, starting
        at a random moment of the period. With `spread`, each host starts at a random moment of that many
        seconds, as agents started at different times do (a fleet started at once keeps polling in rounds)."""
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._serve(host, wait, spread)) for host in self.hosts]
        if heartbeat:
            self._tasks += [asyncio.create_task(self._beat(host, heartbeat)) for host in self.hosts]

    async def _serve(self, host: SimulatedHost, wait: int, spread: float) -> None:
        if spread:
            await asyncio.sleep(random.uniform(0, spread))
        await host.serve(self._stop, wait)

    async def _beat(self, host: SimulatedHost, every: float) -> None:
        await asyncio.sleep(random.uniform(0, every))
        while not self._stop.is_set():
            try:
                await host.api.heartbeat()
            except (ApiError, Unreachable, RuntimeError) as exc:
                log.debug("%s heartbeat failed: %s", host.hostname, exc)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop serving and close the hosts' own clients."""
        await self.stop()
        await asyncio.gather(*(client.aclose() for client in self._own_clients))
        self._own_clients.clear()

    @property
    def answered(self) -> int:
        return sum(h.answered for h in self.hosts)

    def requests(self) -> Counter[str]:
        """The HTTP requests the hosts have sent so far, by kind."""
        return sum((h.api.requests for h in self.hosts), Counter())


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agent.fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--enrollment-token", required=True)
    parser.add_argument("--prefix", default="fleet")
    parser.add_argument("--fail-rate", type=float, default=0.2)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--skip-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as http:
        fleet = Fleet(http, args.api, Outcomes(args.fail_rate, args.error_rate, args.skip_rate, args.latency),
                      client_per_host=own_connection)
        await fleet.enroll(args.hosts, args.enrollment_token, prefix=args.prefix)
        log.info("%d simulated hosts enrolled; answering jobs (Ctrl-C to stop)", args.hosts)
        fleet.start()
        try:
            while True:
                await asyncio.sleep(10)
                log.info("answered %d jobs", fleet.answered)
        finally:
            await fleet.aclose()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
