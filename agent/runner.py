"""Runs the jobs an agent receives: compliance checks through the rule evaluators, remediation scripts."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import tempfile

from agent.inventory import collect as collect_inventory
from agent.patching import install as install_patches
from agent.pinning import refusal
from domain.evaluation import HostProbe, evaluate_checks
from domain.redaction import redact_file_actual, scrub

log = logging.getLogger("agent")
MAX_OUTPUT = 64 * 1024
SHELLS = {"bash": ["bash"], "sh": ["sh"], "powershell": ["powershell", "-NoProfile", "-NonInteractive", "-File"]}


def evaluate_job_checks(checks: list, host: HostProbe, allow_custom_commands: bool) -> list[dict]:
    """Commands outside the built-in content are refused (an `error` result) unless this host allows them; a
    file rule on a sensitive file reports only the judged field, and no result carries a hash or private key."""
    results: list[dict | None] = [None] * len(checks)
    runnable: list[tuple[int, dict]] = []
    for index, check in enumerate(checks):
        rule = check.get("rule") if isinstance(check, dict) else None
        check_id = check.get("check_id") if isinstance(check, dict) else None
        if (reason := refusal(rule, allow_custom_commands)) is not None:
            results[index] = {"check_id": check_id, "status": "error", "actual": reason}
        else:
            runnable.append((index, check))
    for (index, check), result in zip(runnable, evaluate_checks([c for _, c in runnable], host), strict=True):
        rule = check.get("rule") if isinstance(check, dict) else None
        if isinstance(rule, dict) and rule.get("type") == "file_regex" and isinstance(rule.get("path"), str):
            names = (rule["path"], os.path.realpath(rule["path"]))
            result["actual"] = redact_file_actual(names, result["actual"])
        result["actual"] = scrub(result["actual"])
        results[index] = result
    return results


async def run_compliance_check(payload: dict, host: HostProbe, allow_custom_commands: bool = False) -> dict:
    checks = payload.get("checks") or []
    return {"results": await asyncio.to_thread(evaluate_job_checks, checks, host, allow_custom_commands)}


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


async def run_job(job: dict, host: HostProbe, allow_custom_commands: bool = False) -> dict:
    """Never raises: a job the agent cannot run still gets an answer."""
    try:
        if job["kind"] == "compliance_check":
            return await run_compliance_check(job["payload"], host, allow_custom_commands)
        if job["kind"] == "remediation":
            return await run_remediation(job["payload"])
        if job["kind"] == "inventory":
            return await asyncio.to_thread(collect_inventory)
        if job["kind"] == "patch_install":
            return await asyncio.to_thread(install_patches, job["payload"])
        return {"status": "failed", "exit_code": None, "output": f"unknown job kind {job['kind']!r}"}
    except Exception as exc:  # a malformed job must not take the agent down
        log.exception("job %s failed", job.get("id"))
        if job.get("kind") == "compliance_check":
            checks = (job.get("payload") or {}).get("checks") or []
            return {"results": [{"check_id": c.get("check_id"), "status": "error", "actual": f"agent error: {exc}"}
                                for c in checks if isinstance(c, dict) and c.get("check_id")]}
        if job.get("kind") == "inventory":
            return {"status": "unsupported", "reason": f"agent error: {exc}"}
        return {"status": "failed", "exit_code": None, "output": f"agent error: {exc}"}
