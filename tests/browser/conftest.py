"""The real stack for browser tests: a fresh PostgreSQL database, the Temporal dev server, the worker and the API
(uvicorn, serving the built console) as processes, a simulated fleet per organization, and headless Chromium.

Seeded through the API like an operator would: users with each role, a second organization, scanned hosts."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from models.db import with_database
from stack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "console" / "dist" / "index.html"
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
# The screenshots in docs/ are refreshed on request (UPDATE_SCREENSHOTS=1); otherwise a test run keeps its own
# copies in the session's temporary folder, so it leaves the repository as it found it.
SCREENSHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
               else Path(tempfile.gettempdir()) / "screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "console-Test-pass-42"
FLEET_HOSTS = 6


@dataclass
class Account:
    username: str
    password: str
    id: str = ""


@dataclass
class ConsoleStack:
    url: str
    temporal_ui: str
    org_id: str
    second_org_id: str
    policy_id: str
    admin: Account
    operator: Account
    approver: Account
    viewer: Account
    host_ids: list[str] = field(default_factory=list)
    logs: Path = ROOT
    db_url: str = ""

    def client(self, account: Account) -> httpx.Client:
        token = httpx.post(f"{self.url}/api/v1/auth/token",
                           data={"username": account.username, "password": account.password}).json()["access_token"]
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def pytest_collection_modifyitems(items):
    """The first browser test also starts the stack and seeds a large fleet."""
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.timeout(900))


def wait_until(probe, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {value!r})")
        time.sleep(interval)


def scan_all(api: httpx.Client, policy_id: str, host_ids: list[str], timeout: float = 90) -> list[dict]:
    """Request an on-demand scan of every host and wait until each one completed."""
    scans = []
    for host_id in host_ids:
        answer = api.post(f"/compliance/policies/{policy_id}/scan", json={"host_id": host_id})
        assert answer.status_code == 202, answer.text
        scans.append(answer.json()["id"])

    def done():
        bodies = [api.get(f"/compliance/scans/{scan_id}").json() for scan_id in scans]
        return bodies if all(b["status"] in ("completed", "error") for b in bodies) else None

    return wait_until(done, timeout, "scans completed")


class Processes:
    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.children.append((name, process))
        return process

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.children.append((name, process))

    def stop(self) -> None:
        for _name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for _name, process in reversed(self.children):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def seed_database(url: str, admin_password: str) -> None:
    from models.db import make_engine, make_sessionmaker
    from stack.seed import seed_all

    async def run() -> None:
        engine = make_engine(url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await seed_all(session, admin_password, None)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="package")
def console_stack(pg_admin_url: str) -> Iterator[ConsoleStack]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium when it can)")
    if not DIST.exists():
        pytest.skip("console/dist is not built (make test builds it)")
    if reuse := os.environ.get("CONSOLE_STACK_JSON"):
        # A stack kept running between test runs while developing (see populate); never set in CI.
        yield stack_from_json(Path(reuse))
        return
    from stack.temporal import start_dev_server, wait_for_port

    logs = Path(tempfile.mkdtemp(prefix="cops-browser-"))
    name = f"cops_browser_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = with_database(pg_admin_url, name)
    processes = Processes(logs)
    try:
        subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={db_url}", "upgrade", "head"], cwd=ROOT,
                       check=True, capture_output=True)
        seed_database(db_url, PASSWORD)
        temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
        processes.adopt("temporal", start_dev_server(port=temporal_port, ui_port=ui_port,
                                                     log_file=logs / "temporal.log"))
        url = f"http://127.0.0.1:{api_port}"
        env = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
                   TEMPORAL_UI_URL=f"http://127.0.0.1:{ui_port}", TEMPORAL_TASK_QUEUE=f"browser-{uuid.uuid4().hex[:6]}",
                   ENVIRONMENT="development", JWT_SECRET="browser-tests-secret-0123456789abcdef", API_URL=url,
                   AGENT_RESULT_TIMEOUT_SECONDS="120", PYTHONUNBUFFERED="1",
                   # The simulated fleet never heartbeats and an empty long poll does not refresh last_seen: keep
                   # its hosts online for the whole session.
                   HOST_ONLINE_WINDOW_SECONDS="7200")
        processes.spawn("worker", [sys.executable, "worker.py"], env)
        processes.spawn("api", [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                                str(api_port), "--no-access-log", "--timeout-graceful-shutdown", "3"], env)
        wait_for_port("127.0.0.1", api_port, timeout=60)
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 60, "API ready")
        stack = populate(url, f"http://127.0.0.1:{ui_port}", processes, env, logs)
        stack.db_url = db_url
        yield stack
    except BaseException:
        for log in sorted(logs.glob("*.log")):
            sys.stderr.write(f"--- {log.name} (tail)\n{log.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        processes.stop()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(logs, ignore_errors=True)


def stack_from_json(path: Path) -> ConsoleStack:
    import json

    values = json.loads(path.read_text())
    for key in ("admin", "operator", "approver", "viewer"):
        values[key] = Account(**values[key])
    values["logs"] = Path(values["logs"])
    return ConsoleStack(**values)


def populate(url: str, temporal_ui: str, processes: Processes, env: dict[str, str], logs: Path) -> ConsoleStack:
    admin = Account("admin", PASSWORD)
    operator, approver, viewer = (Account(n, PASSWORD) for n in ("olivia.operator", "arthur.approver", "vera.viewer"))
    stack_api = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
    token = stack_api.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    (org,) = api.get("/orgs").json()
    second = api.post("/orgs", json={"name": "Branch Office"})
    assert second.status_code == 201, second.text
    second_org = second.json()
    for account, role in ((operator, "operator"), (approver, "operator"), (viewer, "viewer")):
        created = api.post("/users", json={"username": account.username, "password": account.password})
        assert created.status_code == 201, created.text
        account.id = created.json()["id"]
        added = api.post(f"/orgs/{org['id']}/members", json={"user_id": account.id, "role": role})
        assert added.status_code == 201, added.text
    added = api.post(f"/orgs/{second_org['id']}/members", json={"user_id": operator.id, "role": "operator"})
    assert added.status_code == 201, added.text
    (policy,) = api.get("/compliance/policies", params={"org_id": org["id"]}).json()
    # Manual approval: a one-click fix opens a change record that waits in Approvals.
    assert api.patch(f"/compliance/policies/{policy['id']}", json={"approval_mode": "manual"}).status_code == 200

    for org_id, prefix, count in ((org["id"], "web", FLEET_HOSTS), (second_org["id"], "branch", 2)):
        enrollment = api.post(f"/orgs/{org_id}/enrollment-tokens", json={"max_uses": count}).json()["token"]
        processes.spawn(f"fleet-{prefix}", [sys.executable, "-m", "agent.fleet", "--hosts", str(count), "--api", url,
                                            "--enrollment-token", enrollment, "--prefix", prefix,
                                            "--fail-rate", "0.3"], env)

    def hosts(org_id: str, count: int):
        found = api.get("/hosts", params={"org_id": org_id, "page_size": 100}).json()
        return found if len(found) == count else None

    host_ids = [h["id"] for h in wait_until(lambda: hosts(org["id"], FLEET_HOSTS), 60, "fleet enrolled")]
    wait_until(lambda: hosts(second_org["id"], 2), 60, "branch fleet enrolled")
    scans = scan_all(api, policy["id"], host_ids)
    assert all(s["status"] == "completed" for s in scans), [(s["status"], s["error_reason"]) for s in scans]
    dashboard = api.get("/compliance/dashboard", params={"org_id": org["id"]}).json()
    assert dashboard["hosts_scanned"] == FLEET_HOSTS, dashboard
    return ConsoleStack(url=url, temporal_ui=temporal_ui, org_id=org["id"], second_org_id=second_org["id"],
                        policy_id=policy["id"], admin=admin, operator=operator, approver=approver, viewer=viewer,
                        host_ids=host_ids, logs=logs)


@pytest.fixture(scope="package")
def browser(console_stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, console_stack):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=console_stack.url,
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class LargeFleet:
    org_id: str
    hosts: int
    days: int


@pytest.fixture(scope="package")
def large_fleet(console_stack: ConsoleStack) -> LargeFleet:
    """An organization of 10,000 hosts with two weeks of daily scans, seeded set-based in SQL by the read-paths
    benchmark's seeder (no agents: hosts, latest state and history rows); the operator is its viewer."""
    from bench.read_paths import seed

    hosts, days = 10_000, 14
    org_id = str(seed(console_stack.db_url, {"Large Fleet": hosts}, checks=20, days=days)["Large Fleet"])
    with console_stack.client(console_stack.admin) as admin:
        added = admin.post(f"/orgs/{org_id}/members", json={"user_id": console_stack.operator.id, "role": "viewer"})
        assert added.status_code == 201, added.text
    return LargeFleet(org_id=org_id, hosts=hosts, days=days)
