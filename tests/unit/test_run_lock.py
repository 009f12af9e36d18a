"""One stack per data folder: a second `make run` on the same .data leaves the first one alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack.run import AlreadyRunning, hold_data_lock, note_in_lock

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_holder_is_refused_and_told_who_runs(tmp_path):
    lock = hold_data_lock(tmp_path)
    note_in_lock(lock, "console http://127.0.0.1:8000/")
    with pytest.raises(AlreadyRunning, match="console http://127.0.0.1:8000/"):
        hold_data_lock(tmp_path)
    lock.close()
    hold_data_lock(tmp_path).close()  # released with its holder


def test_a_second_make_run_exits_without_touching_the_first(tmp_path):
    lock = hold_data_lock(tmp_path)
    note_in_lock(lock, "console http://127.0.0.1:8000/")
    second = subprocess.run([sys.executable, "-m", "stack.run"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={"COMPLIANCE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    lock.close()
    assert second.returncode == 1
    assert "already running" in second.stderr and "http://127.0.0.1:8000/" in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.lock"]  # nothing started, nothing written
