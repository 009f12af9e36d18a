"""`make run`: the whole product on one machine — PostgreSQL, Temporal + UI, bootstrap, worker, API, agent.

Embedded PostgreSQL (data in .data/pg) unless DATABASE_URL is set; the Temporal dev server (state in
.data/temporal.db) unless TEMPORAL_ADDRESS is set. Secrets are generated once per installation in .data/secrets/.
A child that crashes is restarted with backoff while the others keep running; Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from config import MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS
from domain.passwords import password_problem
from models.db import libpq_url
from stack.postgres import EmbeddedPostgres
from stack.sample_feed import match_local_host
from stack.secrets import close_to_others, jwt_secret, private_folder
from stack.temporal import start_dev_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
# COMPLIANCE_DATA_DIR moves the installation's data (tests run a whole stack in a folder of their own).
DATA = Path(os.environ.get("COMPLIANCE_DATA_DIR") or ROOT / ".data").resolve()
DATABASE_NAME = "compliance"


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen | None]
    process: subprocess.Popen | None
    started_at: float
    stop_signal: int = signal.SIGTERM
    log: Path | None = None
    quick_exits: int = 0  # exits in a row that came soon after a start: the backoff doubles with each
    restarts: int = 0
    restart_at: float | None = None


class Supervisor:
    """Starts the children, restarts any that exits (1 s, 2 s, 4 s … up to `max_backoff`; a child that ran for
    `stable_after` seconds starts again from 1 s), and stops them all, newest first, on `stop()`."""

    def __init__(self, state_file: Path | None = None, *, initial_backoff: float = 1.0, max_backoff: float = 30.0,
                 stable_after: float = 60.0, say: Callable[[str], None] = lambda text: print(text, flush=True)):
        self.children: dict[str, Child] = {}
        self.state_file = state_file
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.say = say
        self.stopping = False

    def add(self, name: str, start: Callable[[], subprocess.Popen | None], stop_signal: int = signal.SIGTERM,
            log: Path | None = None) -> subprocess.Popen | None:
        process = start()
        self.children[name] = Child(name, start, process, time.monotonic(), stop_signal, log)
        self._write_state()
        return process

    def spawn(self, name: str, argv: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
        def start() -> subprocess.Popen:
            out = open(log, "ab") if log else None  # noqa: SIM115
            try:
                return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
            finally:
                if out is not None:
                    out.close()  # the child has its own copy

        return self.add(name, start, log=log)

    def check(self) -> None:
        """One round: notice exited children, restart those whose backoff has passed."""
        now = time.monotonic()
        for child in self.children.values():
            if self.stopping:
                return
            if child.restart_at is None:
                code = child.process.poll() if child.process is not None else None
                if code is None:
                    continue
                if now - child.started_at >= self.stable_after:
                    child.quick_exits = 0
                delay = min(self.max_backoff, self.initial_backoff * 2 ** child.quick_exits)
                child.quick_exits += 1
                child.restart_at = now + delay
                self.say(f"{child.name} exited with {code}; restarting it in {delay:g}s"
                         + (f" (log: {child.log})" if child.log else ""))
            elif now >= child.restart_at:
                try:
                    child.process = child.start()
                except Exception as exc:  # a failed start is one more quick exit, retried after a longer wait
                    delay = min(self.max_backoff, self.initial_backoff * 2 ** child.quick_exits)
                    child.quick_exits += 1
                    child.restart_at = time.monotonic() + delay
                    self.say(f"{child.name} did not start ({exc}); retrying in {delay:g}s")
                    continue
                child.started_at, child.restart_at = time.monotonic(), None
                child.restarts += 1
                self.say(f"{child.name} restarted (pid {child.process.pid if child.process else '?'})")
                self._write_state()

    def run_forever(self, interval: float = 0.5) -> None:
        while not self.stopping:
            self.check()
            time.sleep(interval)

    def stop(self, timeout: float = 15.0) -> None:
        if self.stopping:
            return
        self.stopping = True
        running = [c for c in reversed(self.children.values()) if c.process is not None and c.process.poll() is None]
        for child in running:
            child.process.send_signal(child.stop_signal)
            try:
                child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def _write_state(self) -> None:
        """Who runs under which pid, for operators (and tests) who want to find or signal one child."""
        if self.state_file is None:
            return
        state = {c.name: {"pid": c.process.pid if c.process else None, "restarts": c.restarts}
                 for c in self.children.values()}
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.chmod(0o600)
        temporary.replace(self.state_file)


def prepare_secrets(data: Path, env: dict[str, str]) -> None:
    """The installation's own JWT secret (generated once); a placeholder given in the environment is refused."""
    given = env.get("JWT_SECRET")
    if given is None or given == "":
        env["JWT_SECRET"] = jwt_secret(data)
    elif given in PLACEHOLDER_SECRETS or len(given) < MIN_SECRET_LENGTH:
        raise SystemExit("JWT_SECRET is a placeholder or shorter than 32 characters: unset it and `make run` "
                         f"uses the installation's own secret ({data / 'secrets' / 'jwt-secret'})")


