"""Fixtures of the web console's browser tests: the built console (scripts/console.py), the API serving it
under /app with the local model (LOCAL_MODEL_URL, from the devstack), Debian's Chromium driven by
Playwright (headless; skipped with the reason when no Chromium can be installed here), and a page signed
up through the console's own form.

Screenshots go to CONSOLE_TEST_OUTPUT (default .local/test-output/console)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from scripts import console
from shared.settings import Settings
from tests.support.servers import ServerThread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def output_dir() -> Path:
    path = Path(os.environ.get("CONSOLE_TEST_OUTPUT", ROOT / ".local" / "test-output" / "console"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """The API (with the console mounted under /app) on a free port: its base URL."""
    from run_services.api.main import create_app

    if not os.environ.get("LOCAL_MODEL_URL"):
        pytest.fail("LOCAL_MODEL_URL is not set: run through the devstack with WITH_MODEL=1 (`make test`).")
    try:
        dist = console.build(only_if_stale=True)
    except console.ConsoleBuildError as exc:
        pytest.fail(f"the console could not be built: {exc}")
    configured = settings.model_copy(update={"console_dir": dist, "default_model": "smollm2"})
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = console.browser()
    if path is None:
        pytest.skip(
            "No Chromium here and it cannot be installed (needs root and apt-get): "
            "`apt-get install chromium` and run again; `make test` and CI install it."
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=console.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, console_api: str) -> Iterator[Page]:
    """A fresh browser context (no cookies, no storage) on the console; fails the test if the page logged
    an error (a CSP violation included)."""
    context = browser.new_context(base_url=console_api, viewport={"width": 1100, "height": 900})
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 4" not in message.text:  # 4xx answers are shown, not bugs
            errors.append(message.text)

    pg = context.new_page()
    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert not errors, f"the page logged errors: {errors}"


@dataclass
class Account:
    email: str
    password: str


def sign_up_in_page(page: Page) -> Account:
    """Create an account with the console's form; signed in after (the test settings verify at once)."""
    account = Account(f"c{uuid.uuid4().hex[:12]}@example.com", "correct horse battery staple")
    page.goto("/app/")
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name="Credits")).to_be_visible()
    expect(page.locator("#balance")).to_have_attribute("data-available", "1000000")
    return account


@pytest.fixture
def signed_in(page: Page) -> Account:
    return sign_up_in_page(page)
