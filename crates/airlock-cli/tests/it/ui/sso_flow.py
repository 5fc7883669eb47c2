"""Single sign-on in a real browser: alice logs in through the OpenID provider (its login form,
then its consent) and comes back to airlock as an approver; mallory, in no group airlock maps,
is turned away with the reason.

Usage: sso_flow.py BASE_URL CHROMIUM SCREENSHOT_DIR
"""

import sys

from playwright.sync_api import expect, sync_playwright

from browser import Shots, Watch, launch, new_context, log_out

base, chromium, shots = sys.argv[1:4]
watch = Watch(base)
shots = Shots(shots, watch)


def through_the_provider(page, login):
    page.goto(base + "/ui/login?next=/ui/requests")
    page.get_by_role("link", name="Log in with single sign-on").click()
    # The provider's own login form and consent prompt.
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    login_form = page.url
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: url != login_form)
    if not page.url.startswith(base):
        # The consent prompt, when the provider shows one.
        try:
            page.get_by_role("button", name="Continue").click(timeout=10_000)
        except Exception:
            print(f"stuck at {page.url}:\n{page.inner_text('body')}", file=sys.stderr)
            raise
        page.wait_for_url(lambda url: url.startswith(base))

with sync_playwright() as p:
    browser = launch(p, chromium)
    page = new_context(browser).new_page()
    watch.on(page)
    through_the_provider(page, "alice")
    expect(page).to_have_url(base + "/ui/requests")
    expect(page.locator("header")).to_contain_text("alice")
    expect(page.locator("header")).to_contain_text("approver")
    shots.take(page, "sso-logged-in")

    # A personal token for her machine: it acts as alice, as an approver in her lane.
    page.get_by_role("link", name="Tokens").click()
    expect(page.locator("#token-role option")).to_have_text(["reader", "approver"])
    page.get_by_label("Name (e.g. the machine it is for)").fill("workstation")
    page.get_by_label("Role").select_option("approver")
    page.get_by_role("button", name="Create the token").click()
    expect(page.locator("#new-token")).to_contain_text("alk_")
    personal = page.locator("#new-token").inner_text().strip()
    expect(page.locator("table")).to_contain_text("prod")
    shots.take(page, "sso-tokens")
    log_out(page)

    # A fresh browser, so that the provider does not remember alice.
    page = new_context(browser).new_page()
    watch.on(page)
    watch.expected_statuses.add(403)
    through_the_provider(page, "mallory")
    expect(page.get_by_role("alert")).to_contain_text("in no group that airlock gives a role to")
    shots.take(page, "sso-refused")
    browser.close()

if watch.problems:
    sys.exit("\n".join(watch.problems))
print(f"personal token: {personal}")
