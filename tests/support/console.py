"""Driving the web console in a real browser (Playwright over Debian's Chromium): launching it, a page
that fails its test on any error it logs, and signing up or in through the console's own form. The
fixtures are in tests/console/conftest.py; tests elsewhere (the jobs stack's) use these directly."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from scripts import console
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def output_dir() -> Path:
    """Where the browser tests keep screenshots: CONSOLE_TEST_OUTPUT, else .local/test-output/console."""
    path = Path(os.environ.get("CONSOLE_TEST_OUTPUT", ROOT / ".local" / "test-output" / "console"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def built_console() -> Path:
    try:
        return console.build(only_if_stale=True)
    except console.ConsoleBuildError as exc:
        pytest.fail(f"the console could not be built: {exc}")


GIS_SCRIPT = "https://accounts.google.com/gsi/client"


def console_settings(settings: Settings, **update: object) -> Settings:
    """The API's settings with the console mounted and Google sign-in off (the test settings turn it on
    for the API tests; the console's Google test turns it on again with its fake)."""
    return settings.model_copy(update={"console_dir": built_console(), "google_client_id": None, **update})


@contextlib.contextmanager
def launch(extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """Headless Chromium, or the test skipped with the reason when none can be installed here.
    `extra_args` are added to the usual flags (the audio tests' fake microphone)."""
    path = console.browser()
    if path is None:
        pytest.skip(
            "No Chromium here and it cannot be installed (needs root and apt-get): "
            "`apt-get install chromium` and run again; `make test` and CI install it."
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=[*console.CHROMIUM_ARGS, *extra_args])
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def console_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh context (no cookies, no storage) on `base_url`; the test fails if the page logged an error
    (a CSP violation included). 4xx answers are the console's to show, not errors of the page."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 900})
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 4" not in message.text:
            errors.append(message.text)

    # Tests never reach Google: a stack with Google sign-in on gets an empty script for Google Identity
    # Services (no button then); a test that drives the button routes the page to its own fake.
    context.route(GIS_SCRIPT, lambda route: route.fulfill(content_type="text/javascript", body=""))
    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


def fake_microphone(wav: Path) -> list[str]:
    """Chromium's flags for a microphone that plays `wav` (16-bit PCM, looped) and is allowed at once."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]


@dataclass
class Account:
    email: str
    password: str


def sign_in_page(page: Page, account: Account) -> None:
    page.goto("/app/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Credits")).to_be_visible()


def sign_up_in_page(page: Page, welcome: int) -> Account:
    """Create an account with the console's form; signed in after (the test settings verify at once, so
    the header shows the `welcome` credits)."""
    account = Account(f"c{uuid.uuid4().hex[:12]}@example.com", "correct horse battery staple")
    page.goto("/app/")
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name="Credits")).to_be_visible()
    expect(page.locator("#balance")).to_have_attribute("data-available", str(welcome))
    return account
