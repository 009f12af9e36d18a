"""Rows 1, 11 and 16: `make run` restarts a crashed child and keeps the rest running, signs tokens with its own
secret (never the public development one), and keeps .data/ to itself."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import select

from config import DEV_JWT_SECRET
from models import User
from stack.ports import free_port
from stack.run import Supervisor

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(probe, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def test_a_killed_child_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(tmp_path / "supervisor.json", initial_backoff=0.2, max_backoff=5, stable_after=30,
                            say=said.append)
    worker = supervisor.spawn("worker", SLEEPER, dict(os.environ))
    api = supervisor.spawn("api", SLEEPER, dict(os.environ))
    loop = threading.Thread(target=supervisor.run_forever, kwargs={"interval": 0.05}, daemon=True)
    loop.start()
    try:
        os.kill(worker.pid, signal.SIGKILL)
        first = wait_for(lambda: (p := supervisor.children["worker"].process) is not worker and p)
        assert alive(first.pid) and first.pid != worker.pid
        assert supervisor.children["api"].process is api and alive(api.pid)
        assert json.loads((tmp_path / "supervisor.json").read_text())["worker"] == {"pid": first.pid, "restarts": 1}

        os.kill(first.pid, signal.SIGKILL)  # crashing again soon after its start: the wait doubles
        second = wait_for(lambda: (p := supervisor.children["worker"].process) is not first and p)
        assert alive(second.pid) and alive(api.pid)
        assert [line.split("restarting it in ")[1].split("s")[0] for line in said if "restarting" in line] == \
            ["0.2", "0.4"]
    finally:
        supervisor.stop()
        loop.join(timeout=5)
    assert not alive(api.pid) and supervisor.children["worker"].process.poll() is not None


def test_a_child_that_cannot_start_is_retried_not_fatal(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(None, initial_backoff=0.1, say=said.append)
    attempts = []

    def flaky() -> subprocess.Popen:
        attempts.append(1)
        if len(attempts) in (2, 3):
            raise OSError("port in use")
        return subprocess.Popen(SLEEPER)

    first = supervisor.add("temporal", flaky)
    os.kill(first.pid, signal.SIGKILL)
    try:
        wait_for(lambda: (supervisor.check() or True) and len(attempts) >= 4, interval=0.05)
        assert alive(supervisor.children["temporal"].process.pid)
        assert sum("did not start" in line for line in said) == 2
    finally:
        supervisor.stop()


@pytest.mark.slow
async def test_make_run_restarts_a_killed_worker_uses_its_own_secret_and_keeps_data_private(dev_env, db_url, db):
    data = Path(tempfile.mkdtemp(prefix="cops-run-"))
    (data / "logs").mkdir()
    (data / "logs" / "older.log").write_text("written before .data was made private\n")
    (data / "logs" / "older.log").chmod(0o644)
    (data / "logs").chmod(0o755)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("JWT_SECRET", "ENVIRONMENT")} | {
        "COMPLIANCE_DATA_DIR": str(data), "DATABASE_URL": db_url, "API_PORT": str(port),
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"tq-{uuid.uuid4().hex[:8]}", "TEMPORAL_SCHEDULE_ENABLED": "false",
        "COMPLIANCE_ADMIN_PASSWORD": "a long admin passphrase for tests"}
    run = subprocess.Popen([sys.executable, "-m", "stack.run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(run.stdout.readline, "")), daemon=True)
    reader.start()
    api = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for, lambda: any("is up" in line for line in output) or run.poll() is not None,
                                120, 0.3)
        assert run.poll() is None, "".join(output)
        state = json.loads((data / "supervisor.json").read_text())
        assert set(state) == {"worker", "api", "agent"}

        # Row 1: the installation's own secret, 0600 in a 0700 folder; a token made with the public development
        # secret for the admin's id (readable by any viewer in the audit log) is refused.
        secret_file = data / "secrets" / "jwt-secret"
        assert secret_file.stat().st_mode & 0o777 == 0o600 and (data / "secrets").stat().st_mode & 0o777 == 0o700
        assert secret_file.read_text().strip() != DEV_JWT_SECRET
        admin_id = await db.scalar(select(User.id).where(User.username == "admin"))
        forged = jwt.encode({"sub": str(admin_id), "exp": datetime.now(UTC) + timedelta(hours=1), "typ": "access"},
                            DEV_JWT_SECRET, algorithm="HS256")
        async with httpx.AsyncClient(base_url=api, timeout=10) as http:
            assert (await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
            token = (await http.post("/api/v1/auth/token", data={"username": "admin",
                                                                 "password": env["COMPLIANCE_ADMIN_PASSWORD"]}))
            assert token.status_code == 200

            # Row 16: nothing under .data is open to other users, also what an older version left readable.
            assert (data / "logs" / "older.log").stat().st_mode & 0o777 == 0o640
            for path in [data, *data.rglob("*")]:
                assert path.is_symlink() or not path.stat().st_mode & 0o007, path

            # Row 11: kill -9 the worker; it comes back, the API and the agent keep their processes.
            os.kill(state["worker"]["pid"], signal.SIGKILL)

            def restarted():
                now = json.loads((data / "supervisor.json").read_text())
                return now if now["worker"]["pid"] != state["worker"]["pid"] else None

            now = await asyncio.to_thread(wait_for, restarted, 30, 0.2)
            assert alive(now["worker"]["pid"]) and now["worker"]["restarts"] == 1
            assert now["api"] == state["api"] and now["agent"] == state["agent"]
            assert (await http.get("/healthz")).status_code == 200
            assert run.poll() is None
    finally:
        run.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(run.wait, 60)
    assert code == 0, "".join(output)
    final = json.loads((data / "supervisor.json").read_text())
    assert not any(alive(child["pid"]) for child in final.values())
    assert any("worker exited with -9; restarting it in 1s" in line for line in output), "".join(output)
    shutil.rmtree(data, ignore_errors=True)
