"""Windows user rights (the secedit [Privilege Rights] section) and advanced audit policy (auditpol), judged from
what the host recorded; standard library only, like every evaluator the agent runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from domain.probe import CommandNotFound, HostProbe
from domain.verdicts import Evaluation, first_line, not_applicable, offline

AUDITPOL_TIMEOUT_SECONDS = 30

# Principals the benchmarks name, by the names secedit, the Group Policy editor and the benchmarks use; secedit
# exports well-known principals as `*SID`, but may write a name where it resolved one.
_SIDS_BY_NAME: dict[str, str] = {
    "administrators": "S-1-5-32-544",
    "users": "S-1-5-32-545",
    "guests": "S-1-5-32-546",
    "backup operators": "S-1-5-32-551",
    "remote desktop users": "S-1-5-32-555",
    "iis_iusrs": "S-1-5-32-568",
    "everyone": "S-1-1-0",
    "service": "S-1-5-6",
    "enterprise domain controllers": "S-1-5-9",
    "authenticated users": "S-1-5-11",
    "local service": "S-1-5-19",
    "network service": "S-1-5-20",
    "local account": "S-1-5-113",
    "local account and member of administrators group": "S-1-5-114",
    "virtual machines": "S-1-5-83-0",
    "window manager group": "S-1-5-90-0",
    "wdiservicehost": "S-1-5-80-3139157870-2983391045-3678747466-658725712-1809340420",
}
_DOMAINS = ("builtin\\", "nt authority\\", "nt virtual machine\\", "window manager\\", "nt service\\")
_NAMES_BY_SID: dict[str, str] = {
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-545": "Users",
    "S-1-5-32-546": "Guests",
    "S-1-5-32-551": "Backup Operators",
    "S-1-5-32-555": "Remote Desktop Users",
    "S-1-5-32-568": "IIS_IUSRS",
    "S-1-1-0": "Everyone",
    "S-1-5-6": "SERVICE",
    "S-1-5-9": "ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-19": "LOCAL SERVICE",
    "S-1-5-20": "NETWORK SERVICE",
    "S-1-5-113": "Local account",
    "S-1-5-114": "Local account and member of Administrators group",
    "S-1-5-83-0": "NT VIRTUAL MACHINE\\Virtual Machines",
    "S-1-5-90-0": "Window Manager\\Window Manager Group",
    "S-1-5-80-3139157870-2983391045-3678747466-658725712-1809340420": "NT SERVICE\\WdiServiceHost",
}


def principal_id(name: str) -> str | None:
    """The SID a principal stands for (`*S-1-5-32-544`, `S-1-5-32-544`, `Administrators`, `BUILTIN\\Administrators`
    all give S-1-5-32-544); None for a name that is not a well-known principal."""
    text = name.strip().lstrip("*").strip()
    if text[:2].upper() == "S-" and all(part.isdigit() for part in text[2:].split("-")) and text[2:]:
        return text.upper()
    folded = text.casefold()
    for domain in _DOMAINS:
        if folded.startswith(domain):
            folded = folded[len(domain):]
            break
    return _SIDS_BY_NAME.get(folded)


def _assigned(value: str) -> set[str]:
    """The principals a [Privilege Rights] value assigns: SIDs where known, else the name as written (folded)."""
    items = (item.strip() for item in value.split(","))
    return {principal_id(item) or item.lstrip("*").casefold() for item in items if item.strip().lstrip("*")}


def _shown(principals: set[str]) -> str:
    return ", ".join(sorted(_NAMES_BY_SID.get(item, item) for item in principals)) or "no one"


def windows_user_right(rule: Any, host: HostProbe) -> Evaluation:
    """A user right judged as a set of principals: `exactly` these (plus any of `optional`), `includes` every one
    of them, or `excludes` all of them. A right absent from the export is assigned to no one."""
    if host.os_type != "windows":
        return not_applicable(host)
    section = next((v for k, v in host.security_policy().items() if k.casefold() == "privilege rights"), {})
    value = next((v for k, v in section.items() if k.casefold() == rule.right.casefold()), "")
    current = _assigned(value)
    wanted = {principal_id(item) or item.casefold() for item in rule.principals}
    allowed = wanted | {principal_id(item) or item.casefold() for item in rule.optional or []}
    problems = []
    if rule.expect in ("exactly", "includes") and wanted - current:
        problems.append(f"missing {_shown(wanted - current)}")
    if rule.expect == "exactly" and current - allowed:
        problems.append(f"not allowed {_shown(current - allowed)}")
    if rule.expect == "excludes" and current & wanted:
        problems.append(f"must not include {_shown(current & wanted)}")
    seen = f"{rule.right}: {_shown(current)}"
    return Evaluation("fail", f"{seen} ({'; '.join(problems)})") if problems else Evaluation("pass", seen)


def audit_flags(setting: str) -> set[str]:
    """`Success and Failure` -> {success, failure}; `No Auditing` -> nothing."""
    folded = setting.casefold()
    return {flag for flag in ("success", "failure") if flag in folded}


def windows_audit_policy(rule: Any, host: HostProbe) -> Evaluation:
    """One advanced audit subcategory, named by its GUID so the lookup works in any display language, from
    `auditpol /get /subcategory:{GUID} /r` (CSV: machine, target, subcategory, GUID, inclusion, exclusion)."""
    if host.os_type != "windows":
        return not_applicable(host)
    if not host.running:
        return offline("reading the audit policy")
    try:
        result = host.run(["auditpol", "/get", f"/subcategory:{rule.subcategory}", "/r"], AUDITPOL_TIMEOUT_SECONDS)
    except CommandNotFound:
        return Evaluation("error", "auditpol not available")
    if result.exit_code != 0:
        reason = first_line(result.stdout) or first_line(result.stderr) or "no output"
        return Evaluation("error", f"auditpol exit {result.exit_code}: {reason}")
    row = next((fields for fields in csv.reader(io.StringIO(result.stdout))
                if len(fields) >= 5 and fields[3].strip().casefold() == rule.subcategory.casefold()), None)
    if row is None:
        return Evaluation("error", f"auditpol did not report subcategory {rule.subcategory}")
    name, setting = row[2].strip(), row[4].strip()
    missing = [flag for flag in rule.includes if flag not in audit_flags(setting)]
    seen = f"{name}: {setting or 'No Auditing'}"
    if missing:
        return Evaluation("fail", f"{seen}, expected to include {' and '.join(flag.title() for flag in missing)}")
    return Evaluation("pass", seen)


WINDOWS_EVALUATORS: dict[str, Callable[[Any, HostProbe], Evaluation]] = {
    "windows_user_right": windows_user_right,
    "windows_audit_policy": windows_audit_policy,
}
