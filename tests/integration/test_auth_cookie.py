"""The console's refresh cookie (run_services/api/auth_cookie.py): its flags, a refresh by cookie, a
cross-site request refused with nothing rotated, and logout clearing it and revoking the session."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest

from shared.settings import Settings
from tests.support.helpers import User, assert_error

CONSOLE = {"X-Requested-With": "console"}


@pytest.fixture
def browser(api: str) -> Iterator[httpx.Client]:
    """A client with its own cookie jar, as a browser tab of the console is."""
    with httpx.Client(base_url=api, timeout=60) as c:
        yield c


def set_cookie(response: httpx.Response) -> SimpleCookie:
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(headers[0])
    assert list(parsed) == ["refresh_token"], headers
    return parsed


def login(browser: httpx.Client, user: User, **headers: str) -> httpx.Response:
    response = browser.post(
        "/v1/auth/login", json={"email": user.email, "password": user.password}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def test_login_sets_an_httponly_strict_cookie_secure_off_loopback(
    browser: httpx.Client, user: User, settings: Settings
) -> None:
    response = login(browser, user)
    morsel = set_cookie(response)["refresh_token"]
    assert morsel.value == response.json()["refresh_token"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/v1/auth"
    assert morsel["max-age"] == str(settings.refresh_token_ttl_s)
    assert not morsel["secure"], "plain http to 127.0.0.1 (tests, make run): a Secure cookie would be lost"
    public = login(browser, user, Host="api.example.test")
    assert set_cookie(public)["refresh_token"]["secure"] is True


def test_refresh_by_cookie_rotates_it(browser: httpx.Client, user: User, api: str) -> None:
    first = login(browser, user).json()["refresh_token"]
    response = browser.post("/v1/auth/refresh", headers={**CONSOLE, "Origin": api})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == user.user_id and body["access_token"]
    assert body["refresh_token"] != first
    assert set_cookie(response)["refresh_token"].value == body["refresh_token"]
    again = browser.post("/v1/auth/refresh", headers=CONSOLE)  # no Origin (a same-origin GET-less fetch)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] not in (first, body["refresh_token"])
    # An empty JSON body is no token either: the cookie is used.
    assert browser.post("/v1/auth/refresh", json={}, headers=CONSOLE).status_code == 200


def test_a_cross_site_refresh_is_refused_and_spends_nothing(browser: httpx.Client, user: User) -> None:
    token = login(browser, user).json()["refresh_token"]
    for headers in (
        {},
        {"X-Requested-With": "XMLHttpRequest"},
        {**CONSOLE, "Origin": "https://evil.example"},
    ):
        refused = browser.post("/v1/auth/refresh", headers=headers)
        assert_error(refused, 403, "cross_site_refused")
        assert "set-cookie" not in refused.headers
        assert_error(browser.post("/v1/auth/logout", headers=headers), 403, "cross_site_refused")
    # The token was neither rotated nor revoked: it still refreshes (once).
    assert browser.post("/v1/auth/refresh", json={"refresh_token": token}).status_code == 200


def test_no_cookie_and_no_token_is_401(browser: httpx.Client) -> None:
    assert_error(browser.post("/v1/auth/refresh", headers=CONSOLE), 401, "refresh_token_missing")
    assert_error(browser.post("/v1/auth/refresh", json={"refresh_token": ""}), 422, "invalid_request")


def test_logout_by_cookie_clears_it_and_revokes_the_session(
    browser: httpx.Client, user: User, api: str
) -> None:
    token = login(browser, user).json()["refresh_token"]
    response = browser.post("/v1/auth/logout", headers={**CONSOLE, "Origin": api})
    assert response.status_code == 204, response.text
    cleared = set_cookie(response)["refresh_token"]
    assert cleared.value == "" and cleared["max-age"] == "0" and cleared["path"] == "/v1/auth"
    assert "refresh_token" not in browser.cookies
    assert_error(browser.post("/v1/auth/refresh", headers=CONSOLE), 401, "refresh_token_missing")
    assert_error(browser.post("/v1/auth/refresh", json={"refresh_token": token}), 401, "invalid_token")
    # Signed out already: logging out again still answers 204 and clears the cookie.
    assert browser.post("/v1/auth/logout", headers=CONSOLE).status_code == 204


def test_a_spent_cookie_is_refused_and_cleared(browser: httpx.Client, user: User, api: str) -> None:
    token = login(browser, user).json()["refresh_token"]
    with httpx.Client(base_url=api, timeout=60) as thief:  # the same token, used elsewhere first
        assert thief.post("/v1/auth/refresh", json={"refresh_token": token}).status_code == 200
    refused = browser.post("/v1/auth/refresh", headers=CONSOLE)
    assert_error(refused, 401, "refresh_token_reused")
    cleared = set_cookie(refused)["refresh_token"]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert "refresh_token" not in browser.cookies
    # A token sent in the body is the client's own business: no cookie is touched on its failure.
    body_refused = browser.post("/v1/auth/refresh", json={"refresh_token": token})
    assert body_refused.status_code == 401 and "set-cookie" not in body_refused.headers
