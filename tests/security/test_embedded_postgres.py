"""Row 5: the embedded PostgreSQL asks for a password and keeps its socket where no other local user can reach it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from models.db import libpq_url
from stack.ports import free_port
from stack.postgres import SERVICE_USER, EmbeddedPostgres, _bin_dir

NOBODY = 65534
# Run as `nobody`: try to reach the server's socket file, as the attacker did with psql.
REACH_AS_OTHER_USER = 'for path in "$@"; do if [ -e "$path" ]; then echo "reached $path"; else echo refused; fi; done'


@pytest.fixture
def server():
    root = Path(tempfile.mkdtemp(prefix="cops-pg-security-"))
    server = EmbeddedPostgres(root / "data", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def without_password(server: EmbeddedPostgres, password: str | None = None) -> str:
    return f"host={server.socket_dir} port={server.port} user=postgres dbname=postgres" + (
        f" password={password}" if password else "")


def test_a_connection_without_the_password_is_refused(server):
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(without_password(server))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(without_password(server, "guessed"))
    with psycopg.connect(libpq_url(server.url)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert "trust" not in (server.data_dir / "pg_hba.conf").read_text().split("\n", 1)[1]


def test_socket_and_secrets_are_private(server):
    assert server.socket_dir.stat().st_mode & 0o777 == 0o700
    assert server.data_dir.stat().st_mode & 0o777 == 0o700
    assert server.private_dir.stat().st_mode & 0o007 == 0  # nothing for other users, not even search
    assert server.password_file.stat().st_mode & 0o777 == 0o600
    assert server.password_file.read_text().strip() == server.password and len(server.password) >= 40
    assert server.socket_dir.parent == server.private_dir
    assert Path(tempfile.gettempdir()) != server.socket_dir.parent


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another OS user needs root")
def test_another_local_user_cannot_reach_the_socket(server):
    socket_path = server.socket_dir / f".s.PGSQL.{server.port}"
    assert socket_path.exists()
    attempt = subprocess.run(["/bin/sh", "-c", REACH_AS_OTHER_USER, "sh", str(socket_path),
                              str(server.password_file)], user=NOBODY, group=NOBODY, extra_groups=[],
                             capture_output=True, text=True, timeout=30)
    assert attempt.stdout.split() == ["refused", "refused"], attempt.stdout + attempt.stderr
    # The server's own user passes through the private folder; its group is the only one that may.
    assert server.private_dir.stat().st_gid == server.socket_dir.stat().st_gid
    assert server.socket_dir.owner() == SERVICE_USER


def test_a_cluster_made_with_trust_gets_the_password_on_its_next_start():
    root = Path(tempfile.mkdtemp(prefix="cops-pg-legacy-"))
    try:
        server = EmbeddedPostgres(root / "data", port=free_port())
        # What older versions left behind: a cluster initialised with trust for everyone.
        server._prepare_folders(_service_user())
        subprocess.run([str(_bin_dir() / "initdb"), "-D", str(server.data_dir), "-U", "postgres", "--auth=trust",
                        "--no-instructions"], check=True, capture_output=True, **_as_service_user())
        server.start()
        try:
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(without_password(server))
            with psycopg.connect(libpq_url(server.url)) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _service_user():
    from stack.postgres import _run_as

    return _run_as()


def _as_service_user() -> dict:
    from stack.postgres import _as

    return _as(_service_user())
