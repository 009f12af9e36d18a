"""The reference agent: `python3 compliance-agent.pyz --api URL --state-dir DIR [--enrollment-token T |
--enrollment-token-file F] [--ca-file PEM]` (or `python -m agent …` from the sources). Needs only Python 3.11+.

Enrolls once (credentials kept in DIR/agent.json), then heartbeats, long-polls for jobs, evaluates checks on this
machine and posts the results. Survives API outages with backoff.

`scan --root DIR [--template KEY-or-FILE]` judges a root filesystem offline and prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import signal
import socket
import sys
import time
from pathlib import Path

from agent.api_client import AgentApi, ApiError, Backoff, UrllibHttp, with_retries
from agent.host import LocalHost, detect_os_type
from agent.offline import scan_main
from agent.pinning import ALLOW_CUSTOM_COMMANDS_ENV, custom_commands_allowed
from agent.runner import run_job

APPROVAL_POLL_SECONDS = 30
log = logging.getLogger("agent")
# Every request an agent makes keeps its host online (the API writes when it was last seen, in bulk), so the
# heartbeat only carries the host's facts (address, OS version, agent version): at start-up, within
# FACTS_CHECK_SECONDS of a change, and at least every HEARTBEAT_SECONDS. An idle fleet's requests are its polls.
FACTS_CHECK_SECONDS = 300
HEARTBEAT_SECONDS = 3600
AGENT_VERSION = "0.1.0"
# A long poll waits this long for jobs: under the 60 s that proxies commonly allow an idle request. An idle fleet
# of 2,000 agents then sends ~40 requests/s.
POLL_WAIT = 55


def local_facts() -> dict:
    hostname = socket.gethostname()
    try:
        ip = socket.gethostbyname(hostname)
    except OSError:
        ip = "127.0.0.1"
    return {"hostname": hostname.split(".")[0] or "localhost", "os_type": detect_os_type(), "ip_address": ip,
            "os_name": platform.system(), "os_version": platform.release(), "agent_version": AGENT_VERSION}


def heartbeat_facts() -> dict:
    """What a heartbeat carries: the facts that can change while the agent runs."""
    facts = local_facts()
    return {name: facts[name] for name in ("ip_address", "os_version", "agent_version")}


def heartbeat_due(facts: dict, sent: dict | None, sent_at: float | None, now: float) -> bool:
    """Whether to send a heartbeat: none sent yet, the facts changed, or the last one is HEARTBEAT_SECONDS old."""
    return sent is None or sent_at is None or facts != sent or now - sent_at >= HEARTBEAT_SECONDS


async def ensure_enrolled(api: AgentApi, state_dir: Path, token: str | None, token_file: Path | None) -> dict:
    state_file = state_dir / "agent.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        api.token = state["agent_token"]
        return state
    if token is None and token_file is not None:
        while not token_file.exists():
            log.info("waiting for enrollment token file %s", token_file)
            await asyncio.sleep(2)
        token = token_file.read_text().strip()
    if not token:
        raise SystemExit("not enrolled: pass --enrollment-token or --enrollment-token-file")
    state = await with_retries("enroll", lambda: api.enroll(token, local_facts()))
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state))
    state_file.chmod(0o600)
    if token_file is not None and token_file.exists():
        token_file.unlink()
    log.info("enrolled as host %s", state["host_id"])
    return state


async def await_approval(api: AgentApi, every: float = APPROVAL_POLL_SECONDS) -> None:
    """An agent that enrolled under a hostname that already had one may not act until an organization
    administrator approves it; until then the API answers 401 and the agent only asks again."""
    while True:
        try:
            await api.heartbeat()
            return
        except ApiError as err:
            if err.status != 401:
                raise
        log.warning("this host already has an agent: waiting for an organization administrator to approve this one")
        await asyncio.sleep(every)


async def heartbeat_loop(api: AgentApi) -> None:
    sent: dict | None = None
    sent_at: float | None = None
    while True:
        facts = await asyncio.to_thread(heartbeat_facts)  # resolving the address may wait on DNS
        if heartbeat_due(facts, sent, sent_at, time.monotonic()):
            try:
                await api.heartbeat(facts)
                sent, sent_at = facts, time.monotonic()
            except Exception as exc:  # try again at the next check; the poll loop reports outages
                log.debug("heartbeat failed: %s", exc)
        await asyncio.sleep(FACTS_CHECK_SECONDS)


async def job_loop(api: AgentApi, allow_custom_commands: bool = False) -> None:
    backoff = Backoff()
    jobs: list[dict] = []
    while True:
        if not jobs:
            jobs = await with_retries("poll", lambda: api.jobs(POLL_WAIT), backoff)
        pending, jobs = jobs, []
        for index, job in enumerate(pending):
            host = LocalHost()
            result = await run_job(job, host, allow_custom_commands)
            # The last answer also polls for the next jobs: a busy agent needs one request per job.
            next_poll = POLL_WAIT if index == len(pending) - 1 else None
            answered = await with_retries(
                "post result",
                lambda job=job, result=result, next_poll=next_poll: api.answer(job["id"], result, next_poll),
            )
            log.info("job %s (%s) answered: %s", job["id"], job["kind"], answered.status)
            if next_poll is not None:
                jobs = answered.next_jobs or []


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--state-dir", type=Path, default=Path(".data/agent"))
    parser.add_argument("--enrollment-token")
    parser.add_argument("--enrollment-token-file", type=Path)
    parser.add_argument("--ca-file", help="PEM bundle to trust for the API's certificate (default: the system's)")
    parser.add_argument("--allow-custom-commands", action="store_true",
                        help=f"run commands of custom rules too, not only the built-in content's "
                             f"(also {ALLOW_CUSTOM_COMMANDS_ENV}=1); off by default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    api = AgentApi(args.api, UrllibHttp(ca_file=args.ca_file))
    state = await ensure_enrolled(api, args.state_dir, args.enrollment_token, args.enrollment_token_file)
    if state.get("status") == "pending_approval":
        await await_approval(api)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    allow_custom = custom_commands_allowed(args.allow_custom_commands)
    if allow_custom:
        log.warning("custom commands allowed: rules from the server may run any command on this host")
    tasks = [asyncio.create_task(heartbeat_loop(api)), asyncio.create_task(job_loop(api, allow_custom))]
    await stop.wait()
    for task in tasks:
        task.cancel()


def cli(argv: list[str]) -> int:
    if argv[:1] == ["scan"]:
        return scan_main(argv[1:])
    asyncio.run(main(argv))
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
