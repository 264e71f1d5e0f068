"""Browser tests: a real desk (``algodesk serve``) driven by Playwright in Debian's Chromium.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (installed by
``make browser-setup``, part of ``make test``) by ``executable_path``. Each test's page fails
the test on any console error or uncaught exception. Screenshots go to
``test-artifacts/browser/`` (or ``$ALGODESK_ARTIFACTS/browser``); each path is printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

from algodesk.testing.browser import CHROMIUM_ARGS, chromium_path
from algodesk.testing.desk_server import ADMIN_PASSWORD, Server

ARTIFACTS = Path(os.environ.get("ALGODESK_ARTIFACTS", "test-artifacts")) / "browser"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def chromium() -> str:
    try:
        return chromium_path()
    except RuntimeError as exc:
        pytest.fail(f"{exc} (make test does)")


# Module-scoped, not session-scoped: Playwright's sync API runs an event loop in this thread
# while it is open, and a later test's asyncio.run() in the same worker would then fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium(), args=list(CHROMIUM_ARGS))
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("desk"), "--order-rate", "0").start()
    yield running
    running.stop()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, context: BrowserContext, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        context.on("page", self._watch)  # pages the test opens later (a report's tab) too
        self.page = context.new_page()

    def _watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def allow(self, pattern: str) -> None:
        """A console error the test provokes on purpose (a wrong password's 401)."""
        self._allowed.append(re.compile(pattern))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self._allowed):
            self.errors.append(f"console error at {message.location}: {message.text}")

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path.resolve()}")
        return path


@pytest.fixture
def watched(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(10_000)
    page = Watched(context, request.node.name)
    yield page
    context.close()
    assert page.errors == [], page.errors


def sign_in(
    page: Page, desk: Server, username: str = "admin", password: str = ADMIN_PASSWORD
) -> None:
    page.goto(f"{desk.base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{desk.base}/")
    page.wait_for_selector("body[data-ready]")


def api_headers(desk: Server) -> dict[str, str]:
    return desk.login()


def add_user(desk: Server, username: str, role: str, password: str) -> None:
    answer = httpx.post(
        f"{desk.base}/api/v1/users",
        headers=desk.login(),
        json={"username": username, "password": password, "role": role},
        timeout=10,
    )
    assert answer.status_code in (201, 409), answer.text
