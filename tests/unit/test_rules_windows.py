"""Windows rules judged on recorded inputs: a secedit export with [Privilege Rights], auditpol CSV output and
registry values, as a Windows Server 2022 member server reports them."""

from collections.abc import Sequence

import pytest

from agent.host import parse_security_template
from content import load_builtin_content
from domain.evaluation import CommandNotFound, CommandResult, Evaluation, evaluate

# `secedit /export /cfg x.inf` of a hardened member server, trimmed: well-known principals are written as *SIDs,
# a local user by name.
HARDENED_INF = """\ufeff[Unicode]
Unicode=yes
[System Access]
MinimumPasswordAge = 1
MaximumPasswordAge = 365
LockoutBadCount = 5
NewAdministratorName = "Administrator"
NewGuestName = "Visitor"
ForceLogoffWhenHourExpire = 1
AllowAdministratorLockout = 1
[Privilege Rights]
SeNetworkLogonRight = *S-1-5-32-544,*S-1-5-11
SeInteractiveLogonRight = *S-1-5-32-544
SeRemoteInteractiveLogonRight = *S-1-5-32-555,*S-1-5-32-544
SeBackupPrivilege = *S-1-5-32-544
SeCreateSymbolicLinkPrivilege = *S-1-5-32-544,*S-1-5-83-0
SeImpersonatePrivilege = *S-1-5-19,*S-1-5-20,*S-1-5-32-544,*S-1-5-6
SeDenyNetworkLogonRight = *S-1-5-32-546,*S-1-5-114,backupsvc
SeDenyRemoteInteractiveLogonRight = *S-1-5-32-546,*S-1-5-113
SeDenyInteractiveLogonRight = Guests
SeSystemProfilePrivilege = *S-1-5-32-544,*S-1-5-80-3139157870-2983391045-3678747466-658725712-1809340420
SeIncreaseBasePriorityPrivilege = *S-1-5-32-544,*S-1-5-90-0
SeDebugPrivilege = *S-1-5-32-544,*S-1-5-32-545
[Version]
signature="$CHICAGO$"
Revision=1
"""

# `auditpol /get /subcategory:{GUID} /r` prints a blank line, the CSV header and one row.
AUDITPOL_HEADER = "Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting\n"
GUIDS = {
    "Credential Validation": "{0CCE923F-69AE-11D9-BED3-505054503030}",
    "Account Lockout": "{0CCE9217-69AE-11D9-BED3-505054503030}",
    "Process Creation": "{0CCE922B-69AE-11D9-BED3-505054503030}",
    "Detailed File Share": "{0CCE9244-69AE-11D9-BED3-505054503030}",
    "Audit Policy Change": "{0CCE922F-69AE-11D9-BED3-505054503030}",
}


def auditpol_row(name: str, setting: str) -> CommandResult:
    guid = GUIDS[name]
    return CommandResult(0, f"\r\n{AUDITPOL_HEADER}WS2022-MS01,System,{name},{guid},{setting},\r\n", "")


class RecordedWindows:
    """A HostProbe answering from recorded Windows inputs."""

    os_type = "windows"

    def __init__(self, inf: str = HARDENED_INF, commands: dict[tuple[str, ...], CommandResult] | None = None,
                 registry: dict[tuple[str, str, str], str | int] | None = None, running: bool = True) -> None:
        self.policy = parse_security_template(inf)
        self.commands = commands or {}
        self.registry = registry or {}
        self.running = running
        self.ran: list[tuple[str, ...]] = []

    def read_file(self, path: str) -> None:
        return None

    def stat(self, path: str) -> None:
        return None

    def list_dir(self, path: str) -> None:
        return None

    def read_link(self, path: str) -> None:
        return None

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.ran.append(tuple(argv))
        if tuple(argv) not in self.commands:
            raise CommandNotFound(argv[0])
        return self.commands[tuple(argv)]

    def which(self, name: str) -> bool:
        return any(argv[0] == name for argv in self.commands)

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None:
        return self.registry.get((hive, key, value_name))

    def security_policy(self) -> dict[str, dict[str, str]]:
        return self.policy


def right(name: str, expect: str, principals: list[str], **extra: object) -> dict:
    return {"type": "windows_user_right", "right": name, "expect": expect, "principals": principals, **extra}


# windows_user_right


def test_exactly_passes_on_the_same_set_in_any_order_and_notation() -> None:
    host = RecordedWindows()
    rule = right("SeRemoteInteractiveLogonRight", "exactly", ["Administrators", "Remote Desktop Users"])
    assert evaluate(rule, host) == Evaluation(
        "pass", "SeRemoteInteractiveLogonRight: Administrators, Remote Desktop Users")
    by_sid = right("SeNetworkLogonRight", "exactly", ["S-1-5-11", "BUILTIN\\Administrators"])
    assert evaluate(by_sid, host).status == "pass"


