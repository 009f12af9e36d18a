"""10,000 hosts: the Host Compliance tab pages, searches and jumps to the last page on the server, and the Reports
tab draws two weeks of daily scores."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleStack, LargeFleet
from tests.browser.console import choose_org, open_tab, screenshot, sign_in


def test_host_compliance_stays_responsive_with_ten_thousand_hosts(page: Page, console_stack: ConsoleStack,
                                                                  large_fleet: LargeFleet):
    sign_in(page, console_stack.operator, org="Large Fleet")
    started = time.monotonic()
    open_tab(page, "Host Compliance")
    hosts = page.get_by_role("table", name="Host compliance")
    expect(hosts.get_by_role("row")).to_have_count(26)
    expect(page.get_by_text(f"{large_fleet.hosts} hosts", exact=True)).to_be_visible()
    first_page = time.monotonic() - started
    screenshot(page, "host-compliance-10000")

    started = time.monotonic()
    with page.expect_response(re.compile(r"/compliance/report\?.*page=400")) as last:
        page.get_by_role("button", name="Page 400").click()
    assert last.value.status == 200
    expect(hosts.get_by_role("row")).to_have_count(1 + large_fleet.hosts - 399 * 25)
    last_page = time.monotonic() - started

    page.get_by_label("Search by hostname").fill("db-009001")
    expect(page.get_by_text("1 host", exact=True)).to_be_visible()
    expect(hosts.get_by_role("row").nth(1)).to_contain_text("Large Fleet-db-009001")
    # Server-side paging: the browser never holds more than a page, so each step takes about one request.
    assert first_page < 10 and last_page < 5, (first_page, last_page)


def test_reports_draw_daily_scores_over_two_weeks(page: Page, console_stack: ConsoleStack, large_fleet: LargeFleet):
    sign_in(page, console_stack.operator, org="Large Fleet")
    choose_org(page, "Large Fleet")
    open_tab(page, "Reports")
    page.get_by_text("14 days", exact=True).click()
    chart = page.get_by_role("img", name=re.compile("over 14 days"))
    expect(chart.locator(".recharts-line-dot").first).to_be_attached()
    expect(chart.locator(".recharts-line")).to_have_count(3)
    assert chart.locator(".recharts-line-dots").first.locator("circle").count() >= large_fleet.days - 1
    expect(page.get_by_role("table", name="Report host details").get_by_role("row")).to_have_count(11)
    screenshot(page, "reports-trend")