def ensure_database(admin_conninfo: str, name: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def bootstrap(env: dict[str, str]) -> None:
    """`compliance bootstrap --demo-data .data`: the same bootstrap compose runs, plus the demo policy and the
    local agent's enrollment token."""
    subprocess.run([sys.executable, "-m", "stack.cli", "bootstrap", "--demo-data", str(DATA)], cwd=ROOT, env=env,
                   check=True)


class AlreadyRunning(Exception):
    pass


def hold_data_lock(data: Path):
    """One stack per data folder: an exclusive lock on .data/run.lock for as long as this process lives (the
    kernel drops it when the process ends, however it ends). Returns the open lock file."""
    lock = open(data / "run.lock", "a+")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise AlreadyRunning(holder) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}")
    lock.flush()
    return lock


def note_in_lock(lock, text: str) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}, {text}")
    lock.flush()


async def trigger_first_cycle(temporal_address: str, agent_state: Path, timeout: float = 60) -> bool:
    """Scan right away instead of at the next half hour: once the local agent is enrolled, run the cycle now."""
    from temporalio.service import RPCError

    from config import Settings
    from orchestration.gateway import TemporalGateway

    deadline = time.monotonic() + timeout
    while not agent_state.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    gateway = TemporalGateway(Settings.model_construct(temporal_address=temporal_address))
    while time.monotonic() < deadline:
        try:
            await gateway.trigger_scan_cycle()
            return True
        except RPCError:
            await asyncio.sleep(1)  # the worker creates the schedule when it starts
    return False


def wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become ready within {timeout}s")


def download_agent(api_url: str, path: Path) -> Path:
    """Fetch the agent file from the API and check it against the checksum the API states."""
    answer = httpx.get(f"{api_url}/api/v1/agent/download", timeout=60)
    answer.raise_for_status()
    digest = hashlib.sha256(answer.content).hexdigest()
    if digest != answer.headers.get("x-checksum-sha256"):
        raise SystemExit(f"the downloaded agent does not match its checksum ({digest})")
    path.write_bytes(answer.content)
    path.chmod(0o700)  # like the rest of .data: for the user who runs the product only
    print(f"  local agent: {path.name} from {api_url}/api/v1/agent/download ({len(answer.content) // 1024} KiB, "
          f"sha256 {digest[:16]}…), run with the standard library only", flush=True)
    return path


