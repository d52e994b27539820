"""Google sign-in in the console: no button (and no request to Google) when the server has no Google
client id; with one, the page loads Google Identity Services (here a fake script served by route
interception, whose button hands the page an ID token signed by tests/fakes/google_certs.py's key, which
the API verifies against that fake's certificates) and the credential signs the user in, for good across
a reload."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from shared.settings import Settings
from tests.fakes.google_certs import FakeGoogle
from tests.support import console as browsing
from tests.support.servers import ServerThread

CLIENT_ID = "console-test.apps.googleusercontent.com"
# Google Identity Services as the console uses it: initialize() keeps the callback, renderButton() draws a
# button that hands it the credential (the token is filled in per test).
FAKE_GIS = """
window.google = { accounts: { id: {
  initialize(config) {
    window.gisConfig = { client_id: config.client_id };
    window.gisCallback = config.callback;
  },
  renderButton(parent) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Continue with Google";
    button.addEventListener("click", () => window.gisCallback({ credential: TOKEN, select_by: "btn" }));
    parent.append(button);
  },
} } };
"""


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(CLIENT_ID).serve() as fake:
        yield fake


@pytest.fixture(scope="module")
def google_api(settings: Settings, google: FakeGoogle) -> Iterator[str]:
    from run_services.api.main import create_app

    configured = browsing.console_settings(
        settings, google_client_id=CLIENT_ID, google_certs_url=google.certs_url
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


def test_no_google_button_when_it_is_off(page: Page, console_api: str) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/app/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert httpx.get(f"{console_api}/v1/auth/config").json() == {"google_client_id": None}
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("group", name="Sign in with Google")).to_have_count(0)
    assert not [url for url in asked if "google" in url], asked
    assert "accounts.google.com" not in (page.context.request.get("/app/").headers["content-security-policy"])


def test_google_sign_in_through_its_button(
    browser: Browser, google_api: str, google: FakeGoogle, settings: Settings
) -> None:
    email = "console.google@gmail.example.com"
    token = google.id_token(email=email)
    served: list[Request] = []

    def gis(route: Route) -> None:
        served.append(route.request)
        route.fulfill(content_type="text/javascript", body=FAKE_GIS.replace("TOKEN", json.dumps(token)))

    with browsing.console_page(browser, google_api) as page:
        page.route(browsing.GIS_SCRIPT, gis)
        response = page.goto("/app/")
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "script-src 'self' https://accounts.google.com/gsi/client" in csp
        group = page.get_by_role("group", name="Sign in with Google")
        group.get_by_role("button", name="Continue with Google").click()
        expect(page.get_by_role("link", name="Credits")).to_be_visible()
        assert len(served) == 1
        assert page.evaluate("window.gisConfig.client_id") == CLIENT_ID
        expect(page.locator("#balance")).to_have_attribute("data-available", str(settings.welcome_credits))
        cookie = [c for c in page.context.cookies() if c["name"] == "refresh_token"]
        assert cookie and cookie[0]["httpOnly"], "Google sign-in sets the refresh cookie too"

        page.reload()
        expect(page.get_by_role("link", name="Credits")).to_be_visible()
        page.get_by_role("link", name="Credits").click()
        expect(page.locator("#available")).to_have_text(f"{settings.welcome_credits:,}")
