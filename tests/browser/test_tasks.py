"""Compliance tasks done from the console against the real stack: templates, policies, scans, fixes, exceptions,
reports, RBAC and a list that fails to load."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import Account, ConsoleStack, scan_all, wait_until
from tests.browser.console import axe_violations, choose_org, open_tab, screenshot, sign_in, toast


def test_copy_edit_publish_then_new_version_of_a_template(page: Page, console_stack: ConsoleStack):
    name = f"Hardened web servers {uuid.uuid4().hex[:4]}"
    sign_in(page, console_stack.operator)
    open_tab(page, "Templates")
    page.get_by_role("button", name="Copy CIS Ubuntu Linux 22.04 LTS - Level 1 Server v1").click()
    dialog = page.get_by_role("dialog", name=re.compile("Copy"))
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Copy template").click()
    toast(page, f'Copied as draft "{name}"')

    editor = page.get_by_role("dialog", name="Template")
    expect(editor.get_by_label("Name", exact=True)).to_have_value(name)
    assert axe_violations(page) == []
    editor.get_by_label("Scan Interval (hours)").fill("72")
    first_rule = editor.get_by_role("table", name="Checks").get_by_role("row").nth(1).get_by_role("cell").nth(1)
    rule_id = first_rule.inner_text()
    editor.get_by_role("switch", name=f"Enabled {rule_id}").evaluate("input => input.click()")
    toast(page, f"{rule_id} disabled")
    editor.get_by_role("checkbox", name="Select all checks").evaluate("input => input.click()")
    editor.get_by_role("button", name="Disable selected").click()
    toast(page, re.compile(r"\d+ checks disabled"))
    expect(editor.get_by_role("button", name="Enable selected")).to_be_disabled()
    editor.get_by_role("checkbox", name=f"Select {rule_id}").evaluate("input => input.click()")
    editor.get_by_role("button", name="Enable selected").click()
    toast(page, "1 check enabled")
    editor.get_by_role("button", name="Add check").click()
    editor.get_by_label("Rule id").fill("LOCAL-1")
    editor.get_by_label("Check title").fill("Local banner is present")
    editor.get_by_role("button", name="Add", exact=True).click()
    toast(page, "LOCAL-1 added")
    expect(editor.get_by_role("table", name="Checks")).to_contain_text("Local banner is present")
    screenshot(page, "template-editor")

    editor.get_by_role("button", name="Publish").click()
    toast(page, f"{name} v1 published")
    expect(editor.get_by_text("Published templates are immutable")).to_be_visible()
    editor.get_by_role("button", name="New Version").click()
    toast(page, "Draft version 2 created")
    expect(editor).to_contain_text(f"{name} v2")
    expect(editor.get_by_role("button", name="Publish")).to_be_visible()
    editor.get_by_role("button", name="Close", exact=True).click()

    own = page.get_by_role("table", name="Organization templates")
    expect(own.get_by_role("row").filter(has_text=name)).to_have_count(2)
    published = own.get_by_role("row").filter(has_text=name).filter(has_text="v1")
    expect(published).to_contain_text("published")
    api = console_stack.client(console_stack.operator)
    (v1,) = [t for t in api.get("/compliance/templates", params={"org_id": console_stack.org_id}).json()
             if t["name"] == name and t["version"] == 1]
    assert v1["status"] == "published" and v1["scan_interval_hours"] == 72
    checks = api.get(f"/compliance/templates/{v1['id']}").json()["checks"]
    assert [c["enabled"] for c in checks if c["rule_id"] in (rule_id, "LOCAL-1")] == [True, True]
    assert sum(c["enabled"] for c in checks) == 2

    page.on("dialog", lambda dialog: dialog.accept())
    own.get_by_role("button", name=f"Delete {name} v2").click()
    toast(page, f"Template {name} v2 deleted")
    expect(own.get_by_role("row").filter(has_text=name)).to_have_count(1)


def test_create_a_policy_with_an_override_found_by_typing(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    choose_org(page, "Branch Office")
    open_tab(page, "Policies")
    page.get_by_role("button", name="Create policy").click()
    form = page.get_by_role("dialog", name="Create policy")
    expect(form.get_by_label("Policy name")).to_be_visible()
    assert axe_violations(page) == []
    form.get_by_label("Policy name").fill("Branch Linux")
    form.get_by_role("textbox", name="Template", exact=True).click()
    page.get_by_role("option", name="CIS Ubuntu Linux 22.04 LTS - Level 2 Server v1 (system)").click()
    form.get_by_label("Batch size").fill("50")
    form.get_by_text("Manual", exact=True).click()
    form.get_by_label("Auto-remediate critical").evaluate("input => input.click()")
    form.get_by_role("button", name="Create policy").click()
    toast(page, "Policy Branch Linux created")

    policies = page.get_by_role("table", name="Policies")
    row = policies.get_by_role("row").filter(has_text="Branch Linux")
    expect(row).to_contain_text("manual")
    expect(row).to_contain_text("critical")
    row.get_by_role("button", name="Expand Branch Linux").click()
    expect(page.get_by_text("No host override")).to_be_visible()
    host = page.get_by_role("textbox", name="Override host")
    host.click()
    host.press_sequentially("branch-00001", delay=40)
    page.get_by_role("option", name=re.compile(r"^branch-00001")).click()
    page.get_by_role("textbox", name="Override template").click()
    page.get_by_role("option", name="CIS Ubuntu Linux 22.04 LTS - Level 1 Server v1").click()
    page.get_by_role("button", name="Add override").click()
    toast(page, "Override added for branch-00001")
    overrides = page.get_by_role("table", name="Host overrides")
    expect(overrides).to_contain_text("branch-00001")
    expect(overrides).to_contain_text("CIS Ubuntu Linux 22.04 LTS - Level 1 Server v1")
    screenshot(page, "policy-overrides")

    overrides.get_by_role("button", name="Delete override for branch-00001").click()
    toast(page, "Override deleted")
    expect(page.get_by_text("No host override")).to_be_visible()

    row.get_by_role("button", name="Edit policy Branch Linux").click()
    edit = page.get_by_role("dialog", name="Edit policy")
    edit.get_by_role("textbox", name="Template version").click()
    page.get_by_role("option", name="Pinned to v1").click()
    edit.get_by_role("button", name="Save policy").click()
    toast(page, "Policy Branch Linux saved")
    expect(row).to_contain_text("pinned v1")


def test_scan_a_host_then_open_its_result(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    open_tab(page, "Policies")
    page.get_by_role("button", name="Expand Linux baseline").click()
    host = page.get_by_role("textbox", name="Host to scan")
    host.click()
    host.press_sequentially("web-00003", delay=40)
    page.get_by_role("option", name=re.compile(r"^web-00003")).click()
    page.get_by_role("button", name="Scan now").click()
    toast(page, re.compile(r"Scan (queued|running|completed)"))

    open_tab(page, "Scan History")
    page.get_by_role("textbox", name="Scan type").click()
    page.get_by_role("option", name="on demand").click()
    scans = page.get_by_role("table", name="Scans")
    newest = scans.get_by_role("row").filter(has_text="web-00003").first
    expect(newest).to_contain_text("completed", timeout=60_000)
    newest.get_by_role("button", name=re.compile("Open scan of web-00003")).click()
    detail = page.get_by_role("dialog", name="Scan detail")
    results = detail.get_by_role("table", name="Check results")
    expect(results.get_by_role("row").filter(has_text="fail").first).to_be_visible()
    assert axe_violations(page) == []
    expect(detail.get_by_role("link", name="Scan workflow in Temporal UI")).to_have_attribute(
        "href", re.compile(re.escape(console_stack.temporal_ui) + r"/namespaces/default/workflows/scan-"))
    screenshot(page, "scan-detail")


def test_apply_fix_opens_a_change_record_that_a_second_user_approves(page: Page, browser, console_stack):
    sign_in(page, console_stack.operator)
    open_tab(page, "Host Compliance")
    page.get_by_role("button", name="Open latest scan of web-00001").click()
    detail = page.get_by_role("dialog", name="Latest scan of web-00001")
    fix = detail.get_by_role("button", name=re.compile(r"^Apply Fix for ")).first
    rule_id = fix.get_attribute("aria-label").removeprefix("Apply Fix for ")
    fix.click()
    toast(page, re.compile("Fix requested: change record .* waits for approval"))
    fixed_row = detail.get_by_role("table", name="Check results").get_by_role("row").filter(
        has=page.get_by_role("cell", name=rule_id, exact=True))
    expect(fixed_row).to_contain_text("pending approval")
    expect(detail.get_by_role("link", name="Remediation workflow in Temporal UI").first).to_have_attribute(
        "href", re.compile(r"/workflows/remediation-"))

    page.keyboard.press("Escape")
    page.get_by_role("button", name="Approvals").click()
    pending = page.get_by_role("table", name="Pending change records")
    expect(pending).to_contain_text("you requested it: another user decides")

    approver = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=console_stack.url).new_page()
    sign_in(approver, console_stack.approver)
    approver.get_by_role("button", name="Approvals").click()
    change = approver.get_by_role("table", name="Pending change records").get_by_role("row").filter(
        has_text="web-00001")
    expect(change).to_be_visible()
    screenshot(approver, "approvals")
    change.get_by_role("button", name=re.compile("^Approve change")).click()
    toast(approver, re.compile("Change .* approved"))
    api = console_stack.client(console_stack.approver)
    changes = api.get("/changes", params={"org_id": console_stack.org_id}).json()
    assert any(c["status"] != "pending_approval" and c["decided_by"] == console_stack.approver.id for c in changes)
    approver.context.close()


def test_exception_approved_by_a_second_user_changes_the_score(page: Page, browser, console_stack: ConsoleStack):
    api = console_stack.client(console_stack.operator)
    before = api.get("/compliance/dashboard", params={"org_id": console_stack.org_id}).json()
    failing = before["top_failing_checks"][0]

    sign_in(page, console_stack.operator)
    expect(page.get_by_label("Average score")).to_contain_text(f"{before['average_score']:.1f}%")
    open_tab(page, "Exceptions")
    page.get_by_role("button", name="Create exception").click()
    form = page.get_by_role("dialog", name="Create exception")
    expect(form.get_by_label("Rule id")).to_be_visible()
    assert axe_violations(page) == []
    form.get_by_label("Rule id").fill(failing["rule_id"])
    form.get_by_text("Whole organization").click()
    reason = f"Accepted risk {uuid.uuid4().hex[:6]}: compensating control in the network layer"
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Request exception").click()
    toast(page, f"Exception for {failing['rule_id']} created")
    row = page.get_by_role("table", name="Exceptions").get_by_role("row").filter(has_text=reason)
    expect(row).to_contain_text("pending approval")
    expect(row).to_contain_text("Whole organization")
    expect(row).to_contain_text("awaiting another approver")

    approver = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=console_stack.url).new_page()
    sign_in(approver, console_stack.approver)
    approver.get_by_role("button", name="Approvals").click()
    approver.get_by_role("button", name=f"Approve exception for {failing['rule_id']}").click()
    toast(approver, f"Exception for {failing['rule_id']} approved")
    approver.context.close()

    scan_all(api, console_stack.policy_id, console_stack.host_ids)
    after = wait_until(lambda: (d := api.get("/compliance/dashboard", params={"org_id": console_stack.org_id}).json())
                       ["average_score"] != before["average_score"] and d, 30, "score changed")
    assert after["average_score"] > before["average_score"]
    page.reload()
    open_tab(page, "Dashboard")
    expect(page.get_by_label("Average score")).to_contain_text(f"{after['average_score']:.1f}%")
    open_tab(page, "Exceptions")
    row = page.get_by_role("table", name="Exceptions").get_by_role("row").filter(has_text=reason)
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(console_stack.approver.username)
    screenshot(page, "exceptions")


def test_reports_chart_and_csv_download(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    open_tab(page, "Reports")
    chart = page.get_by_role("img", name=re.compile("Line chart of daily average"))
    expect(chart.locator(".recharts-line")).to_have_count(3)
    page.get_by_text("7 days", exact=True).click()
    expect(page.get_by_role("img", name=re.compile("over 7 days"))).to_be_visible()
    expect(page.get_by_role("table", name="Report host details")).to_contain_text("web-0000")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == "compliance-report.csv"
    header, *rows = open(download.path(), encoding="utf-8").read().splitlines()
    assert header.startswith("hostname,") and any(r.startswith("web-0000") for r in rows)
    toast(page, "CSV report downloaded")


def test_a_viewer_sees_data_and_no_mutation_control(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.viewer)
    expect(page.get_by_text("viewer", exact=True)).to_be_visible()
    mutations = re.compile(r"^(Copy|Edit|Delete|New Version|Import template|Create policy|Create exception|Scan now|"
                           r"Apply Fix|Approve|Reject|Revoke|Add override|Publish|Save)\b")
    for tab in ("Templates", "Policies", "Host Compliance", "Scan History", "Exceptions", "Reports"):
        open_tab(page, tab)
        page.wait_for_load_state("networkidle")
        expect(page.get_by_role("tabpanel").get_by_role("table").first).to_be_visible()
        expect(page.get_by_role("button", name=mutations)).to_have_count(0)
    open_tab(page, "Host Compliance")
    page.get_by_role("button", name="Open latest scan of web-00002").click()
    expect(page.get_by_role("table", name="Check results")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Apply Fix"))).to_have_count(0)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Approvals").click()
    expect(page.get_by_text("Your role can view what waits for approval but not decide it.")).to_be_visible()
    expect(page.get_by_role("button", name=mutations)).to_have_count(0)


def test_a_failing_list_shows_retry_and_recovers(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    failing = True

    def scans(route):
        if failing:
            route.fulfill(status=503, content_type="application/json", body='{"detail": "database unavailable"}')
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/compliance/scans\?"), scans)
    open_tab(page, "Scan History")
    warning = page.get_by_role("alert").filter(has_text="Could not load scans")
    expect(warning).to_contain_text("database unavailable", timeout=10_000)
    screenshot(page, "retry")
    failing = False
    warning.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("table", name="Scans").get_by_role("row").nth(1)).to_be_visible()
    expect(warning).to_have_count(0)


def test_host_compliance_searches_and_pages_on_the_server(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    open_tab(page, "Host Compliance")
    hosts = page.get_by_role("table", name="Host compliance")
    with page.expect_request(re.compile(r"/compliance/report\?.*search=web-00004")):
        page.get_by_label("Search by hostname").fill("web-00004")
    expect(hosts.get_by_role("row")).to_have_count(2)
    expect(hosts).to_contain_text("web-00004")
    page.get_by_label("Search by hostname").fill("")
    expect(hosts.get_by_role("row")).to_have_count(len(console_stack.host_ids) + 1)
    with page.expect_request(re.compile(r"/compliance/report\?.*page_size=10")):
        page.get_by_role("textbox", name="Rows per page").click()
        page.get_by_role("option", name="10", exact=True).click()
    expect(page.get_by_text(f"{len(console_stack.host_ids)} hosts", exact=True)).to_be_visible()


def test_export_a_template_then_import_it(page: Page, console_stack: ConsoleStack):
    sign_in(page, console_stack.operator)
    open_tab(page, "Templates")
    with page.expect_download() as exported:
        page.get_by_role("button", name="Export DISA STIG - Canonical Ubuntu 22.04 LTS v1").click()
    document = exported.value.path()
    page.get_by_role("button", name="Import template").click()
    dialog = page.get_by_role("dialog", name="Import template")
    dialog.get_by_label("Portability document file").set_input_files(document)
    expect(dialog.get_by_label("Portability document (JSON)")).not_to_have_value("")
    dialog.get_by_role("button", name="Import", exact=True).click()
    toast(page, re.compile(r'Imported "DISA STIG - Canonical Ubuntu 22.04 LTS.*" as a draft'))
    own = page.get_by_role("table", name="Organization templates")
    imported = own.get_by_role("row").filter(has_text="DISA STIG - Canonical Ubuntu 22.04 LTS").first
    expect(imported).to_contain_text("draft")


def test_exception_reject_then_edit_and_revoke_an_active_one(page: Page, browser, console_stack: ConsoleStack):
    page.on("dialog", lambda dialog: dialog.accept())
    marker = uuid.uuid4().hex[:6]
    sign_in(page, console_stack.operator)
    open_tab(page, "Exceptions")
    for attempt in ("first", "second"):
        page.get_by_role("button", name="Create exception").click()
        form = page.get_by_role("dialog", name="Create exception")
        form.get_by_label("Rule id").fill("1.1.1.1")
        host = form.get_by_role("textbox", name="Host")
        host.click()
        host.press_sequentially("web-00002", delay=40)
        page.get_by_role("option", name=re.compile(r"^web-00002 \(")).click()
        form.get_by_label("Reason").fill(f"{attempt} request {marker}")
        form.get_by_role("button", name="Request exception").click()
        toast(page, "Exception for 1.1.1.1 created")
    table = page.get_by_role("table", name="Exceptions")
    expect(table.get_by_role("row").filter(has_text=f"first request {marker}")).to_contain_text("Host web-00002")

    approver = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=console_stack.url).new_page()
    approver.on("dialog", lambda dialog: dialog.accept())
    sign_in(approver, console_stack.approver)
    open_tab(approver, "Exceptions")
    rows = approver.get_by_role("table", name="Exceptions").get_by_role("row")
    rows.filter(has_text=f"first request {marker}").get_by_role("button", name="Reject exception for 1.1.1.1").click()
    dialog = approver.get_by_role("dialog", name="Reject exception for 1.1.1.1")
    dialog.get_by_label("Reason (optional)").fill("Fix it instead")
    dialog.get_by_role("button", name="Reject").click()
    toast(approver, "Exception for 1.1.1.1 rejected")
    rows.filter(has_text=f"second request {marker}").get_by_role("button", name="Approve exception for 1.1.1.1").click()
    toast(approver, "Exception for 1.1.1.1 approved")

    # Four-eyes also for edits: the creator may not reword an approved exception; another user may.
    page.reload()
    open_tab(page, "Exceptions")
    expect(table.get_by_role("row").filter(has_text=f"first request {marker}")).to_contain_text("rejected")
    mine = table.get_by_role("row").filter(has_text=f"second request {marker}")
    expect(mine).to_contain_text("active")
    mine.get_by_role("button", name="Edit exception for 1.1.1.1").click()
    page.get_by_role("dialog", name="Edit exception").get_by_label("Reason").fill(f"second request {marker}, reworded")
    page.get_by_role("button", name="Save exception").click()
    toast(page, re.compile("^Not allowed"))

    approver.reload()
    open_tab(approver, "Exceptions")
    active = approver.get_by_role("table", name="Exceptions").get_by_role("row").filter(
        has_text=f"second request {marker}")
    active.get_by_role("button", name="Edit exception for 1.1.1.1").click()
    edit = approver.get_by_role("dialog", name="Edit exception")
    edit.get_by_label("Reason").fill(f"second request {marker}, until the kernel upgrade")
    edit.get_by_label("Expires at").fill("2031-06-30T12:00")
    edit.get_by_role("button", name="Save exception").click()
    toast(approver, "Exception for 1.1.1.1 updated")
    expect(active).to_contain_text("until the kernel upgrade")
    expect(active).to_contain_text("2031")
    active.get_by_role("button", name="Revoke exception for 1.1.1.1").click()
    toast(approver, "Exception for 1.1.1.1 revoked")
    expect(active).to_contain_text("revoked")
    approver.context.close()


def test_a_user_whose_role_was_lowered_gets_a_clear_403(page: Page, console_stack: ConsoleStack):
    admin = console_stack.client(console_stack.admin)
    user = admin.post("/users", json={"username": f"demoted.{uuid.uuid4().hex[:6]}", "password": "Demoted-pass-4242"})
    assert user.status_code == 201, user.text
    account = Account(user.json()["username"], "Demoted-pass-4242", user.json()["id"])
    member = {"user_id": account.id, "role": "operator"}
    assert admin.post(f"/orgs/{console_stack.org_id}/members", json=member).status_code == 201
    sign_in(page, account)
    open_tab(page, "Exceptions")
    page.get_by_role("button", name="Create exception").click()
    form = page.get_by_role("dialog", name="Create exception")
    form.get_by_label("Rule id").fill("1.1.1.2")
    form.get_by_text("Whole organization").click()
    form.get_by_label("Reason").fill("requested after the role changed")

    assert admin.post(f"/orgs/{console_stack.org_id}/members", json=member | {"role": "viewer"}).status_code == 201
    form.get_by_role("button", name="Request exception").click()
    toast(page, "Not allowed: missing permission compliance.manage")
    expect(page.get_by_role("alert").filter(has_text="Not allowed")).to_be_visible()
