"""What the browser tests share: Debian's Chromium launched for this closed network, a watch on
everything the browser reports as an error, and screenshots at desktop and phone width, each page
also checked by axe-core for accessibility (no serious or critical violation)."""

import json
import os
import pathlib

from playwright.sync_api import expect

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which
# this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# axe-core from npm (scripts/test installs it next to oidc-provider).
AXE = pathlib.Path(os.environ["AIRLOCK_TEST_NODE_MODULES"]) / "axe-core" / "axe.min.js"


def launch(playwright, chromium):
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def new_context(browser, **options):
    """A browser context whose pages have axe-core loaded. The browser injects it itself, before
    the page's own scripts: the pages' Content-Security-Policy (no script from elsewhere) stays in
    force and is still watched."""
    context = browser.new_context(**options)
    context.add_init_script(path=str(AXE))
    return context


def accessibility_problems(page, name):
    """axe-core's serious and critical violations on the page, one line each."""
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.slice(0, 3).map(n => n.html) }));
        }"""
    )
    return [f"accessibility ({name}, {v['impact']}): {v['id']}: {v['help']}: {json.dumps(v['nodes'])}" for v in found]


class Watch:
    """Collects what airlock's pages (those under `base`) report as an error: a blocked script or
    style, a failed request, a script error, a 4xx or 5xx the page loaded (but those statuses a
    step expects). Other sites' pages (an identity provider's) are not airlock's to answer for."""

    def __init__(self, base):
        self.base = base
        self.problems = []
        self.expected_statuses = set()

    def on(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda e: self._ours(page.url) and self.problems.append(f"script error: {e}"))
        page.on("requestfailed", self._request_failed)

    def _ours(self, url):
        return url.startswith(self.base)

    def _request_failed(self, request):
        # A request the browser itself abandoned when the page moved on (the icon still loading
        # as a form is sent) is no answer of airlock's.
        if self._ours(request.url) and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message):
        if message.type != "error" or not self._ours(message.location.get("url", "")):
            return
        if any(f"status of {s}" in message.text for s in self.expected_statuses):
            return
        self.problems.append(f"console: {message.text}")


class Shots:
    """Screenshots of each page at every width, and its accessibility checked at each (problems go
    to `watch`)."""

    def __init__(self, directory, watch):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.watch = watch

    def take(self, page, name):
        for width, size in WIDTHS.items():
            page.set_viewport_size(size)
            page.screenshot(path=str(self.directory / f"{name}-{width}.png"), full_page=True)
            if page.url.startswith(self.watch.base):
                self.watch.problems.extend(accessibility_problems(page, f"{name}, {width}"))
        page.set_viewport_size(WIDTHS["desktop"])


def log_in(page, base, token):
    page.goto(base + "/ui/login?next=/ui/requests")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    # Wait for the page logging out leads to, so that no later step cuts its loading short.
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