def test_exactly_fails_on_an_extra_principal_and_names_it() -> None:
    result = evaluate(right("SeDebugPrivilege", "exactly", ["Administrators"]), RecordedWindows())
    assert result == Evaluation("fail", "SeDebugPrivilege: Administrators, Users (not allowed Users)")


def test_exactly_fails_when_a_required_principal_is_missing() -> None:
    rule = right("SeImpersonatePrivilege", "exactly", ["Administrators", "LOCAL SERVICE", "NETWORK SERVICE"])
    assert evaluate(rule, RecordedWindows()).status == "fail"  # SERVICE is not allowed
    rule = right("SeBackupPrivilege", "exactly", ["Administrators", "Backup Operators"])
    result = evaluate(rule, RecordedWindows())
    assert result.status == "fail" and "missing Backup Operators" in result.actual


def test_optional_principals_may_hold_the_right_but_need_not() -> None:
    hyper_v = right("SeCreateSymbolicLinkPrivilege", "exactly", ["Administrators"],
                    optional=["NT VIRTUAL MACHINE\\Virtual Machines"])
    assert evaluate(hyper_v, RecordedWindows()).status == "pass"
    iis = right("SeImpersonatePrivilege", "exactly", ["Administrators", "LOCAL SERVICE", "NETWORK SERVICE", "SERVICE"],
                optional=["IIS_IUSRS"])
    assert evaluate(iis, RecordedWindows()).status == "pass"
    assert evaluate(right("SeCreateSymbolicLinkPrivilege", "exactly", ["Administrators"]),
                    RecordedWindows()).status == "fail"


def test_no_one_passes_when_the_right_is_absent_from_the_export() -> None:
    host = RecordedWindows()
    assert evaluate(right("SeTcbPrivilege", "exactly", []), host) == Evaluation("pass", "SeTcbPrivilege: no one")
    granted = RecordedWindows(HARDENED_INF.replace("[Version]", "SeTcbPrivilege = *S-1-5-32-544\n[Version]"))
    result = evaluate(right("SeTcbPrivilege", "exactly", []), granted)
    assert result == Evaluation("fail", "SeTcbPrivilege: Administrators (not allowed Administrators)")


def test_an_empty_assignment_is_no_one() -> None:
    host = RecordedWindows(HARDENED_INF.replace("[Version]", "SeLockMemoryPrivilege = \n[Version]"))
    assert evaluate(right("SeLockMemoryPrivilege", "exactly", []), host).status == "pass"


def test_includes_accepts_more_principals_and_local_names() -> None:
    host = RecordedWindows()
    deny_network = right("SeDenyNetworkLogonRight", "includes",
                         ["Guests", "Local account and member of Administrators group"])
    result = evaluate(deny_network, host)
    assert result.status == "pass" and "backupsvc" in result.actual
    assert evaluate(right("SeDenyInteractiveLogonRight", "includes", ["Guests"]), host).status == "pass"


def test_includes_fails_without_the_required_principal() -> None:
    host = RecordedWindows()
    result = evaluate(right("SeDenyBatchLogonRight", "includes", ["Guests"]), host)
    assert result == Evaluation("fail", "SeDenyBatchLogonRight: no one (missing Guests)")
    rdp = right("SeDenyRemoteInteractiveLogonRight", "includes", ["Guests", "Local account", "Everyone"])
    assert evaluate(rdp, host).actual.endswith("(missing Everyone)")


def test_excludes_fails_on_a_forbidden_principal() -> None:
    host = RecordedWindows()
    assert evaluate(right("SeNetworkLogonRight", "excludes", ["Everyone", "Guests"]), host).status == "pass"
    result = evaluate(right("SeDebugPrivilege", "excludes", ["Users"]), host)
    assert result == Evaluation("fail", "SeDebugPrivilege: Administrators, Users (must not include Users)")


def test_service_sids_and_window_manager_are_recognised() -> None:
    host = RecordedWindows()
    profile = right("SeSystemProfilePrivilege", "exactly", ["Administrators", "NT SERVICE\\WdiServiceHost"])
    assert evaluate(profile, host).status == "pass"
    priority = right("SeIncreaseBasePriorityPrivilege", "exactly",
                     ["Administrators", "Window Manager\\Window Manager Group"])
    assert evaluate(priority, host).status == "pass"


