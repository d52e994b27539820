"""Sign-up as `make run` and production do it (no automatic verification): the console signs the new
account in with no credits and says why; the emailed link opens the console's verification page (in
another tab of the same browser, sharing the session cookie), which verifies the address, and the console
then shows the welcome credits. An expired link says so and sends a new one, after signing in first when
signed out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import jwt
import pytest
from playwright.sync_api import Page, expect

from shared.auth.verification import VerifyTokens
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.support import console as browsing
from tests.support.mail import verification_link, wait_for_mail
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """Overrides the conftest's: the API with email verification on, the console mounted."""
    from run_services.api.main import create_app

    assert settings.smtp_host, "SMTP_HOST is not set: run the tests through scripts.devstack"
    configured = browsing.console_settings(
        settings, auth_auto_verify_email=False, public_api_url="http://api.example.test"
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
    link.goto(f"{console_api}{verification_link(account.email)}")
    outcome = link.get_by_role("status").first
    expect(outcome).to_contain_text("Your email address is verified")
    expect(outcome).to_have_attribute("data-outcome", "verified")
    expect(link.get_by_role("link", name="Go to the console")).to_be_visible()
    link.close()
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("#available")).to_have_text(f"{settings.welcome_credits:,}")
    expect(page.locator("p.notice")).to_have_count(0)


def test_an_expired_link_signs_in_then_sends_a_new_one(
    page: Page, console_api: str, settings: Settings
) -> None:
    account = browsing.sign_up_in_page(page, welcome=0)
    emailed = verification_link(account.email)
    user_id = jwt.decode(emailed.rsplit("/", 1)[1], options={"verify_signature": False})["sub"]
    ttl = settings.email_verify_ttl_s
    issued = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ttl + 60)
    expired = VerifyTokens(TEST_JWT_SECRET, settings.jwt_issuer, ttl).issue(user_id, account.email, issued)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.goto(f"/app/#/verify/{expired}")
    outcome = page.get_by_role("status").first
    expect(outcome).to_have_text("This verification link has expired.")
    expect(page.get_by_text("Sign in to get a new link sent to you.")).to_be_visible()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("status").first).to_have_attribute("data-outcome", "verification_token_expired")
    page.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_text("We sent a new verification link")).to_be_visible()
    wait_for_mail(account.email, "Verify your email", count=2)
    page.goto(verification_link(account.email, count=2))
    expect(page.get_by_role("status").first).to_have_attribute("data-outcome", "verified")
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("#available")).to_have_text(f"{settings.welcome_credits:,}")
