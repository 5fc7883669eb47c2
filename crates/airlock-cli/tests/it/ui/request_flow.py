"""The request flow in a real browser: a data scientist logs in, pastes a requirements.txt, sees
what the prod lane decides, submits a request with a reason; an approver logs in, opens it and
approves part of it. Prints the request's id.

Usage: request_flow.py BASE_URL SCIENTIST_TOKEN APPROVER_TOKEN APPROVE_ONLY CHROMIUM SCREENSHOT_DIR
APPROVE_ONLY is the one package spec the approver ticks (e.g. pypi:airlock-demo-dep==1.0).
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright

from browser import Shots, Watch, launch, new_context, log_in, log_out

base, scientist, approver, approve_only, chromium, shots = sys.argv[1:7]
watch = Watch(base)
shots = Shots(shots, watch)

with sync_playwright() as p:
    browser = launch(p, chromium)
    page = new_context(browser).new_page()
    watch.on(page)

    # The data scientist checks a requirements.txt against prod, then asks for it.
    log_in(page, base, scientist)
    expect(page.get_by_role("heading", name="Requests")).to_be_visible()
    page.get_by_role("link", name="Ask for packages").click()
    page.get_by_label("Lane").select_option("prod")
    page.get_by_label("What the text is").select_option("requirements.txt")
    page.get_by_label("Lock file or requirements").fill(
        "airlock-demo-app==1.0\nairlock-demo-dep==1.0\n"
    )
    page.get_by_role("button", name="Check").click()
    findings = page.locator("table")
    expect(findings).to_contain_text("airlock-demo-app")
    expect(findings.locator(".badge.deny")).to_have_count(2)
    expect(page.get_by_text("refused", exact=True).first).to_be_visible()
    shots.take(page, "request-check")
    page.get_by_label("Why you need them (for the request)").fill("the churn model")
    page.get_by_role("button", name="Submit the request").click()
    expect(page).to_have_url(re.compile(r"/ui/requests/\d+$"))
    request_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=f"Request {request_id}")).to_contain_text("pending")
    # A data scientist sees the request, not the approver's buttons.
    expect(page.get_by_role("button", name="Approve all")).to_have_count(0)
    log_out(page)

    # The approver finds it in the queue and approves part of it.
    log_in(page, base, approver)
    page.get_by_role("link", name=request_id, exact=True).click()
    expect(page.get_by_role("heading", name=f"Request {request_id}")).to_be_visible()
    shots.take(page, "request-review")
    page.get_by_label(f"approve {approve_only}").check()
    page.get_by_role("button", name="Approve the selected").click()
    expect(page.get_by_role("heading", name=f"Request {request_id}")).to_contain_text("approved")
    row = page.locator("tr", has_text=approve_only.split(":", 1)[1].split("==")[0])
    expect(row.locator(".badge.allow").last).to_have_text("approved")
    shots.take(page, "request-approved")
    page.get_by_role("link", name="Requests", exact=True).click()
    shots.take(page, "requests")
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Sources")).to_be_visible()
    shots.take(page, "admin")
    browser.close()

if watch.problems:
    sys.exit("\n".join(watch.problems))
print(request_id)
