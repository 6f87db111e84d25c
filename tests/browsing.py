"""What the browser tests share: Debian's chromium under Playwright, and the app served on a free port."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from helpers import PROJECT_ROOT
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots are for people (a note's before and after); a full-page one costs a second or two, so a plain run
# takes none. UI_SHOTS=1 keeps them under artifacts/screenshots (git-ignored), UI_SHOTS=DIR under DIR.
_SHOTS_SETTING = os.environ.get("UI_SHOTS", "")
SHOTS = (
    None
    if not _SHOTS_SETTING
    else PROJECT_ROOT / "artifacts" / "screenshots"
    if _SHOTS_SETTING == "1"
    else Path(_SHOTS_SETTING)
)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
SECRET_KEY = "browser-tests-secret-key-0123456789abcdef"  # signs the sign-in cookie of the apps these tests serve


def shot(page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot of page as name.png when UI_SHOTS asks for them."""
    if SHOTS is not None:
        (SHOTS / name).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


@contextmanager
def tab_at(browser, width_name: str, viewport: dict) -> Iterator:
    """A tab in a browser context of its own at viewport, a touch phone's when width_name is "phone"; tab.width_name
    and tab.phone say which (screenshots are named by them)."""
    phone = width_name == "phone"
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    try:
        tab = context.new_page()
        tab.width_name, tab.phone = width_name, phone
        yield tab
    finally:
        context.close()


def sign_in(page, site: str, key: str, then: str = "/alerts") -> None:
    """Sign the page's browser context in with key, as a person does on /signin; it lands on then."""
    page.goto(f"{site}/signin?next={quote(then)}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}{then}")


@contextmanager
def served(app) -> Iterator[str]:
    """The WSGI app on a free loopback port, threaded like gunicorn's threads; its base URL."""
    server = make_server("127.0.0.1", 0, _closing_on_abort(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _closing_on_abort(app):
    """Close every response body, even when the browser hangs up mid-download.

    Werkzeug's dev server skips `close()` when the client resets the connection while it
    drains the request (a page navigating away from a font download does), leaving the
    static file open until garbage collection raises a ResourceWarning. A generator's
    `finally` runs when it is collected, so the file is closed either way. Gunicorn, which
    serves the product, closes bodies itself.
    """

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)
