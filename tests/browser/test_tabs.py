"""Sign in, the seven tabs on real data (with screenshots and axe-core), deep links and the security headers."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import FLEET_HOSTS, ConsoleStack
from tests.browser.console import TABS, axe_violations, choose_org, open_tab, screenshot, sign_in


def test_console_is_served_with_security_headers_without_shadowing_the_api(console_stack: ConsoleStack):
    for path in ("/", "/login", "/compliance/reports", "/compliance/approvals"):
        answer = httpx.get(f"{console_stack.url}{path}")
        assert answer.status_code == 200 and '<div id="root">' in answer.text, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in \
            policy.split("script-src")[1].split(";")[0]
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{console_stack.url}/healthz").json()
    assert httpx.get(f"{console_stack.url}/openapi.json").json()["openapi"]
    assert httpx.get(f"{console_stack.url}/api/v1/compliance/dashboard").status_code == 401
    assert httpx.get(f"{console_stack.url}/docs").status_code == 200


def test_sign_in_then_every_tab_shows_real_data_without_serious_axe_violations(page: Page, console_stack):
    page.goto("/login")
    violations: dict[str, list] = {"Login": axe_violations(page)}
    screenshot(page, "login")
    sign_in(page, console_stack.operator)
    expect(page.get_by_role("tab")).to_have_text(TABS)

    expect(page.get_by_label("Hosts scanned")).to_contain_text(str(FLEET_HOSTS))
    expect(page.get_by_role("table", name="Worst hosts").get_by_role("row")).to_have_count(FLEET_HOSTS + 1)
    expect(page.get_by_role("table", name="Top failing checks").get_by_role("row").nth(1)).to_be_visible()
    violations["Dashboard"] = axe_violations(page)
    screenshot(page, "dashboard")

    open_tab(page, "Templates")
    templates = page.get_by_role("table", name="System templates")
    expect(templates.get_by_role("row").filter(has_text="system")).to_have_count(9)
    violations["Templates"] = axe_violations(page)
    screenshot(page, "templates")

    open_tab(page, "Policies")
    expect(page.get_by_role("table", name="Policies")).to_contain_text("Linux baseline")
    violations["Policies"] = axe_violations(page)
    screenshot(page, "policies")

    open_tab(page, "Host Compliance")
    hosts = page.get_by_role("table", name="Host compliance")
    expect(hosts.get_by_role("row")).to_have_count(FLEET_HOSTS + 1)
    expect(hosts).to_contain_text("web-")
    expect(page.get_by_role("textbox", name="Rows per page")).to_have_value("25")
    violations["Host Compliance"] = axe_violations(page)
    screenshot(page, "host-compliance")

    open_tab(page, "Scan History")
    scans = page.get_by_role("table", name="Scans")
    expect(scans.get_by_role("row").filter(has_text="completed").first).to_be_visible()
    violations["Scan History"] = axe_violations(page)
    screenshot(page, "scan-history")

    open_tab(page, "Exceptions")
    expect(page.get_by_role("button", name="Create exception")).to_be_visible()
    violations["Exceptions"] = axe_violations(page)
    screenshot(page, "exceptions")

    open_tab(page, "Reports")
    expect(page.locator(".recharts-line").first).to_be_attached()
    expect(page.get_by_role("table", name="Report by framework")).to_contain_text("CIS")
    violations["Reports"] = axe_violations(page)
    screenshot(page, "reports")

    page.get_by_role("button", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    violations["Approvals"] = axe_violations(page)

    assert {tab: found for tab, found in violations.items() if found} == {}


def test_deep_link_survives_a_reload(page: Page, console_stack):
    sign_in(page, console_stack.operator)
    page.goto("/compliance/scans")
    expect(page.get_by_role("tab", name="Scan History")).to_have_attribute("aria-selected", "true")
    page.reload()
    expect(page.get_by_role("tab", name="Scan History")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"/compliance/scans$"))


def test_an_expired_session_returns_to_login_with_a_message(page: Page, console_stack):
    sign_in(page, console_stack.operator)
    page.evaluate("sessionStorage.setItem('cops.token', 'not-a-valid-token')")
    page.goto("/compliance/policies")
    expect(page.get_by_text("Your session expired, sign in again")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_wrong_password_is_refused(page: Page, console_stack):
    page.goto("/login")
    page.get_by_label("Username").fill(console_stack.operator.username)
    page.get_by_label("Password", exact=True).fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect username or password")


def test_sign_out_returns_to_login(page: Page, console_stack):
    sign_in(page, console_stack.operator)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/compliance/dashboard")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_platform_admin_switches_between_every_organization(page: Page, console_stack):
    sign_in(page, console_stack.admin, org="Branch Office")
    expect(page.get_by_text("platform admin")).to_be_visible()
    open_tab(page, "Host Compliance")
    hosts = page.get_by_role("table", name="Host compliance")
    expect(page.get_by_role("textbox", name="Rows per page")).to_be_visible()
    expect(hosts).not_to_contain_text("web-0000")
    choose_org(page, "Demo Organization")
    open_tab(page, "Host Compliance")
    expect(hosts.get_by_role("row").filter(has_text="web-0000").first).to_be_visible()
