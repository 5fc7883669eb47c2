"""Waiving a content-scan finding in a real browser: an approver logs in, reads on the package
page what the scan found in a version the dev lane refuses, waives the finding through the form
(with a justification that tries to be markup), sees the lane's decision become a warning that
names the waiver, and revokes it; a reader then sees the waivers but no form, and a form posted
without the session's anti-forgery token is refused.

Usage: waiver_flow.py BASE_URL APPROVER_TOKEN READER_TOKEN CHROMIUM SCREENSHOT_DIR
The server holds net-probe 1.0, whose module phones out at import (rule py-import-network), and
its dev lane blocks high findings.
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright

from browser import Shots, Watch, launch, log_in, log_out, new_context

base, approver, reader, chromium, shots = sys.argv[1:6]
watch = Watch(base)
shots = Shots(shots, watch)
PACKAGE = base + "/ui/packages/pypi/net-probe"
JUSTIFICATION = "<script>alert('waived')</script> reviewed: it pings the licence server"

with sync_playwright() as p:
    browser = launch(p, chromium)
    page = new_context(browser).new_page()
    watch.on(page)

    # The approver reads the finding: dev (the first lane) refuses the version.
    log_in(page, base, approver)
    page.goto(PACKAGE)
    row = page.locator("tr#v-1\\.0")
    dev = row.locator("td").nth(1)
    expect(dev.locator(".badge")).to_have_text("deny")
    expect(row).to_contain_text("1 finding, worst high")
    findings = page.get_by_role("region", name="content scan of 1.0")
    expect(findings).to_contain_text("py-import-network")
    expect(findings).to_contain_text("net_probe/__init__.py:2")
    expect(findings.locator(".badge").first).to_have_text("high")
    expect(page.get_by_text("No finding of this package is waived.")).to_be_visible()
    shots.take(page, "package-findings")

    # Waives it; the decision becomes a warning that names the waiver.
    form = page.locator("form#waive")
    form.get_by_label("Lane").select_option("dev")
    form.get_by_label("Version").select_option("1.0")
    form.get_by_label("Finding rule").select_option("py-import-network")
    form.get_by_label("Justification").fill(JUSTIFICATION)
    form.get_by_role("button", name="Waive the finding").click()
    expect(page).to_have_url(re.compile(r"/ui/packages/pypi/net-probe#waivers$"))
    expect(dev.locator(".badge")).to_have_text("warn")
    expect(dev.locator("ul.reasons")).to_contain_text("waiver 1 (by alex")
    waiver = page.locator("tr#waiver-1")
    expect(waiver.locator(".badge")).to_have_text("active")
    expect(waiver).to_contain_text("until revoked")
    # The justification is text on the page, not markup.
    expect(waiver.locator("td.justification")).to_have_text(JUSTIFICATION)
    expect(page.locator("main script")).to_have_count(0)
    expect(findings).to_contain_text("waiver 1 in dev, by alex, until revoked")
    shots.take(page, "package-waived")

    # Revoked: refused again.
    page.get_by_role("button", name="Revoke waiver 1").click()
    expect(waiver.locator(".badge")).to_have_text("revoked")
    expect(dev.locator(".badge")).to_have_text("deny")
    expect(page.get_by_role("button", name="Revoke waiver 1")).to_have_count(0)
    log_out(page)

    # A reader sees the waivers, and no form.
    log_in(page, base, reader)
    page.goto(PACKAGE)
    expect(page.locator("tr#waiver-1 .badge")).to_have_text("revoked")
    expect(page.get_by_role("button", name="Waive the finding")).to_have_count(0)
    expect(page.get_by_label("Justification")).to_have_count(0)
    shots.take(page, "package-reader")

    # A form from elsewhere (no anti-forgery token) is refused, even with the session's cookie.
    forged = page.request.post(
        PACKAGE + "/waivers",
        form={"lane": "dev", "version": "1.0", "rule": "py-import-network", "justification": "forged"},
        max_redirects=0,
    )
    if forged.status != 403 or "did not come from this site" not in forged.text():
        sys.exit(f"a forged waiver form was not refused: {forged.status} {forged.text()[:300]}")
    page.reload()
    expect(page.locator("tr#waiver-2")).to_have_count(0)
    log_out(page)
    browser.close()

if watch.problems:
    sys.exit("\n".join(watch.problems))
