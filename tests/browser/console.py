"""What the browser tests do the way a person does: sign in, open a tab, and check a page with axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import AXE, SCREENSHOTS, Account

TABS = ["Dashboard", "Templates", "Policies", "Host Compliance", "Scan History", "Exceptions", "Reports"]


def sign_in(page: Page, account: Account, org: str | None = "Demo Organization") -> None:
    """Sign in; for a member of several organizations, pick `org` in the switcher."""
    page.goto("/login")
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="Dashboard")).to_be_visible()
    switcher = page.get_by_role("textbox", name="Organization")
    if org and switcher.count():
        choose_org(page, org)


def choose_org(page: Page, name: str) -> None:
    switcher = page.get_by_role("textbox", name="Organization")
    if switcher.input_value() != name:
        switcher.click()
        page.get_by_role("option", name=name, exact=True).click()
    expect(switcher).to_have_value(name)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")


def toast(page: Page, text: str | re.Pattern) -> None:
    expect(page.get_by_role("alert").filter(has_text=text).first).to_be_visible()


def axe_violations(page: Page) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let toasts and transitions settle
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
