"""How the console keeps a session: tokens in the page's memory only (nothing in localStorage,
sessionStorage or cookies, so a reload signs out), the access token refreshed before it expires with the
refresh token rotated each time, and sign-out revoking the session at the API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Request, Response, expect

from shared.settings import Settings
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def console_api(settings: Settings) -> Iterator[str]:
    """Overrides the conftest's: access tokens that live 61 s, so the console (which refreshes a minute
    before expiry) refreshes before every call."""
    from run_services.api.main import create_app

    configured = settings.model_copy(
        update={"console_dir": browsing.built_console(), "access_token_ttl_s": 61}
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


def test_tokens_stay_in_memory_rotate_and_sign_out_revokes(page: Page, signed_in: Account) -> None:
    refreshes: list[str] = []
    rotated: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/v1/auth/refresh"):
            refreshes.append(json.loads(request.post_data or "{}")["refresh_token"])

    def on_response(response: Response) -> None:
        if response.url.endswith("/v1/auth/refresh") and response.status == 200:
            rotated.append(response.json()["refresh_token"])

    page.on("request", on_request)
    page.on("response", on_response)
    for view in ("Credits", "Usage", "Credits"):
        page.wait_for_timeout(1500)  # each new access token is now in the last minute of its life
        page.get_by_role("link", name=view).click()
        expect(page.locator("main h1")).to_have_text(view)
    assert len(refreshes) >= 3, "the console did not refresh the expiring access token"
    assert len(set(refreshes)) == len(refreshes), "a refresh token was sent twice (the API revokes on reuse)"
    assert refreshes[1:] == rotated[: len(refreshes) - 1], "each refresh used the token the last one returned"

    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "ey" not in stored and rotated[-1] not in stored, stored  # the theme at most, no token
    assert page.context.cookies() == []

    last = rotated[-1]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    base = page.url.split("/app/")[0]
    revoked = httpx.post(f"{base}/v1/auth/refresh", json={"refresh_token": last})
    assert revoked.status_code == 401, revoked.text


def test_a_reload_signs_out(page: Page, signed_in: Account) -> None:
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Credits")).to_have_count(0)
