"""Fixtures of the web console's browser tests (helpers in tests/support/console.py): the built console,
the API serving it under /app (the local model its default when LOCAL_MODEL_URL is set: the chat tests
need it), Debian's Chromium driven by Playwright (headless; skipped with the reason when no Chromium can
be installed here), and a page signed up through the console's own form. Screenshots go to
CONSOLE_TEST_OUTPUT (default .local/test-output/console)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from shared.settings import Settings
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.servers import ServerThread


@pytest.fixture(scope="session")
def output_dir() -> Path:
    return browsing.output_dir()


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """The API (with the console mounted under /app) on a free port: its base URL."""
    from run_services.api.main import create_app

    model = "smollm2" if os.environ.get("LOCAL_MODEL_URL") else settings.default_model
    configured = browsing.console_settings(settings, default_model=model)
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browsing.launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, console_api: str) -> Iterator[Page]:
    with browsing.console_page(browser, console_api) as pg:
        yield pg


@pytest.fixture
def signed_in(page: Page, settings: Settings) -> Account:
    return browsing.sign_up_in_page(page, settings.welcome_credits)
