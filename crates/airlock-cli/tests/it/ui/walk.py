"""A data scientist's first visit to the web interface, in a real browser (Debian's Chromium
driven by Playwright): find a package, read why each lane offers it or not, copy the set-up for
uv frozen to a date, read the security page, log in with a token, make a personal token and log
out again; then an admin reads the administration and the audit log. Every page is also taken at
phone width, and checked by axe-core at both.

Usage: walk.py BASE_URL TOKEN TOKEN_NAME CHROMIUM SCREENSHOT_DIR ADMIN_TOKEN
Fails (non-zero exit, with the reason) on any unmet expectation or any error the browser logs
(a blocked script or style, a failed request, a script error).
"""

import sys

from playwright.sync_api import expect, sync_playwright

from browser import Shots, Watch, launch, log_in, log_out, new_context

base, token, token_name, chromium, shots, admin = sys.argv[1:7]
watch = Watch(base)
shots = Shots(shots, watch)

with sync_playwright() as p:
    browser = launch(p, chromium)
    context = new_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    watch.on(page)

    # The server's root sends a browser to the interface.
    page.goto(base + "/")
    expect(page).to_have_url(base + "/ui/")
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()

    # Search, a typo away.
    page.get_by_role("searchbox").fill("airlock-demo-ap")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="airlock-demo-app")).to_be_visible()
    shots.take(page, "search")

    # The package: dev allows it, prod (an allow list) refuses it and says why.
    page.get_by_role("link", name="airlock-demo-app").click()
    expect(page.get_by_role("heading", name="airlock-demo-app")).to_be_visible()
    row = page.locator("tr#v-1\\.0")
    expect(row.locator(".badge.allow")).to_have_text("allow")
    expect(row.locator(".badge.deny")).to_have_text("deny")
    expect(row.locator("ul.reasons")).to_contain_text("allow list")
    expect(page.locator("#install")).to_contain_text("/dev/pypi/simple/ airlock-demo-app==1.0")
    # Its dependency is held here, so it links to its own page.
    expect(page.get_by_role("link", name="airlock-demo-dep")).to_be_visible()
    shots.take(page, "package")

    # Set-up for uv, frozen to a date; the copy button copies the snippet.
    page.get_by_role("link", name="Set-up").click()
    page.get_by_label("Tool").select_option("uv")
    page.get_by_label("Frozen to a date (optional)").fill("2026-01-31")
    page.get_by_role("button", name="Show the configuration").click()
    snippet = page.locator("#snippet")
    expect(snippet).to_contain_text("/dev/2026-01-31/pypi/simple/")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    if "/dev/2026-01-31/pypi/simple/" not in copied:
        watch.problems.append(f"the copy button copied {copied!r}")
    shots.take(page, "setup")

    # The security page: the newest advisories and the exposure.
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    shots.take(page, "security")

    # Log in with a token, come back to the page.
    page.goto(base + "/ui/setup?lane=dev&client=uv&date=2026-01-31")
    page.get_by_role("link", name="Log in").click()
    shots.take(page, "login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/ui/setup?lane=dev&client=uv&date=2026-01-31")
    expect(page.locator("header")).to_contain_text(token_name)

    # A personal token for the laptop: shown once, then listed.
    page.get_by_role("link", name="Tokens").click()
    expect(page.get_by_role("heading", name="Your tokens")).to_be_visible()
    page.get_by_label("Name (e.g. the machine it is for)").fill("laptop")
    page.get_by_role("button", name="Create the token").click()
    expect(page.locator("#new-token")).to_contain_text("alk_")
    expect(page.get_by_role("button", name="revoke laptop")).to_be_visible()
    shots.take(page, "tokens")
    log_out(page)

    # An admin reads the administration and the audit log.
    log_in(page, base, admin)
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    # The personal token, with whose it is.
    expect(page.get_by_role("button", name=f"revoke laptop of {token_name}")).to_be_visible()
    shots.take(page, "admin")
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    shots.take(page, "audit")
    log_out(page)

    # A wrong token is refused, on the page.
    watch.expected_statuses.add(401)
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("API token").fill("alk_0000000000000000_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    browser.close()

if watch.problems:
    sys.exit("\n".join(watch.problems))
print(f"walked; screenshots in {shots.directory}")