@pytest.mark.parametrize(("rule", "message"), [
    (right("SeTcbPrivilege", "exactly", ["Administratorz"]), "unknown principal 'Administratorz'"),
    (right("SeDenyBatchLogonRight", "includes", []), "needs at least one principal"),
    (right("SeDenyBatchLogonRight", "includes", ["Guests"], optional=["Users"]), "optional principals"),
    (right("NetworkLogon", "exactly", []), "right"),
])
def test_malformed_user_right_rules_are_errors(rule: dict, message: str) -> None:
    result = evaluate(rule, RecordedWindows())
    assert result.status == "error" and message in result.actual


def test_user_rights_skip_off_windows() -> None:
    host = RecordedWindows()
    host.os_type = "linux"
    assert evaluate(right("SeTcbPrivilege", "exactly", []), host) == Evaluation("skip", "not applicable on linux")


# windows_audit_policy


def audit(name: str, *flags: str) -> dict:
    return {"type": "windows_audit_policy", "subcategory": GUIDS[name], "includes": list(flags)}


def auditpol_host(name: str, setting: str) -> RecordedWindows:
    argv = ("auditpol", "/get", f"/subcategory:{GUIDS[name]}", "/r")
    return RecordedWindows(commands={argv: auditpol_row(name, setting)})


def test_success_and_failure_passes_both_and_either() -> None:
    host = auditpol_host("Credential Validation", "Success and Failure")
    assert evaluate(audit("Credential Validation", "success", "failure"), host) == Evaluation(
        "pass", "Credential Validation: Success and Failure")
    assert evaluate(audit("Credential Validation", "failure"), host).status == "pass"


def test_success_only_fails_a_success_and_failure_requirement() -> None:
    host = auditpol_host("Credential Validation", "Success")
    result = evaluate(audit("Credential Validation", "success", "failure"), host)
    assert result == Evaluation("fail", "Credential Validation: Success, expected to include Failure")


def test_include_success_passes_on_success_and_failure() -> None:
    assert evaluate(audit("Process Creation", "success"),
                    auditpol_host("Process Creation", "Success and Failure")).status == "pass"
    assert evaluate(audit("Process Creation", "success"), auditpol_host("Process Creation", "Failure")).status == "fail"


def test_no_auditing_fails() -> None:
    result = evaluate(audit("Account Lockout", "failure"), auditpol_host("Account Lockout", "No Auditing"))
    assert result == Evaluation("fail", "Account Lockout: No Auditing, expected to include Failure")


def test_the_row_is_found_by_guid_whatever_the_case() -> None:
    argv = ("auditpol", "/get", "/subcategory:{0cce9244-69ae-11d9-bed3-505054503030}", "/r")
    host = RecordedWindows(commands={argv: auditpol_row("Detailed File Share", "Failure")})
    rule = {"type": "windows_audit_policy", "subcategory": "{0cce9244-69ae-11d9-bed3-505054503030}",
            "includes": ["failure"]}
    assert evaluate(rule, host).status == "pass"


def test_auditpol_refusal_is_an_error_not_a_failure() -> None:
    argv = ("auditpol", "/get", f"/subcategory:{GUIDS['Account Lockout']}", "/r")
    refused = CommandResult(1, "Error 0x00000522 occurred:\r\nA required privilege is not held by the client.\r\n", "")
    result = evaluate(audit("Account Lockout", "failure"), RecordedWindows(commands={argv: refused}))
    assert result == Evaluation("error", "auditpol exit 1: Error 0x00000522 occurred:")
    assert evaluate(audit("Account Lockout", "failure"), RecordedWindows()) == Evaluation(
        "error", "auditpol not available")


def test_audit_policy_needs_the_running_system() -> None:
    result = evaluate(audit("Account Lockout", "failure"), RecordedWindows(running=False))
    assert result.status == "skip" and "running system" in result.actual


def test_audit_policy_rule_needs_a_guid_and_a_flag() -> None:
    host = RecordedWindows()
    named = {"type": "windows_audit_policy", "subcategory": "Credential Validation", "includes": ["success"]}
    assert evaluate(named, host).status == "error"
    assert evaluate({**audit("Account Lockout"), "includes": []}, host).status == "error"


# registry values and security-policy settings the new content relies on

LSA = r"SYSTEM\CurrentControlSet\Control\Lsa"
WINREG = r"SYSTEM\CurrentControlSet\Control\SecurePipeServers\Winreg\AllowedExactPaths"


