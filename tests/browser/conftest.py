"""Browser tests: Playwright for Python driving Debian's chromium, headless, against pytest-django's
live_server. One browser for the whole session, a fresh context (cookies, pages) per test.

The browser is never downloaded (`playwright install` is not used): it is the system's chromium
(CHROMIUM_PATH, default /usr/bin/chromium), which `make test` installs when missing. Without it these tests
skip, except under CI=true, where a missing browser fails them.

Every step a test names (`step("...")`) is photographed and written to test-artifacts/<test name>/ (the
pages staff see, for review); when the test fails, one of the final state is added.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses database access from a thread
# with a running loop unless told that this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config, items):
    """The browser tests run last. Playwright's sync API keeps an event loop running in this thread for as
    long as it is started (here: from the first browser test to the end of the session), and a test that
    calls asyncio.run afterwards (the official Python client's) would find it."""
    here = Path(__file__).resolve().parent
    items.sort(key=lambda item: Path(str(item.path)).resolve().is_relative_to(here))  # a stable sort


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"no chromium at {CHROMIUM} (make test installs Debian's chromium; or set CHROMIUM_PATH)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(autouse=True)
def _insecure_cookies_over_http(settings):
    # The live server speaks plain http; the session and CSRF cookies must not demand https there.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


class Steps:
    """Screenshots of each named step, kept in memory and written out only if the test fails."""

    def __init__(self, page):
        self.page = page
        self.shots: list[tuple[str, bytes]] = []

    def __call__(self, name: str) -> None:
        self.shots.append((name, self.page.screenshot(full_page=True)))

    def save(self, test_name: str, final: bool = True) -> Path:
        folder = ARTIFACTS / _safe(test_name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i, (name, png) in enumerate(self.shots, 1):
            (folder / f"{i:02d}-{_safe(name)}.png").write_bytes(png)
        if final:
            with contextlib.suppress(Exception):  # the page may be gone; the steps are what matters
                self.page.screenshot(path=str(folder / "failure.png"), full_page=True)
        return folder


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # a dangerous button's "are you sure?": yes
    page.steps = Steps(page)
    yield page
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    folder = page.steps.save(request.node.name, final=failed)  # every step's screenshot, kept (issue #19)
    if failed:
        print(f"screenshots of the failed steps: {folder}")
    context.close()


@pytest.fixture
def step(page):
    return page.steps


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