def main() -> int:
    started = time.monotonic()
    os.umask(0o077)  # everything written under .data (logs, Temporal state, agent credentials) is the owner's
    private_folder(DATA)
    try:
        lock = hold_data_lock(DATA)
    except AlreadyRunning as holder:
        print(f"Compliance Operations is already running from {DATA} ({holder}); stop that one first "
              "(Ctrl-C in its terminal), or set COMPLIANCE_DATA_DIR to run a second, separate installation.",
              file=sys.stderr, flush=True)
        return 1
    logs = private_folder(DATA / "logs")
    close_to_others(DATA)
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    prepare_secrets(DATA, env)
    if env.get("COMPLIANCE_ADMIN_PASSWORD") and (problem := password_problem(env["COMPLIANCE_ADMIN_PASSWORD"],
                                                                            "admin")):
        raise SystemExit(f"COMPLIANCE_ADMIN_PASSWORD: {problem}")
    supervisor = Supervisor(DATA / "supervisor.json")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started from a shell that ignores SIGINT
    try:
        if not env.get("DATABASE_URL"):
            print("starting embedded PostgreSQL (.data/pg)…", flush=True)
            postgres = EmbeddedPostgres(DATA / "pg", password_file=DATA / "secrets" / "postgres-password")

            def start_postgres() -> subprocess.Popen | None:
                postgres.start()
                return postgres.process

            # SIGINT: PostgreSQL's fast shutdown (rolls back open transactions instead of waiting for clients)
            supervisor.add("postgres", start_postgres, stop_signal=signal.SIGINT, log=DATA / "pg.log")
            ensure_database(libpq_url(postgres.url), DATABASE_NAME)
            env["DATABASE_URL"] = postgres.url_for(DATABASE_NAME)
        ui_url = env.get("TEMPORAL_UI_URL", "http://127.0.0.1:8233")
        if not env.get("TEMPORAL_ADDRESS"):
            print("starting Temporal dev server (.data/temporal.db)…", flush=True)
            supervisor.add("temporal", lambda: start_dev_server(db_file=DATA / "temporal.db",
                                                                log_file=logs / "temporal.log"),
                           log=logs / "temporal.log")
            env["TEMPORAL_ADDRESS"] = "127.0.0.1:7233"
            ui_url = "http://127.0.0.1:8233"
        env["TEMPORAL_UI_URL"] = ui_url

        print("bootstrapping (migrations, search attributes, system content, admin, schedules)…", flush=True)
        bootstrap(env)

        api_host = env.get("API_HOST", "127.0.0.1")
        api_port = env.get("API_PORT", "8000")
        api_url = f"http://{api_host}:{api_port}"
        env["API_URL"] = api_url
        note_in_lock(lock, f"console {api_url}/")
        supervisor.spawn("worker", [sys.executable, "worker.py"], env, logs / "worker.log")
        uvicorn = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", api_host, "--port", api_port,
                   "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]
        supervisor.spawn("api", uvicorn, env, logs / "api.log")
        wait_for_port(api_host, int(api_port), timeout=30)
        wait_ready(f"{api_url}/readyz", timeout=30)
        agent_state = DATA / "agent"
        # The local agent is installed as on any host: downloaded from the API, run by Python with no packages.
        agent_file = download_agent(api_url, DATA / "compliance-agent.pyz")
        supervisor.spawn("agent", [sys.executable, "-I", "-S", str(agent_file), "--api", api_url,
                                   "--state-dir", str(agent_state),
                                   "--enrollment-token-file", str(DATA / "local-agent-enrollment.token")],
                         env, logs / "agent.log")

        schedule = env.get("TEMPORAL_SCHEDULE_ENABLED", "true").lower() not in ("0", "false", "no")
        if schedule and asyncio.run(trigger_first_cycle(env["TEMPORAL_ADDRESS"], agent_state / "agent.json")):
            print("  first scan cycle started: this machine is being scanned by the local agent", flush=True)
            if asyncio.run(match_local_host(env["TEMPORAL_ADDRESS"])):
                print("  vulnerability matching started: this machine's packages against the SAMPLE feed", flush=True)
        print(f"""
Compliance Operations is up ({time.monotonic() - started:.1f}s)
  Console        {api_url}/
  API            {api_url}/api/v1
  API docs       {api_url}/docs
  Temporal UI    {ui_url}
  Logs           {logs}
  Log in as 'admin' (POST {api_url}/api/v1/auth/token). A crashed process is restarted; Ctrl-C stops everything.
""", flush=True)
        supervisor.run_forever()
        return 0
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
