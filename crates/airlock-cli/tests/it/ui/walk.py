"""A data scientist's first visit to the web interface, in a real browser (Debian's Chromium
driven by Playwright): find a package, read why each lane offers it or not, copy the set-up for
uv frozen to a date, log in with a token and out again. Every page is also taken at phone width.

Usage: walk.py BASE_URL TOKEN TOKEN_NAME CHROMIUM SCREENSHOT_DIR
Fails (non-zero exit, with the reason) on any unmet expectation or any error the browser logs
(a blocked script or style, a failed request, a script error).
"""

import pathlib
import sys

from playwright.sync_api import expect, sync_playwright

base, token, token_name, chromium, shots = sys.argv[1:6]
shots = pathlib.Path(shots)
shots.mkdir(parents=True, exist_ok=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
problems = []
# The answers a step expects to be refused with (the browser logs every 4xx it loads).
expected_refusals = set()


def on_console(message):
    if message.type != "error":
        return
    if any(f"status of {status}" in message.text for status in expected_refusals):
        return
    problems.append(f"console: {message.text}")


def watch(page):
    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))


def shoot(page, name):
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(WIDTHS["desktop"])


with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=chromium,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    context = browser.new_context(viewport=WIDTHS["desktop"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    watch(page)

    # The server's root sends a browser to the interface.
    page.goto(base + "/")
    expect(page).to_have_url(base + "/ui/")
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()

    # Search, a typo away.
    page.get_by_role("searchbox").fill("airlock-demo-ap")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="airlock-demo-app")).to_be_visible()
    shoot(page, "search")

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
    shoot(page, "package")

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
        problems.append(f"the copy button copied {copied!r}")
    shoot(page, "setup")

    # Log in with a token, come back to the page, log out.
    page.get_by_role("link", name="Log in").click()
    shoot(page, "login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/ui/setup?lane=dev&client=uv&date=2026-01-31")
    expect(page.locator("header")).to_contain_text(token_name)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    # A wrong token is refused, on the page.
    expected_refusals.add(401)
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("API token").fill("alk_0000000000000000_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    browser.close()

if problems:
    sys.exit("\n".join(problems))
print(f"walked; screenshots in {shots}")
