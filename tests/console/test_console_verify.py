"""Sign-up as `make run` and production do it (no automatic verification): the console signs the new
account in with no credits and says why; the link the API emails (read from the mail catcher) verifies
the address, and the console then shows the welcome credits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from shared.settings import Settings
from tests.support import console as browsing
from tests.support.mail import verification_path
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """Overrides the conftest's: the API with email verification on, the console mounted."""
    from run_services.api.main import create_app

    assert settings.smtp_host, "SMTP_HOST is not set: run the tests through scripts.devstack"
    configured = settings.model_copy(
        update={
            "console_dir": browsing.built_console(),
            "auth_auto_verify_email": False,
            "public_api_url": "http://api.example.test",
        }
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


def test_sign_up_then_verify_through_the_emailed_link(
    page: Page, console_api: str, settings: Settings
) -> None:
    account = browsing.sign_up_in_page(page, welcome=0)
    expect(page.locator("#toast")).to_contain_text("Check your inbox")
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("p.notice")).to_contain_text("verif")
    link = page.context.new_page()
    link.goto(f"{console_api}{verification_path(account.email)}")
    expect(link.locator("body")).to_contain_text("verified")
    link.close()
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("#available")).to_have_text(f"{settings.welcome_credits:,}")
    expect(page.locator("p.notice")).to_have_count(0)