def test_registry_subset_accepts_fewer_paths_but_not_others() -> None:
    allowed = [r"System\CurrentControlSet\Control\ProductOptions",
               r"System\CurrentControlSet\Control\Server Applications",
               r"Software\Microsoft\Windows NT\CurrentVersion"]
    rule = {"type": "windows_registry", "hive": "HKLM", "key": WINREG, "value_name": "Machine",
            "expected": allowed, "op": "subset"}
    exact = RecordedWindows(registry={("HKLM", WINREG, "Machine"): ",".join(allowed)})
    assert evaluate(rule, exact).status == "pass"
    fewer = RecordedWindows(registry={("HKLM", WINREG, "Machine"): allowed[0]})
    assert evaluate(rule, fewer).status == "pass"
    extra = RecordedWindows(registry={("HKLM", WINREG, "Machine"): ",".join([*allowed, r"Software\Secrets"])})
    assert evaluate(rule, extra).status == "fail"


def test_between_rejects_zero_and_an_undefined_setting() -> None:
    rule = {"type": "windows_security_policy", "section": "System Access", "setting": "MaximumPasswordAge",
            "expected": [1, 365], "op": "between"}
    assert evaluate(rule, RecordedWindows()).status == "pass"
    never = RecordedWindows(HARDENED_INF.replace("MaximumPasswordAge = 365", "MaximumPasswordAge = 0"))
    assert evaluate(rule, never).status == "fail"
    unset = RecordedWindows(HARDENED_INF.replace("MaximumPasswordAge = 365\n", ""))
    assert evaluate(rule, unset) == Evaluation("fail", "MaximumPasswordAge not defined")


def test_renamed_account_checks_read_the_quoted_name() -> None:
    rule = {"type": "windows_security_policy", "section": "System Access", "setting": "NewAdministratorName",
            "expected": "Administrator", "op": "ne"}
    assert evaluate(rule, RecordedWindows()).status == "fail"
    assert evaluate({**rule, "setting": "NewGuestName", "expected": "Guest"}, RecordedWindows()).status == "pass"


# the built-in Windows checks on recorded inputs

CONTENT = load_builtin_content()


def windows_check(rule_id: str, template: str = "cis-windows-l2"):
    return next(check for check in CONTENT.template(template).checks if check.rule_id == rule_id)


def test_content_user_rights_judge_the_recorded_export() -> None:
    host = RecordedWindows()
    verdicts = {rule_id: evaluate(windows_check(rule_id).rule, host).status
                for rule_id in ("2.2.1", "2.2.3", "2.2.8", "2.2.10", "2.2.11", "2.2.19", "2.2.20", "2.2.22",
                                "2.2.23", "2.2.25", "2.2.27", "2.2.33", "2.2.34", "2.2.44")}
    assert verdicts == {"2.2.1": "pass", "2.2.3": "pass", "2.2.8": "pass", "2.2.10": "pass", "2.2.11": "pass",
                        "2.2.19": "pass", "2.2.20": "fail", "2.2.22": "pass", "2.2.23": "fail", "2.2.25": "pass",
                        "2.2.27": "pass", "2.2.33": "pass", "2.2.34": "pass", "2.2.44": "pass"}


def test_content_audit_checks_use_auditpol_by_guid() -> None:
    check = windows_check("17.1.1")
    assert check.rule == {"type": "windows_audit_policy", "subcategory": GUIDS["Credential Validation"],
                          "includes": ["success", "failure"]}
    assert evaluate(check.rule, auditpol_host("Credential Validation", "Success")).status == "fail"
    assert evaluate(windows_check("17.6.1").rule, auditpol_host("Detailed File Share", "Failure")).status == "pass"


def test_content_ranges_that_exclude_zero() -> None:
    host = RecordedWindows(HARDENED_INF.replace("LockoutBadCount = 5", "LockoutBadCount = 0"))
    assert evaluate(windows_check("1.2.2").rule, host).status == "fail"
    assert evaluate(windows_check("1.2.2").rule, RecordedWindows()).status == "pass"
    netlogon = r"SYSTEM\CurrentControlSet\Services\Netlogon\Parameters"
    for days, status in ((30, "pass"), (0, "fail"), (31, "fail")):
        host = RecordedWindows(registry={("HKLM", netlogon, "MaximumPasswordAge"): days})
        assert evaluate(windows_check("2.3.6.5").rule, host).status == status, days


def test_stig_audit_checks_judge_one_flag_each() -> None:
    success = windows_check("V-254319", "stig-windows").rule
    failure = windows_check("V-254320", "stig-windows").rule
    host = auditpol_host("Audit Policy Change", "Success")
    assert evaluate(success, host).status == "pass"
    assert evaluate(failure, host).status == "fail"


def test_stig_user_rights_reuse_the_cis_rules() -> None:
    for vid, cid in (("V-254500", "2.2.20"), ("V-254434", "2.2.3"), ("V-254492", "2.2.4")):
        assert windows_check(vid, "stig-windows").rule == windows_check(cid).rule
    assert evaluate(windows_check("V-254500", "stig-windows").rule, RecordedWindows()).status == "fail"
