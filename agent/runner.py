"""Runs the jobs an agent receives: compliance checks through the rule evaluators, remediation scripts."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import tempfile

from domain.evaluation import HostProbe, evaluate_checks

log = logging.getLogger("agent")
MAX_OUTPUT = 64 * 1024
SHELLS = {"bash": ["bash"], "sh": ["sh"], "powershell": ["powershell", "-NoProfile", "-NonInteractive", "-File"]}


async def run_compliance_check(payload: dict, host: HostProbe) -> dict:
    checks = payload.get("checks") or []
    results = await asyncio.to_thread(evaluate_checks, checks, host)
    return {"results": results}


def _run_script(script: dict) -> dict:
    body = script["body"]
    if hashlib.sha256(body.encode()).hexdigest() != script.get("sha256"):
        return {"status": "failed", "exit_code": None, "output": "refused: script body does not match its SHA-256"}
    argv = SHELLS.get(script.get("shell", ""))
    if argv is None:
        return {"status": "failed", "exit_code": None, "output": f"unsupported shell {script.get('shell')!r}"}
    suffix = ".ps1" if script["shell"] == "powershell" else ".sh"
    fd, path = tempfile.mkstemp(prefix="remediation-", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
        completed = subprocess.run([*argv, path], capture_output=True, timeout=script.get("timeout_seconds", 300),
                                   check=False)
        output = (completed.stdout + completed.stderr)[:MAX_OUTPUT].decode("utf-8", "replace")
        status = "success" if completed.returncode == 0 else "failed"
        return {"status": status, "exit_code": completed.returncode, "output": output}
    except subprocess.TimeoutExpired as err:
        output = ((err.stdout or b"") + (err.stderr or b""))[:MAX_OUTPUT].decode("utf-8", "replace")
        return {"status": "failed", "exit_code": None, "output": f"timed out\n{output}"}
    except OSError as err:
        return {"status": "failed", "exit_code": None, "output": f"could not run the script: {err}"}
    finally:
        os.unlink(path)


async def run_remediation(payload: dict) -> dict:
    script = payload.get("script") or {}
    if not script.get("body"):
        return {"status": "failed", "exit_code": None, "output": "job carries no script"}
    return await asyncio.to_thread(_run_script, script)


async def run_job(job: dict, host: HostProbe) -> dict:
    """Never raises: a job the agent cannot run still gets an answer."""
    try:
        if job["kind"] == "compliance_check":
            return await run_compliance_check(job["payload"], host)
        if job["kind"] == "remediation":
            return await run_remediation(job["payload"])
        return {"status": "failed", "exit_code": None, "output": f"unknown job kind {job['kind']!r}"}
    except Exception as exc:  # a malformed job must not take the agent down
        log.exception("job %s failed", job.get("id"))
        if job.get("kind") == "compliance_check":
            checks = (job.get("payload") or {}).get("checks") or []
            return {"results": [{"check_id": c.get("check_id"), "status": "error", "actual": f"agent error: {exc}"}
                                for c in checks if isinstance(c, dict) and c.get("check_id")]}
        return {"status": "failed", "exit_code": None, "output": f"agent error: {exc}"}
