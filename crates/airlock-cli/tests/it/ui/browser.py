"""What the browser tests share: Debian's Chromium launched for this closed network, a watch on
everything the browser reports as an error, and screenshots at desktop and phone width."""

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


def launch(playwright, chromium):
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


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
        page.on(
            "requestfailed",
            lambda r: self._ours(r.url) and self.problems.append(f"request failed: {r.url}"),
        )

    def _ours(self, url):
        return url.startswith(self.base)

    def _console(self, message):
        if message.type != "error" or not self._ours(message.location.get("url", "")):
            return
        if any(f"status of {s}" in message.text for s in self.expected_statuses):
            return
        self.problems.append(f"console: {message.text}")


class Shots:
    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def take(self, page, name):
        for width, size in WIDTHS.items():
            page.set_viewport_size(size)
            page.screenshot(path=str(self.directory / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size(WIDTHS["desktop"])


def log_in(page, base, token):
    page.goto(base + "/ui/login?next=/ui/requests")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    # Wait for the page logging out leads to, so that no later step cuts its loading short.
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
