"""How the console keeps a session: the access token in the page's memory only, the refresh token in an
HttpOnly cookie no script can read (nothing in localStorage or sessionStorage), the access token refreshed
before it expires with the refresh token rotated each time, a reload that stays signed in, and sign-out
revoking the session at the API and clearing the cookie."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from shared.settings import Settings
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """Overrides the conftest's: access tokens that live 61 s, so the console (which refreshes a minute
    before expiry) refreshes before every call."""
    from run_services.api.main import create_app

    configured = browsing.console_settings(settings, access_token_ttl_s=61)
    with ServerThread(create_app(configured)) as server:
        yield server.url


def refresh_cookie(page: Page) -> dict[str, object]:
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["refresh_token"], cookies
    return dict(cookies[0])


def test_tokens_out_of_reach_rotate_and_sign_out_revokes(page: Page, signed_in: Account) -> None:
    rotated: list[str] = []

    def on_response(response: Response) -> None:
        if response.url.endswith("/v1/auth/refresh") and response.status == 200:
            assert response.request.post_data is None, "the console sent a refresh token it should not hold"
            assert response.request.headers.get("x-requested-with") == "console"
            rotated.append(response.json()["refresh_token"])

    page.on("response", on_response)
    for view in ("Credits", "Usage", "Credits"):
        page.wait_for_timeout(1500)  # each new access token is now in the last minute of its life
        page.get_by_role("link", name=view).click()
        expect(page.locator("main h1")).to_have_text(view)
    assert len(rotated) >= 3, "the console did not refresh the expiring access token"
    assert len(set(rotated)) == len(rotated), "a refresh token came back twice"

    cookie = refresh_cookie(page)
    assert cookie["value"] == rotated[-1], "the cookie holds the newest refresh token"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/v1/auth"
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "ey" not in stored and rotated[-1] not in stored, stored  # the theme at most, no token
    assert rotated[-1] not in page.evaluate("document.cookie")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.context.cookies() == [], "sign-out left the refresh cookie"
    base = page.url.split("/app/")[0]
    revoked = httpx.post(f"{base}/v1/auth/refresh", json={"refresh_token": rotated[-1]})
    assert revoked.status_code == 401, revoked.text


def test_a_reload_stays_signed_in_until_sign_out(page: Page, signed_in: Account, settings: Settings) -> None:
    page.reload()
    expect(page.get_by_role("link", name="Credits")).to_be_visible()
    expect(page.locator("#balance")).to_have_attribute("data-available", str(settings.welcome_credits))
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("#available")).to_have_text(f"{settings.welcome_credits:,}")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Credits")).to_have_count(0)
