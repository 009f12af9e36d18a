"""`make run`: the whole product on one machine — PostgreSQL, Temporal + UI, migrations, seed, worker, API, agent.

Embedded PostgreSQL (data in .data/pg) unless DATABASE_URL is set; the Temporal dev server (state in
.data/temporal.db) unless TEMPORAL_ADDRESS is set. Ctrl-C stops every child process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from models.db import libpq_url
from stack.postgres import EmbeddedPostgres
from stack.temporal import start_dev_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
DATABASE_NAME = "compliance"


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.postgres: EmbeddedPostgres | None = None
        self.stopping = False

    def spawn(self, name: str, argv: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
        out = open(log, "ab") if log else None  # noqa: SIM115
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
        self.children.append((name, process))
        return process

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.children.append((name, process))

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for _name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.postgres is not None:
            self.postgres.stop()


def ensure_database(admin_conninfo: str, name: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


async def seed(env: dict[str, str]) -> None:
    os.environ.update(env)
    from config import get_settings
    from models.db import make_engine, make_sessionmaker
    from stack.seed import seed_all

    get_settings.cache_clear()
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            report = await seed_all(session, settings.admin_password, DATA)
    finally:
        await engine.dispose()
    if report.admin_password:
        print(f"  created user 'admin' with password: {report.admin_password}  (shown once; "
              "change it with: .venv/bin/python -m api.cli set-password admin)", flush=True)


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


def main() -> int:
    started = time.monotonic()
    DATA.mkdir(exist_ok=True)
    logs = DATA / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    supervisor = Supervisor()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started from a shell that ignores SIGINT
    try:
        if not env.get("DATABASE_URL"):
            print("starting embedded PostgreSQL (.data/pg)…", flush=True)
            supervisor.postgres = EmbeddedPostgres(DATA / "pg")
            supervisor.postgres.start()
            ensure_database(libpq_url(supervisor.postgres.url), DATABASE_NAME)
            env["DATABASE_URL"] = supervisor.postgres.url_for(DATABASE_NAME)
        ui_url = env.get("TEMPORAL_UI_URL", "http://127.0.0.1:8233")
        if not env.get("TEMPORAL_ADDRESS"):
            print("starting Temporal dev server (.data/temporal.db)…", flush=True)
            supervisor.adopt("temporal", start_dev_server(db_file=DATA / "temporal.db", log_file=logs / "temporal.log"))
            env["TEMPORAL_ADDRESS"] = "127.0.0.1:7233"
            ui_url = "http://127.0.0.1:8233"
        env["TEMPORAL_UI_URL"] = ui_url

        print("migrating the database…", flush=True)
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True)
        asyncio.run(seed(env))

        api_host = env.get("API_HOST", "127.0.0.1")
        api_port = env.get("API_PORT", "8000")
        api_url = f"http://{api_host}:{api_port}"
        env["API_URL"] = api_url
        supervisor.spawn("worker", [sys.executable, "worker.py"], env, logs / "worker.log")
        uvicorn = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", api_host, "--port", api_port,
                   "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]
        supervisor.spawn("api", uvicorn, env, logs / "api.log")
        wait_for_port(api_host, int(api_port), timeout=30)
        wait_ready(f"{api_url}/readyz", timeout=30)
        agent_state = DATA / "agent"
        supervisor.spawn("agent", [sys.executable, "-m", "agent", "--api", api_url, "--state-dir", str(agent_state),
                                   "--enrollment-token-file", str(DATA / "local-agent-enrollment.token")],
                         env, logs / "agent.log")

        if asyncio.run(trigger_first_cycle(env["TEMPORAL_ADDRESS"], agent_state / "agent.json")):
            print("  first scan cycle started: this machine is being scanned by the local agent", flush=True)
        print(f"""
Compliance Operations is up ({time.monotonic() - started:.1f}s)
  API            {api_url}/api/v1
  API docs       {api_url}/docs
  Temporal UI    {ui_url}
  Logs           .data/logs/
  Log in as 'admin' (POST {api_url}/api/v1/auth/token). Ctrl-C stops everything.
""", flush=True)
        while True:
            for name, process in list(supervisor.children):
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see .data/logs/{name}.log", flush=True)
                    if name != "agent":
                        return 1
                    supervisor.children.remove((name, process))
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
