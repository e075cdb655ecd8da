"""Browser tests: the real server as `make run` starts it, driven by Debian's Chromium.

Chromium comes from `apt-get install chromium` (.ci/run installs it); Playwright's own browser
download is never used. Without Chromium the tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.e2e.test_server_process import ADMIN_PASSWORD, RunningServer, running_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found:
        return found
    message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message + " (with CI=true this fails)")


# One Chromium for the browser tests (each test has its own context, i.e. its own cookies and
# storage), stopped when the last of them ends: Playwright's sync API holds an event loop of its
# own while it runs, and the async tests collected after the browser tests (tests/e2e,
# tests/service) need theirs.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server for every browser test (starting one costs seconds on 2 cores)."""
    # Webhook endpoints on loopback allowed: the webhook test's receiver runs in the test.
    with running_server(
        tmp_path_factory.mktemp("console-server"), WEBHOOKS_ALLOW_PRIVATE="true"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def admin_api(console_server: RunningServer) -> Iterator[httpx.Client]:
    """The admin API over real HTTP as the bootstrap admin, for setting scenes up."""
    with httpx.Client(base_url=console_server.base_url, timeout=20) as http:
        login = http.post(
            "/admin/v1/auth/login", json={"username": "root", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        http.headers["authorization"] = f"Bearer {login.json()['access_token']}"
        yield http


class ConsolePage:
    """A browser tab on the console that records what must never happen: script dialogs,
    CSP violations and page errors."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def sign_in(self, username: str, password: str) -> None:
        self.goto("/console/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("form[action='/console/login'] button[type=submit]")
        self.page.wait_for_load_state()

    def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def console(browser: Any, console_server: RunningServer) -> Iterator[ConsolePage]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        yield ConsolePage(context.new_page(), console_server.base_url)
    finally:
        context.close()
